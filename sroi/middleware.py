"""Session and two-factor gates, installed after django-otp's ``OTPMiddleware`` and Django's
``MessageMiddleware`` (see ``MIDDLEWARE`` in settings)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import two_factor
from .permissions import requires_two_factor

LAST_ACTIVITY_SESSION_KEY = "sroi_last_activity"
STARTED_SESSION_KEY = "sroi_session_started"
# The last-activity stamp is written at most this often (one session write a minute, not one
# per request).
ACTIVITY_TOUCH_SECONDS = 60

# Views an unverified user who needs a second factor may still reach.
TWO_FACTOR_EXEMPT_VIEWS = frozenset(
    {
        "login",
        "logout",
        "two_factor_verify",
        "two_factor_enrol",
        "admin:logout",
        "set_language",
        "healthz",
    }
)


def start_session_clock(session) -> None:
    """Stamp a freshly logged-in session (start and last activity), so the first request
    after login does not have to write the session again."""
    now = int(time.time())
    session[STARTED_SESSION_KEY] = now
    session[LAST_ACTIVITY_SESSION_KEY] = now


class SessionIdleTimeoutMiddleware:
    """Log a user out after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request, and after
    ``SESSION_COOKIE_AGE`` seconds in any case (the session's absolute maximum: touching the
    activity stamp saves the session, which would otherwise push its expiry forward)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            now = int(time.time())
            last = session.get(LAST_ACTIVITY_SESSION_KEY)
            started = session.get(STARTED_SESSION_KEY)
            idle_limit = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
            if last is not None and now - last > idle_limit:
                return self._log_out(
                    request,
                    _(
                        "You were logged out after %(minutes)d minutes without activity. "
                        "Please log in again."
                    )
                    % {"minutes": settings.SESSION_IDLE_TIMEOUT_MINUTES},
                )
            if started is not None and now - started > settings.SESSION_COOKIE_AGE:
                return self._log_out(request, _("Your session has ended. Please log in again."))
            if started is None:
                session[STARTED_SESSION_KEY] = now
            if last is None or now - last >= ACTIVITY_TOUCH_SECONDS:
                session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _log_out(request, message):
        logout(request)
        messages.info(request, message)
        return redirect_to_login(request.get_full_path())


class TwoFactorMiddleware:
    """Send a logged-in user who needs a second factor and has not given one to the code step
    (or, without an authenticator, to enrolment). Needing one: the rule of
    :func:`sroi.permissions.requires_two_factor`, or a user who enabled it and logged in
    (the login view marks the session pending)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in TWO_FACTOR_EXEMPT_VIEWS:
            return None
        if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        pending = request.session.get(two_factor.PENDING_SESSION_KEY)
        if not pending and not requires_two_factor(user):
            return None
        step = "two_factor_verify" if two_factor.is_enabled(user) else "two_factor_enrol"
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse(step)}?{query}")
