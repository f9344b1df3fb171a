"""The invited contact person's page: choose a password, get an account, land in the portal.

Reached without logging in, by the personal link of the invitation e-mail. An unknown,
expired, revoked or used link gets one and the same friendly page with status 404, which
says nothing about the invitation, the contractor or whether the link ever existed.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from contracts import invitations

from .forms_invitations import AcceptInvitationForm

LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _no_referrer(response):
    # The URL holds the token: never send it to another site. Not "no-referrer": with that,
    # browsers send ``Origin: null`` on the form's POST and Django's CSRF check refuses it.
    response["Referrer-Policy"] = "same-origin"
    return response


def _invalid(request):
    return _no_referrer(render(request, "placements/portal_invitation_invalid.html", status=404))


def _portal_home() -> str:
    """The portal's home page (resolved per request; built elsewhere), else the site home."""
    try:
        return reverse("placements:portal_home")
    except NoReverseMatch:
        return reverse("home")


def _add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = "new_password2" if field == "password" else None
            if field != NON_FIELD_ERRORS and field in form.fields:
                target = field
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def accept_invitation(request, token: str):
    invitation = invitations.invitation_for_token(token)
    if invitation is None:
        return _invalid(request)
    form = AcceptInvitationForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.accept_invitation(
                token=token, password=form.cleaned_data["new_password1"]
            )
        except ValidationError as exc:
            if getattr(exc, "code", None) in invitations.TOKEN_ERROR_CODES:
                return _invalid(request)
            _add_service_errors(form, exc)
        else:
            login(request, user, backend=LOGIN_BACKEND)
            messages.success(
                request,
                _("Welcome, %(name)s. Your account for %(contractor)s is ready.")
                % {"name": user.get_short_name(), "contractor": invitation.contractor.name},
            )
            return redirect(_portal_home())
    return _no_referrer(
        render(
            request,
            "placements/portal_invitation_accept.html",
            {"form": form, "invitation": invitation, "contractor": invitation.contractor},
        )
    )
