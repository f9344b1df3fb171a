"""Writes on monitoring flags by the adviser: acknowledge (with a note) and snooze until a
date. Only the adviser of the flag's municipality (or a superuser) may; the audit trail records
the change (django-auditlog, once ``Flag`` is registered in ``sroi.audit``)."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .dashboard import may_handle_flag
from .models import Flag

MAX_SNOOZE = timedelta(days=365)
NOTE_MAX_LENGTH = 2000


def _locked_open_flag(*, flag: Flag, acting_user) -> Flag:
    if not may_handle_flag(acting_user, flag):
        raise PermissionDenied
    locked = Flag.objects.select_for_update().get(pk=flag.pk)
    if locked.resolved_at is not None:
        raise ValidationError(
            _("This flag has been resolved in the meantime; there is nothing left to handle."),
            code="resolved",
        )
    return locked


@transaction.atomic
def acknowledge_flag(*, flag: Flag, acting_user, note: str) -> Flag:
    """Mark an open flag as seen, with the adviser's note (required). Acknowledging again
    replaces the note."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Write a short note: what have you done or decided?")})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {"note": _("Keep the note under %(max)d characters.") % {"max": NOTE_MAX_LENGTH}}
        )
    locked = _locked_open_flag(flag=flag, acting_user=acting_user)
    locked.acknowledged_at = timezone.now()
    locked.acknowledged_by = acting_user
    locked.acknowledge_note = note
    locked.full_clean()
    locked.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledge_note"])
    return locked


@transaction.atomic
def snooze_flag(*, flag: Flag, acting_user, until: date, today: date | None = None) -> Flag:
    """Hide an open flag from the dashboard until ``until`` (after today, at most a year
    ahead). On that day it shows again, if still open."""
    today = today or timezone.localdate()
    if until is None or until <= today:
        raise ValidationError({"until": _("Choose a date after today.")})
    if until > today + MAX_SNOOZE:
        raise ValidationError({"until": _("Snooze for at most one year.")})
    locked = _locked_open_flag(flag=flag, acting_user=acting_user)
    locked.snoozed_until = until
    locked.full_clean()
    locked.save(update_fields=["snoozed_until"])
    return locked
