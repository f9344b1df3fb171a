"""Plans of approach: the contractor says which blocks, how many people and when; the adviser
approves the plan or returns it with a comment.

Every (re)submission is a new version; the current plan of an obligation is its latest version.
Writes here follow ``placements.services``: keyword-only, ``acting_user`` first asked through
``sroi.permissions``, ``full_clean()`` before saving, one transaction, rows locked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Obligation
from sroi import permissions
from sroi.audit import log_created
from sroi.permissions import Action, can

from .models import PlanItem, PlanOfApproach
from .notifications import notify_plan_reviewed, notify_plan_submitted

__all__ = [
    "ITEM_FIELDS",
    "approve_plan",
    "current_plan",
    "plan_history",
    "return_plan",
    "submit_plan",
]

ITEM_FIELDS = (
    "block",
    "planned_count",
    "planned_amount",
    "planned_start",
    "planned_end",
    "description",
)
MAX_ITEMS = 50
P = PlanOfApproach.Status


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# --- Reads -----------------------------------------------------------------------------------


def plan_history(*, user, obligation: Obligation) -> QuerySet[PlanOfApproach]:
    """Every version of the obligation's plan the user may see, the latest first, with items."""
    visible = permissions.obligations_visible_to(user).filter(pk=obligation.pk)
    return (
        PlanOfApproach.objects.filter(obligation__in=visible)
        .select_related("submitted_by", "reviewed_by")
        .prefetch_related("items")
        .order_by("-version")
    )


def current_plan(*, user, obligation: Obligation) -> PlanOfApproach | None:
    """The latest version of the obligation's plan, or ``None`` (none yet, or not visible)."""
    return plan_history(user=user, obligation=obligation).first()


# --- Writes ----------------------------------------------------------------------------------


def _lock_obligation(obligation: Obligation) -> Obligation:
    return (
        Obligation.objects.select_for_update(of=("self",))
        .select_related("contract")
        .get(pk=obligation.pk)
    )


def _latest(obligation: Obligation) -> PlanOfApproach | None:
    return PlanOfApproach.objects.filter(obligation=obligation).order_by("-version").first()


def _build_items(items: Iterable[Mapping[str, Any]]) -> list[PlanItem]:
    """Validated, unsaved items; errors name the line (``Line 2: …``)."""
    items = list(items)
    if not items:
        raise ValidationError(_("A plan needs at least one line."), code="empty")
    if len(items) > MAX_ITEMS:
        raise ValidationError(
            _("A plan has at most %(max)s lines.") % {"max": MAX_ITEMS}, code="too_many"
        )
    built: list[PlanItem] = []
    messages: list[str] = []
    for number, data in enumerate(items, start=1):
        unknown = set(data) - set(ITEM_FIELDS)
        if unknown:
            raise TypeError(f"Unknown plan item fields: {sorted(unknown)}")
        values = {name: data.get(name) for name in ITEM_FIELDS}
        values["description"] = " ".join(str(values["description"] or "").split())
        item = PlanItem(**values)
        errors: list[str] = []
        try:
            item.full_clean(exclude=["plan"])
        except ValidationError as exc:
            for field, field_errors in exc.message_dict.items():
                label = (
                    str(PlanItem._meta.get_field(field).verbose_name)
                    if field in ITEM_FIELDS
                    else ""
                )
                errors += [f"{label}: {e}" if label else e for e in field_errors]
        if item.planned_count is None and item.planned_amount is None:
            errors.append(_("plan a number of people, an amount, or both"))
        messages += [
            _("Line %(number)s: %(error)s") % {"number": number, "error": e} for e in errors
        ]
        built.append(item)
    if messages:
        raise ValidationError(messages, code="invalid_item")
    return built


@transaction.atomic
def submit_plan(
    *, acting_user, obligation: Obligation, items: Iterable[Mapping[str, Any]]
) -> PlanOfApproach:
    """Submit a plan of approach for ``obligation`` as its next version.

    Allowed for the users of the obligation's contractor and for the adviser on their behalf
    (``REPORT_CONTRIBUTION``). Not while the current version awaits the adviser's review, and
    not for a settled obligation. ``items`` are mappings with :data:`ITEM_FIELDS`.
    """
    obligation = _lock_obligation(obligation)
    _require(can(acting_user, Action.REPORT_CONTRIBUTION, obligation))
    if obligation.status != Obligation.Status.OPEN:
        raise ValidationError(
            _("The obligation is settled; its plan can no longer change."), code="settled"
        )
    latest = _latest(obligation)
    if latest is not None and latest.status == P.SUBMITTED:
        raise ValidationError(
            _("The current plan is waiting for the adviser's review."), code="pending"
        )
    built = _build_items(items)
    version = (
        PlanOfApproach.objects.filter(obligation=obligation).aggregate(v=Max("version"))["v"] or 0
    ) + 1
    plan = PlanOfApproach(
        obligation=obligation,
        version=version,
        status=P.SUBMITTED,
        submitted_by=acting_user,
        submitted_at=timezone.now(),
    )
    plan.full_clean()
    plan.save()
    for item in built:
        item.plan = plan
    log_created(PlanItem.objects.bulk_create(built))
    notify_plan_submitted(plan, acting_user=acting_user)
    return plan


def _lock_for_review(acting_user, plan: PlanOfApproach) -> PlanOfApproach:
    plan = (
        PlanOfApproach.objects.select_for_update(of=("self",))
        .select_related("obligation__contract")
        .get(pk=plan.pk)
    )
    _require(can(acting_user, Action.REVIEW_CONTRIBUTION, plan.obligation))
    if plan.status != P.SUBMITTED:
        raise ValidationError(
            _("Only a submitted plan can be reviewed; this one is %(status)s.")
            % {"status": plan.get_status_display().lower()},
            code="not_submitted",
        )
    latest = _latest(plan.obligation)
    if latest is not None and latest.pk != plan.pk:
        raise ValidationError(
            _("A newer version of this plan exists; review that one."), code="superseded"
        )
    return plan


def _decide(plan: PlanOfApproach, acting_user, status: str, comment: str) -> PlanOfApproach:
    plan.status = status
    plan.review_comment = comment
    plan.reviewed_by = acting_user
    plan.reviewed_at = timezone.now()
    plan.full_clean()
    plan.save()
    notify_plan_reviewed(plan)
    return plan


@transaction.atomic
def approve_plan(*, acting_user, plan: PlanOfApproach, comment: str = "") -> PlanOfApproach:
    """The adviser approves the current, submitted version of a plan."""
    plan = _lock_for_review(acting_user, plan)
    return _decide(plan, acting_user, P.APPROVED, (comment or "").strip())


@transaction.atomic
def return_plan(*, acting_user, plan: PlanOfApproach, comment: str) -> PlanOfApproach:
    """The adviser sends the plan back; the comment tells the contractor what to change. The
    contractor then submits a new version."""
    plan = _lock_for_review(acting_user, plan)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError(
            {"comment": _("Say what the contractor must change.")}, code="required"
        )
    return _decide(plan, acting_user, P.RETURNED, comment)
