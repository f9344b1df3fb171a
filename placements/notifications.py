"""E-mail notifications of the reporting workflow (issue 4, part 7).

* the SROI adviser(s) of the obligation's municipality when a contractor submits (or
  resubmits) a contribution or a plan of approach;
* after a bulk upload (``placements.bulk_import``, which submits its rows without a mail each)
  one summary per adviser: the contributions per obligation and their value, limited to the
  obligations of the municipalities that adviser serves (``sroi.permissions``);
* the contractor's active portal users when the adviser approves, rejects or returns a
  contribution (with the reason) and when a plan of approach is approved or returned (with
  the comment).

Each ``notify_*`` function is called by the service that made the change, inside its
transaction: the message is rendered there (Dutch, ``translation.override("nl")``, from the
plain-text templates in ``templates/emails/``) and sent only once the transaction commits
(``transaction.on_commit``). A rolled-back change sends nothing; a failing mail server never
undoes a committed change (the failure is logged without addresses).

Privacy: a message names the contract, the block, dates and the value, and the candidate by
their pseudonymous code only; never initials, birth year, target group or the free-text
description (which could hold a name). Each recipient gets their own message, so no one sees
the other recipients' addresses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from contracts.models import ContractorUser
from sroi.models import Membership, Role
from sroi.permissions import Action, can_in_municipality

from .models import Contribution, PlanOfApproach

logger = logging.getLogger(__name__)

__all__ = [
    "MAIL_LANGUAGE",
    "adviser_recipients",
    "contractor_recipients",
    "notify_bulk_submitted",
    "notify_contribution_reviewed",
    "notify_contribution_submitted",
    "notify_plan_reviewed",
    "notify_plan_submitted",
]

#: The notifications are in Dutch, whatever language the acting user's browser asked for.
MAIL_LANGUAGE = "nl"
HEADERS = {"Content-Language": MAIL_LANGUAGE, "Auto-Submitted": "auto-generated"}


@dataclass(frozen=True)
class Recipient:
    email: str
    full_name: str


# --- Recipients ------------------------------------------------------------------------------


def adviser_recipients(municipality_id: int, *, exclude_user_id: int | None = None):
    """Active SROI advisers covering the municipality: an adviser membership in the
    municipality itself or in an (active) organisation that serves it."""
    memberships = Membership.objects.filter(
        Q(organisation_id=municipality_id) | Q(organisation__serves=municipality_id),
        role=Role.ADVISER,
        is_active=True,
        organisation__is_active=True,
        user__is_active=True,
    )
    if exclude_user_id is not None:
        memberships = memberships.exclude(user_id=exclude_user_id)
    rows = memberships.values_list("user__email", "user__full_name").distinct()
    return _unique(rows)


def adviser_recipients_by_municipality(
    municipality_ids: Iterable[int], *, exclude_user_id: int | None = None
) -> dict[Recipient, frozenset[int]]:
    """Each active adviser covering at least one of the municipalities, with the ones of them
    they may review in (``sroi.permissions``). The same advisers as :func:`adviser_recipients`
    per municipality, found with one query for the users plus each adviser's scope: the cost
    grows with the number of advisers, never with the number of contributions."""
    wanted = frozenset(municipality_ids)
    if not wanted:
        return {}
    memberships = Membership.objects.filter(
        Q(organisation_id__in=wanted) | Q(organisation__serves__in=wanted),
        role=Role.ADVISER,
        is_active=True,
        organisation__is_active=True,
    )
    if exclude_user_id is not None:
        memberships = memberships.exclude(user_id=exclude_user_id)
    users = (
        get_user_model()
        .objects.filter(is_active=True, pk__in=memberships.values("user_id"))
        .exclude(email="")
        .select_related("contractor_link")  # the scope needs it: no query per adviser
        .order_by("email", "pk")
    )
    by_email: dict[str, tuple[Recipient, set[int]]] = {}
    for user in users:
        served = {m for m in wanted if can_in_municipality(user, Action.REVIEW_CONTRIBUTION, m)}
        if not served:
            continue
        key = user.email.lower()
        if key not in by_email:
            by_email[key] = (Recipient(email=user.email, full_name=user.full_name or ""), set())
        by_email[key][1].update(served)
    return {recipient: frozenset(served) for recipient, served in by_email.values()}


def contractor_recipients(contractor_id: int):
    """The contractor's active portal users."""
    rows = ContractorUser.objects.filter(
        contractor_id=contractor_id, is_active=True, user__is_active=True
    ).values_list("user__email", "user__full_name")
    return _unique(rows)


def _unique(rows) -> list[Recipient]:
    seen: dict[str, Recipient] = {}
    for email, full_name in rows:
        if email and email.lower() not in seen:
            seen[email.lower()] = Recipient(email=email, full_name=full_name or "")
    return sorted(seen.values(), key=lambda r: r.email)


# --- Links -----------------------------------------------------------------------------------


def _link(name: str, *args) -> str:
    """An absolute link when the site's address is configured (``SROI_BASE_URL``) and the page
    exists; otherwise empty (the message then just says where to look)."""
    base = getattr(settings, "SROI_BASE_URL", "")
    if not base:
        return ""
    try:
        return base.rstrip("/") + reverse(name, args=args)
    except NoReverseMatch:
        return ""


# --- Rendering and sending -------------------------------------------------------------------


def _render(template: str, recipients: list[Recipient], context: dict) -> list[EmailMessage]:
    messages = []
    with translation.override(MAIL_LANGUAGE):
        for recipient in recipients:
            ctx = {**context, "recipient": recipient}
            subject = render_to_string(f"emails/{template}_subject.txt", ctx)
            body = render_to_string(f"emails/{template}_body.txt", ctx)
            messages.append(
                EmailMessage(
                    subject=" ".join(subject.split()),
                    body=body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[recipient.email],
                    headers=dict(HEADERS),
                )
            )
    return messages


def _send_on_commit(kind: str, object_id: int, messages: list[EmailMessage]) -> None:
    if not messages:
        return

    def send_notifications() -> None:  # a named function: Django logs its __qualname__
        try:
            get_connection().send_messages(messages)
        except Exception as exc:
            # No addresses and no content in the log: only what failed and why.
            logger.error(
                "Sending the %s notification for %s failed (%s).",
                kind,
                object_id,
                type(exc).__name__,
            )

    transaction.on_commit(send_notifications, robust=True)


def _contribution_context(contribution: Contribution) -> dict:
    """Objects only: labels (block, status) are translated while rendering, in Dutch."""
    contract = contribution.obligation.contract
    candidate_code = contribution.candidate.code if contribution.candidate_id else ""
    return {
        "contribution": contribution,
        "contract": contract,
        "contractor": contract.contractor,
        "municipality": contract.municipality,
        "candidate_code": candidate_code,
    }


def _load_contribution(contribution: Contribution) -> Contribution:
    """The contribution with what the message needs, read fresh (the caller's object may have
    withheld its candidate)."""
    return Contribution.objects.select_related(
        "obligation__contract__contractor", "obligation__contract__municipality", "candidate"
    ).get(pk=contribution.pk)


def _load_plan(plan: PlanOfApproach) -> PlanOfApproach:
    return (
        PlanOfApproach.objects.select_related(
            "obligation__contract__contractor", "obligation__contract__municipality"
        )
        .prefetch_related("items")
        .get(pk=plan.pk)
    )


# --- Contributions ---------------------------------------------------------------------------


def notify_contribution_submitted(
    contribution: Contribution, *, acting_user=None, resubmitted: bool = False
) -> None:
    """Tell the advisers of the obligation's municipality that a contribution was submitted
    (``resubmitted``: corrected after it was returned). The acting user (an adviser reporting
    on the contractor's behalf) is not told about their own action."""
    contribution = _load_contribution(contribution)
    contract = contribution.obligation.contract
    recipients = adviser_recipients(
        contract.municipality_id, exclude_user_id=getattr(acting_user, "pk", None)
    )
    context = {
        **_contribution_context(contribution),
        "resubmitted": resubmitted,
        "link": _link("placements:contribution_detail", contribution.pk),
    }
    messages = _render("contribution_submitted", recipients, context)
    _send_on_commit("contribution submitted", contribution.pk, messages)


def notify_contribution_reviewed(contribution: Contribution) -> None:
    """Tell the contractor's active users that the adviser approved, rejected or returned a
    contribution, with the reason. Nothing for a contribution that is not reviewed."""
    contribution = _load_contribution(contribution)
    if contribution.status not in (
        Contribution.Status.APPROVED,
        Contribution.Status.REJECTED,
        Contribution.Status.RETURNED,
    ):
        return
    contract = contribution.obligation.contract
    recipients = contractor_recipients(contract.contractor_id)
    context = {
        **_contribution_context(contribution),
        "reason": contribution.status_reason,
        "link": _link("placements:portal_home"),
    }
    messages = _render("contribution_reviewed", recipients, context)
    _send_on_commit("contribution reviewed", contribution.pk, messages)


# --- Bulk reporting --------------------------------------------------------------------------


@dataclass(frozen=True)
class ObligationLine:
    """What one upload submitted on one obligation: no candidate, no description."""

    obligation_id: int
    reference: str
    title: str
    municipality_id: int
    municipality: str
    count: int
    total: Decimal


def bulk_summary(contribution_ids: Iterable[int]) -> dict[tuple[int, str], list[ObligationLine]]:
    """The contributions counted and summed per obligation (one query), grouped by contractor
    (id, name): a bulk upload is one contractor's, but nothing here relies on that."""
    rows = (
        Contribution.objects.filter(pk__in=list(contribution_ids))
        .values(
            "obligation_id",
            "obligation__contract__reference",
            "obligation__contract__title",
            "obligation__contract__municipality_id",
            "obligation__contract__municipality__name",
            "obligation__contract__contractor_id",
            "obligation__contract__contractor__name",
        )
        .annotate(count=Count("pk"), total=Sum("value"))
        .order_by(
            "obligation__contract__contractor__name",
            "obligation__contract__contractor_id",
            "obligation__contract__municipality__name",
            "obligation__contract__reference",
            "obligation_id",
        )
    )
    by_contractor: dict[tuple[int, str], list[ObligationLine]] = {}
    for row in rows:
        key = (
            row["obligation__contract__contractor_id"],
            row["obligation__contract__contractor__name"],
        )
        by_contractor.setdefault(key, []).append(
            ObligationLine(
                obligation_id=row["obligation_id"],
                reference=row["obligation__contract__reference"],
                title=row["obligation__contract__title"],
                municipality_id=row["obligation__contract__municipality_id"],
                municipality=row["obligation__contract__municipality__name"],
                count=row["count"],
                total=row["total"] or Decimal("0.00"),
            )
        )
    return by_contractor


def notify_bulk_submitted(contribution_ids: Iterable[int], *, acting_user=None) -> None:
    """After a bulk upload: one summary per adviser of the contributions it submitted, per
    obligation (contract reference and title, number, value) with the total and a link to the
    verification queue. An adviser sees only the obligations of the municipalities they
    serve, and gets nothing when none is theirs. Called inside the import's transaction;
    sent once it commits, like every notification here. The cost is a fixed number of
    queries plus the advisers' scopes, whatever the number of rows."""
    summary = bulk_summary(contribution_ids)
    if not summary:
        return
    municipality_ids = {line.municipality_id for lines in summary.values() for line in lines}
    advisers = adviser_recipients_by_municipality(
        municipality_ids, exclude_user_id=getattr(acting_user, "pk", None)
    )
    link = _link("placements:verification_queue")
    for (contractor_id, contractor_name), lines in summary.items():
        messages = []
        for recipient, served in advisers.items():
            own = [line for line in lines if line.municipality_id in served]
            if not own:
                continue
            context = {
                "contractor_name": contractor_name,
                "lines": own,
                "count": sum(line.count for line in own),
                "total": sum((line.total for line in own), Decimal("0.00")),
                "link": link,
            }
            messages.extend(_render("bulk_submitted", [recipient], context))
        _send_on_commit("bulk contributions submitted", contractor_id, messages)


# --- Plans of approach -----------------------------------------------------------------------


def notify_plan_submitted(plan: PlanOfApproach, *, acting_user=None) -> None:
    """Tell the advisers of the obligation's municipality that a plan of approach (version)
    was submitted for their approval."""
    plan = _load_plan(plan)
    contract = plan.obligation.contract
    recipients = adviser_recipients(
        contract.municipality_id, exclude_user_id=getattr(acting_user, "pk", None)
    )
    context = {
        "plan": plan,
        "items": list(plan.items.all()),
        "contract": contract,
        "contractor": contract.contractor,
        "municipality": contract.municipality,
        "link": _link("contracts:plan_review", plan.obligation_id),
    }
    messages = _render("plan_submitted", recipients, context)
    _send_on_commit("plan submitted", plan.pk, messages)


def notify_plan_reviewed(plan: PlanOfApproach) -> None:
    """Tell the contractor's active users that their plan of approach was approved or
    returned, with the adviser's comment."""
    plan = _load_plan(plan)
    if plan.status not in (PlanOfApproach.Status.APPROVED, PlanOfApproach.Status.RETURNED):
        return
    contract = plan.obligation.contract
    recipients = contractor_recipients(contract.contractor_id)
    context = {
        "plan": plan,
        "contract": contract,
        "contractor": contract.contractor,
        "municipality": contract.municipality,
        "comment": plan.review_comment,
        "link": _link("placements:portal_home"),
    }
    messages = _render("plan_reviewed", recipients, context)
    _send_on_commit("plan reviewed", plan.pk, messages)
