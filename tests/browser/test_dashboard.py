"""The adviser's dashboard in a real browser (Dutch UI), checked with axe-core; acknowledging a
flag from the dashboard works with the keyboard-operable disclosure."""

import pytest
from django.utils import timezone

from reporting.models import Flag, FlagKind, FlagSeverity
from sroi.models import Role
from tests import factories as f
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"  # UserFactory's password
ADVISER = "adviseur@example.nl"


def test_adviser_dashboard_is_accessible(page, live_server, assert_accessible):
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    katwijk = f.MunicipalityFactory(name="Katwijk")
    body = f.ServiceBodyFactory(name="SROI-team", serves=[noordwijk, katwijk])
    adviser = f.UserFactory(email=ADVISER, full_name="Sanne Adviseur")
    f.MembershipFactory(user=adviser, organisation=body, role=Role.ADVISER)
    now = timezone.now()
    for municipality, reference, kind, severity in (
        (noordwijk, "NW-2026-001", FlagKind.OVERDUE, FlagSeverity.CRITICAL),
        (katwijk, "KW-2026-001", FlagKind.BEHIND_SCHEDULE, FlagSeverity.WARNING),
    ):
        obligation = f.ObligationFactory(
            contract=f.ContractFactory(municipality=municipality, reference=reference)
        )
        f.ContributionFactory(obligation=obligation, approved=True)
        Flag.objects.create(
            kind=kind,
            severity=severity,
            municipality=municipality,
            contract=obligation.contract,
            obligation=obligation,
            first_seen=now,
            last_seen=now,
        )

    login(page, live_server, ADVISER, PASSWORD)
    assert page.url == f"{live_server.url}/"  # the adviser's home is the dashboard
    assert page.locator("h1").count() == 1
    assert page.locator("figure svg.dashboard-chart").count() == 3
    assert_accessible(page)

    # Acknowledge the critical flag from the dashboard.
    row = page.locator("tr", has_text="NW-2026-001").last
    row.locator("summary").first.click()
    row.locator("textarea").fill("Aannemer gebeld.")
    row.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "Aannemer gebeld." in page.content()
    assert_accessible(page)
