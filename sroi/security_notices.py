"""E-mails that tell a user about a change to how their account is protected.

Someone who got hold of a password (or an administrator abusing the reset action) could switch
a user's second factor to their own phone. The owner then hears about it at once: every change
of the authenticator or the recovery codes sends the account's own address a short notice, in
Dutch like the other notifications, after the change is committed. A failing mail server is
logged (without the address) and never undoes the change.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

logger = logging.getLogger(__name__)

MAIL_LANGUAGE = "nl"


class Event(StrEnum):
    ENROLLED = "enrolled"  # a new authenticator was set up
    RECOVERY_CODES = "recovery_codes"  # new recovery codes were made
    DISABLED = "disabled"  # the user switched two-factor login off
    RESET = "reset"  # an administrator removed the authenticator (lost phone)


def notify(user, event: Event, *, by=None) -> None:
    """Send ``user`` a notice of ``event`` once the current transaction commits. ``by`` is
    the administrator who acted on someone else's account (named in the notice)."""
    if not user.email:
        return
    context = {
        "user": user,
        "event": str(event),
        "by": by if by is not None and by.pk != user.pk else None,
        "when": timezone.localtime(),
    }
    with translation.override(MAIL_LANGUAGE):
        subject = " ".join(render_to_string("emails/security_notice_subject.txt", context).split())
        body = render_to_string("emails/security_notice_body.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Content-Language": MAIL_LANGUAGE, "Auto-Submitted": "auto-generated"},
    )
    user_id = user.pk

    def send_security_notice() -> None:
        try:
            message.send()
        except Exception as exc:
            logger.error(
                "Sending the %s security notice to user %s failed (%s).",
                event,
                user_id,
                type(exc).__name__,
            )

    transaction.on_commit(send_security_notice, robust=True)
