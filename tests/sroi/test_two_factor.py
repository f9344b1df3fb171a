"""Two-factor login: who needs it, the two login steps, enrolment, recovery codes, the security
page, throttling of wrong codes and the admin reset. These tests use the real login flow (not
the ``force_login`` shortcut of tests/conftest.py)."""

import re
import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sroi import services, two_factor
from sroi.permissions import requires_two_factor

from .. import factories as f


@pytest.fixture(autouse=True)
def _english_pages(client):
    """Pages are rendered in the request's language (Dutch by default); these tests read the
    English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


PASSWORD = "correct-horse-battery"  # tests/factories.py


def code_for(device: TOTPDevice) -> str:
    """A code the device accepts now: the current time step, or the next one when the current
    one was already used (a code works only once)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now_t = totp.t()
    wanted = max(now_t, device.last_t + 1)
    assert wanted <= now_t + device.tolerance, "no unused code within the tolerance"
    totp.time = time.time() + (wanted - now_t) * device.step
    return f"{totp.token():06d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code_for(device)}
    return next(c for c in ("000000", "111111", "222222") if c not in right)


def log_in(client, user, next_url=None):
    data = {"username": user.email, "password": PASSWORD}
    path = reverse("login") + (f"?next={next_url}" if next_url else "")
    return client.post(path, data)


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def is_verified(client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


# --- Who needs it ----------------------------------------------------------------------------


def test_every_municipal_role_and_staff_need_two_factor_contractors_do_not(world):
    for user in (
        world.adviser,
        world.officer_noordwijk,
        world.council_noordwijk,
        world.functional_admin,
        world.mixed_user,
    ):
        assert requires_two_factor(user), user.email
    assert requires_two_factor(f.UserFactory(is_superuser=True, is_staff=True))
    assert requires_two_factor(f.UserFactory(is_staff=True))
    assert not requires_two_factor(world.contractor_a_user)
    assert not requires_two_factor(world.outsider)


def test_an_inactive_membership_does_not_count(world):
    user = f.UserFactory()
    f.MembershipFactory(user=user, organisation=world.noordwijk, is_active=False)
    assert not requires_two_factor(user)


# --- Login with an authenticator ---------------------------------------------------------------


def test_login_asks_for_the_code_and_nothing_else_is_reachable_before_it(client, world):
    device = confirmed_device(world.adviser)
    response = log_in(client, world.adviser, next_url="/contracts/")
    assert response.status_code == 302
    assert response["Location"] == reverse("two_factor_verify") + "?next=%2Fcontracts%2F"
    assert SESSION_KEY in client.session and not is_verified(client)

    for path in ("/", "/contracts/", "/admin/", reverse("account_security"), "/reports/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("two_factor_verify")), path

    response = client.get(reverse("two_factor_verify") + "?next=/contracts/")
    assert response.status_code == 200
    assert b'name="code"' in response.content

    response = client.post(
        reverse("two_factor_verify"), {"code": code_for(device), "next": "/contracts/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/contracts/"
    assert is_verified(client)
    assert client.get("/contracts/").status_code == 200


def test_a_wrong_code_is_refused(client, world):
    device = confirmed_device(world.adviser)
    log_in(client, world.adviser)
    response = client.post(reverse("two_factor_verify"), {"code": wrong_code(device)})
    assert response.status_code == 200
    assert not is_verified(client)
    assert "That code is not valid." in response.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_wrong_codes_are_throttled_even_a_right_code_waits(client, world, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a minute after one failure: no race with the clock
    device = confirmed_device(world.adviser)
    log_in(client, world.adviser)
    client.post(reverse("two_factor_verify"), {"code": wrong_code(device)})
    response = client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert response.status_code == 200
    assert "Too many wrong codes" in response.content.decode()
    assert not is_verified(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a throttled attempt is not even checked


def test_a_code_works_only_once(client, world):
    device = confirmed_device(world.adviser)
    code = code_for(device)
    assert two_factor.verify(world.adviser, code) is not None
    assert two_factor.verify(world.adviser, code) is None


def test_login_without_a_second_step_for_a_contractor_without_two_factor(client, world):
    response = log_in(client, world.contractor_a_user)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get("/").status_code == 200


def test_next_is_kept_only_when_it_is_safe(client, world):
    device = confirmed_device(world.adviser)
    response = log_in(client, world.adviser, next_url="https://evil.example/")
    assert "evil" not in response["Location"]
    response = client.post(
        reverse("two_factor_verify"), {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


def test_a_pending_code_step_expires(client, world):
    confirmed_device(world.adviser)
    log_in(client, world.adviser)
    session = client.session
    session[two_factor.PENDING_SESSION_KEY] = int(time.time()) - 11 * 60
    session.save()
    response = client.get(reverse("two_factor_verify"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in client.session


def test_the_admin_needs_the_code_step_too(client, world):
    confirmed_device(world.functional_admin)
    response = client.get("/admin/login/?next=/admin/sroi/user/")
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2Fsroi%2Fuser%2F"
    log_in(client, world.functional_admin, next_url="/admin/")
    response = client.get("/admin/sroi/user/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))


def test_a_removed_device_ends_verification(client, world):
    device = confirmed_device(world.adviser)
    log_in(client, world.adviser)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert client.get("/").status_code == 200
    two_factor.reset(world.adviser)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_enrol"))


# --- Recovery codes ---------------------------------------------------------------------------


def test_a_recovery_code_logs_in_once(client, world):
    confirmed_device(world.adviser)
    codes = two_factor._replace_recovery_codes(world.adviser)
    log_in(client, world.adviser)
    response = client.post(reverse("two_factor_verify"), {"code": codes[0].upper()})
    assert response.status_code == 302
    assert is_verified(client)
    assert two_factor.recovery_codes_left(world.adviser) == 9
    client.logout()
    log_in(client, world.adviser)
    response = client.post(reverse("two_factor_verify"), {"code": codes[0]})
    assert response.status_code == 200
    assert not is_verified(client)


# --- Enrolment --------------------------------------------------------------------------------


def test_enrolment_for_a_staff_user_without_an_authenticator(client, world):
    response = log_in(client, world.officer_noordwijk, next_url="/contracts/")
    assert response["Location"] == reverse("two_factor_enrol") + "?next=%2Fcontracts%2F"
    assert client.get("/contracts/")["Location"].startswith(reverse("two_factor_enrol"))

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'role="img"' in html
    assert " style=" not in html and "<style" not in html and "<script>" not in html
    device = TOTPDevice.objects.get(user=world.officer_noordwijk)
    assert not device.confirmed
    assert two_factor.secret_base32(device) in html
    # Reloading keeps the same secret (a code scanned a moment ago still works).
    client.get(response["Location"])
    assert TOTPDevice.objects.filter(user=world.officer_noordwijk).count() == 1

    bad = client.post(response["Location"], {"code": wrong_code(device), "next": "/contracts/"})
    assert bad.status_code == 200 and not is_verified(client)

    unthrottle(device)
    done = client.post(
        reverse("two_factor_enrol"), {"code": code_for(device), "next": "/contracts/"}
    )
    assert done.status_code == 200
    shown = re.findall(r"<li>([a-z2-7]{8})</li>", done.content.decode())
    assert len(shown) == two_factor.RECOVERY_CODE_COUNT
    assert set(shown) == set(
        StaticToken.objects.filter(device__user=world.officer_noordwijk).values_list(
            "token", flat=True
        )
    )
    assert "no-store" in done["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed and is_verified(client)
    assert client.get("/contracts/").status_code == 200


def unthrottle(device):
    device.refresh_from_db()
    device.throttle_reset()


def test_no_new_authenticator_without_passing_the_old_one(client, world):
    confirmed_device(world.adviser)
    log_in(client, world.adviser)
    response = client.get(reverse("two_factor_enrol"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))
    assert TOTPDevice.objects.filter(user=world.adviser).count() == 1
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.confirm_enrolment(world.adviser, client.session, "123456")


def test_a_secret_shown_in_another_session_can_never_be_confirmed(client, world):
    """Someone who knows only the password opens the set-up page first: the secret they see
    is discarded when the real user starts the set-up in their own session, and a code made
    from it does not confirm anything."""
    from django.test import Client

    attacker = Client(HTTP_ACCEPT_LANGUAGE="en")
    log_in(attacker, world.officer_noordwijk)
    attacker.get(reverse("two_factor_enrol"))
    stolen = TOTPDevice.objects.get(user=world.officer_noordwijk)
    stolen_key = stolen.key
    stolen_code = code_for(stolen)

    log_in(client, world.officer_noordwijk)
    client.get(reverse("two_factor_enrol"))
    mine = TOTPDevice.objects.get(user=world.officer_noordwijk)  # the attacker's one is gone
    assert mine.pk != stolen.pk and mine.key != stolen_key

    # The attacker's session no longer has a pending authenticator: it starts a new one, which
    # in turn discards the user's — but the user's confirmation then fails and never confirms
    # a device whose secret someone else saw.
    refused = attacker.post(reverse("two_factor_enrol"), {"code": stolen_code})
    assert refused.status_code == 200
    assert not TOTPDevice.objects.filter(user=world.officer_noordwijk, confirmed=True).exists()

    client.get(reverse("two_factor_enrol"))  # the user reloads and gets a fresh secret
    fresh = TOTPDevice.objects.get(user=world.officer_noordwijk)
    done = client.post(reverse("two_factor_enrol"), {"code": code_for(fresh)})
    assert done.status_code == 200 and is_verified(client)
    fresh.refresh_from_db()
    assert fresh.confirmed and fresh.key not in {stolen_key}


# --- Security page --------------------------------------------------------------------------


def verified_login(client, user) -> TOTPDevice:
    device = two_factor.authenticator(user) or confirmed_device(user)
    log_in(client, user)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert is_verified(client)
    return device


def test_security_page_shows_status_and_codes_left(client, world):
    verified_login(client, world.adviser)
    two_factor._replace_recovery_codes(world.adviser)
    response = client.get(reverse("account_security"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "You have 10 recovery codes left." in html
    assert reverse("account_regenerate_recovery_codes") in html
    assert reverse("account_disable_two_factor") not in html  # required: cannot switch off


def test_regenerating_recovery_codes_needs_a_current_code(client, world):
    device = verified_login(client, world.adviser)
    old = two_factor._replace_recovery_codes(world.adviser)
    url = reverse("account_regenerate_recovery_codes")
    response = client.post(url, {"regenerate-code": wrong_code(device)})
    assert response.status_code == 302
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)

    unthrottle(device)
    response = client.post(url, {"regenerate-code": code_for(device)})
    assert response.status_code == 200
    new = set(StaticToken.objects.values_list("token", flat=True))
    assert len(new) == two_factor.RECOVERY_CODE_COUNT and not new & set(old)
    assert StaticDevice.objects.filter(user=world.adviser).count() == 1


def test_staff_cannot_switch_two_factor_off(client, world):
    device = verified_login(client, world.adviser)
    client.post(reverse("account_disable_two_factor"), {"disable-code": code_for(device)})
    assert two_factor.is_enabled(world.adviser)


def test_a_contractor_enables_uses_and_disables_two_factor(client, world):
    user = world.contractor_a_user
    log_in(client, user)
    page = client.get(reverse("account_security"))
    assert page.status_code == 200 and reverse("two_factor_enrol") in page.content.decode()

    client.get(reverse("two_factor_enrol"))
    device = TOTPDevice.objects.get(user=user)
    client.post(reverse("two_factor_enrol"), {"code": code_for(device)})
    assert two_factor.is_enabled(user) and is_verified(client)

    client.logout()
    response = log_in(client, user, next_url="/")
    assert response["Location"].startswith(reverse("two_factor_verify"))
    assert client.get("/")["Location"].startswith(reverse("two_factor_verify"))
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert client.get("/").status_code == 200

    response = client.post(
        reverse("account_disable_two_factor"), {"disable-code": code_for(device)}
    )
    assert response.status_code == 302
    assert not two_factor.is_enabled(user)
    assert not StaticDevice.objects.filter(user=user).exists()


# --- Reset by an administrator -----------------------------------------------------------------


def test_a_functional_admin_resets_two_factor_of_a_user_in_scope_only(client, world):
    for persona in (world.functional_admin, world.officer_noordwijk):
        services.sync_user_access(persona)  # the group and admin access grant_role gives
    client.force_login(world.functional_admin)
    target = world.officer_noordwijk
    confirmed_device(target)
    two_factor._replace_recovery_codes(target)
    foreign = f.UserFactory(email="elders@example.nl")
    f.MembershipFactory(user=foreign, organisation=f.MunicipalityFactory(name="Lisse"))
    confirmed_device(foreign)
    own_devices = TOTPDevice.objects.filter(user=world.functional_admin).count()

    url = reverse("admin:sroi_user_changelist")
    ids = [target.pk, foreign.pk, world.functional_admin.pk]
    response = client.post(url, {"action": "reset_two_factor", "index": 0, "_selected_action": ids})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert not StaticDevice.objects.filter(user=target).exists()
    assert TOTPDevice.objects.filter(user=foreign).exists()  # not theirs to manage
    assert TOTPDevice.objects.filter(user=world.functional_admin).count() == own_devices
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Two-factor login reset for 1 user" in m for m in messages)


def test_device_models_have_no_admin_pages(client, world):
    client.force_login(f.UserFactory(is_superuser=True, is_staff=True))
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
