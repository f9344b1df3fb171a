"""The staff screen of a contractor's portal users: who has access, open invitations, inviting
a contact person, deactivating and reactivating users.

For the SROI adviser and the procurement officers of the municipalities where the contractor
has a contract (``contracts.invitations.may_manage_contractor_users``); everybody else gets a
404, so the screen reveals nothing. Reads and writes go through ``contracts.invitations``;
every change is a POST.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from placements.forms import add_service_errors

from . import invitations
from .models import ContractorInvitation, ContractorUser


class InviteForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Name"), max_length=150)
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"),
        help_text=gettext_lazy("The contact person logs in with this address."),
    )


def _page_url(contractor) -> str:
    return reverse("contracts:contractor_users", args=[contractor.pk])


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


@login_required
@require_http_methods(["GET", "POST"])
def contractor_users(request, pk: int):
    contractor = invitations.manageable_contractor_get(user=request.user, pk=pk)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitations.invite_contractor_user(
                acting_user=request.user,
                contractor=contractor,
                base_url=_base_url(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("The invitation has been sent to %(email)s.") % {"email": invitation.email},
            )
            return redirect(_page_url(contractor))
    users = list(invitations.contractor_users(contractor))
    open_invitations = list(invitations.open_invitations(contractor))
    return render(
        request,
        "contracts/contractor_users.html",
        {
            "contractor": contractor,
            "users": users,
            "active_count": sum(1 for u in users if u.is_active and u.user.is_active),
            "invitations": open_invitations,
            "form": form,
            "valid_days": invitations.invitation_valid_days(),
        },
    )


def _contractor_user(request, pk: int, user_pk: int) -> ContractorUser:
    contractor = invitations.manageable_contractor_get(user=request.user, pk=pk)
    return get_object_or_404(
        ContractorUser.objects.select_related("user", "contractor"),
        pk=user_pk,
        contractor=contractor,
    )


def _invitation(request, pk: int, invitation_pk: int) -> ContractorInvitation:
    contractor = invitations.manageable_contractor_get(user=request.user, pk=pk)
    return get_object_or_404(
        ContractorInvitation.objects.select_related("contractor"),
        pk=invitation_pk,
        contractor=contractor,
    )


def _report_error(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
@require_POST
def contractor_user_deactivate(request, pk: int, user_pk: int):
    link = _contractor_user(request, pk, user_pk)
    invitations.deactivate_contractor_user(acting_user=request.user, contractor_user=link)
    messages.success(
        request,
        _("%(name)s can no longer log in to the portal.") % {"name": link.user.get_full_name()},
    )
    return redirect(_page_url(link.contractor))


@login_required
@require_POST
def contractor_user_reactivate(request, pk: int, user_pk: int):
    link = _contractor_user(request, pk, user_pk)
    invitations.reactivate_contractor_user(acting_user=request.user, contractor_user=link)
    messages.success(
        request,
        _("%(name)s can log in to the portal again.") % {"name": link.user.get_full_name()},
    )
    return redirect(_page_url(link.contractor))


@login_required
@require_POST
def contractor_invitation_resend(request, pk: int, invitation_pk: int):
    """A new invitation to the same person (with a new link); the old link stops working."""
    old = _invitation(request, pk, invitation_pk)
    try:
        invitation = invitations.invite_contractor_user(
            acting_user=request.user,
            contractor=old.contractor,
            email=old.email,
            full_name=old.full_name,
            base_url=_base_url(request),
        )
    except ValidationError as exc:
        _report_error(request, exc)
    else:
        messages.success(
            request,
            _("A new invitation has been sent to %(email)s.") % {"email": invitation.email},
        )
    return redirect(_page_url(old.contractor))


@login_required
@require_POST
def contractor_invitation_revoke(request, pk: int, invitation_pk: int):
    invitation = _invitation(request, pk, invitation_pk)
    try:
        invitations.revoke_invitation(acting_user=request.user, invitation=invitation)
    except ValidationError as exc:
        _report_error(request, exc)
    else:
        messages.success(
            request,
            _("The invitation to %(email)s has been withdrawn.") % {"email": invitation.email},
        )
    return redirect(_page_url(invitation.contractor))
