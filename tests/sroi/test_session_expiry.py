"""Sessions end after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request, and after
``SESSION_COOKIE_AGE`` in any case; the activity stamp is written at most once a minute."""

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.urls import reverse

from sroi.middleware import LAST_ACTIVITY_SESSION_KEY, STARTED_SESSION_KEY


@pytest.fixture(autouse=True)
def _english_pages(client):
    """Pages are rendered in the request's language (Dutch by default); these tests read the
    English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def set_stamps(client, *, idle_seconds: int, age_seconds: int | None = None) -> None:
    now = int(time.time())
    session = client.session
    session[LAST_ACTIVITY_SESSION_KEY] = now - idle_seconds
    session[STARTED_SESSION_KEY] = now - (age_seconds if age_seconds is not None else idle_seconds)
    session.save()


def test_the_default_idle_timeout_is_thirty_minutes(settings):
    assert settings.SESSION_IDLE_TIMEOUT_MINUTES == 30
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert not getattr(settings, "SESSION_SAVE_EVERY_REQUEST", False)


def test_an_idle_session_is_logged_out_with_a_message(client, world):
    client.force_login(world.adviser)
    set_stamps(client, idle_seconds=31 * 60)
    response = client.get("/contracts/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/contracts/"
    assert SESSION_KEY not in client.session
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("logged out after 30 minutes without activity" in m for m in messages)
    page = client.get(response["Location"])
    assert "logged out after 30 minutes without activity" in page.content.decode()


def test_activity_within_the_timeout_keeps_the_session(client, world):
    client.force_login(world.adviser)
    set_stamps(client, idle_seconds=29 * 60)
    assert client.get("/contracts/").status_code == 200
    assert SESSION_KEY in client.session
    assert client.session[LAST_ACTIVITY_SESSION_KEY] >= int(time.time()) - 5


def test_the_timeout_comes_from_the_setting(client, world, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    client.force_login(world.contractor_a_user)
    set_stamps(client, idle_seconds=6 * 60)
    response = client.get("/")
    assert response.status_code == 302
    assert SESSION_KEY not in client.session


def test_the_stamp_is_written_at_most_once_a_minute(client, world):
    client.force_login(world.contractor_a_user)
    set_stamps(client, idle_seconds=20)
    stamp = client.session[LAST_ACTIVITY_SESSION_KEY]
    assert client.get("/").status_code == 200
    assert client.session[LAST_ACTIVITY_SESSION_KEY] == stamp  # not written again
    set_stamps(client, idle_seconds=90)
    assert client.get("/").status_code == 200
    assert client.session[LAST_ACTIVITY_SESSION_KEY] > stamp


def test_the_session_ends_after_its_absolute_maximum_however_active(client, world, settings):
    client.force_login(world.contractor_a_user)
    set_stamps(client, idle_seconds=10, age_seconds=settings.SESSION_COOKIE_AGE + 60)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert SESSION_KEY not in client.session


def test_anonymous_requests_are_left_alone(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert LAST_ACTIVITY_SESSION_KEY not in client.session
