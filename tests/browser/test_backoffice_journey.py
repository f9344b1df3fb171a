"""The back-office journey of issue 3 in a real browser (Dutch UI), with axe-core on every page.

1. The procurement officer logs in, uploads a spreadsheet with one bad row, sees the row error
   (row number and column) on the preview, uploads the corrected file, confirms, and opens an
   imported contract.
2. The adviser logs in, opens the verification queue, approves a contribution and sees the
   progress bar of its obligation move.

A second test walks the adviser through the policy and rulebook screens.
"""

import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from contracts.importing import COLUMNS, SHEET_NAME
from placements import services as placement_services
from sroi.models import Role
from tests import factories as f
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"  # UserFactory's password
OFFICER = "inkoper@noordwijk.example.nl"
ADVISER = "adviseur@example.nl"
PROGRESS = "Gerealiseerd deel van de SROI-verplichting"


def _world():
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    body = f.ServiceBodyFactory(name="SROI-team", serves=[noordwijk])
    policy = f.PolicyFactory(municipality=noordwijk)
    officer = f.UserFactory(email=OFFICER, full_name="Ilse Inkoper")
    f.MembershipFactory(user=officer, organisation=noordwijk, role=Role.PROCUREMENT_OFFICER)
    adviser = f.UserFactory(email=ADVISER, full_name="Sanne Adviseur")
    f.MembershipFactory(user=adviser, organisation=body, role=Role.ADVISER)
    return noordwijk, body, policy, officer, adviser


def _reported_contribution(noordwijk, body, policy):
    """An obligation under a published rulebook, with a submitted job whose candidate's
    eligibility the municipality has confirmed: ready to be approved."""
    contractor = f.ContractorFactory(name="Havenwerken B.V.")
    contractor_user = f.ContractorUserFactory(contractor=contractor).user
    contract = f.ContractFactory(
        municipality=noordwijk,
        contractor=contractor,
        reference="NWK-2026-900",
        title="Onderhoud havenkade",
    )
    rulebook = f.RulebookFactory(owner=body, municipalities=[noordwijk])
    obligation = f.ObligationFactory(contract=contract, policy=policy, rulebook=rulebook)
    candidate = f.CandidateFactory(contractor=contractor, confirmed=True)
    contribution = placement_services.submit_contribution(
        acting_user=contractor_user,
        obligation=obligation,
        block="job",
        candidate=candidate,
        start_date=date(2026, 3, 1),
        end_date=date(2026, 10, 31),
        hours_per_week=Decimal("24"),
    )
    assert contribution.value > 0
    return obligation, contribution


def _spreadsheet(path, rows) -> str:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    sheet.append([c.title for c in COLUMNS])
    for row in rows:
        sheet.append([row.get(c.key) for c in COLUMNS])
    workbook.save(path)
    return str(path)


def _rows(bad_kvk: bool) -> list[dict]:
    return [
        {
            "municipality": "Noordwijk",
            "reference": "NWK-IMP-001",
            "title": "Herinrichting Voorstraat",
            "kvk": "12345678",
            "contractor_name": "Bouwbedrijf Duin B.V.",
            "kind": "werken",
            "value": 250000,
            "award_date": date(2026, 10, 1),
            "start_date": date(2026, 11, 1),
            "end_date": date(2027, 10, 31),
        },
        {
            "municipality": "Noordwijk",
            "reference": "NWK-IMP-002",
            "title": "Groenonderhoud parken",
            "kvk": "8765432X" if bad_kvk else "87654321",
            "contractor_name": "Groen aan Zee B.V.",
            "kind": "diensten",
            "value": 180000,
            "award_date": date(2026, 10, 1),
            "start_date": date(2026, 11, 1),
            "end_date": date(2027, 10, 31),
        },
    ]


def _progress(page) -> float:
    bar = page.get_by_role("progressbar", name=PROGRESS).first
    return float(bar.get_attribute("aria-valuenow"))


def test_officer_imports_contracts_and_adviser_approves_a_contribution(
    page, live_server, assert_accessible, tmp_path
):
    noordwijk, body, policy, _officer, _adviser = _world()
    obligation, contribution = _reported_contribution(noordwijk, body, policy)
    bad = _spreadsheet(tmp_path / "opdrachten.xlsx", _rows(bad_kvk=True))
    good = _spreadsheet(tmp_path / "opdrachten-gecorrigeerd.xlsx", _rows(bad_kvk=False))

    # --- The procurement officer ---------------------------------------------------------------
    page.goto(f"{live_server.url}/accounts/login/")
    assert_accessible(page)
    login(page, live_server, OFFICER, PASSWORD)
    assert_accessible(page)

    page.get_by_role("navigation", name="Hoofdnavigatie").get_by_role(
        "link", name="Importeren"
    ).click()
    expect_heading(page, "Opdrachten importeren uit een spreadsheet")
    assert_accessible(page)

    page.get_by_label("Spreadsheet (.xlsx)").set_input_files(bad)
    page.get_by_role("button", name="Bestand controleren").click()
    expect_heading(page, "Import controleren")
    errors = page.get_by_role("table", name="Fouten per rij en kolom")
    row = errors.locator("tbody tr")
    assert row.count() == 1
    assert row.locator("th").inner_text().strip() == "3"  # the spreadsheet's row number
    assert "KvK-nummer opdrachtnemer" in row.inner_text()
    assert "kolom E" in row.inner_text()
    assert "8765432X" in row.inner_text()
    assert page.get_by_text("Er is niets geïmporteerd.").is_visible()
    assert_accessible(page)

    page.get_by_label("Spreadsheet (.xlsx)").set_input_files(good)
    page.get_by_role("button", name="Bestand controleren").click()
    expect_heading(page, "Import controleren")
    assert page.get_by_role("heading", name="Alle rijen zijn correct").is_visible()
    assert_accessible(page)

    page.get_by_role("button", name="2 opdrachten importeren").click()
    expect_heading(page, "Import voltooid")
    assert_accessible(page)

    page.get_by_role("link", name="NWK-IMP-002").click()
    expect_heading(page, re.compile(r"^NWK-IMP-002 · Groenonderhoud parken"))
    assert "Groen aan Zee B.V." in page.inner_text("main")
    assert_accessible(page)

    # --- The adviser ---------------------------------------------------------------------------
    page.context.clear_cookies()
    login(page, live_server, ADVISER, PASSWORD)
    assert_accessible(page)

    page.goto(f"{live_server.url}/contracts/{obligation.contract_id}/")
    expect_heading(page, re.compile(r"^NWK-2026-900"))
    before = _progress(page)
    assert before == 0
    assert_accessible(page)

    page.get_by_role("navigation", name="Hoofdnavigatie").get_by_role(
        "link", name="Controle"
    ).click()
    expect_heading(page, "Controlewachtrij")
    assert_accessible(page)

    queue = page.get_by_role("table", name="Inzet die wacht op controle")
    queue.get_by_role("link", name=re.compile("NWK-2026-900")).click()
    expect_heading(page, re.compile(r"NWK-2026-900"))
    assert _progress(page) == before
    assert_accessible(page)

    page.get_by_role("button", name="Goedkeuren", exact=True).click()
    expect_heading(page, re.compile(r"NWK-2026-900"))
    assert page.get_by_role("status").filter(has_text="goedgekeurd").first.is_visible()
    after_on_review = _progress(page)
    assert after_on_review > before
    assert_accessible(page)

    page.get_by_role("link", name="NWK-2026-900").first.click()
    expect_heading(page, re.compile(r"^NWK-2026-900"))
    after = _progress(page)
    assert after > before
    contribution.refresh_from_db()
    expected = round(float(contribution.value * 100 / obligation.amount), 1)
    assert after == pytest.approx(expected, abs=0.1)
    assert_accessible(page)


def expect_heading(page, name) -> None:
    heading = page.get_by_role("heading", level=1)
    heading.wait_for()
    text = heading.inner_text().strip()
    if isinstance(name, re.Pattern):
        assert name.search(text), text
    else:
        assert text == name, text


# --- The adviser keeps policies and rulebooks ------------------------------------------------


def test_adviser_keeps_policies_and_rulebooks(page, live_server, assert_accessible):
    noordwijk, body, policy, _officer, _adviser = _world()
    rulebook = f.RulebookFactory(
        name="Rekenregels Noordwijk", version="2026.1", owner=body, municipalities=[noordwijk]
    )
    f.ObligationFactory(contract__municipality=noordwijk, policy=policy, rulebook=rulebook)
    url = live_server.url

    login(page, live_server, ADVISER, PASSWORD)
    nav = page.get_by_role("navigation", name="Hoofdnavigatie")

    # Policies: the list, a new version (first with a mistake), back on the list.
    nav.get_by_role("link", name="SROI-beleid").click()
    page.get_by_role("table").wait_for()
    assert "Noordwijk" in page.inner_text("main")
    assert_accessible(page)
    page.locator(f"a[href='/contracts/policies/{policy.pk}/new-version/']").click()
    page.locator("input[name=valid_from]").wait_for()
    assert page.locator("input[name=threshold]").input_value() == "100000.00"
    assert_accessible(page)
    page.locator("input[name=valid_from]").fill("2020-01-01")
    page.locator("input[name=reduced_percentage]").fill("7")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_valid_from.is-invalid").is_visible()
    assert page.locator("#id_reduced_percentage.is-invalid").is_visible()
    assert_accessible(page)
    page.locator("input[name=valid_from]").fill("2027-01-01")
    page.locator("input[name=reduced_percentage]").fill("2")
    page.locator("input[name=default_percentage]").fill("4")
    page.locator("main form button[type=submit]").click()
    page.locator(".alert-success").wait_for()
    assert "01-01-2027" in page.inner_text("main")
    assert_accessible(page)
    # The used version cannot be changed; the page says why.
    page.goto(f"{url}/contracts/policies/{policy.pk}/edit/")
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page)

    # Rulebooks: the list, the frozen version, a new draft, a rule with an engine error.
    nav.get_by_role("link", name="Rekenregels").click()
    page.get_by_role("link", name="Rekenregels Noordwijk 2026.1").first.click()
    page.locator("#rules-heading").wait_for()
    assert "Baan Participatiewet" in page.inner_text("main")
    assert_accessible(page)
    page.locator(f"main a[href='/contributions/rulebooks/{rulebook.pk}/new-version/']").click()
    page.locator("input[name=version]").fill("2027.1")
    page.locator("input[name=valid_from]").fill("2027-01-01")
    assert_accessible(page)
    page.locator("main form button[type=submit]").click()
    page.locator("#rules-heading").wait_for()
    assert "2027.1" in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page)
    page.locator("main a[href$='/rules/new/']").click()
    page.locator("input[name=code]").fill("purchase")
    page.locator("input[name=label]").fill("Inkoop bij sociale onderneming")
    page.locator("select[name=block]").select_option("social_purchase")
    page.locator("select[name=kind]").select_option("percentage")
    page.locator("input[name=rate]").fill("100")
    page.locator("input[name=fte_hours]").fill("")
    page.locator("main form button[type=submit]").click()
    assert page.locator("#id_rate.is-invalid").is_visible()
    assert "is not used by percentage rules" in page.inner_text("main")
    assert_accessible(page)
    page.locator("input[name=rate]").fill("0")
    page.locator("input[name=percent]").fill("100")
    page.locator("main form button[type=submit]").click()
    page.locator("#rules-heading").wait_for()
    assert "purchase" in page.inner_text("main")
    page.locator("main form[action$='/publish/'] button").click()
    page.locator(".alert-success").wait_for()
    assert_accessible(page)

    page.goto(f"{url}/contributions/rulebooks/import/")
    page.locator("input[name=file]").wait_for()
    assert_accessible(page)
