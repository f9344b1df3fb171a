"""Reads and small compositions for the contractor portal.

Every read starts from the scoped selectors (``contracts.selectors``, ``placements.selectors``,
which build on ``sroi.permissions``) and is then narrowed to the user's own contractor, so a
user who is also staff somewhere still sees only their company's data in the portal. Objects of
another contractor are a 404, never a 403: their existence is not revealed.

Writes go through the services (``placements.services``, ``placements.plans``);
:func:`report_contribution` and :func:`change_contribution` only compose them in one
transaction (a new candidate, the contribution and its evidence are stored together or not at
all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from contracts import selectors as contract_selectors
from contracts.models import Contract, Obligation
from sroi.permissions import get_scope

from . import selectors, services, valuation
from .choices import Block, RuleKind
from .models import Candidate, Contribution, Evidence, PlanOfApproach
from .revaluation import valuation_as_of

#: "Deadline near": this many days or fewer before the deadline.
DEADLINE_NEAR_DAYS = 60
#: Blocks that place a person (they need a candidate), in the order they are offered.
PERSON_BLOCKS = (Block.JOB, Block.WORK_EXPERIENCE, Block.INTERNSHIP, Block.BBL)
#: The evidence a block usually needs (the default kind of the upload field).
EVIDENCE_KIND_BY_BLOCK = {
    Block.JOB: Evidence.Kind.EMPLOYMENT_CONTRACT,
    Block.BBL: Evidence.Kind.EMPLOYMENT_CONTRACT,
    Block.INTERNSHIP: Evidence.Kind.INTERNSHIP_AGREEMENT,
    Block.WORK_EXPERIENCE: Evidence.Kind.INTERNSHIP_AGREEMENT,
    Block.SOCIAL_PURCHASE: Evidence.Kind.INVOICE,
}
#: The engine input each rule kind needs besides the dates.
INPUT_BY_KIND = {
    RuleKind.PERCENTAGE: "invoiced_amount",
    RuleKind.HOURLY: "hours",
    RuleKind.ACTUAL_COST: "actual_cost",
}
EDITABLE_STATUSES = (Contribution.Status.SUBMITTED, Contribution.Status.RETURNED)


# --- Who is a portal user --------------------------------------------------------------------


def contractor_id_of(user) -> int:
    """The id of the user's contractor; 404 for anyone who is not an active contractor user
    (staff, outsiders, deactivated contractor users): the portal does not exist for them."""
    scope = get_scope(user)
    if not scope.is_contractor:
        raise Http404
    return scope.contractor_id


def is_portal_only_user(user) -> bool:
    """A contractor user without any staff role: their home is the portal."""
    scope = get_scope(user)
    return scope.is_contractor and not scope.municipalities_by_role and not scope.is_superuser


# --- Reads -----------------------------------------------------------------------------------


def _latest_plan(column: str) -> Subquery:
    latest = PlanOfApproach.objects.filter(obligation=OuterRef("pk")).order_by("-version")
    return Subquery(latest.values(column)[:1])


def obligation_list(*, user) -> QuerySet[Obligation]:
    """The user's contractor's obligations with ``reported``/``realised`` and the status and
    comment of the latest plan version, in one query."""
    contractor_id = contractor_id_of(user)
    return (
        contract_selectors.obligation_list(user=user)
        .filter(contract__contractor_id=contractor_id)
        .annotate(
            plan_status=_latest_plan("status"),
            plan_comment=_latest_plan("review_comment"),
            plan_version=_latest_plan("version"),
        )
        .order_by("status", "deadline", "pk")
    )


def obligation_get(*, user, pk: int) -> Obligation:
    obligation = obligation_list(user=user).filter(pk=pk).first()
    if obligation is None:
        raise Http404
    return obligation


def contracts_without_obligation(*, user) -> QuerySet[Contract]:
    contractor_id = contractor_id_of(user)
    return (
        contract_selectors.contract_list(user=user)
        .filter(contractor_id=contractor_id, obligation__isnull=True)
        .order_by("-award_date", "reference")
    )


def _evidence_count() -> Coalesce:
    counts = (
        Evidence.objects.filter(contribution=OuterRef("pk"))
        .order_by()
        .values("contribution")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def contribution_list(*, user, obligation: Obligation | None = None) -> QuerySet[Contribution]:
    """The user's contractor's contributions (with the candidate, which the contractor may
    see) and their number of evidence files."""
    contractor_id = contractor_id_of(user)
    qs = (
        selectors.contribution_list(user=user)
        .filter(obligation__contract__contractor_id=contractor_id)
        .annotate(evidence_count=_evidence_count())
    )
    if obligation is not None:
        qs = qs.filter(obligation=obligation)
    return qs


def contribution_get(*, user, pk: int) -> Contribution:
    contractor_id = contractor_id_of(user)
    contribution = (
        selectors.contribution_list(user=user)
        .filter(obligation__contract__contractor_id=contractor_id, pk=pk)
        .select_related("obligation__rulebook", "submitted_by")
        .first()
    )
    if contribution is None:
        raise Http404
    return contribution


def candidate_list(*, user) -> QuerySet[Candidate]:
    """The contractor's own candidates that can still be reported (not anonymised)."""
    contractor_id = contractor_id_of(user)
    return selectors.candidate_list(user=user).filter(
        contractor_id=contractor_id, anonymised_at__isnull=True
    )


def candidate_overview(*, user) -> QuerySet[Candidate]:
    """Every candidate of the contractor with the number of contributions reported for them."""
    contractor_id = contractor_id_of(user)
    contributions = (
        Contribution.objects.filter(candidate=OuterRef("pk"))
        .order_by()
        .values("candidate")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        selectors.candidate_list(user=user)
        .filter(contractor_id=contractor_id)
        .annotate(
            contribution_count=Coalesce(
                Subquery(contributions, output_field=IntegerField()), Value(0)
            )
        )
        .order_by("-created_at", "code")
    )


def returned_contributions(*, user) -> QuerySet[Contribution]:
    """Contributions the adviser returned for more information, on open obligations."""
    return (
        contribution_list(user=user)
        .filter(status=Contribution.Status.RETURNED, obligation__status=Obligation.Status.OPEN)
        .order_by("obligation__deadline", "pk")
    )


def is_editable(contribution: Contribution) -> bool:
    return (
        contribution.status in EDITABLE_STATUSES
        and contribution.obligation.status == Obligation.Status.OPEN
    )


# --- What is asked of the contractor now -----------------------------------------------------


@dataclass
class Ask:
    """One thing the contractor should do now."""

    kind: str  # plan_missing, plan_returned, contribution_returned, deadline_near, deadline_passed
    obligation: Obligation
    text: str = ""  # the adviser's comment or reason, when there is one
    contribution: Contribution | None = None
    days_left: int | None = None


def is_fulfilled(obligation: Obligation) -> bool:
    return obligation.realised >= obligation.amount


def asks_for(
    obligations: list[Obligation], returned: list[Contribution], today: date | None = None
) -> list[Ask]:
    """What is asked of the contractor now, most urgent kinds first: a plan that is missing or
    was returned (while the obligation is not fulfilled yet), contributions returned for more
    information, and deadlines within :data:`DEADLINE_NEAR_DAYS` days (or passed) while the
    obligation is not fulfilled. Works on already loaded rows (no queries)."""
    today = today or timezone.localdate()
    asks: list[Ask] = []
    for o in obligations:
        if o.status != Obligation.Status.OPEN or is_fulfilled(o):
            continue
        if o.plan_status is None:
            asks.append(Ask("plan_missing", o))
        elif o.plan_status == PlanOfApproach.Status.RETURNED:
            asks.append(Ask("plan_returned", o, text=o.plan_comment or ""))
    for c in returned:
        asks.append(Ask("contribution_returned", c.obligation, c.status_reason, contribution=c))
    for o in obligations:
        if o.status != Obligation.Status.OPEN or is_fulfilled(o):
            continue
        days_left = (o.deadline - today).days
        if days_left < 0:
            asks.append(Ask("deadline_passed", o, days_left=days_left))
        elif days_left <= DEADLINE_NEAR_DAYS:
            asks.append(Ask("deadline_near", o, days_left=days_left))
    return asks


def elapsed_share(obligation: Obligation, today: date | None = None) -> Decimal:
    """The share (0–100) of the counting window (award date to deadline) that has passed."""
    today = today or timezone.localdate()
    total = (obligation.deadline - obligation.window_start).days
    if total <= 0:
        return Decimal("100")
    passed = (min(today, obligation.deadline) - obligation.window_start).days
    share = Decimal(max(0, passed)) * 100 / Decimal(total)
    return min(Decimal("100"), share).quantize(Decimal("0.1"))


# --- What a block needs, from the obligation's rulebook --------------------------------------


@dataclass
class BlockSpec:
    """What the report form of one block asks, derived from the frozen rulebook's rules."""

    block: str
    label: str
    rules: list = field(default_factory=list)
    #: (variant, label) pairs; "" is the rules without a variant.
    variants: list[tuple[str, str]] = field(default_factory=list)
    #: The engine inputs needed per variant ("invoiced_amount", "hours", "actual_cost").
    inputs_by_variant: dict[str, set[str]] = field(default_factory=dict)
    permanent_contract: bool = False

    @property
    def is_person_block(self) -> bool:
        return self.block in PERSON_BLOCKS

    @property
    def has_variants(self) -> bool:
        return any(variant for variant, _label in self.variants)

    @property
    def extra_inputs(self) -> set[str]:
        """Every kind-dependent input some variant of this block needs."""
        return set().union(*self.inputs_by_variant.values()) if self.inputs_by_variant else set()

    @property
    def evidence_kind(self) -> str:
        return EVIDENCE_KIND_BY_BLOCK.get(self.block, Evidence.Kind.OTHER)


def block_specs(obligation: Obligation) -> dict[str, BlockSpec]:
    """The blocks the obligation's rulebook values, in the order of :class:`Block`, each with
    what it needs. Empty without a rulebook (nothing can be valued then). Two queries."""
    if obligation.rulebook_id is None:
        return {}
    rulebook = obligation.rulebook
    rules = list(rulebook.rules.all())
    bonuses = list(rulebook.bonuses.all())
    specs: dict[str, BlockSpec] = {}
    for block, label in Block.choices:
        block_rules = [r for r in rules if r.block == block]
        if not block_rules:
            continue
        spec = BlockSpec(block=block, label=str(label), rules=block_rules)
        labels: dict[str, list[str]] = {}
        for rule in block_rules:
            needed = {INPUT_BY_KIND[rule.kind]} if rule.kind in INPUT_BY_KIND else set()
            spec.inputs_by_variant.setdefault(rule.variant, set()).update(needed)
            labels.setdefault(rule.variant, []).append(rule.label)
        # One rule per variant: its label describes the variant; several: the variant's name.
        spec.variants = [
            (variant, names[0] if len(names) == 1 and variant else variant)
            for variant, names in labels.items()
        ]
        spec.permanent_contract = block == Block.JOB or any(
            b.requires_permanent_contract and (not b.blocks or block in b.blocks) for b in bonuses
        )
        specs[block] = spec
    return specs


# --- Value and writes ------------------------------------------------------------------------


def preview_value(
    *, obligation: Obligation, candidate: Candidate | None, inputs: dict
) -> valuation.Valuation:
    """The value the contribution will be stored with, with its explanation, without storing
    anything. For a contribution with an end date this is exactly
    ``services.value_of(obligation=..., **inputs)``; an open-ended one counts up to today, as
    ``submit_contribution`` stores it (``revaluation.valuation_as_of``). ``candidate`` may be
    an unsaved, new candidate. Raises ``ValidationError`` keyed by field."""
    contribution = Contribution(obligation=obligation, candidate=candidate, **inputs)
    return valuation_as_of(contribution, as_of=timezone.localdate())


def unsaved_candidate(*, contractor_id: int, details: dict) -> Candidate:
    """A candidate to value a preview with; nothing is stored."""
    return Candidate(
        contractor_id=contractor_id,
        initials=details.get("initials") or "",
        birth_year=details.get("birth_year"),
        target_group=details.get("target_group") or "",
        years_on_benefit=details.get("years_on_benefit"),
    )


def _candidate_for(acting_user, obligation: Obligation, candidate, new_candidate: dict | None):
    if new_candidate is None:
        return candidate
    return services.create_candidate(
        acting_user=acting_user, contractor=obligation.contract.contractor, **new_candidate
    )


@transaction.atomic
def report_contribution(
    *,
    acting_user,
    obligation: Obligation,
    inputs: dict,
    candidate: Candidate | None = None,
    new_candidate: dict | None = None,
    evidence_file=None,
    evidence_kind: str = Evidence.Kind.OTHER,
) -> Contribution:
    """Register the new candidate (when given), submit the contribution and attach the
    evidence, all or nothing."""
    candidate = _candidate_for(acting_user, obligation, candidate, new_candidate)
    contribution = services.submit_contribution(
        acting_user=acting_user, obligation=obligation, candidate=candidate, **inputs
    )
    if evidence_file is not None:
        services.add_evidence(
            acting_user=acting_user,
            contribution=contribution,
            uploaded_file=evidence_file,
            kind=evidence_kind,
        )
    return contribution


@transaction.atomic
def change_contribution(
    *,
    acting_user,
    contribution: Contribution,
    inputs: dict,
    candidate: Candidate | None = None,
    new_candidate: dict | None = None,
) -> Contribution:
    """Register the new candidate (when given) and change the contribution, all or nothing."""
    candidate = _candidate_for(acting_user, contribution.obligation, candidate, new_candidate)
    return services.update_contribution(
        acting_user=acting_user, contribution=contribution, candidate=candidate, **inputs
    )
