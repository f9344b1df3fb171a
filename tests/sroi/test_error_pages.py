"""The error pages (templates/400.html, 403.html, 404.html, 500.html): shown with DEBUG off,
they render without a request context or database and show nothing from the request."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.template import loader
from django.test import Client
from django.urls import path, reverse

from placements import views_portal
from sroi.urls import urlpatterns as project_urlpatterns
from tests import factories as f

EMAIL = "jan.jansen@example.nl"
BSN = "123456782"
SECRET = "Kandidaat-Q.X.-1961"


def raise_permission_denied(request):
    raise PermissionDenied(f"{SECRET} belongs to another contractor")


def raise_suspicious(request):
    raise SuspiciousOperation(f"odd input {SECRET}")


def raise_error(request):
    raise RuntimeError(f"crashed on {SECRET} {EMAIL}")


# This module is also the URLconf of the tests below: three failing views plus the project.
urlpatterns = [
    path("test-errors/403/", raise_permission_denied),
    path("test-errors/400/", raise_suspicious),
    path("test-errors/500/", raise_error),
    *project_urlpatterns,
]


@pytest.fixture
def client(settings):
    settings.DEBUG = False
    return Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")


def body(response) -> str:
    return response.content.decode()


def assert_nothing_from_the_request(text: str) -> None:
    for value in (SECRET, "Q.X.", "1961", EMAIL, BSN, "test-errors", "Traceback", "RuntimeError"):
        assert value not in text, value


@pytest.mark.parametrize("name", ["400.html", "403.html", "404.html", "500.html"])
def test_each_page_renders_without_context_or_database(name):
    # No ``db`` fixture: any database access would fail the test.
    html = loader.get_template(name).render()
    assert f"Error code: {name[:3]}" in html
    assert 'href="/"' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html


@pytest.mark.urls("tests.sroi.test_error_pages")
def test_an_unknown_page_gets_the_404_page_without_the_address(client, db):
    response = client.get(f"/contributions/{EMAIL}/{BSN}/?initials=Q.X.&note={SECRET}")
    assert response.status_code == 404
    assert "Page not found" in body(response)
    assert_nothing_from_the_request(body(response))


@pytest.mark.urls("tests.sroi.test_error_pages")
def test_permission_denied_gets_the_403_page_without_the_reason(client, db):
    response = client.get("/test-errors/403/")
    assert response.status_code == 403
    assert "Access denied" in body(response)
    assert_nothing_from_the_request(body(response))


@pytest.mark.urls("tests.sroi.test_error_pages")
def test_a_bad_request_gets_the_400_page(client, db):
    response = client.get("/test-errors/400/")
    assert response.status_code == 400
    assert "Bad request" in body(response)
    assert_nothing_from_the_request(body(response))


@pytest.mark.urls("tests.sroi.test_error_pages")
def test_a_crash_gets_the_500_page_without_the_error(client, db):
    response = client.post("/test-errors/500/", {"initials": "Q.X.", "note": SECRET})
    assert response.status_code == 500
    assert "Something went wrong" in body(response)
    assert_nothing_from_the_request(body(response))


def test_a_crash_in_the_candidate_form_shows_no_posted_candidate_data(world, monkeypatch, client):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )

    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot handle {SECRET}")

    monkeypatch.setattr(views_portal, "ContributionForm", broken)
    client.force_login(world.contractor_a_user)
    response = client.post(
        reverse("placements:portal_report", args=[obligation.pk]) + "?block=job",
        {
            "candidate_choice": "new",
            "initials": "Q.X.",
            "birth_year": "1961",
            "target_group": "wajong",
            "description": f"{EMAIL} {BSN}",
        },
    )
    assert response.status_code == 500
    assert "Something went wrong" in body(response)
    assert_nothing_from_the_request(body(response))
    assert "wajong" not in body(response).lower()
