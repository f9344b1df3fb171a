"""Login lockout (django-axes): a username+IP combination is locked after
``AXES_FAILURE_LIMIT`` failed logins, for ``AXES_COOLOFF_TIME``; success resets the count; an
administrator can unlock. Also: the client address behind a reverse proxy, and Django's password
validators on password change and reset."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.test import RequestFactory
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from sroi import services, two_factor

from .. import factories as f


@pytest.fixture(autouse=True)
def _english_pages(client):
    """Pages are rendered in the request's language (Dutch by default); these tests read the
    English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


PASSWORD = "correct-horse-battery"  # tests/factories.py


def attempt(client, email, password, ip="127.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def fail(client, email, times, ip="127.0.0.1"):
    for _ in range(times):
        response = attempt(client, email, "wrong-password", ip)
        assert response.status_code in (200, 429)


def test_the_defaults():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_RESET_ON_SUCCESS
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_a_wrong_password_shows_the_form_again(client, world):
    response = attempt(client, world.contractor_a_user.email, "wrong-password")
    assert response.status_code == 200
    assert response.context["form"].errors


def test_locked_after_the_limit_even_with_the_right_password(client, world):
    user = world.contractor_a_user
    fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    response = attempt(client, user.email, PASSWORD)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Login blocked for now" in html
    assert "Try again in 15 minutes." in html
    assert "functional administrator can unlock" in html
    assert "<nav" in html  # the site's own page (base.html), not a bare text
    assert SESSION_KEY not in client.session


def test_the_limit_and_wait_come_from_the_settings(client, world, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=40)
    fail(client, world.contractor_a_user.email, 2)
    response = attempt(client, world.contractor_a_user.email, PASSWORD)
    assert response.status_code == 429
    assert "Try again in 40 minutes." in response.content.decode()


def test_the_lock_is_per_username_and_address(client, world):
    user = world.contractor_a_user
    fail(client, user.email, settings.AXES_FAILURE_LIMIT, ip="10.0.0.1")
    assert attempt(client, user.email, PASSWORD, ip="10.0.0.1").status_code == 429
    # Same address, another account: not locked; same account, another address: not locked.
    other = world.contractor_b_user
    assert attempt(client, other.email, PASSWORD, ip="10.0.0.1").status_code == 302
    client.logout()
    assert attempt(client, user.email, PASSWORD, ip="10.0.0.2").status_code == 302


def test_changing_the_case_of_the_address_gives_no_fresh_attempts(client, world):
    email = world.contractor_a_user.email
    for variant in (email, email.upper(), email.title(), f" {email}", email.swapcase()):
        attempt(client, variant, "wrong-password")
    assert attempt(client, email.upper(), PASSWORD).status_code == 429
    assert AccessAttempt.objects.values_list("username", flat=True).distinct().count() == 1


def test_a_successful_login_resets_the_count(client, world):
    user = world.contractor_a_user
    fail(client, user.email, settings.AXES_FAILURE_LIMIT - 1)
    assert attempt(client, user.email, PASSWORD).status_code == 302
    client.logout()
    fail(client, user.email, settings.AXES_FAILURE_LIMIT - 1)
    assert attempt(client, user.email, PASSWORD).status_code == 302


def test_the_lock_ends_after_the_wait(client, world):
    user = world.contractor_a_user
    fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    assert attempt(client, user.email, PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert attempt(client, user.email, PASSWORD).status_code == 302


def test_a_functional_admin_unlocks_a_user(client, world):
    user = world.officer_noordwijk
    fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    assert attempt(client, user.email, PASSWORD).status_code == 429

    admin_client = type(client)()
    for persona in (world.functional_admin, user):
        services.sync_user_access(persona)
    admin_client.force_login(world.functional_admin)
    response = admin_client.post(
        reverse("admin:sroi_user_changelist"),
        {"action": "unlock_login", "index": 0, "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    response = attempt(client, user.email, PASSWORD)
    assert response.status_code == 302  # on to the code step
    assert response["Location"].startswith(reverse("two_factor_enrol"))


# --- Client address behind a reverse proxy -----------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1"),  # no trusted proxy: the header is ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged first hop is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
        (1, "", "192.0.2.1"),
    ],
)
def test_client_address(settings, proxies, forwarded, expected):
    settings.SROI_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert two_factor.client_ip_address(request) == expected


def test_forged_forwarded_for_does_not_escape_the_lock_without_a_proxy(client, world):
    user = world.contractor_a_user
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": user.email, "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    response = client.post(
        reverse("login"),
        {"username": user.email, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 429


# --- Password validators ----------------------------------------------------------------------


def test_password_change_uses_the_validators(client, world):
    user = world.contractor_a_user
    client.force_login(user)
    url = reverse("password_change")
    page = client.get(url)
    assert page.status_code == 200
    for weak in ("short1", "1234567890123", "password1234"):
        response = client.post(
            url, {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak}
        )
        assert response.status_code == 200, weak
        assert response.context["form"].errors["new_password2"], weak
    strong = "Zeven-lange-wandelingen-2026"
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": strong, "new_password2": strong}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(strong)


def test_password_reset_uses_the_validators(client, db):
    user = f.UserFactory(email="vergeten@example.nl")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    url = reverse("password_reset_confirm", args=[uid, token])
    response = client.get(url)  # redirects to the token-less "set-password" URL
    assert response.status_code == 302
    form_url = response["Location"]
    response = client.post(form_url, {"new_password1": "vergeten", "new_password2": "vergeten"})
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["new_password2"])
    assert "too short" in errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("spelling", ["ı", "İ"])
def test_no_other_spelling_of_an_address_logs_in_under_a_fresh_count(client, world, spelling):
    """The account is looked up by the same lower-casing the lockout counts under, not by the
    database's case folding (PostgreSQL's upper() makes a dotless ı equal i)."""
    user = world.adviser  # adviseur@example.nl
    assert "i" in user.email
    response = attempt(client, user.email.replace("i", spelling, 1), PASSWORD)
    assert SESSION_KEY not in client.session
    assert response.status_code == 200  # the login form again, with its error
    assert attempt(client, user.email.upper(), PASSWORD).status_code == 302  # case is free
