"""Security headers and cookies: Permissions-Policy everywhere, no caching of pages for
logged-in users (downloads keep their own Cache-Control), the production cookie and HSTS
settings."""

import json
import os
import subprocess
import sys

from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from sroi.security_headers import PERMISSIONS_POLICY, SecurityHeadersMiddleware


def test_permissions_policy_switches_off_powerful_features(client, db):
    response = client.get(reverse("login"))
    policy = {p.strip() for p in response["Permissions-Policy"].split(",")}
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_standard_security_headers(client, db):
    response = client.get(reverse("login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_anonymous_responses_are_not_marked_private(client, db):
    response = client.get(reverse("healthz"))
    assert "Cache-Control" not in response
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_pages_for_logged_in_users_are_never_stored(client, world):
    for user, name in [
        (world.adviser, "contracts:contract_list"),
        (world.contractor_a_user, "placements:portal_home"),
    ]:
        client.force_login(user)
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert response["Cache-Control"] == "private, no-store", name
        client.logout()


def test_a_views_own_cache_control_is_kept(rf):
    request = RequestFactory().get("/x")
    request.user = type("U", (), {"is_authenticated": True})()

    def view(_request):
        response = HttpResponse("file")
        response["Cache-Control"] = "no-store"
        return response

    response = SecurityHeadersMiddleware(view)(request)
    assert response["Cache-Control"] == "no-store"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_a_response_without_user_gets_no_cache_control(rf):
    """A middleware that answered before authentication (e.g. a 413) has no request.user."""
    response = SecurityHeadersMiddleware(lambda r: HttpResponse("x"))(RequestFactory().get("/"))
    assert "Cache-Control" not in response


def test_download_keeps_its_cache_control(client, world):
    client.force_login(world.officer_noordwijk)
    response = client.get(reverse("contracts:import_template"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_cookie_settings():
    assert django_settings.SESSION_COOKIE_HTTPONLY is True
    assert django_settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert django_settings.CSRF_COOKIE_HTTPONLY is True
    assert django_settings.CSRF_COOKIE_SAMESITE == "Lax"
    assert django_settings.X_FRAME_OPTIONS == "DENY"


def test_session_and_csrf_cookies_are_httponly_and_lax(client, world):
    """A real password login (a contractor without an authenticator needs no code)."""
    client.get(reverse("login"))
    csrf = client.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] is True and csrf["samesite"] == "Lax"
    response = client.post(
        reverse("login"),
        {"username": world.contractor_a_user.email, "password": "correct-horse-battery"},
    )
    assert response.status_code == 302
    session = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def production_settings(**extra) -> dict:
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SECURE_SSL_REDIRECT', "
        "'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', 'DEBUG']}))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "DEBUG", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="sroi.settings",
        SROI_ENV="production",
        SECRET_KEY="x" * 20 + "-production-test-key-0123456789-abcdefghij",
        ALLOWED_HOSTS="sroi.example.nl",
        DATABASE_URL="sqlite:////tmp/unused-sroi-test.sqlite3",
        **extra,
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_production_cookies_and_hsts():
    values = production_settings()
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_hsts_can_be_narrowed_by_environment():
    values = production_settings(
        SECURE_HSTS_SECONDS="3600", SECURE_HSTS_INCLUDE_SUBDOMAINS="false", SECURE_HSTS_PRELOAD="0"
    )
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert values["SECURE_HSTS_PRELOAD"] is False


def test_hsts_header_in_production_mode(client, settings, db):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
