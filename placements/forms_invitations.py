"""The form on the invitation page: the invited contact person chooses a password."""

from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from sroi.models import User


class AcceptInvitationForm(SetPasswordForm):
    """Django's set-password form, checked with the project's password validators against the
    account that will be created (an unsaved user with the invited address and name, so the
    similarity validator compares with those). Nothing is saved here: the service creates the
    account (``contracts.invitations.accept_invitation``)."""

    def __init__(self, *args, invitation, **kwargs):
        self.invitation = invitation
        super().__init__(
            User(email=invitation.email, full_name=invitation.full_name), *args, **kwargs
        )
        self.fields["new_password1"].label = _("Password")
        self.fields["new_password2"].label = _("Password (again)")

    def save(self, commit=True):  # pragma: no cover - the service creates the account
        raise NotImplementedError("Use contracts.invitations.accept_invitation().")
