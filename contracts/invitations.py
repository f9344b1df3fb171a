"""Invitations to the contractor portal and the management of a contractor's portal users.

The SROI adviser or a procurement officer of a municipality where the contractor has a contract
invites a contact person by e-mail (:func:`invite_contractor_user`). The e-mail holds a link with
a random token (``secrets.token_urlsafe(32)``); only its SHA-256 hash is stored, so the
database alone never opens an invitation. The link can be used once, expires after
``settings.INVITATION_VALID_DAYS`` days, and is revoked when the same address is invited again.
Accepting it (:func:`accept_invitation`) creates the user (who logs in with the e-mail address)
and links them to the contractor. The same staff deactivate and reactivate the contractor's
users (:func:`deactivate_contractor_user`, :func:`reactivate_contractor_user`).

Writes follow the house style: keyword-only, ``acting_user`` asked first (``PermissionDenied``),
``full_clean()`` before saving, one transaction. The e-mail is sent only once the transaction
commits (``transaction.on_commit``). Neither a token nor a password is ever logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sroi.audit import audited_update
from sroi.models import Membership, Role, User
from sroi.permissions import get_scope

from .models import Contract, Contractor, ContractorInvitation, ContractorUser

logger = logging.getLogger(__name__)

__all__ = [
    "INVITING_ROLES",
    "accept_invitation",
    "contractor_users",
    "deactivate_contractor_user",
    "hash_token",
    "invitation_for_token",
    "invitation_valid_days",
    "invite_contractor_user",
    "manageable_contractor_get",
    "may_manage_contractor_users",
    "open_invitations",
    "reactivate_contractor_user",
    "revoke_invitation",
]

#: Staff roles that invite and manage a contractor's portal users, in the municipalities where
#: the contractor has a contract.
INVITING_ROLES = (Role.ADVISER, Role.PROCUREMENT_OFFICER)
TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100
#: Language of the e-mails (the UI's default language, Dutch).
MAIL_LANGUAGE = "nl"


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def hash_token(token: str) -> str:
    """The stored form of an invitation token: its SHA-256, hex encoded."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invitation_valid_days() -> int:
    return settings.INVITATION_VALID_DAYS


# --- Who may manage a contractor's users ---------------------------------------------------


def may_manage_contractor_users(user, contractor: Contractor) -> bool:
    """The SROI adviser or a procurement officer of a municipality where ``contractor`` has a
    contract; superusers. Never the contractor's own users, a council viewer or a functional
    administrator (they use the admin)."""
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    municipalities = scope.municipalities(*INVITING_ROLES)
    if not municipalities:
        return False
    return Contract.objects.filter(
        contractor_id=contractor.pk, municipality_id__in=municipalities
    ).exists()


def manageable_contractor_get(*, user, pk: int) -> Contractor:
    """The contractor whose users ``user`` manages, or ``Http404`` (its existence is not
    revealed to anybody else)."""
    contractor = Contractor.objects.filter(pk=pk).first()
    if contractor is None or not may_manage_contractor_users(user, contractor):
        raise Http404
    return contractor


def contractor_users(contractor: Contractor) -> QuerySet[ContractorUser]:
    """The contractor's portal users, active ones first. Call only after
    :func:`may_manage_contractor_users` (or :func:`manageable_contractor_get`)."""
    return (
        ContractorUser.objects.filter(contractor=contractor)
        .select_related("user")
        .order_by("-is_active", "user__full_name", "user__email")
    )


def open_invitations(
    contractor: Contractor, *, now: datetime | None = None
) -> QuerySet[ContractorInvitation]:
    """Invitations of the contractor that can still be accepted."""
    now = now or timezone.now()
    return (
        ContractorInvitation.objects.filter(
            contractor=contractor,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


# --- Inviting --------------------------------------------------------------------------------


def _site_url(base_url: str) -> str:
    url = base_url or getattr(settings, "SROI_BASE_URL", "")
    if not url:
        raise ImproperlyConfigured(
            "An invitation link needs an absolute address: pass base_url or set SROI_BASE_URL."
        )
    return url.rstrip("/")


def _clean_invitee(email: str, full_name: str) -> tuple[str, str]:
    errors: dict[str, str] = {}
    email = User.objects.normalize_email(str(email or "").strip()).lower()
    full_name = " ".join(str(full_name or "").split())
    if not email:
        errors["email"] = _("Enter the e-mail address of the contact person.")
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid e-mail address.")
    max_length = ContractorInvitation._meta.get_field("full_name").max_length
    if not full_name:
        errors["full_name"] = _("Enter the name of the contact person.")
    elif len(full_name) > max_length:
        errors["full_name"] = _("The name is at most %(max)s characters long.") % {
            "max": max_length
        }
    if errors:
        raise ValidationError(errors)
    return email, full_name


def _existing_account_error(email: str, contractor: Contractor) -> ValidationError | None:
    """Why ``email`` cannot be invited because an account with it exists, or ``None``."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return None
    if user.is_active:
        return ValidationError(
            {
                "email": _(
                    "A user with this e-mail address already exists. They can log in with "
                    "it; an invitation is not needed."
                )
            },
            code="user_exists",
        )
    if ContractorUser.objects.filter(user=user, contractor=contractor).exists():
        return ValidationError(
            {
                "email": _(
                    "This contact person's account has been deactivated. Reactivate it "
                    "instead of sending a new invitation."
                )
            },
            code="user_deactivated",
        )
    return ValidationError(
        {
            "email": _(
                "An account with this e-mail address exists but has been deactivated. Ask "
                "the functional administrator."
            )
        },
        code="user_inactive",
    )


@transaction.atomic
def invite_contractor_user(
    *,
    acting_user,
    contractor: Contractor,
    email: str,
    full_name: str,
    base_url: str = "",
) -> ContractorInvitation:
    """Invite a contact person of ``contractor`` to the portal by e-mail.

    ``base_url`` is the site's address for the link (a view passes
    ``request.build_absolute_uri("/")``; otherwise ``settings.SROI_BASE_URL``). An address that
    already has an account is refused with a clear error; inviting the same address again
    revokes the earlier open invitation. The e-mail (Dutch) is sent once the transaction
    commits. Returns the invitation; the token itself exists only in the e-mail.
    """
    _require(may_manage_contractor_users(acting_user, contractor))
    email, full_name = _clean_invitee(email, full_name)
    site_url = _site_url(base_url)
    error = _existing_account_error(email, contractor)
    if error is not None:
        raise error
    # Lock the contractor: two simultaneous invitations of the same address end up as one
    # open invitation (the later one), never two.
    Contractor.objects.select_for_update().filter(pk=contractor.pk).first()
    now = timezone.now()
    audited_update(
        ContractorInvitation.objects.filter(
            contractor=contractor,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ),
        revoked_at=now,
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = ContractorInvitation(
        contractor=contractor,
        email=email,
        full_name=full_name,
        invited_by=acting_user,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + timedelta(days=invitation_valid_days()),
    )
    invitation.full_clean()
    invitation.save()
    link = site_url + reverse("placements:portal_accept_invitation", args=[token])
    message = _invitation_message(invitation, link, acting_user)

    def send_invitation() -> None:  # a named function: Django logs its __qualname__
        _send(message, invitation.pk)

    transaction.on_commit(send_invitation, robust=True)
    return invitation


def _invitation_message(invitation: ContractorInvitation, link: str, acting_user) -> EmailMessage:
    with translation.override(MAIL_LANGUAGE):
        context = {
            "invitation": invitation,
            "contractor": invitation.contractor,
            "link": link,
            "inviter": acting_user.get_full_name() if acting_user else "",
            "valid_days": invitation_valid_days(),
            "expires_at": timezone.localtime(invitation.expires_at),
        }
        subject = render_to_string("emails/invitation_subject.txt", context)
        body = render_to_string("emails/invitation_body.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
        headers={"Content-Language": MAIL_LANGUAGE, "Auto-Submitted": "auto-generated"},
    )


def _send(message: EmailMessage, invitation_pk: int) -> None:
    try:
        message.send()
    except Exception as exc:
        # Neither the address nor the link (it holds the token) goes into the log.
        logger.error(
            "Sending the e-mail of invitation %s failed (%s).", invitation_pk, type(exc).__name__
        )


@transaction.atomic
def revoke_invitation(*, acting_user, invitation: ContractorInvitation) -> ContractorInvitation:
    """Withdraw an invitation that has not been accepted; its link stops working."""
    invitation = (
        ContractorInvitation.objects.select_for_update()
        .select_related("contractor")
        .get(pk=invitation.pk)
    )
    _require(may_manage_contractor_users(acting_user, invitation.contractor))
    if invitation.accepted_at is not None:
        raise ValidationError(
            _("This invitation has already been accepted."), code="invitation_used"
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.full_clean()
        invitation.save(update_fields=["revoked_at"])
    return invitation


# --- Accepting -------------------------------------------------------------------------------

INVALID = "invitation_invalid"
EXPIRED = "invitation_expired"
REVOKED = "invitation_revoked"
USED = "invitation_used"
#: The error codes of an invitation that cannot be used (any more).
TOKEN_ERROR_CODES = frozenset({INVALID, EXPIRED, REVOKED, USED})


def _find(token, *, lock: bool = False) -> ContractorInvitation | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    qs = ContractorInvitation.objects.select_related("contractor")
    if lock:
        qs = qs.select_for_update(of=("self",))
    return qs.filter(token_hash=hash_token(token)).first()


def invitation_for_token(token, *, now: datetime | None = None) -> ContractorInvitation | None:
    """The open invitation this link token belongs to, or ``None`` (unknown, expired, revoked
    or used: the caller cannot tell which)."""
    invitation = _find(token)
    if invitation is None or not invitation.is_open(now or timezone.now()):
        return None
    return invitation


def _unusable(invitation: ContractorInvitation | None, now: datetime) -> ValidationError | None:
    if invitation is None:
        return ValidationError(_("This invitation link is not valid."), code=INVALID)
    if invitation.accepted_at is not None:
        return ValidationError(_("This invitation has already been used."), code=USED)
    if invitation.revoked_at is not None:
        return ValidationError(
            _("This invitation has been withdrawn or replaced by a newer one."), code=REVOKED
        )
    if now >= invitation.expires_at:
        return ValidationError(_("This invitation has expired."), code=EXPIRED)
    return None


@transaction.atomic
def accept_invitation(*, token: str, password: str, now: datetime | None = None) -> User:
    """Use an invitation: create the user (logging in with the invited e-mail address) with
    ``password``, link them to the contractor, and mark the invitation used.

    Single use: an unknown, expired, revoked or already used token raises a ``ValidationError``
    with code ``invitation_invalid`` / ``_expired`` / ``_revoked`` / ``_used``. A password that
    fails Django's password validators raises ``{"password": [...]}``. Returns the new user;
    logging them in is the view's job.
    """
    now = now or timezone.now()
    invitation = _find(token, lock=True)
    error = _unusable(invitation, now)
    if error is not None:
        raise error
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError(
            _(
                "An account with this e-mail address already exists. Log in with it, or ask "
                "the SROI adviser for help."
            ),
            code="user_exists",
        )
    candidate = User(email=invitation.email, full_name=invitation.full_name)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from None
    try:
        with transaction.atomic():  # a savepoint: a concurrent sign-up must not 500
            user = User.objects.create_user(
                invitation.email, password, full_name=invitation.full_name
            )
    except IntegrityError:
        raise ValidationError(
            _("An account with this e-mail address already exists."), code="user_exists"
        ) from None
    link = ContractorUser(user=user, contractor=invitation.contractor, is_active=True)
    link.full_clean()
    link.save()
    _sync_access(user)
    invitation.accepted_at = now
    invitation.accepted_user = user
    invitation.full_clean()
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    # Other open invitations of the same address can no longer be used: the account exists.
    audited_update(
        ContractorInvitation.objects.filter(
            email__iexact=invitation.email, accepted_at__isnull=True, revoked_at__isnull=True
        ).exclude(pk=invitation.pk),
        revoked_at=now,
    )
    return user


def _sync_access(user: User) -> None:
    from sroi.services import sync_user_access

    sync_user_access(user)


# --- Deactivating and reactivating -----------------------------------------------------------


def _set_active(acting_user, contractor_user: ContractorUser, active: bool) -> ContractorUser:
    contractor_user = (
        ContractorUser.objects.select_for_update(of=("self",))
        .select_related("contractor", "user")
        .get(pk=contractor_user.pk)
    )
    _require(may_manage_contractor_users(acting_user, contractor_user.contractor))
    user = contractor_user.user
    if acting_user is not None and acting_user.pk == user.pk:
        raise PermissionDenied(_("You cannot change your own account here."))
    if contractor_user.is_active != active:
        contractor_user.is_active = active
        contractor_user.full_clean()
        contractor_user.save(update_fields=["is_active"])
    # A portal account is only a portal account (it cannot hold a staff role), so it logs in
    # exactly while its link is active. Never touch a superuser or a staff member's account.
    is_portal_only = not user.is_superuser and not (
        Membership.objects.filter(user=user, is_active=True).exists()
    )
    if is_portal_only and user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    _sync_access(user)
    return contractor_user


@transaction.atomic
def deactivate_contractor_user(*, acting_user, contractor_user: ContractorUser) -> ContractorUser:
    """Stop a contractor's portal user: they can no longer log in nor see anything of the
    contractor. Kept (not deleted) for the audit trail and for reactivation."""
    return _set_active(acting_user, contractor_user, False)


@transaction.atomic
def reactivate_contractor_user(*, acting_user, contractor_user: ContractorUser) -> ContractorUser:
    """Let a deactivated portal user log in again, with their old password."""
    return _set_active(acting_user, contractor_user, True)
