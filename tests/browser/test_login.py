import pytest

from tests import factories as f
from tests.browser.conftest import login, totp_code

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


def _submit_login(page, live_server, email, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def _submit_code(page, code):
    page.locator("input[name=code]").fill(code)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def test_two_factor_enrolment_then_login_with_a_code_and_a_recovery_code(
    page, live_server, assert_accessible
):
    """A procurement officer without an authenticator sets one up at their first login (QR
    code and key, confirmed with a code), gets ten recovery codes, and later logs in with a
    code from the app and, without their phone, with a recovery code (once)."""
    from base64 import b32decode

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = f.UserFactory(email="inkoper@example.nl", full_name="Ilse Inkoper")
    f.MembershipFactory(user=user, organisation=f.MunicipalityFactory(name="Noordwijk"))

    _submit_login(page, live_server, "inkoper@example.nl", "correct-horse-battery")
    assert "/accounts/two-factor/set-up/" in page.url
    assert page.locator("main svg[role=img]").is_visible()
    assert_accessible(page)
    # The key as shown for manual entry is the real one: a code computed from it is accepted.
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    assert key == TOTPDevice.objects.get(user=user).bin_key
    _submit_code(page, f"{TOTP(key).token():06d}")

    codes = page.locator("ul.recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert_accessible(page)
    page.locator("main a.btn-primary").click()
    assert page.url == f"{live_server.url}/"

    # Later, on another machine: password, then a code from the app.
    page.context.clear_cookies()
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    _submit_login(page, live_server, "inkoper@example.nl", "correct-horse-battery")
    assert "/accounts/two-factor/" in page.url
    assert_accessible(page)
    _submit_code(page, totp_code(device))
    assert page.url == f"{live_server.url}/"

    # Without the phone: a recovery code works, once.
    for attempt in (1, 2):
        page.context.clear_cookies()
        _submit_login(page, live_server, "inkoper@example.nl", "correct-horse-battery")
        _submit_code(page, codes[0])
        if attempt == 1:
            assert page.url == f"{live_server.url}/"
        else:
            assert "/accounts/two-factor/" in page.url
            assert page.locator(".invalid-feedback, .errorlist").first.is_visible()
