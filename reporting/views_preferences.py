"""The e-mail preferences screen (``reporting:preferences``): a staff user switches the daily
digest off or on. Contractor users (whose reminders cannot be switched off) and users without a
role get 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from sroi.models import Role
from sroi.permissions import get_scope

from . import digests


class PreferencesForm(forms.Form):
    digest_opt_out = forms.BooleanField(
        label=_("No daily digest"),
        required=False,
        help_text=_(
            "Tick to stop the daily e-mail with new and resolved monitoring flags. "
            "The flags stay on your dashboard."
        ),
    )


def _staff_scope(user):
    scope = get_scope(user)
    if scope.is_contractor or not (scope.is_superuser or scope.municipalities_by_role):
        raise Http404
    return scope


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    scope = _staff_scope(request.user)
    pref = digests.get_preference(request.user)
    initial = {"digest_opt_out": bool(pref and pref.digest_opt_out)}
    if request.method == "POST":
        form = PreferencesForm(request.POST, initial=initial)
        if form.is_valid():
            digests.set_digest_opt_out(
                user=request.user,
                opt_out=form.cleaned_data["digest_opt_out"],
                acting_user=request.user,
            )
            if form.cleaned_data["digest_opt_out"]:
                messages.success(request, _("You will no longer receive the daily digest."))
            else:
                messages.success(request, _("You will receive the daily digest."))
            return redirect("reporting:preferences")
    else:
        form = PreferencesForm(initial=initial)
    return render(
        request,
        "reporting/preferences.html",
        {
            "form": form,
            "is_adviser": scope.is_superuser or Role.ADVISER in scope.roles,
            "last_digest_at": pref.last_digest_at if pref else None,
        },
    )
