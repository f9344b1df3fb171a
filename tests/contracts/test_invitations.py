"""Invitations to the contractor portal and the management of a contractor's users.

The services (``contracts.invitations``) with the personas of ``world``, then the staff screen
``contracts:contractor_users``. Contractor A works only in Noordwijk, contractor B only in
Katwijk.
"""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts import invitations
from contracts.invitations import (
    EXPIRED,
    INVALID,
    REVOKED,
    USED,
    accept_invitation,
    deactivate_contractor_user,
    hash_token,
    invite_contractor_user,
    reactivate_contractor_user,
    revoke_invitation,
)
from contracts.models import ContractorInvitation, ContractorUser
from sroi.models import User
from sroi.permissions import get_scope
from tests import factories as f

BASE = "https://sroi.example.nl"
PASSWORD = "Zomer-Fietsroute-2026"
LINK_RE = re.compile(r"https?://\S+/contributions/portal/invitation/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def setup(world):
    """Contractor A has a contract in Noordwijk only; B in Katwijk only."""
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    f.ContractFactory(municipality=world.katwijk, contractor=world.contractor_b)
    return SimpleNamespace(world=world, contractor=world.contractor_a)


def invite(setup, user=None, email="jan@bouwbedrijf-a.nl", full_name="Jan Jansen", **kw):
    return invite_contractor_user(
        acting_user=user or setup.world.adviser,
        contractor=kw.pop("contractor", setup.contractor),
        email=email,
        full_name=full_name,
        base_url=kw.pop("base_url", BASE),
    )


def invite_and_get_token(setup, capture, mailoutbox, **kw) -> tuple[ContractorInvitation, str]:
    with capture(execute=True):
        invitation = invite(setup, **kw)
    match = LINK_RE.search(mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return invitation, match.group(1)


def error_code(exc: ValidationError) -> str:
    return exc.value.error_list[0].code if hasattr(exc.value, "error_list") else exc.value.code


# --- Inviting ----------------------------------------------------------------------------------


def test_adviser_invites_and_the_mail_holds_the_link_after_commit(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invite(setup)
    assert mailoutbox == []  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["jan@bouwbedrijf-a.nl"]
    assert "Bouwbedrijf A" in mail.subject
    token = LINK_RE.search(mail.body).group(1)
    assert f"{BASE}/contributions/portal/invitation/{token}/" in mail.body
    invitation.refresh_from_db()
    assert invitation.token_hash == hash_token(token)
    # Only the hash is stored, never the token.
    stored = [str(getattr(invitation, f.attname)) for f in ContractorInvitation._meta.fields]
    assert not any(token in value for value in stored)
    assert len(token) >= 43
    assert invitation.invited_by == setup.world.adviser
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_invitation_mail_is_rendered_in_dutch(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(setup)
    mail = mailoutbox[0]
    assert mail.extra_headers["Content-Language"] == "nl"
    assert "Uitnodiging" in mail.subject and mail.body.startswith("Beste Jan Jansen,")
    expires = timezone.localtime(invitation.expires_at).strftime("%d-%m-%Y %H:%M")
    assert expires in mail.body  # the Dutch date format: rendered with Dutch active
    assert "Jan Jansen" in mail.body
    assert "jan@bouwbedrijf-a.nl" in mail.body


def test_validity_follows_the_setting(setup, settings):
    settings.INVITATION_VALID_DAYS = 3
    invitation = invite(setup)
    assert invitation.expires_at - invitation.created_at == timedelta(days=3)


def test_address_is_normalised(setup):
    invitation = invite(setup, email="  Jan@Bouwbedrijf-A.NL ", full_name="  Jan   Jansen ")
    assert (invitation.email, invitation.full_name) == ("jan@bouwbedrijf-a.nl", "Jan Jansen")


@pytest.mark.parametrize("persona", ["adviser", "officer_noordwijk"])
def test_adviser_and_officer_of_the_contractors_municipality_may_invite(setup, persona):
    invitation = invite(setup, user=getattr(setup.world, persona))
    assert invitation.pk


def test_superuser_may_invite(setup):
    admin = f.UserFactory(email="root@example.nl", is_superuser=True, is_staff=True)
    assert invite(setup, user=admin).pk


@pytest.mark.parametrize(
    "persona",
    [
        "officer_katwijk",  # the contractor works only in Noordwijk
        "adviser_katwijk",
        "council_noordwijk",
        "council_katwijk",
        "functional_admin",
        "contractor_a_user",
        "contractor_b_user",
        "outsider",
        "mixed_user",
    ],
)
def test_others_may_not_invite(setup, persona, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        invite(setup, user=getattr(setup.world, persona))
    assert not ContractorInvitation.objects.exists()
    assert mailoutbox == []


def test_anonymous_may_not_invite(setup):
    with pytest.raises(PermissionDenied):
        invite(setup, user=AnonymousUser())


def test_officer_of_katwijk_may_invite_for_a_contractor_once_it_works_there(setup):
    f.ContractFactory(municipality=setup.world.katwijk, contractor=setup.contractor)
    assert invite(setup, user=setup.world.officer_katwijk).pk


@pytest.mark.parametrize("email", ["adviseur@example.nl", "ADVISEUR@example.nl"])
def test_an_existing_active_user_is_a_clear_error(setup, email):
    with pytest.raises(ValidationError) as exc:
        invite(setup, email=email)
    assert "already exists" in exc.value.message_dict["email"][0]
    assert not ContractorInvitation.objects.exists()


def test_a_deactivated_user_of_the_contractor_is_to_be_reactivated(setup):
    link = ContractorUser.objects.get(user=setup.world.contractor_a_user)
    deactivate_contractor_user(acting_user=setup.world.adviser, contractor_user=link)
    with pytest.raises(ValidationError) as exc:
        invite(setup, email=setup.world.contractor_a_user.email)
    assert "Reactivate" in exc.value.message_dict["email"][0]


@pytest.mark.parametrize(
    "email, full_name, field",
    [("", "Jan", "email"), ("geen-adres", "Jan", "email"), ("jan@a.nl", "  ", "full_name")],
)
def test_invitee_is_validated(setup, email, full_name, field):
    with pytest.raises(ValidationError) as exc:
        invite(setup, email=email, full_name=full_name)
    assert field in exc.value.message_dict


def test_a_link_needs_a_site_address(setup, settings):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        invite(setup, base_url="")
    settings.SROI_BASE_URL = "https://portal.example.nl/"
    assert invite(setup, base_url="").pk


def test_inviting_again_revokes_the_earlier_open_invitation(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    first, first_token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    second, second_token = invite_and_get_token(
        setup, django_capture_on_commit_callbacks, mailoutbox, email="JAN@bouwbedrijf-a.nl"
    )
    first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    assert first_token != second_token
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=first_token, password=PASSWORD)
    assert error_code(exc) == REVOKED
    assert accept_invitation(token=second_token, password=PASSWORD).email == "jan@bouwbedrijf-a.nl"


def test_inviting_another_address_keeps_the_first(setup):
    first = invite(setup)
    invite(setup, email="piet@bouwbedrijf-a.nl", full_name="Piet Pietersen")
    first.refresh_from_db()
    assert first.revoked_at is None
    assert invitations.open_invitations(setup.contractor).count() == 2


def test_revoke_invitation(setup, mailoutbox, django_capture_on_commit_callbacks):
    invitation, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    with pytest.raises(PermissionDenied):
        revoke_invitation(acting_user=setup.world.officer_katwijk, invitation=invitation)
    revoke_invitation(acting_user=setup.world.officer_noordwijk, invitation=invitation)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=PASSWORD)
    assert error_code(exc) == REVOKED


# --- Accepting ---------------------------------------------------------------------------------


def test_accept_creates_the_user_and_the_link(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    invitation, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    user = accept_invitation(token=token, password=PASSWORD)
    user.refresh_from_db()
    assert user.email == "jan@bouwbedrijf-a.nl"
    assert user.full_name == "Jan Jansen"
    assert user.check_password(PASSWORD)
    assert user.is_active and not user.is_staff and not user.is_superuser
    link = ContractorUser.objects.get(user=user)
    assert link.contractor == setup.contractor and link.is_active
    assert get_scope(User.objects.get(pk=user.pk)).contractor_id == setup.contractor.pk
    invitation.refresh_from_db()
    assert invitation.accepted_user == user and invitation.accepted_at is not None


def test_a_used_token_cannot_be_used_again(setup, mailoutbox, django_capture_on_commit_callbacks):
    _, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    accept_invitation(token=token, password=PASSWORD)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password="Een-Ander-Wachtwoord-9")
    assert error_code(exc) == USED
    assert User.objects.filter(email="jan@bouwbedrijf-a.nl").count() == 1
    assert invitations.invitation_for_token(token) is None


def test_expired_invitation(setup, mailoutbox, django_capture_on_commit_callbacks):
    invitation, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=PASSWORD, now=invitation.expires_at)
    assert error_code(exc) == EXPIRED
    late = invitation.expires_at + timedelta(days=30)
    assert invitations.invitation_for_token(token, now=late) is None
    assert not User.objects.filter(email="jan@bouwbedrijf-a.nl").exists()
    # One second before it expires it still works.
    just_in_time = invitation.expires_at - timedelta(seconds=1)
    assert accept_invitation(token=token, password=PASSWORD, now=just_in_time).pk


def test_expiry_with_the_clock_moved_forward(
    setup, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    invitation, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    later = invitation.expires_at + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert invitations.invitation_for_token(token) is None
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=PASSWORD)
    assert error_code(exc) == EXPIRED


@pytest.mark.parametrize("token", ["", "x" * 43, "x" * 500, None, 12345])
def test_wrong_token(setup, token):
    invite(setup)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=PASSWORD)
    assert error_code(exc) == INVALID
    assert invitations.invitation_for_token(token) is None
    assert not User.objects.filter(email="jan@bouwbedrijf-a.nl").exists()


def test_the_hash_of_a_token_is_not_a_token(setup, mailoutbox, django_capture_on_commit_callbacks):
    invitation, _ = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=invitation.token_hash, password=PASSWORD)
    assert error_code(exc) == INVALID


@pytest.mark.parametrize("password", ["kort", "1234567890123", "password123", "jan@bouwbedrijf"])
def test_password_validators_apply(setup, password, mailoutbox, django_capture_on_commit_callbacks):
    invitation, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=password)
    assert "password" in exc.value.message_dict
    assert not User.objects.filter(email="jan@bouwbedrijf-a.nl").exists()
    assert invitations.invitation_for_token(token) == invitation  # still open


def test_accept_when_the_address_got_an_account_meanwhile(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    _, token = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    f.UserFactory(email="jan@bouwbedrijf-a.nl")
    with pytest.raises(ValidationError) as exc:
        accept_invitation(token=token, password=PASSWORD)
    assert error_code(exc) == "user_exists"


def test_accepting_revokes_other_open_invitations_of_the_address(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    f.ContractFactory(municipality=setup.world.katwijk, contractor=setup.contractor)
    _, token_a = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    other, _ = invite_and_get_token(
        setup,
        django_capture_on_commit_callbacks,
        mailoutbox,
        contractor=setup.world.contractor_b,
        user=setup.world.officer_katwijk,
    )
    accept_invitation(token=token_a, password=PASSWORD)
    other.refresh_from_db()
    assert other.revoked_at is not None


# --- Deactivating and reactivating -------------------------------------------------------------


@pytest.fixture
def link_a(world):
    return ContractorUser.objects.select_related("user").get(user=world.contractor_a_user)


def test_deactivated_contractor_user_cannot_log_in_and_sees_nothing(setup, link_a, client):
    user = link_a.user
    user.set_password(PASSWORD)
    user.save()
    assert client.login(email=user.email, password=PASSWORD)
    client.logout()
    deactivate_contractor_user(acting_user=setup.world.officer_noordwijk, contractor_user=link_a)
    link_a.refresh_from_db()
    user.refresh_from_db()
    assert not link_a.is_active and not user.is_active
    assert not client.login(email=user.email, password=PASSWORD)
    assert get_scope(User.objects.get(pk=user.pk)).is_empty


def test_an_open_session_ends_with_the_deactivation(setup, link_a, client):
    client.force_login(link_a.user)
    assert client.get(reverse("home")).status_code == 200
    deactivate_contractor_user(acting_user=setup.world.adviser, contractor_user=link_a)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url


def test_reactivated_user_logs_in_with_the_old_password(setup, link_a, client):
    user = link_a.user
    user.set_password(PASSWORD)
    user.save()
    deactivate_contractor_user(acting_user=setup.world.adviser, contractor_user=link_a)
    reactivate_contractor_user(acting_user=setup.world.adviser, contractor_user=link_a)
    link_a.refresh_from_db()
    assert link_a.is_active
    assert client.login(email=user.email, password=PASSWORD)
    assert get_scope(User.objects.get(pk=user.pk)).contractor_id == setup.contractor.pk


@pytest.mark.parametrize(
    "persona",
    [
        "officer_katwijk",
        "adviser_katwijk",
        "council_noordwijk",
        "functional_admin",
        "contractor_a_user",
        "contractor_b_user",
        "outsider",
    ],
)
def test_others_may_not_deactivate(setup, link_a, persona):
    with pytest.raises(PermissionDenied):
        deactivate_contractor_user(
            acting_user=getattr(setup.world, persona), contractor_user=link_a
        )
    with pytest.raises(PermissionDenied):
        reactivate_contractor_user(
            acting_user=getattr(setup.world, persona), contractor_user=link_a
        )
    link_a.refresh_from_db()
    assert link_a.is_active


# --- The staff screen ----------------------------------------------------------------------------


def users_url(contractor) -> str:
    return reverse("contracts:contractor_users", args=[contractor.pk])


@pytest.mark.parametrize("persona", ["adviser", "officer_noordwijk"])
def test_screen_lists_users_and_open_invitations(setup, client, persona):
    invite(setup, email="piet@bouwbedrijf-a.nl", full_name="Piet Pietersen")
    used = invite(setup, email="oud@bouwbedrijf-a.nl", full_name="Oud Gebruik")
    used.accepted_at = timezone.now()
    used.save()
    client.force_login(getattr(setup.world, persona))
    response = client.get(users_url(setup.contractor))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bouwbedrijf A" in html
    assert setup.world.contractor_a_user.email in html
    assert "piet@bouwbedrijf-a.nl" in html
    assert "oud@bouwbedrijf-a.nl" not in html  # accepted: no longer an open invitation
    assert setup.world.contractor_b_user.email not in html
    assert 'name="email"' in html and "Deactivate" in html


@pytest.mark.parametrize(
    "persona",
    [
        "officer_katwijk",
        "adviser_katwijk",
        "council_noordwijk",
        "council_katwijk",
        "functional_admin",
        "contractor_a_user",
        "contractor_b_user",
        "outsider",
        "mixed_user",
    ],
)
def test_screen_is_404_for_everybody_else(setup, client, persona, link_a):
    invitation = invite(setup)
    client.force_login(getattr(setup.world, persona))
    pk = setup.contractor.pk
    assert client.get(users_url(setup.contractor)).status_code == 404
    assert (
        client.post(users_url(setup.contractor), {"email": "x@y.nl", "full_name": "X"}).status_code
        == 404
    )
    for name, args in [
        ("contracts:contractor_user_deactivate", [pk, link_a.pk]),
        ("contracts:contractor_user_reactivate", [pk, link_a.pk]),
        ("contracts:contractor_invitation_resend", [pk, invitation.pk]),
        ("contracts:contractor_invitation_revoke", [pk, invitation.pk]),
    ]:
        assert client.post(reverse(name, args=args)).status_code == 404
    link_a.refresh_from_db()
    assert link_a.is_active
    assert ContractorInvitation.objects.count() == 1


def test_unknown_contractor_is_404(setup, client):
    client.force_login(setup.world.adviser)
    assert client.get(reverse("contracts:contractor_users", args=[999999])).status_code == 404


def test_anonymous_is_sent_to_login(setup, client):
    response = client.get(users_url(setup.contractor))
    assert response.status_code == 302 and reverse("login") in response.url


def test_invite_on_the_screen_sends_a_working_link(
    setup, client, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(setup.world.officer_noordwijk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            users_url(setup.contractor),
            {"full_name": "Jan Jansen", "email": "jan@bouwbedrijf-a.nl"},
        )
    assert response.status_code == 302 and response.url == users_url(setup.contractor)
    assert len(mailoutbox) == 1
    link = LINK_RE.search(mailoutbox[0].body).group(0)
    assert link.startswith("http://testserver/contributions/portal/invitation/")
    client.logout()
    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert "Bouwbedrijf A" in page.content.decode()


def test_invite_errors_are_shown_at_the_field(setup, client, mailoutbox):
    client.force_login(setup.world.adviser)
    response = client.post(
        users_url(setup.contractor),
        {"full_name": "Iemand", "email": setup.world.contractor_b_user.email},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not ContractorInvitation.objects.exists()


def test_deactivate_and_reactivate_on_the_screen(setup, client, link_a):
    client.force_login(setup.world.adviser)
    pk = setup.contractor.pk
    url = reverse("contracts:contractor_user_deactivate", args=[pk, link_a.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    link_a.refresh_from_db()
    assert not link_a.is_active
    html = client.get(users_url(setup.contractor)).content.decode()
    assert "Deactivated" in html and "Reactivate" in html
    url = reverse("contracts:contractor_user_reactivate", args=[pk, link_a.pk])
    assert client.post(url).status_code == 302
    link_a.refresh_from_db()
    assert link_a.is_active


def test_a_user_of_another_contractor_is_404_on_this_screen(setup, client):
    link_b = ContractorUser.objects.get(user=setup.world.contractor_b_user)
    client.force_login(setup.world.adviser)
    url = reverse("contracts:contractor_user_deactivate", args=[setup.contractor.pk, link_b.pk])
    assert client.post(url).status_code == 404
    link_b.refresh_from_db()
    assert link_b.is_active


def test_resend_and_withdraw_on_the_screen(
    setup, client, mailoutbox, django_capture_on_commit_callbacks
):
    first, _ = invite_and_get_token(setup, django_capture_on_commit_callbacks, mailoutbox)
    client.force_login(setup.world.adviser)
    pk = setup.contractor.pk
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("contracts:contractor_invitation_resend", args=[pk, first.pk])
        )
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    first.refresh_from_db()
    assert first.revoked_at is not None
    second = invitations.open_invitations(setup.contractor).get()
    response = client.post(reverse("contracts:contractor_invitation_revoke", args=[pk, second.pk]))
    assert response.status_code == 302
    assert not invitations.open_invitations(setup.contractor).exists()


def _screen_queries(client, contractor) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(users_url(contractor))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _add_users_and_invitations(setup, n):
    for _ in range(n):
        f.ContractorUserFactory(contractor=setup.contractor)
        invite(setup, email=f"contact{ContractorInvitation.objects.count()}@a.nl")


def test_screen_query_count_does_not_grow_with_rows(setup, client):
    client.force_login(setup.world.adviser)
    _add_users_and_invitations(setup, 3)
    few = _screen_queries(client, setup.contractor)
    _add_users_and_invitations(setup, 27)
    many = _screen_queries(client, setup.contractor)
    assert few == many
