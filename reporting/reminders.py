"""Reminder e-mails to contractors (issue 5, part 5): plan missing, no report, deadline near.

For every OPEN flag of kind ``no_approved_plan``, ``no_recent_report`` or ``deadline_near`` on
an open obligation, the contractor's active portal users (active ``ContractorUser`` link and
active user) get one e-mail saying what is asked and by when. The same occasion is never
reminded twice; the occasion is

* for ``deadline_near``: the obligation's deadline (an extended deadline is a new occasion);
* otherwise: the day the flag was first seen (a flag that resolves and later reopens has a new
  ``first_seen`` and so reminds again).

Delivery: **at most once**. A ``SentReminder(obligation, kind, occasion)`` row is created first
(the unique constraint makes a second or overlapping run skip it: ``IntegrityError``) and the
e-mails go out only after that row is committed (``transaction.on_commit``). A failing mail
server is logged without addresses and is not retried automatically (an operator deletes the
row to resend): a contractor must never get the same reminder twice.

Choices:

* Contractor users cannot opt out: reminders are part of the contract's SROI obligation
  (the adviser would otherwise have to chase by phone); only the advisers' digest has an
  opt-out.
* A flag the adviser has snoozed (``snoozed_until`` on or after today) sends no reminder while
  snoozed; the reminder for that occasion goes out after the snooze ends (e.g. when the adviser
  agreed a later date with the contractor).
* A contractor without an active portal user gets no reminder and no row is recorded, so the
  reminder goes out once someone is invited.

Privacy: the e-mail names the contract and the obligation's amount and deadline, never a
candidate.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from contracts.models import ContractorUser, Obligation

from .digests import HEADERS, MAIL_LANGUAGE, site_link
from .models import Flag, FlagKind, SentReminder

logger = logging.getLogger(__name__)

__all__ = ["REMINDER_KINDS", "occasion_for", "send_reminders"]

REMINDER_KINDS = (
    FlagKind.NO_APPROVED_PLAN,
    FlagKind.NO_RECENT_REPORT,
    FlagKind.DEADLINE_NEAR,
)


def occasion_for(flag: Flag) -> str:
    """What makes a reminder the same one: the deadline for ``deadline_near``, otherwise the
    (local) day the flag was first seen."""
    if flag.kind == FlagKind.DEADLINE_NEAR:
        return flag.obligation.deadline.isoformat()
    return timezone.localdate(flag.first_seen).isoformat()


def _recipients_by_contractor(contractor_ids) -> dict[int, list[tuple[str, str]]]:
    rows = (
        ContractorUser.objects.filter(
            contractor_id__in=contractor_ids, is_active=True, user__is_active=True
        )
        .order_by("user__email")
        .values_list("contractor_id", "user__email", "user__full_name")
    )
    result: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for contractor_id, email, full_name in rows:
        if email:
            result[contractor_id].append((email, full_name or ""))
    return result


def due_flags(*, today: date):
    """Open reminder flags on open obligations, not snoozed (one query)."""
    return (
        Flag.objects.filter(
            resolved_at__isnull=True,
            kind__in=REMINDER_KINDS,
            obligation__isnull=False,
            obligation__status=Obligation.Status.OPEN,
        )
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lt=today))
        .select_related("obligation", "contract__contractor", "contract__municipality")
        .order_by("pk")
    )


def send_reminders(*, today: date | None = None) -> int:
    """Record and queue every reminder that is due and not sent before; return how many
    reminders (occasions) were recorded. Running it twice sends nothing twice."""
    today = today or timezone.localdate()
    flags = list(due_flags(today=today))
    if not flags:
        return 0
    recipients = _recipients_by_contractor({flag.contract.contractor_id for flag in flags})
    recorded = 0
    for flag in flags:
        people = recipients.get(flag.contract.contractor_id)
        if not people:
            continue
        occasion = occasion_for(flag)
        if SentReminder.objects.filter(
            obligation_id=flag.obligation_id, kind=flag.kind, occasion=occasion
        ).exists():
            continue
        try:
            with transaction.atomic():
                reminder = SentReminder.objects.create(
                    obligation_id=flag.obligation_id, kind=flag.kind, occasion=occasion
                )
                messages = _render(flag, people, today=today)
                transaction.on_commit(
                    partial(_send, reminder_id=reminder.pk, messages=messages), robust=True
                )
        except IntegrityError:  # an overlapping run recorded it just now
            continue
        recorded += 1
    return recorded


def _render(flag: Flag, people, *, today: date) -> list[EmailMessage]:
    obligation = flag.obligation
    contract = flag.contract
    context = {
        "flag": flag,
        "kind": flag.kind,
        "obligation": obligation,
        "contract": contract,
        "contractor": contract.contractor,
        "municipality": contract.municipality,
        "days_left": (obligation.deadline - today).days,
        "link": site_link("placements:portal_home"),
    }
    messages = []
    with translation.override(MAIL_LANGUAGE):
        for email, full_name in people:
            ctx = {**context, "recipient_name": full_name}
            subject = render_to_string("emails/reminder_subject.txt", ctx)
            body = render_to_string("emails/reminder_body.txt", ctx)
            messages.append(
                EmailMessage(
                    subject=" ".join(subject.split()),
                    body=body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[email],
                    headers=dict(HEADERS),
                )
            )
    return messages


def _send(*, reminder_id: int, messages: list[EmailMessage]) -> None:
    try:
        get_connection().send_messages(messages)
    except Exception as exc:
        # No addresses and no content in the log: which reminder failed and why.
        logger.error(
            "Sending reminder %s failed (%s); not retried automatically.",
            reminder_id,
            type(exc).__name__,
        )
