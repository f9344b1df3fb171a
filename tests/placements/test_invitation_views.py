"""The invited contact person's page ``placements:portal_accept_invitation``: set a password,
get an account, land in the portal. Every unusable link gets the same friendly 404 page."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from contracts import invitations
from contracts.models import ContractorUser
from sroi.models import User
from tests import factories as f

PASSWORD = "Zomer-Fietsroute-2026"
LINK_RE = re.compile(r"https?://[^/\s]+(/contributions/portal/invitation/([A-Za-z0-9_-]+)/)")


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def invited(world, mailoutbox, django_capture_on_commit_callbacks):
    """An open invitation for Jan Jansen of contractor A (works in Noordwijk): (invitation,
    path of the link, token)."""
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invite_contractor_user(
            acting_user=world.adviser,
            contractor=world.contractor_a,
            email="jan@bouwbedrijf-a.nl",
            full_name="Jan Jansen",
            base_url="http://testserver/",
        )
    match = LINK_RE.search(mailoutbox[-1].body)
    return invitation, match.group(1), match.group(2)


def portal_home() -> str:
    try:
        return reverse("placements:portal_home")
    except NoReverseMatch:  # the portal screens are built separately
        return reverse("home")


def test_the_link_in_the_mail_is_the_named_url(invited):
    _, path, token = invited
    assert path == reverse("placements:portal_accept_invitation", args=[token])


def test_page_shows_contractor_and_password_form(client, invited):
    _, path, _ = invited
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bouwbedrijf A" in html
    assert "jan@bouwbedrijf-a.nl" in html
    assert 'name="new_password1"' in html and 'name="new_password2"' in html
    assert 'autocomplete="new-password"' in html
    assert "csrfmiddlewaretoken" in html
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_accept_creates_account_logs_in_and_lands_in_the_portal(client, invited, world):
    invitation, path, _ = invited
    response = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 302
    assert response.url == portal_home()
    user = User.objects.get(email="jan@bouwbedrijf-a.nl")
    assert user.check_password(PASSWORD)
    assert ContractorUser.objects.get(user=user).contractor == world.contractor_a
    assert int(client.session[SESSION_KEY]) == user.pk
    invitation.refresh_from_db()
    assert invitation.accepted_user == user
    # The new user can log in again later with the e-mail address.
    client.logout()
    assert client.login(email="jan@bouwbedrijf-a.nl", password=PASSWORD)


def test_a_used_link_gets_the_friendly_page(client, invited):
    _, path, _ = invited
    client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    client.logout()
    for response in (
        client.get(path),
        client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD}),
    ):
        assert response.status_code == 404
        assert "cannot be used" in response.content.decode()
    assert User.objects.filter(email="jan@bouwbedrijf-a.nl").count() == 1


def _invalid_page_says_nothing(response):
    assert response.status_code == 404
    html = response.content.decode()
    assert "cannot be used" in html
    assert "Bouwbedrijf A" not in html
    assert "jan@bouwbedrijf-a.nl" not in html
    assert 'name="new_password1"' not in html
    assert response["Referrer-Policy"] == "same-origin"
    return html


def test_wrong_expired_revoked_and_used_links_look_the_same(client, invited, world):
    invitation, path, token = invited
    wrong = _invalid_page_says_nothing(
        client.get(reverse("placements:portal_accept_invitation", args=["x" * 43]))
    )
    invitation.expires_at = timezone.now() - timedelta(seconds=1)
    invitation.created_at = invitation.expires_at - timedelta(days=7)
    invitation.save()
    expired = _invalid_page_says_nothing(client.get(path))
    invitation.expires_at = timezone.now() + timedelta(days=1)
    invitation.revoked_at = timezone.now()
    invitation.save()
    revoked = _invalid_page_says_nothing(client.get(path))
    # Equal but for the CSRF token and the path itself (the language switch returns to it).
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"|invitation/[A-Za-z0-9_-]+/')
    assert strip.sub("", wrong) == strip.sub("", expired) == strip.sub("", revoked)


def test_expiry_with_the_clock_moved_forward(client, invited, monkeypatch):
    invitation, path, _ = invited
    assert client.get(path).status_code == 200
    later = invitation.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    _invalid_page_says_nothing(client.get(path))
    response = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    _invalid_page_says_nothing(response)
    assert not User.objects.filter(email="jan@bouwbedrijf-a.nl").exists()


@pytest.mark.parametrize(
    "password1, password2, message",
    [
        (PASSWORD, PASSWORD + "x", "didn’t match"),
        ("kort", "kort", "too short"),
        ("1234567890123", "1234567890123", "entirely numeric"),
        ("password123", "password123", "too common"),
        ("jan@bouwbedrijf", "jan@bouwbedrijf", "too similar"),
    ],
)
def test_password_is_validated_on_the_page(client, invited, password1, password2, message):
    _, path, _ = invited
    response = client.post(path, {"new_password1": password1, "new_password2": password2})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="jan@bouwbedrijf-a.nl").exists()
    assert SESSION_KEY not in client.session


def test_service_errors_show_on_the_form(client, invited):
    _, path, _ = invited
    f.UserFactory(email="jan@bouwbedrijf-a.nl")  # got an account some other way meanwhile
    response = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_a_logged_in_user_ends_up_as_the_new_user(client, invited, world):
    _, path, _ = invited
    client.force_login(world.officer_noordwijk)
    page = client.get(path)
    assert "You are logged in as" in page.content.decode()
    client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    new_user = User.objects.get(email="jan@bouwbedrijf-a.nl")
    assert int(client.session[SESSION_KEY]) == new_user.pk


def test_only_get_and_post(client, invited):
    _, path, _ = invited
    assert client.put(path).status_code == 405


def test_deactivated_invited_user_cannot_log_in(client, invited, world):
    _, path, _ = invited
    client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert client.get(reverse("home")).status_code == 200
    link = ContractorUser.objects.get(user__email="jan@bouwbedrijf-a.nl")
    invitations.deactivate_contractor_user(acting_user=world.adviser, contractor_user=link)
    # The open session ends, and logging in again fails.
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url
    assert not client.login(email="jan@bouwbedrijf-a.nl", password=PASSWORD)
    response = client.post(
        reverse("login"), {"username": "jan@bouwbedrijf-a.nl", "password": PASSWORD}
    )
    assert response.status_code == 200  # the form again, with an error
    assert not response.context["user"].is_authenticated
    assert client.get(reverse("home")).status_code == 302
