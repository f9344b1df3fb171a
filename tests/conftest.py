"""Shared fixtures: the personas of design.md.

``world`` builds two municipalities (Noordwijk, Katwijk), an executing body serving both, and
one user per persona: the adviser, a procurement officer and a council viewer of each
municipality, a functional administrator, and two contractors with one user each.
"""

import os
from dataclasses import dataclass

import pytest
from django.test import Client, RequestFactory
from django.utils import translation

from sroi.models import Role

from . import factories as f

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _english_messages():
    """Tests assert on the English source strings; Dutch (the default UI language) is covered
    by tests that activate it explicitly (tests/test_translations.py)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _two_factor_force_login(monkeypatch):
    """Two-factor login stays enforced in tests, but ``client.force_login(user)`` also passes
    the code step for users who require it (sroi.permissions.requires_two_factor): it gives
    them a confirmed authenticator when they have none and marks the session verified, as
    the real code step does. Tests of two-factor login itself use the real flow
    (tests/sroi/test_two_factor.py); ``client.force_login_without_two_factor(user)`` logs in
    without passing it."""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        mark_two_factor_verified(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)
    monkeypatch.setattr(Client, "force_login_without_two_factor", original, raising=False)
    monkeypatch.setattr(Client, "login", _login_with_request)


def _login_with_request(self, **credentials) -> bool:
    """``client.login(email=..., password=...)`` with a request, as the lockout backend
    (django-axes) needs one: failures count towards the lockout as on the login page. It does
    not pass the two-factor code step (use ``force_login`` or the real flow)."""
    from django.contrib.auth import authenticate

    request = RequestFactory().post("/accounts/login/")
    user = authenticate(request, **credentials)
    if user is None:
        return False
    self._login(user)
    return True


def mark_two_factor_verified(client, user) -> None:
    """Mark ``client``'s session as having passed the code step, if ``user`` requires it."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from sroi.middleware import start_session_clock
    from sroi.permissions import SCOPE_CACHE_ATTR, clear_scope_cache, requires_two_factor

    had_scope = hasattr(user, SCOPE_CACHE_ATTR)
    try:
        needed = requires_two_factor(user)
    finally:
        if not had_scope:  # leave the test's user object as it was
            clear_scope_cache(user)
    session = client.session
    start_session_clock(session)  # as the login view does
    if needed:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@dataclass
class World:
    noordwijk: object
    katwijk: object
    executing_body: object
    adviser: object
    officer_noordwijk: object
    officer_katwijk: object
    council_noordwijk: object
    council_katwijk: object
    functional_admin: object
    contractor_a: object
    contractor_b: object
    contractor_a_user: object
    contractor_b_user: object
    outsider: object  # logged in, no membership at all
    adviser_katwijk: object  # ADVISER membership in Katwijk itself only
    mixed_user: object  # ADVISER in Katwijk + COUNCIL_VIEWER in Noordwijk


@pytest.fixture
def world(db) -> World:
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    katwijk = f.MunicipalityFactory(name="Katwijk")
    body = f.ServiceBodyFactory(name="SROI-team", serves=[noordwijk, katwijk])
    f.PolicyFactory(municipality=noordwijk)
    f.PolicyFactory(municipality=katwijk)

    def member(email, org, role):
        user = f.UserFactory(email=email)
        f.MembershipFactory(user=user, organisation=org, role=role)
        return user

    contractor_a = f.ContractorFactory(name="Bouwbedrijf A")
    contractor_b = f.ContractorFactory(name="Groenbedrijf B")
    return World(
        noordwijk=noordwijk,
        katwijk=katwijk,
        executing_body=body,
        adviser=member("adviseur@example.nl", body, Role.ADVISER),
        officer_noordwijk=member(
            "inkoper.noordwijk@example.nl", noordwijk, Role.PROCUREMENT_OFFICER
        ),
        officer_katwijk=member("inkoper.katwijk@example.nl", katwijk, Role.PROCUREMENT_OFFICER),
        council_noordwijk=member("raad.noordwijk@example.nl", noordwijk, Role.COUNCIL_VIEWER),
        council_katwijk=member("raad.katwijk@example.nl", katwijk, Role.COUNCIL_VIEWER),
        functional_admin=member("beheer@example.nl", body, Role.FUNCTIONAL_ADMIN),
        contractor_a=contractor_a,
        contractor_b=contractor_b,
        contractor_a_user=f.ContractorUserFactory(contractor=contractor_a).user,
        contractor_b_user=f.ContractorUserFactory(contractor=contractor_b).user,
        outsider=f.UserFactory(email="buitenstaander@example.nl"),
        adviser_katwijk=member("adviseur.katwijk@example.nl", katwijk, Role.ADVISER),
        mixed_user=_mixed_user(member, katwijk, noordwijk),
    )


def _mixed_user(member, katwijk, noordwijk):
    """An adviser of Katwijk who is also a council viewer of Noordwijk: two roles whose scopes
    must not mix."""
    user = member("adviseur.raad@example.nl", katwijk, Role.ADVISER)
    f.MembershipFactory(user=user, organisation=noordwijk, role=Role.COUNCIL_VIEWER)
    return user
