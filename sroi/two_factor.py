"""Two-factor login on top of django-otp: services for enrolment, verification, recovery codes
and reset, plus the client address used by the login lockout (django-axes).

Who needs a second factor is decided by :func:`sroi.permissions.requires_two_factor`; the gate
that sends an unverified user to the code step or to enrolment is
:class:`sroi.middleware.TwoFactorMiddleware`.

A user has at most one confirmed authenticator (a ``TOTPDevice``) and one set of recovery codes
(a ``StaticDevice`` with ``RECOVERY_CODE_COUNT`` single-use ``StaticToken`` rows). Failed codes
are throttled per device by django-otp (``OTP_TOTP_THROTTLE_FACTOR``: each failure doubles the
wait before the next code is even checked). Secrets and codes are never logged.
"""

from __future__ import annotations

import re

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import security_notices
from .permissions import requires_two_factor

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"

# Session key set at login when the user must pass the code step before anything else.
PENDING_SESSION_KEY = "sroi_two_factor_pending"

_TOTP_RE = re.compile(r"^\d{6}$")


class TwoFactorError(Exception):
    """A refused two-factor action; the message is shown to the user."""


# --- Reading ---------------------------------------------------------------------------------


def authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_enabled(user) -> bool:
    """Whether the user logs in with a second factor (has a confirmed authenticator)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def needs_verification(user) -> bool:
    """Whether this logged-in user must pass the code step (or enrol) before going on."""
    return requires_two_factor(user) or is_enabled(user)


# --- Enrolment -------------------------------------------------------------------------------


#: Session key of the authenticator being set up in this session (and nowhere else).
ENROLMENT_SESSION_KEY = "sroi_enrolment_device"


def start_enrolment(user, session) -> TOTPDevice:
    """The unconfirmed authenticator the user is setting up in *this session*; reloading the
    page keeps the same secret, so a code scanned a moment ago still works. Any other pending
    authenticator of the user is discarded and a new secret made: a secret shown in another
    session (say, to someone who only knows the password) can never be the one confirmed."""
    device_id = session.get(ENROLMENT_SESSION_KEY)
    device = None
    if device_id is not None:
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
        session[ENROLMENT_SESSION_KEY] = device.pk
    return device


@transaction.atomic
def confirm_enrolment(user, session, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm this session's pending authenticator with a current code. Replaces any earlier
    authenticator and recovery codes; returns the device and the new recovery codes (shown
    once)."""
    device_id = session.get(ENROLMENT_SESSION_KEY)
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(pk=device_id, user=user, confirmed=False)
        .first()
        if device_id is not None
        else None
    )
    if device is None:
        raise TwoFactorError(_("Start the set-up again: no authenticator is waiting for a code."))
    if not _TOTP_RE.match(_normalise(token)) or not device.verify_token(_normalise(token)):
        raise TwoFactorError(_("That code is not valid. Check your phone's clock and try again."))
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    session.pop(ENROLMENT_SESSION_KEY, None)
    codes = _replace_recovery_codes(user)
    security_notices.notify(user, security_notices.Event.ENROLLED)
    return device, codes


def totp_config_url(device: TOTPDevice) -> str:
    return device.config_url


def secret_base32(device: TOTPDevice) -> str:
    """The secret for manual entry in an authenticator app, in groups of four."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The enrolment QR code as inline SVG markup (presentation attributes only, no style
    attributes or scripts, so it passes a strict Content-Security-Policy)."""
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(scale=4, dark="#000", light="#fff", svgclass="totp-qr", lineclass=None)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(_("QR code"))}" ', 1)
    return mark_safe(svg)  # noqa: S308 -- segno's own markup, no user input in it


# --- Verification ----------------------------------------------------------------------------


def verify(user, token: str):
    """Check a 6-digit authenticator code or a recovery code; the device that accepted it,
    or ``None``. Throttled per device by django-otp; a used recovery code is deleted."""
    token = _normalise(token)
    if not token:
        return None
    model = TOTPDevice if _TOTP_RE.match(token) else StaticDevice
    with transaction.atomic():
        device = (
            model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk")
        ).first()
        if device is not None and device.verify_token(token):
            return device
    return None


def throttle_wait_seconds(user, token: str) -> int:
    """Seconds until the device this token is meant for (the authenticator for 6 digits, the
    recovery codes otherwise) accepts another code; 0 when not throttled."""
    model = TOTPDevice if _TOTP_RE.match(_normalise(token)) else StaticDevice
    device = model.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return 0
    allowed, data = device.verify_is_allowed()
    if allowed or not data:
        return 0
    locked_until = data.get("locked_until")
    if locked_until is None:
        return 0
    return max(0, int((locked_until - timezone.now()).total_seconds()) + 1)


def mark_verified(request, device) -> None:
    """Record in the session that this request's user passed the code step."""
    request.session.cycle_key()
    otp_login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)


# --- Recovery codes, disabling, reset --------------------------------------------------------


def regenerate_recovery_codes(user, token: str) -> list[str]:
    """New recovery codes (the old ones stop working); requires a current authenticator code."""
    _require_current_code(user, token)
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        security_notices.notify(user, security_notices.Event.RECOVERY_CODES)
    return codes


def disable(user, token: str) -> None:
    """Switch two-factor login off. Only for users who do not require it (contractors);
    requires a current authenticator code."""
    if requires_two_factor(user):
        raise TwoFactorError(_("Two-factor login is required for your account."))
    _require_current_code(user, token)
    _delete_devices(user)
    security_notices.notify(user, security_notices.Event.DISABLED)


def reset(user, *, by=None) -> None:
    """Remove the user's authenticator and recovery codes (lost phone). Callers check that
    the acting user (``by``) may manage this user (the scoped user admin); at the next login
    the user sets up a new authenticator if their account requires one. The user is told by
    e-mail."""
    _delete_devices(user)
    security_notices.notify(user, security_notices.Event.RESET, by=by)


def _require_current_code(user, token: str) -> None:
    token = _normalise(token)
    device = authenticator(user)
    if device is None:
        raise TwoFactorError(_("Two-factor login is not enabled for your account."))
    if not _TOTP_RE.match(token):
        raise TwoFactorError(_("Enter the 6-digit code from your authenticator app."))
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        ok = device.verify_token(token)
    if not ok:
        raise TwoFactorError(_("That code is not valid."))


def _replace_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _delete_devices(user) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def _normalise(token: str | None) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()


# --- Client address for the lockout -------------------------------------------------------------


def client_ip_address(request) -> str | None:
    """The client's address for django-axes. Behind ``SROI_TRUSTED_PROXY_COUNT`` reverse
    proxies (production) it is the entry of X-Forwarded-For added by the outermost trusted
    proxy; without trusted proxies the header is ignored (anyone can send it)."""
    proxies = settings.SROI_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-proxies] if len(hops) >= proxies else hops[0]
    return request.META.get("REMOTE_ADDR")


def login_username(request, credentials=None) -> str | None:
    """The login name django-axes counts failures for (AXES_USERNAME_CALLABLE): the e-mail
    address as typed, lower-cased and stripped, so changing its case gives no fresh attempts
    (logging in is case-insensitive)."""
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    else:
        value = getattr(request, "POST", {}).get("username")
    return value.strip().lower() if isinstance(value, str) else value


def unlock_login(user) -> int:
    """Clear the failed login attempts for the user's e-mail address (from every address);
    the number of lockout records removed."""
    from axes.utils import reset as axes_reset

    return axes_reset(username=user.email.strip().lower())
