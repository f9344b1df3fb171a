"""Writes for rulebooks, candidates, contributions and their evidence.

Every function that changes data is keyword-only, takes the ``acting_user``, asks
``sroi.permissions`` first, validates with ``full_clean()`` and runs in one transaction
(HackSoft style, like ``contracts.services``). Values always come from the pure engine
(``placements.valuation``) with the rulebook frozen on the obligation, so what the contractor
sees in the preview (:func:`value_of`) is exactly what is stored.

Privacy: a candidate is a generated pseudonymous code plus initials, birth year and target
group. No function here accepts a name or a BSN, and no error message repeats personal data.
Free text (descriptions, subcontractor and enterprise names, review reasons, justifications)
is refused when it holds a BSN-like number, and an uploaded file's name is never kept.

Eligibility: the contractor reports a candidate's target group, but only the municipality's
side (the SROI adviser) confirms it (:func:`confirm_eligibility`); a placement of a candidate
whose eligibility is not confirmed cannot be approved, so its value never counts unconfirmed.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Contractor, Obligation
from sroi import permissions
from sroi.audit import log_created
from sroi.models import Organisation
from sroi.permissions import Action, can, get_scope

from . import valuation
from .choices import Block, TargetGroup
from .models import Bonus, Candidate, Contribution, Evidence, Rule, Rulebook
from .notifications import notify_contribution_reviewed, notify_contribution_submitted
from .rulebook_format import rulebook_from_dict, rulebook_to_dict
from .rulebooks import store_engine_rulebook, to_engine
from .validators import (
    contains_bsn_like_number,
    evidence_display_name,
    uploaded_size,
    validate_evidence_file,
    validate_initials,
)

__all__ = [
    "add_evidence",
    "approve_contribution",
    "confirm_eligibility",
    "create_candidate",
    "create_rulebook_version",
    "delete_bonus",
    "delete_rule",
    "export_rulebook_json",
    "generate_candidate_code",
    "import_rulebook_json",
    "publish_rulebook",
    "reject_contribution",
    "return_contribution",
    "rulebook_in_force",
    "save_bonus",
    "save_rule",
    "submit_contribution",
    "update_contribution",
    "value_of",
]


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# --- Rulebook in force -----------------------------------------------------------------------


#: Which published rulebook wins when several apply: the latest ``valid_from``, then the
#: latest created.
RULEBOOK_PRECEDENCE = ("-valid_from", "-created_at", "-pk")


def rulebook_in_force(*, municipality_id: int, on_date: date) -> Rulebook | None:
    """The published rulebook that applies to ``municipality`` on ``on_date``: the latest
    ``valid_from`` on or before that date. Frozen on the obligation at award."""
    return (
        Rulebook.objects.filter(
            municipalities=municipality_id,
            status=Rulebook.Status.PUBLISHED,
            valid_from__lte=on_date,
        )
        .order_by(*RULEBOOK_PRECEDENCE)
        .first()
    )


class RulebookVersions:
    """:func:`rulebook_in_force` for many contracts at once: the published rulebooks of some
    municipalities, read with one query, chosen by the same precedence."""

    def __init__(self, municipality_ids: Iterable[int]):
        self._by_municipality: dict[int, list[Rulebook]] = {}
        rulebooks = (
            Rulebook.objects.filter(
                municipalities__in=set(municipality_ids), status=Rulebook.Status.PUBLISHED
            )
            .annotate(for_municipality_id=F("municipalities"))
            .order_by(*RULEBOOK_PRECEDENCE)
        )
        for rulebook in rulebooks:
            self._by_municipality.setdefault(rulebook.for_municipality_id, []).append(rulebook)

    def in_force(self, *, municipality_id: int, on_date: date) -> Rulebook | None:
        for rulebook in self._by_municipality.get(municipality_id, ()):
            if rulebook.valid_from <= on_date:
                return rulebook
        return None


# --- Candidates ------------------------------------------------------------------------------

# No 0/O, 1/I: codes are read aloud and typed over.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_ATTEMPTS = 20
MINIMUM_AGE = 14
YEARS_ON_BENEFIT_LIMIT = Decimal("100")


def generate_candidate_code() -> str:
    """``K-`` (``settings.SROI_CANDIDATE_CODE_PREFIX``) plus 8 random unambiguous characters."""
    prefix = settings.SROI_CANDIDATE_CODE_PREFIX.strip().rstrip("-")
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    code = f"{prefix}-{body}" if prefix else body
    if len(code) > Candidate._meta.get_field("code").max_length:
        raise ImproperlyConfigured("SROI_CANDIDATE_CODE_PREFIX is too long for a candidate code.")
    return code


def may_report_for_contractor(user, contractor: Contractor) -> bool:
    """A user of the contractor itself, or staff who may report contributions on at least one
    of the contractor's contracts (the adviser of that municipality)."""
    if get_scope(user).is_empty:
        return False
    if can(user, Action.REPORT_CONTRIBUTION, contractor):
        return True
    return (
        permissions.contracts_visible_to(user, action=Action.REPORT_CONTRIBUTION)
        .filter(contractor=contractor)
        .exists()
    )


def _to_decimal(value: Any, field: str, errors: dict) -> Decimal | None:
    """Form-like input to ``Decimal``: ``None``/``""`` is ``None``; floats are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        errors[field] = _("Enter a decimal number.")
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        errors[field] = _("Enter a decimal number.")
        return None
    if not number.is_finite():
        errors[field] = _("Enter a decimal number.")
        return None
    return number


def _check_fits_field(model, name: str, value, errors: dict) -> None:
    """The column's own checks (digits, decimals, not negative), so a value that cannot be
    stored is refused with the field's message before anything is computed or written."""
    try:
        model._meta.get_field(name).run_validators(value)
    except ValidationError as exc:
        errors[name] = exc.messages


def clean_candidate_details(
    *, initials, birth_year, target_group, years_on_benefit, target_group_note
) -> dict:
    errors: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned["initials"] = validate_initials(initials)
    except ValidationError as exc:
        errors.update(exc.message_dict)

    latest = timezone.localdate().year - MINIMUM_AGE
    if isinstance(birth_year, str) and birth_year.strip().isdigit():
        birth_year = int(birth_year)
    if isinstance(birth_year, bool) or not isinstance(birth_year, int):
        errors["birth_year"] = _("Enter the birth year as a number.")
    elif not 1900 <= birth_year <= latest:
        errors["birth_year"] = _("The birth year must be between 1900 and %(latest)s.") % {
            "latest": latest
        }
    else:
        cleaned["birth_year"] = birth_year

    if target_group not in TargetGroup.values:
        errors["target_group"] = _("Choose a valid target group.")
    cleaned["target_group"] = target_group

    note = " ".join(str(target_group_note or "").split())
    if target_group == TargetGroup.OTHER and not note:
        errors["target_group_note"] = _("The target group 'other' needs a justification.")
    elif contains_bsn_like_number(note):
        errors["target_group_note"] = _(
            "Do not enter a BSN or other identifying number in the justification."
        )
    # Data minimisation: the note is a justification for 'other' only.
    cleaned["target_group_note"] = note if target_group == TargetGroup.OTHER else ""

    years = _to_decimal(years_on_benefit, "years_on_benefit", errors)
    if years is not None and not Decimal("0") <= years < YEARS_ON_BENEFIT_LIMIT:
        errors["years_on_benefit"] = _("Years on benefit must be at least 0 and below 100.")
    cleaned["years_on_benefit"] = years
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def create_candidate(
    *,
    acting_user,
    contractor: Contractor,
    initials: str,
    birth_year: int,
    target_group: str,
    years_on_benefit: Decimal | int | str | None = None,
    target_group_note: str = "",
) -> Candidate:
    """Register a pseudonymous candidate for ``contractor``.

    Allowed for the contractor's own users and for the adviser of a municipality where the
    contractor has a contract. There is deliberately no parameter for a name or BSN.
    """
    _require(may_report_for_contractor(acting_user, contractor))
    details = clean_candidate_details(
        initials=initials,
        birth_year=birth_year,
        target_group=target_group,
        years_on_benefit=years_on_benefit,
        target_group_note=target_group_note,
    )
    candidate = Candidate(contractor=contractor, **details)
    # The code is checked below (exists + the unique index), so a concurrent insert of the
    # same code is retried instead of surfacing as a validation error.
    candidate.full_clean(exclude=["code"])
    for _attempt in range(CODE_ATTEMPTS):
        code = generate_candidate_code()
        if Candidate.objects.filter(code=code).exists():
            continue
        candidate.code = code
        try:
            with transaction.atomic():
                candidate.save()
        except IntegrityError:
            if Candidate.objects.filter(code=code).exists():
                candidate.pk = None
                continue
            raise
        return candidate
    raise RuntimeError("Could not generate a unique candidate code.")


def _may_confirm_eligibility(user, candidate: Candidate) -> bool:
    """An SROI adviser (VIEW_PERSONAL_DATA through a municipality) who may see the candidate
    (``sroi.permissions.candidates_visible_to``); superusers. Never a contractor's user, even
    though they see their own candidates."""
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    if scope.is_contractor or not scope.municipalities_for(Action.VIEW_PERSONAL_DATA):
        return False
    return permissions.candidates_visible_to(user).filter(pk=candidate.pk).exists()


@transaction.atomic
def confirm_eligibility(
    *, acting_user, candidate: Candidate, target_group: str | None = None, note: str = ""
) -> Candidate:
    """The municipality's side confirms that ``candidate`` belongs to a target group.

    Only an SROI adviser who may see the candidate (in practice: one of its contributions
    counts in a municipality they serve) or a superuser confirms; the contractor never does.
    ``target_group`` corrects the group the contractor reported (``None``: confirm it as
    it is); ``note`` is the justification the group "other" needs (it replaces the stored
    one; for any other group it is not kept).
    A correction values the candidate's open (submitted or returned) contributions again, and
    is refused once a contribution of the candidate has been approved with the old group.
    Confirming again records the new moment and adviser.
    """
    _require(_may_confirm_eligibility(acting_user, candidate))
    # FOR NO KEY UPDATE: a contribution being reported for the candidate at this moment (its
    # foreign key takes a key-share lock) does not wait for this confirmation.
    candidate = Candidate.objects.select_for_update(no_key=True).get(pk=candidate.pk)
    if candidate.anonymised_at is not None:
        raise ValidationError(
            _("This candidate has been anonymised; eligibility can no longer be confirmed."),
            code="anonymised",
        )
    group = candidate.target_group if target_group in (None, "") else target_group
    errors: dict[str, Any] = {}
    if group not in TargetGroup.values:
        errors["target_group"] = _("Choose a valid target group.")
    note = " ".join(str(note or "").split())
    if contains_bsn_like_number(note):
        errors["target_group_note"] = _(
            "Do not enter a BSN or other identifying number in the justification."
        )
    elif group == TargetGroup.OTHER:
        note = note or candidate.target_group_note
        if not note:
            errors["target_group_note"] = _("The target group 'other' needs a justification.")
    if errors:
        raise ValidationError(errors)
    corrected = group != candidate.target_group
    # Lock the candidate's contributions before looking at them, so an approval running at
    # the same moment is either seen here or sees the corrected values. Their obligations are
    # locked first, in the order every other writer uses (obligation, then contribution), so
    # an approval waits for this confirmation or this confirmation for it, never a deadlock.
    _lock_obligations_of(candidate)
    contributions = list(
        Contribution.objects.select_for_update(of=("self",))
        .filter(candidate=candidate)
        .order_by("pk")
    )
    if corrected and any(c.status == Contribution.Status.APPROVED for c in contributions):
        raise ValidationError(
            {
                "target_group": _(
                    "A contribution of this candidate has been approved with the current "
                    "target group; the target group can no longer be corrected."
                )
            },
            code="approved",
        )
    candidate.target_group = group
    candidate.target_group_note = note if group == TargetGroup.OTHER else ""
    candidate.eligibility_confirmed_at = timezone.now()
    candidate.eligibility_confirmed_by = acting_user
    candidate.full_clean()
    candidate.save()
    if corrected:
        _revalue_open_contributions(candidate, contributions)
    return candidate


def _lock_obligations_of(candidate: Candidate) -> None:
    """Lock the obligations the candidate's contributions count towards, in id order."""
    obligation_ids = Contribution.objects.filter(candidate=candidate).values("obligation_id")
    list(
        Obligation.objects.select_for_update(of=("self",))
        .filter(pk__in=obligation_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _revalue_open_contributions(candidate: Candidate, contributions) -> None:
    """Value the candidate's open contributions again after a corrected target group."""
    for contribution in contributions:
        if contribution.status not in (
            Contribution.Status.SUBMITTED,
            Contribution.Status.RETURNED,
        ):
            continue
        obligation = _lock_obligation(contribution.obligation_id)
        if obligation.status != Obligation.Status.OPEN:
            continue
        contribution.candidate = candidate
        contribution.obligation = obligation
        try:
            result = _valued_today(contribution)
        except ValidationError as exc:
            raise ValidationError(
                {
                    "target_group": _(
                        "With this target group a reported contribution of this candidate "
                        "cannot be valued (%(error)s). Return or reject it first."
                    )
                    % {"error": " ".join(exc.messages)}
                },
                code="revalue",
            ) from exc
        contribution.candidate = candidate
        _store_valuation(contribution, result)
        contribution.full_clean()
        contribution.save()


# --- Valuation of contributions --------------------------------------------------------------

VALUATION_INPUTS = (
    "block",
    "candidate",
    "start_date",
    "end_date",
    "hours_per_week",
    "permanent_contract",
    "invoiced_amount",
    "hours",
    "actual_cost",
    "variant",
)
DESCRIPTIVE_INPUTS = ("description", "delivered_by", "social_enterprise")
CONTRIBUTION_INPUTS = VALUATION_INPUTS + DESCRIPTIVE_INPUTS
DECIMAL_INPUTS = ("hours_per_week", "invoiced_amount", "hours", "actual_cost")
TEXT_INPUTS = ("variant", *DESCRIPTIVE_INPUTS)
# Blocks that place a person: they need a (pseudonymous) candidate.
PERSON_BLOCKS = frozenset({Block.JOB, Block.WORK_EXPERIENCE, Block.INTERNSHIP, Block.BBL})
# Engine input names (``ContributionInput``) to the form/model field an error belongs to.
ENGINE_FIELDS = {
    "block": "block",
    "start": "start_date",
    "end": "end_date",
    "hours_per_week": "hours_per_week",
    "invoiced_amount": "invoiced_amount",
    "hours": "hours",
    "actual_cost": "actual_cost",
    "variant": "variant",
    "permanent_contract": "permanent_contract",
    "target_group": "candidate",
    "years_on_benefit": "candidate",
    "birth_year": "candidate",
}


def normalise_inputs(inputs: dict) -> dict:
    """Form-like inputs to typed values; unknown names are a programming error."""
    unknown = set(inputs) - set(CONTRIBUTION_INPUTS)
    if unknown:
        raise TypeError(f"Unknown contribution inputs: {sorted(unknown)}")
    errors: dict[str, Any] = {}
    data: dict[str, Any] = {name: inputs.get(name) for name in CONTRIBUTION_INPUTS}
    for name in DECIMAL_INPUTS:
        data[name] = _to_decimal(data[name], name, errors)
        if data[name] is not None and name not in errors:
            _check_fits_field(Contribution, name, data[name], errors)
    for name in TEXT_INPUTS:
        data[name] = " ".join(str(data[name] or "").split())
    data["permanent_contract"] = bool(data["permanent_contract"])
    for name in ("start_date", "end_date"):
        if data[name] in ("", None):
            data[name] = None
    if data["candidate"] is not None and not isinstance(data["candidate"], Candidate):
        raise TypeError("candidate must be a Candidate instance or None")
    if errors:
        raise ValidationError(errors)
    return data


def _check_valuation_inputs(obligation: Obligation, data: dict) -> None:
    errors: dict[str, Any] = {}
    block = data["block"]
    if not block:
        errors["block"] = _("Choose a block.")
    elif block not in Block.values:
        errors["block"] = _("Choose a valid block.")
    if data["start_date"] is None:
        errors["start_date"] = _("A start date is required.")
    candidate = data["candidate"]
    if candidate is None:
        if block in PERSON_BLOCKS:
            errors["candidate"] = _("A placement needs a candidate.")
    elif candidate.contractor_id != obligation.contract.contractor_id:
        # Never confirm that another contractor's candidate exists.
        errors["candidate"] = _("Choose one of this contractor's candidates.")
    elif candidate.anonymised_at is not None:
        errors["candidate"] = _("This candidate has been anonymised and cannot be reported.")
    if errors:
        raise ValidationError(errors)


def _bsn_error() -> str:
    return _("Do not enter a BSN or other identifying number here.")


def check_reporting_inputs(data: dict) -> None:
    """What a stored contribution needs beyond what its value needs. Its free text never
    holds a BSN-like number (a description is no place for personal data)."""
    errors: dict[str, Any] = {}
    if data["block"] == Block.SOCIAL_PURCHASE and not data["social_enterprise"]:
        errors["social_enterprise"] = _("Name the social enterprise the purchase was made from.")
    for name in DESCRIPTIVE_INPUTS:
        if name not in errors and contains_bsn_like_number(data[name]):
            errors[name] = _bsn_error()
    if errors:
        raise ValidationError(errors)


def _engine_rulebook(obligation: Obligation) -> valuation.Rulebook:
    if obligation.rulebook_id is None:
        raise ValidationError(
            _(
                "This obligation has no rulebook, so contributions cannot be valued. "
                "The SROI adviser must assign one first."
            ),
            code="no_rulebook",
        )
    try:
        return to_engine(obligation.rulebook)
    except valuation.RulebookError as exc:
        raise ValidationError(list(exc.errors), code="invalid_rulebook") from exc


def _window(obligation: Obligation) -> valuation.Window:
    try:
        return valuation.Window(obligation.window_start, obligation.deadline)
    except valuation.ValuationInputError as exc:
        raise ValidationError(str(exc)) from exc


def _engine_input(data: dict) -> valuation.ContributionInput:
    candidate: Candidate | None = data["candidate"]
    return valuation.ContributionInput(
        block=data["block"],
        start=data["start_date"],
        end=data["end_date"],
        target_group=(candidate.target_group or None) if candidate else None,
        hours_per_week=data["hours_per_week"],
        years_on_benefit=candidate.years_on_benefit if candidate else None,
        birth_year=candidate.birth_year if candidate else None,
        permanent_contract=data["permanent_contract"],
        invoiced_amount=data["invoiced_amount"],
        hours=data["hours"],
        actual_cost=data["actual_cost"],
        variant=data["variant"],
    )


def _engine_error(exc: valuation.ValuationError) -> ValidationError:
    """The engine's message, attached to the input it is about when that is clear."""
    message = str(exc)
    if isinstance(exc, valuation.ValuationInputError):
        field = ENGINE_FIELDS.get(message.split(":", 1)[0].strip())
        if field:
            return ValidationError({field: message}, code="valuation")
    return ValidationError(message, code="valuation")


#: ``Contribution.value`` holds at most 14 digits, 2 of them decimals.
MAX_STORABLE_VALUE = Decimal(10) ** 12


def value_of(*, obligation: Obligation, **inputs) -> valuation.Valuation:
    """The value of a contribution with these inputs, by the obligation's frozen rulebook and
    inside its counting window (award date up to the deadline).

    ``inputs`` are the contribution's form fields (see ``CONTRIBUTION_INPUTS``; descriptive
    ones are accepted and ignored). Used for the preview in forms and for the stored value.
    Raises ``ValidationError`` (keyed by field where possible), never an engine error.
    """
    data = normalise_inputs(inputs)
    _check_valuation_inputs(obligation, data)
    rulebook = _engine_rulebook(obligation)
    window = _window(obligation)
    try:
        result = valuation.value_contribution(rulebook, _engine_input(data), window)
    except valuation.ValuationError as exc:
        raise _engine_error(exc) from exc
    if abs(result.value) >= MAX_STORABLE_VALUE:
        raise ValidationError(
            _("The value of this contribution is too large to be right; check the numbers."),
            code="value_too_large",
        )
    return result


def _valued_today(contribution: Contribution) -> valuation.Valuation:
    """The stored value of a contribution: open-ended ones count up to today (never unperformed
    future work); see ``placements.revaluation.valuation_as_of``."""
    from .revaluation import valuation_as_of

    return valuation_as_of(contribution, as_of=timezone.localdate())


def _store_valuation(contribution: Contribution, result: valuation.Valuation) -> None:
    contribution.value = result.value
    contribution.rule_code = result.rule_code or ""
    contribution.value_explanation = list(result.explanation)


def _lock_obligation(obligation_id: int) -> Obligation:
    return (
        Obligation.objects.select_for_update(of=("self",))
        .select_related("contract", "rulebook")
        .get(pk=obligation_id)
    )


def _lock_contribution(contribution: Contribution) -> Contribution:
    return (
        Contribution.objects.select_for_update(of=("self",))
        .select_related("obligation__contract", "candidate")
        .get(pk=contribution.pk)
    )


def _require_open(obligation: Obligation) -> None:
    if obligation.status != Obligation.Status.OPEN:
        raise ValidationError(
            _("The obligation is settled; its contributions can no longer change."),
            code="settled",
        )


# --- Contributions ---------------------------------------------------------------------------


@transaction.atomic
def submit_contribution(
    *, acting_user, obligation: Obligation, notify: bool = True, **inputs
) -> Contribution:
    """Report a contribution towards ``obligation``; it is valued and stored as submitted.

    The obligation row is locked so a contribution cannot slip in while it is being settled.
    """
    obligation = _lock_obligation(obligation.pk)
    _require(can(acting_user, Action.REPORT_CONTRIBUTION, obligation))
    _require_open(obligation)
    data = normalise_inputs(inputs)
    check_reporting_inputs(data)
    value_of(obligation=obligation, **data)  # input errors name the fields as entered
    contribution = Contribution(
        obligation=obligation,
        status=Contribution.Status.SUBMITTED,
        submitted_by=acting_user,
        **data,
    )
    _store_valuation(contribution, _valued_today(contribution))
    contribution.full_clean()
    contribution.save()
    if notify:  # a bulk upload sends no mail per row
        notify_contribution_submitted(contribution, acting_user=acting_user)
    return contribution


@transaction.atomic
def update_contribution(*, acting_user, contribution: Contribution, **changes) -> Contribution:
    """Change a submitted or returned contribution and value it again. A returned one goes
    back to the adviser as submitted (the reason it was returned stays for reference)."""
    obligation = _lock_obligation(contribution.obligation_id)  # lock order: obligation first
    contribution = _lock_contribution(contribution)
    _require(can(acting_user, Action.REPORT_CONTRIBUTION, contribution))
    if contribution.status not in (Contribution.Status.SUBMITTED, Contribution.Status.RETURNED):
        raise ValidationError(
            _("An approved or rejected contribution can no longer be changed."), code="locked"
        )
    _require_open(obligation)
    unknown = set(changes) - set(CONTRIBUTION_INPUTS)
    if unknown:
        raise TypeError(f"Unknown contribution inputs: {sorted(unknown)}")
    merged = {name: getattr(contribution, name) for name in CONTRIBUTION_INPUTS}
    merged.update(changes)
    data = normalise_inputs(merged)
    check_reporting_inputs(data)
    value_of(obligation=obligation, **data)  # input errors name the fields as entered
    for name, value in data.items():
        setattr(contribution, name, value)
    contribution.obligation = obligation
    _store_valuation(contribution, _valued_today(contribution))
    resubmitted = contribution.status == Contribution.Status.RETURNED
    if resubmitted:
        contribution.status = Contribution.Status.SUBMITTED
    contribution.full_clean()
    contribution.save()
    if resubmitted:
        notify_contribution_submitted(contribution, acting_user=acting_user, resubmitted=True)
    return contribution


def _review(acting_user, contribution: Contribution, status: str, reason: str) -> Contribution:
    # Lock order everywhere: the obligation first, then its contributions (as settlement and
    # revaluation do), so concurrent writers wait instead of deadlocking.
    obligation = _lock_obligation(contribution.obligation_id)
    contribution = _lock_contribution(contribution)
    _require(can(acting_user, Action.REVIEW_CONTRIBUTION, contribution))
    if contribution.status != Contribution.Status.SUBMITTED:
        raise ValidationError(
            _("Only a submitted contribution can be reviewed; this one is %(status)s.")
            % {"status": contribution.get_status_display().lower()},
            code="not_submitted",
        )
    _require_open(obligation)
    reason = (reason or "").strip()
    if status != Contribution.Status.APPROVED and not reason:
        raise ValidationError({"reason": _("Give a reason.")}, code="required")
    if contains_bsn_like_number(reason):
        raise ValidationError({"reason": _bsn_error()}, code="bsn")
    if status == Contribution.Status.APPROVED:
        _require_confirmed_eligibility(contribution)
        # Approve the value as of today (an open-ended placement has grown since it was
        # reported).
        contribution.obligation = obligation
        _store_valuation(contribution, _valued_today(contribution))
    contribution.status = status
    contribution.status_reason = reason
    contribution.reviewed_by = acting_user
    contribution.reviewed_at = timezone.now()
    contribution.full_clean()
    contribution.save()
    notify_contribution_reviewed(contribution)
    return contribution


def _require_confirmed_eligibility(contribution: Contribution) -> None:
    """A placement (job, work-experience place, internship, BBL) counts only for a candidate
    whose eligibility the municipality's side has confirmed."""
    if contribution.block not in PERSON_BLOCKS:
        return
    candidate = contribution.candidate
    if candidate is None or candidate.eligibility_confirmed_at is None:
        raise ValidationError(
            {
                "candidate": ValidationError(
                    _(
                        "The candidate's eligibility (target group) has not been confirmed "
                        "yet. Confirm it first; only then can this placement be approved."
                    ),
                    code="eligibility_not_confirmed",
                )
            }
        )


@transaction.atomic
def approve_contribution(*, acting_user, contribution: Contribution) -> Contribution:
    """Approve a submitted contribution: its value now counts as realised. The row lock makes
    a second, simultaneous approval fail instead of counting twice. A placement needs a
    candidate whose eligibility is confirmed (:func:`confirm_eligibility`)."""
    return _review(acting_user, contribution, Contribution.Status.APPROVED, "")


@transaction.atomic
def reject_contribution(*, acting_user, contribution: Contribution, reason: str) -> Contribution:
    return _review(acting_user, contribution, Contribution.Status.REJECTED, reason)


@transaction.atomic
def return_contribution(*, acting_user, contribution: Contribution, reason: str) -> Contribution:
    """Send a contribution back to the contractor for more information."""
    return _review(acting_user, contribution, Contribution.Status.RETURNED, reason)


# --- Evidence --------------------------------------------------------------------------------


# Uploads up to this size wait for the commit in memory, larger ones in a temporary file.
EVIDENCE_SPOOL_BYTES = 1024 * 1024


def _spool(uploaded_file) -> tempfile.SpooledTemporaryFile:
    """A private copy of the upload that lives until the transaction ends (the caller may
    close its file before that). Deleted when closed or garbage collected."""
    spool = tempfile.SpooledTemporaryFile(max_size=EVIDENCE_SPOOL_BYTES)
    try:
        if hasattr(uploaded_file, "chunks"):
            for chunk in uploaded_file.chunks():
                spool.write(chunk)
        else:
            uploaded_file.seek(0)
            shutil.copyfileobj(uploaded_file, spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _write_evidence_file(evidence_pk: int, name: str, spool) -> None:
    """After the commit: write the evidence's content to private storage. Should that fail,
    the evidence row goes too (it would point to nothing) and the error is logged."""
    storage = Evidence._meta.get_field("file").storage
    try:
        with spool:
            stored = storage.save(name, File(spool, name=name))
    except Exception:
        Evidence.objects.filter(pk=evidence_pk).delete()
        raise
    if stored != name:
        Evidence.objects.filter(pk=evidence_pk).update(file=stored)


@transaction.atomic
def add_evidence(*, acting_user, contribution: Contribution, uploaded_file, kind: str) -> Evidence:
    """Attach a PDF, PNG or JPEG (judged by content) to a contribution that is still open.

    The uploaded file name is not kept: the evidence is named after its kind, the upload date
    and the detected type (``arbeidsovereenkomst-2026-11-26.pdf``), and stored under a random
    path. The content is written to private storage only once the outermost transaction
    commits (``transaction.on_commit``): when this function, the caller's transaction or a
    savepoint around it (the admin's dry run) rolls back, no file is ever written, so none is
    left behind. The obligation is locked like in every other write, so evidence cannot be
    attached while the obligation is being settled.
    """
    # Lock order everywhere: the obligation first, then the contribution (see ``_review``).
    obligation = _lock_obligation(contribution.obligation_id)
    contribution = _lock_contribution(contribution)
    _require(
        can(acting_user, Action.REPORT_CONTRIBUTION, contribution)
        or can(acting_user, Action.REVIEW_CONTRIBUTION, contribution)
    )
    if contribution.status in (Contribution.Status.APPROVED, Contribution.Status.REJECTED):
        raise ValidationError(
            _("Evidence cannot be added to an approved or rejected contribution."),
            code="locked",
        )
    _require_open(obligation)
    file_type = validate_evidence_file(uploaded_file, max_bytes=settings.EVIDENCE_MAX_BYTES)
    evidence = Evidence(
        contribution=contribution,
        kind=kind,
        original_name=evidence_display_name(kind, file_type, timezone.localdate()),
        content_type=file_type.content_type,
        size=uploaded_size(uploaded_file),
        uploaded_by=acting_user,
    )
    # The stored path is a random name (``evidence_upload_to``); the content follows on commit.
    evidence.file = evidence.file.field.generate_filename(evidence, evidence.original_name)
    evidence.full_clean()
    evidence.save()
    spool = _spool(uploaded_file)
    pk, name = evidence.pk, evidence.file.name

    def write_evidence_file() -> None:  # a named function: Django logs its __qualname__
        _write_evidence_file(pk, name, spool)

    transaction.on_commit(write_evidence_file, robust=True)
    return evidence


# --- Rulebooks -------------------------------------------------------------------------------

RULE_FIELDS = (
    "code",
    "label",
    "block",
    "kind",
    "rate",
    "target_groups",
    "variant",
    "min_years_on_benefit",
    "max_years_on_benefit",
    "fte_hours",
    "min_hours_per_week",
    "max_years",
    "min_duration_days",
    "percent",
)
BONUS_FIELDS = (
    "code",
    "label",
    "amount",
    "blocks",
    "target_groups",
    "min_age",
    "max_age",
    "requires_permanent_contract",
)


def _manageable_municipalities(user) -> frozenset[int] | None:
    """Municipality ids whose rulebooks ``user`` may manage; ``None`` means all."""
    scope = get_scope(user)
    if scope.is_superuser:
        return None
    return scope.municipalities_for(Action.MANAGE_RULEBOOK)


def _require_manage(user, municipality_ids) -> None:
    """The user must hold MANAGE_RULEBOOK for every municipality the rulebook applies to (a
    regional rulebook changes the values of all of them)."""
    allowed = _manageable_municipalities(user)
    if allowed is None:
        return
    ids = set(municipality_ids)
    _require(bool(ids) and ids <= allowed)


def _municipality_ids(rulebook: Rulebook) -> set[int]:
    return set(rulebook.municipalities.values_list("pk", flat=True))


def _lock_rulebook(rulebook: Rulebook) -> Rulebook:
    return (
        Rulebook.objects.select_for_update(of=("self",)).select_related("owner").get(pk=rulebook.pk)
    )


def _require_not_frozen(rulebook: Rulebook) -> None:
    if rulebook.obligations.exists():
        raise ValidationError(
            _(
                "This rulebook is used by an obligation and is frozen. "
                "Create a new version to change values."
            ),
            code="frozen",
        )


def _validate_with_engine(rulebook: Rulebook) -> valuation.Rulebook:
    try:
        engine_rulebook = to_engine(rulebook)
        engine_rulebook.validate()
    except valuation.RulebookError as exc:
        raise ValidationError(list(exc.errors), code="invalid_rulebook") from exc
    return engine_rulebook


def _engine_item_errors(exc: valuation.RulebookError, fields: tuple[str, ...]) -> ValidationError:
    """Engine messages keyed by field: ``rules[0].rate: must not be negative`` and
    ``rule 'x': target_groups: 'y' is not one of …`` become ``{"rate": …}``, ``{"target_groups":
    …}``; anything else is a non-field error."""
    errors: dict[str, list[str]] = {}
    for message in exc.errors:
        parts = message.split(": ")
        for index, part in enumerate(parts[:-1]):
            name = part.rsplit(".", 1)[-1].strip()
            if name in fields:
                errors.setdefault(name, []).append(": ".join(parts[index + 1 :]))
                break
        else:
            errors.setdefault(NON_FIELD_ERRORS, []).append(message)
    return ValidationError(errors, code="invalid_rule")


def _check_rule_with_engine(rule: Rule) -> None:
    """Problems of this one rule (types, ranges, fields its kind does not use); overlaps with
    other rules are checked when the rulebook is published."""
    try:
        engine_rule = valuation.Rule(**{name: getattr(rule, name) for name in RULE_FIELDS})
        valuation.Rulebook(
            name="check", version="1", valid_from=date(2000, 1, 1), rules=(engine_rule,)
        )
    except valuation.RulebookError as exc:
        raise _engine_item_errors(exc, RULE_FIELDS) from exc


def _check_bonus_with_engine(bonus: Bonus) -> None:
    try:
        engine_bonus = valuation.Bonus(**{name: getattr(bonus, name) for name in BONUS_FIELDS})
        valuation.Rulebook(
            name="check", version="1", valid_from=date(2000, 1, 1), bonuses=(engine_bonus,)
        )
    except valuation.RulebookError as exc:
        raise _engine_item_errors(exc, BONUS_FIELDS) from exc


def _editable_rulebook(acting_user, rulebook: Rulebook) -> Rulebook:
    rulebook = _lock_rulebook(rulebook)
    _require_manage(acting_user, _municipality_ids(rulebook))
    _require_not_frozen(rulebook)
    return rulebook


def _after_change(rulebook: Rulebook) -> None:
    """A published (not yet used) rulebook must stay valid after every change."""
    if rulebook.status == Rulebook.Status.PUBLISHED:
        if not rulebook.rules.exists():
            raise ValidationError(_("A published rulebook needs at least one rule."))
        _validate_with_engine(rulebook)


def _save_item(model, fields: tuple[str, ...], rulebook, data: dict, item, check):
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"Unknown {model.__name__.lower()} fields: {sorted(unknown)}")
    if item is None:
        item = model(rulebook=rulebook)
    else:
        item = model.objects.filter(rulebook=rulebook, pk=item.pk).first()
        if item is None:
            raise ValidationError(
                _("This %(item)s does not belong to the rulebook.") % {"item": model.__name__}
            )
    for name, value in data.items():
        setattr(item, name, value)
    for name in ("target_groups", "blocks"):
        if name in fields:
            values = getattr(item, name) or []
            if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
                raise ValidationError({name: _("Expected a list.")})
            setattr(item, name, sorted({str(v) for v in values}))
    item.full_clean()  # converts strings to Decimal/int where the fields are typed
    check(item)
    item.save()
    _after_change(rulebook)
    return item


@transaction.atomic
def save_rule(
    *, acting_user, rulebook: Rulebook, rule_data: dict, rule: Rule | None = None
) -> Rule:
    """Create (``rule`` ``None``) or change a rule of a rulebook that no obligation uses."""
    rulebook = _editable_rulebook(acting_user, rulebook)
    return _save_item(Rule, RULE_FIELDS, rulebook, rule_data, rule, _check_rule_with_engine)


@transaction.atomic
def save_bonus(
    *, acting_user, rulebook: Rulebook, bonus_data: dict, bonus: Bonus | None = None
) -> Bonus:
    """Create (``bonus`` ``None``) or change a bonus of a rulebook that no obligation uses."""
    rulebook = _editable_rulebook(acting_user, rulebook)
    return _save_item(Bonus, BONUS_FIELDS, rulebook, bonus_data, bonus, _check_bonus_with_engine)


@transaction.atomic
def delete_rule(*, acting_user, rule: Rule) -> None:
    rulebook = _editable_rulebook(acting_user, rule.rulebook)
    Rule.objects.filter(pk=rule.pk, rulebook=rulebook).delete()
    _after_change(rulebook)


@transaction.atomic
def delete_bonus(*, acting_user, bonus: Bonus) -> None:
    rulebook = _editable_rulebook(acting_user, bonus.rulebook)
    Bonus.objects.filter(pk=bonus.pk, rulebook=rulebook).delete()
    _after_change(rulebook)


@transaction.atomic
def create_rulebook_version(
    *, acting_user, based_on: Rulebook, version: str, valid_from: date
) -> Rulebook:
    """A new DRAFT version of ``based_on`` with a copy of its rules, bonuses and
    municipalities. Obligations keep the version they were agreed with."""
    based_on = Rulebook.objects.select_related("owner").get(pk=based_on.pk)
    municipality_ids = _municipality_ids(based_on)
    _require_manage(acting_user, municipality_ids)
    rulebook = Rulebook(
        name=based_on.name,
        version=str(version or "").strip(),
        owner=based_on.owner,
        valid_from=valid_from,
        status=Rulebook.Status.DRAFT,
        is_example=based_on.is_example,
        based_on=based_on,
    )
    rulebook.full_clean()
    rulebook.save()
    rulebook.municipalities.set(municipality_ids)
    rules = Rule.objects.bulk_create(
        Rule(rulebook=rulebook, **{name: getattr(r, name) for name in RULE_FIELDS})
        for r in based_on.rules.all()
    )
    bonuses = Bonus.objects.bulk_create(
        Bonus(rulebook=rulebook, **{name: getattr(b, name) for name in BONUS_FIELDS})
        for b in based_on.bonuses.all()
    )
    log_created([*rules, *bonuses])
    return rulebook


@transaction.atomic
def publish_rulebook(*, acting_user, rulebook: Rulebook) -> Rulebook:
    """Publish a draft after the engine has validated it (overlaps, ranges, kinds). From its
    ``valid_from`` on, new obligations of its municipalities are agreed with it."""
    rulebook = _lock_rulebook(rulebook)
    municipality_ids = _municipality_ids(rulebook)
    _require_manage(acting_user, municipality_ids)
    if rulebook.status != Rulebook.Status.DRAFT:
        raise ValidationError(_("This rulebook is already published."), code="published")
    if not rulebook.rules.exists():
        raise ValidationError(_("A rulebook needs at least one rule."), code="empty")
    _validate_with_engine(rulebook)
    rulebook.status = Rulebook.Status.PUBLISHED
    rulebook.full_clean()
    rulebook.save()
    return rulebook


def _require_owner_allowed(user, owner: Organisation) -> None:
    """The owner is a municipality the user manages rulebooks for, or a body serving only such
    municipalities (the adviser's executing body or a shared-service body)."""
    allowed = _manageable_municipalities(user)
    if allowed is None:
        return
    if owner.is_municipality:
        _require(owner.pk in allowed)
        return
    served = set(owner.serves.values_list("pk", flat=True))
    _require(bool(served) and served <= allowed)


@transaction.atomic
def import_rulebook_json(
    *, acting_user, data: dict, owner: Organisation, municipalities
) -> Rulebook:
    """Store a rulebook in the engine's JSON format (``sroi-rulebook/1``) as a new DRAFT.
    Errors carry the path of the bad field, e.g. ``rules[2].rate: not a decimal: 'abc'``."""
    _require(_manageable_municipalities(acting_user) != frozenset())
    municipalities = list(municipalities)
    if not municipalities:
        raise ValidationError({"municipalities": _("Choose at least one municipality.")})
    if any(not m.is_municipality for m in municipalities):
        raise ValidationError({"municipalities": _("Only municipalities can be chosen.")})
    _require_manage(acting_user, {m.pk for m in municipalities})
    _require_owner_allowed(acting_user, owner)
    try:
        engine_rulebook = rulebook_from_dict(data)
        return store_engine_rulebook(
            engine_rulebook,
            owner=owner,
            municipalities=municipalities,
            status=Rulebook.Status.DRAFT,
        )
    except valuation.RulebookError as exc:
        raise ValidationError(list(exc.errors), code="invalid_rulebook") from exc


def export_rulebook_json(*, acting_user, rulebook: Rulebook) -> dict:
    """The rulebook in the engine's JSON format. Anyone who may see the rulebook may export it
    (it holds no personal data; contractors see the values they are judged by)."""
    _require(permissions.rulebooks_visible_to(acting_user).filter(pk=rulebook.pk).exists())
    rulebook = (
        Rulebook.objects.select_related("owner")
        .prefetch_related("rules", "bonuses")
        .get(pk=rulebook.pk)
    )
    return rulebook_to_dict(_validate_with_engine(rulebook))
