"""The daily digest e-mail to SROI advisers (issue 5, part 5), and the digest opt-out.

Each active adviser (an active ADVISER membership in an active organisation) who has not opted
out gets at most ONE e-mail per run, listing only the flags that are new or resolved since
their previous digest (``NotificationPreference.last_digest_at``), in the municipalities they
may view (``get_scope(user).municipalities_for(Action.VIEW)``, all for a superuser). Nothing
new: no e-mail. The first digest (no ``last_digest_at`` yet) lists the flags open at that
moment; flags resolved before it are not news.

"New or changed" means ``first_seen`` or ``resolved_at`` after the previous digest (and not
after this run's ``now``, so a flag seen while the job runs falls in the next digest). A change
of severity of a flag that stays open is not tracked (the model keeps no change time for it).

Delivery: **at least once**. Per adviser, inside a transaction holding that adviser's
preference row (``select_for_update``, so two overlapping runs do not both send), the e-mail is
sent first and ``last_digest_at`` is advanced only when sending succeeded. A failing mail server
is logged (without addresses) and the same flags are offered again by the next run. A crash
between sending and committing can repeat a digest; it can never lose one — for a summary of
findings a repeat is harmless, a silent gap is not.

Privacy: the e-mail names the contract, the contractor, the municipality and the kind of flag;
never a candidate (the flag's ``details`` are not rendered).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from sroi.models import Membership, Role
from sroi.permissions import Action, get_scope

from .models import Flag, NotificationPreference

logger = logging.getLogger(__name__)

__all__ = [
    "MAIL_LANGUAGE",
    "Digest",
    "active_advisers",
    "build_digest",
    "send_daily_digests",
    "set_digest_opt_out",
    "site_link",
]

#: Mails go out in Dutch, whatever language the recipient last used in the browser.
MAIL_LANGUAGE = "nl"
HEADERS = {"Content-Language": MAIL_LANGUAGE, "Auto-Submitted": "auto-generated"}


def site_link(name: str, *args) -> str:
    """An absolute link when the site's address is configured (``SROI_BASE_URL``) and the page
    exists; otherwise empty (the message then says where to look)."""
    base = getattr(settings, "SROI_BASE_URL", "")
    if not base:
        return ""
    try:
        return base.rstrip("/") + reverse(name, args=args)
    except NoReverseMatch:
        return ""


# --- Preferences -----------------------------------------------------------------------------


def get_preference(user) -> NotificationPreference | None:
    """The user's stored preference, or ``None`` (defaults: digest on, never sent)."""
    return NotificationPreference.objects.filter(user=user).first()


@transaction.atomic
def set_digest_opt_out(*, user, opt_out: bool, acting_user) -> NotificationPreference:
    """Switch the daily digest off (``opt_out=True``) or on again for ``user``. A user changes
    only their own preference. Switching it back on does not replay what was missed: the next
    digest starts from the moment it was switched on."""
    if acting_user is None or acting_user.pk != user.pk:
        raise PermissionDenied
    pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    if pref.digest_opt_out and not opt_out:
        pref.last_digest_at = timezone.now()
    pref.digest_opt_out = opt_out
    pref.full_clean()
    pref.save(update_fields=["digest_opt_out", "last_digest_at"])
    return pref


# --- Recipients and content -----------------------------------------------------------------


def active_advisers():
    """Active users holding an active ADVISER membership in an active organisation."""
    adviser_ids = Membership.objects.filter(
        role=Role.ADVISER, is_active=True, organisation__is_active=True
    ).values("user_id")
    return get_user_model().objects.filter(is_active=True, pk__in=adviser_ids).order_by("pk")


@dataclass
class MunicipalitySection:
    name: str
    new: list = field(default_factory=list)
    resolved: list = field(default_factory=list)


@dataclass
class Digest:
    sections: list[MunicipalitySection]
    new_count: int
    resolved_count: int

    @property
    def is_empty(self) -> bool:
        return not (self.new_count or self.resolved_count)


def _flags_in_scope(user):
    scope = get_scope(user)
    qs = Flag.objects.all()
    if not scope.is_superuser:
        qs = qs.filter(municipality_id__in=scope.municipalities_for(Action.VIEW))
    return qs


def build_digest(user, *, since: datetime | None, now: datetime) -> Digest:
    """What the adviser has not been told yet (one query)."""
    qs = _flags_in_scope(user)
    if since is None:
        qs = qs.filter(first_seen__lte=now).filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gt=now)
        )
    else:
        qs = qs.filter(
            Q(first_seen__gt=since, first_seen__lte=now)
            | Q(resolved_at__gt=since, resolved_at__lte=now)
        )
    flags = qs.select_related("municipality", "contract__contractor").order_by(
        "municipality__name", "-severity", "first_seen", "pk"
    )
    sections: dict[int, MunicipalitySection] = {}
    new_count = resolved_count = 0
    for flag in flags:
        section = sections.setdefault(
            flag.municipality_id, MunicipalitySection(name=flag.municipality.name)
        )
        flag.link = site_link("contracts:contract_detail", flag.contract_id)
        if flag.resolved_at is not None and flag.resolved_at <= now:
            section.resolved.append(flag)
            resolved_count += 1
        else:
            section.new.append(flag)
            new_count += 1
    return Digest(list(sections.values()), new_count, resolved_count)


def _render(user, digest: Digest, *, since: datetime | None, now: datetime) -> EmailMessage:
    context = {
        "recipient": user,
        "digest": digest,
        "since": since,
        "now": now,
        "link": site_link("home"),
        "preferences_link": site_link("reporting:preferences"),
    }
    with translation.override(MAIL_LANGUAGE):
        subject = render_to_string("emails/digest_subject.txt", context)
        body = render_to_string("emails/digest_body.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers=dict(HEADERS),
    )


# --- The job ---------------------------------------------------------------------------------


def send_daily_digests(*, now: datetime | None = None) -> int:
    """Send each adviser who wants it one digest of what is new since their last one; return
    the number of e-mails sent. Idempotent: a second run right after the first sends nothing."""
    now = now or timezone.now()
    sent = 0
    for user in active_advisers():
        try:
            sent += _send_digest(user, now=now)
        except Exception as exc:  # one adviser's problem never stops the others' digests
            logger.error("Daily digest for user %s failed (%s).", user.pk, type(exc).__name__)
    return sent


def _send_digest(user, *, now: datetime) -> int:
    with transaction.atomic():
        pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        if pref.digest_opt_out:
            return 0
        since = pref.last_digest_at
        if since is not None and since >= now:
            return 0  # an overlapping or later run already covered this moment
        digest = build_digest(user, since=since, now=now)
        if digest.is_empty:
            return 0
        message = _render(user, digest, since=since, now=now)
        try:
            message.send()
        except Exception as exc:
            # No address and no content in the log: who (by id), what and why.
            logger.error(
                "Sending the daily digest to user %s failed (%s); retried by the next run.",
                user.pk,
                type(exc).__name__,
            )
            return 0
        pref.last_digest_at = now
        pref.save(update_fields=["last_digest_at"])
    return 1
