import pytest

from tests import factories as f
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_page_and_home_are_accessible(page, live_server, assert_accessible):
    user = f.UserFactory(email="inkoper@example.nl", full_name="Ilse Inkoper")
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    f.MembershipFactory(user=user, organisation=noordwijk)

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    assert_accessible(page)

    login(page, live_server, "inkoper@example.nl", "correct-horse-battery")
    assert page.url == f"{live_server.url}/"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welkom")
    assert_accessible(page)


def test_wrong_password_shows_error_and_stays_on_login(page, live_server):
    f.UserFactory(email="inkoper@example.nl")
    login(page, live_server, "inkoper@example.nl", "wrong-password")
    assert "/accounts/login/" in page.url
    assert page.locator(".alert-danger, .invalid-feedback, .errorlist").first.is_visible()
