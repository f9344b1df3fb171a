"""Login in two steps and the user's security page.

Step 1 is Django's login form (e-mail and password; django-axes locks a username+IP after
repeated failures). A user who needs a second factor is logged in but not *verified*: the
session is marked pending and :class:`sroi.middleware.TwoFactorMiddleware` lets them reach
nothing but step 2 (a code from their authenticator or a recovery code), enrolment when they
have no authenticator yet, and logout. A pending step 2 expires after
``TWO_FACTOR_PENDING_SECONDS``. The logic lives in :mod:`sroi.two_factor`.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import two_factor
from .middleware import start_session_clock
from .permissions import requires_two_factor

TWO_FACTOR_PENDING_SECONDS = 10 * 60


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


def _safe_next(request, default: str | None = None) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


class SroiLoginView(LoginView):
    """Step 1. Logs the user in; when a second factor is needed, on to step 2 or enrolment."""

    redirect_authenticated_user = False

    def form_valid(self, form):
        response = super().form_valid(form)
        start_session_clock(self.request.session)
        user = form.get_user()
        if not two_factor.needs_verification(user):
            return response
        self.request.session[two_factor.PENDING_SESSION_KEY] = int(time.time())
        next_url = self.get_redirect_url() or resolve_url(settings.LOGIN_REDIRECT_URL)
        step = "two_factor_verify" if two_factor.is_enabled(user) else "two_factor_enrol"
        return redirect(_with_next(step, next_url))


def _pending_expired(request) -> bool:
    started = request.session.get(two_factor.PENDING_SESSION_KEY)
    return started is not None and time.time() - started > TWO_FACTOR_PENDING_SECONDS


def _expire(request):
    logout(request)
    messages.warning(request, _("The login took too long. Please log in again."))
    return redirect("login")


@never_cache
@sensitive_post_parameters("code")
@login_required
def verify(request):
    """Step 2: a code from the authenticator app or a recovery code."""
    user = request.user
    next_url = _safe_next(request)
    if user.is_verified():
        return redirect(next_url)
    if _pending_expired(request):
        return _expire(request)
    if not two_factor.is_enabled(user):
        return redirect(_with_next("two_factor_enrol", next_url))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = two_factor.throttle_wait_seconds(user, form.cleaned_data["code"])
        device = None if wait else two_factor.verify(user, form.cleaned_data["code"])
        if device is not None:
            two_factor.mark_verified(request, device)
            return redirect(next_url)
        if wait:
            form.add_error(
                "code",
                _("Too many wrong codes. Wait %(seconds)d seconds before trying again.")
                % {"seconds": wait},
            )
        else:
            form.add_error("code", _("That code is not valid."))
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": next_url})


@never_cache
@sensitive_post_parameters("code")
@login_required
def enrol(request):
    """Set up an authenticator: QR code and secret, confirmed with a current code; then the
    recovery codes, shown once."""
    user = request.user
    next_url = _safe_next(request)
    if two_factor.is_enabled(user):
        if not user.is_verified():  # never a new authenticator without the old one
            return redirect(_with_next("two_factor_verify", next_url))
        messages.info(request, _("Two-factor login is already set up for your account."))
        return redirect("account_security")
    if _pending_expired(request):
        return _expire(request)
    device = two_factor.start_enrolment(user, request.session)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = two_factor.confirm_enrolment(
                user, request.session, form.cleaned_data["code"]
            )
        except two_factor.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            two_factor.mark_verified(request, device)
            return _recovery_codes_page(request, codes, next_url)
    context = {
        "form": form,
        "next": next_url,
        "qr_code": two_factor.qr_code_svg(device),
        "secret": two_factor.secret_base32(device),
        "required": requires_two_factor(user),
    }
    return render(request, "accounts/two_factor_enrol.html", context)


def _recovery_codes_page(request, codes, next_url):
    response = render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_url})
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def security(request):
    """The user's two-factor status, recovery codes left, and what they may change."""
    user = request.user
    enabled = two_factor.is_enabled(user)
    if enabled and not user.is_verified():
        return redirect(_with_next("two_factor_verify", request.get_full_path()))
    context = {
        "enabled": enabled,
        "required": requires_two_factor(user),
        "codes_left": two_factor.recovery_codes_left(user) if enabled else 0,
        "regenerate_form": CodeForm(prefix="regenerate"),
        "disable_form": CodeForm(prefix="disable"),
    }
    return render(request, "accounts/security.html", context)


@never_cache
@sensitive_post_parameters("regenerate-code")
@login_required
@require_POST
def regenerate_recovery_codes(request):
    user = request.user
    if not user.is_verified():
        return redirect("account_security")
    form = CodeForm(request.POST, prefix="regenerate")
    if form.is_valid():
        try:
            codes = two_factor.regenerate_recovery_codes(user, form.cleaned_data["code"])
        except two_factor.TwoFactorError as exc:
            messages.error(request, str(exc))
        else:
            return _recovery_codes_page(request, codes, reverse("account_security"))
    else:
        messages.error(request, _("Enter the 6-digit code from your authenticator app."))
    return redirect("account_security")


@never_cache
@sensitive_post_parameters("disable-code")
@login_required
@require_POST
def disable(request):
    user = request.user
    if not user.is_verified():
        return redirect("account_security")
    form = CodeForm(request.POST, prefix="disable")
    if form.is_valid():
        try:
            two_factor.disable(user, form.cleaned_data["code"])
        except two_factor.TwoFactorError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Two-factor login is switched off."))
    else:
        messages.error(request, _("Enter the 6-digit code from your authenticator app."))
    return redirect("account_security")


def admin_login(request):
    """The admin site logs in through the same two-step login as the rest of the site."""
    next_url = _safe_next(request, default=reverse("admin:index"))
    return redirect(_with_next("login", next_url))


def lockout(request, original_response=None, credentials=None):
    """django-axes' response to a locked-out username+IP (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, "registration/lockout.html", context, status=429)
