"""The contractor portal journey of issue 4 in a real browser (Dutch UI), axe-core on every page.

1. The adviser invites a contact person of the contractor (``contracts.invitations``); the
   contact opens the link from the e-mail, sets a password and lands in the portal.
2. The contact submits a plan of approach and reports a job with a new candidate and an
   employment contract (a minimal valid PDF) as evidence, after seeing its value.
3. The adviser, in a browser context of their own, returns the contribution with a reason.
4. The contact sees the reason in the portal, corrects the contribution and submits it again.

A second test walks a contractor through bulk reporting by spreadsheet: a file with a bad row
(its errors shown by row and column), the corrected file, the preview with values, the
confirmation and the result.

Elements are found by their names and addresses, not by their (translated) texts, so the test
does not depend on the state of the Dutch translation.
"""

import re
from datetime import date

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import Workbook

from contracts import invitations
from contracts.models import ContractorUser
from placements import bulk_import
from placements.models import Contribution, Evidence, PlanOfApproach
from sroi.models import Role
from tests import factories as f
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADVISER = "adviseur@example.nl"
ADVISER_PASSWORD = "correct-horse-battery"  # UserFactory's password
CONTACT = "planner@havenwerken.example.nl"
CONTACT_PASSWORD = "Kade-Onderhoud-2026!"
REASON = "Stuur de getekende arbeidsovereenkomst mee en controleer de uren per week."
# A minimal PDF: judged by its content (the %PDF- signature), not by its name.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def _world():
    """Noordwijk, the adviser's executing body serving it, and a contractor with an obligation
    valued by a published rulebook (a Participatiewet job at 40,000 a year)."""
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    body = f.ServiceBodyFactory(name="SROI-team", serves=[noordwijk])
    policy = f.PolicyFactory(municipality=noordwijk)
    adviser = f.UserFactory(email=ADVISER, full_name="Sanne Adviseur")
    f.MembershipFactory(user=adviser, organisation=body, role=Role.ADVISER)
    contractor = f.ContractorFactory(name="Havenwerken B.V.")
    contract = f.ContractFactory(
        municipality=noordwijk,
        contractor=contractor,
        reference="NWK-2026-900",
        title="Onderhoud havenkade",
    )
    rulebook = f.RulebookFactory(owner=body, municipalities=[noordwijk])
    obligation = f.ObligationFactory(contract=contract, policy=policy, rulebook=rulebook)
    return adviser, contractor, obligation


def _path(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]


def test_invited_contact_reports_a_job_the_adviser_returns_it_and_it_is_corrected(
    page, browser, live_server, locmem_mail, assert_accessible
):
    adviser, contractor, obligation = _world()
    url = live_server.url

    # 1. The invitation: the link comes from the e-mail.
    invitations.invite_contractor_user(
        acting_user=adviser,
        contractor=contractor,
        email=CONTACT,
        full_name="Pim Planner",
        base_url=url,
    )
    assert len(locmem_mail) == 1 and locmem_mail[0].to == [CONTACT]
    link = re.search(r"https?://\S+/portal/invitation/[\w-]+/", locmem_mail[0].body).group(0)

    page.goto(link)
    assert_accessible(page)
    page.locator("input[name=new_password1]").fill(CONTACT_PASSWORD)
    page.locator("input[name=new_password2]").fill(CONTACT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{url}{reverse('placements:portal_home')}")
    assert ContractorUser.objects.get(user__email=CONTACT).contractor == contractor
    assert "NWK-2026-900" in page.locator("main").inner_text()
    assert_accessible(page)

    # 2a. The plan of approach, asked for on the portal home.
    plan_url = reverse("placements:portal_plan", args=[obligation.pk])
    page.locator(f"main a[href='{plan_url}']").first.click()
    page.wait_for_url(f"{url}{plan_url}")
    assert_accessible(page)
    page.locator("select[name='items-0-block']").select_option("job")
    page.locator("input[name='items-0-planned_count']").fill("2")
    page.locator("input[name='items-0-planned_start']").fill("2026-03-01")
    page.locator("input[name='items-0-planned_end']").fill("2027-01-31")
    page.locator("input[name='items-0-description']").fill("Twee grondwerkers uit de bijstand")
    page.locator("main form button[type=submit].btn-primary").click()
    obligation_url = reverse("placements:portal_obligation", args=[obligation.pk])
    page.wait_for_url(f"{url}{obligation_url}")
    plan = PlanOfApproach.objects.get(obligation=obligation)
    assert plan.status == PlanOfApproach.Status.SUBMITTED and plan.items.count() == 1
    assert_accessible(page)

    # 2b. Report a job with a new candidate; the value first, then submit with evidence.
    report_url = reverse("placements:portal_report", args=[obligation.pk])
    page.locator(f"main a[href='{report_url}']").first.click()
    page.wait_for_url(f"{url}{report_url}")
    assert_accessible(page)
    page.locator("main a[href='?block=job']").click()
    page.locator("input[name=initials]").fill("J.K.")
    page.locator("input[name=birth_year]").fill("1984")
    page.locator("select[name=target_group]").select_option("participatiewet")
    page.locator("input[name=years_on_benefit]").fill("3")
    page.locator("input[name=start_date]").fill("2026-03-01")
    page.locator("input[name=end_date]").fill("2026-08-31")
    page.locator("input[name=hours_per_week]").fill("24")
    page.locator("textarea[name=description]").fill("Grondwerker havenkade")
    page.locator("button[name=preview]").click()
    value = page.locator("#value-heading")
    value.wait_for()
    # 40,000 x 24/36 x 184/365 = 13,442.92, as the engine computes it.
    assert "13.442,92" in page.locator("main").inner_text()
    assert_accessible(page)
    page.locator("input[name=evidence_file]").set_input_files(
        files=[{"name": "arbeidsovereenkomst.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.locator("button[name=submit]").click()
    page.wait_for_url(re.compile(r".*/contributions/portal/contributions/\d+/$"))
    contribution = Contribution.objects.get(obligation=obligation)
    assert contribution.status == Contribution.Status.SUBMITTED
    assert str(contribution.value) == "13442.92"
    evidence = Evidence.objects.get(contribution=contribution)
    assert evidence.content_type == "application/pdf" and evidence.size == len(PDF)
    assert evidence.original_name.endswith(".pdf")
    assert evidence.original_name in page.locator("main").inner_text()
    assert_accessible(page)

    # 3. The adviser returns it with a reason, in a browser context of their own.
    adviser_context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    adviser_page = adviser_context.new_page()
    login(adviser_page, live_server, ADVISER, ADVISER_PASSWORD)
    detail_url = reverse("placements:contribution_detail", args=[contribution.pk])
    adviser_page.goto(f"{url}{detail_url}")
    assert_accessible(adviser_page)
    return_form = adviser_page.locator(
        f"form[action='{reverse('placements:contribution_return', args=[contribution.pk])}']"
    )
    return_form.locator("textarea[name$=reason]").fill(REASON)
    return_form.locator("button[type=submit]").click()
    adviser_page.wait_for_load_state()
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.RETURNED
    assert contribution.status_reason == REASON
    assert REASON in adviser_page.locator("main").inner_text()
    assert_accessible(adviser_page)
    adviser_context.close()

    # 4. The contact sees the reason on the portal home, corrects and submits again.
    page.goto(f"{url}{reverse('placements:portal_home')}")
    assert REASON in page.locator("main").inner_text()
    assert_accessible(page)
    edit_url = reverse("placements:portal_contribution_edit", args=[contribution.pk])
    page.locator(f"main a[href='{edit_url}']").first.click()
    page.wait_for_url(f"{url}{edit_url}")
    assert REASON in page.locator("main").inner_text()
    assert_accessible(page)
    page.locator("input[name=hours_per_week]").fill("36")
    page.locator("button[name=preview]").click()
    page.locator("#value-heading").wait_for()
    # 40,000 x 36/36 x 184/365 = 20,164.38
    assert "20.164,38" in page.locator("main").inner_text()
    page.locator("button[name=submit]").click()
    contribution_url = reverse("placements:portal_contribution", args=[contribution.pk])
    page.wait_for_url(f"{url}{contribution_url}")
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.SUBMITTED
    assert contribution.hours_per_week == 36
    assert str(contribution.value) == "20164.38"
    assert contribution.evidence.count() == 1  # the evidence stays with the corrected report
    assert_accessible(page)


def _spreadsheet(path, rows: list[dict]) -> str:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = bulk_import.SHEET_NAME
    sheet.append([c.title for c in bulk_import.COLUMNS])
    for row in rows:
        sheet.append([row.get(c.key) for c in bulk_import.COLUMNS])
    workbook.save(path)
    return str(path)


def test_a_contractor_reports_in_bulk_by_spreadsheet(
    page, live_server, tmp_path, assert_accessible
):
    _adviser, contractor, obligation = _world()
    user = f.ContractorUserFactory(
        contractor=contractor, user__email="opdrachtnemer@havenwerken.example.nl"
    ).user
    url = live_server.url
    job = {
        "reference": "NWK-2026-900",
        "municipality": "Noordwijk",
        "block": "baan",
        "initials": "J.K.",
        "birth_year": 1984,
        "target_group": "Participatiewet",
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 8, 31),
        "hours_per_week": 36,
        "permanent_contract": "nee",
    }
    activity = {
        "reference": "NWK-2026-900",
        "municipality": "Noordwijk",
        "block": "sociale activiteit",
        "start_date": date(2026, 4, 1),
        "hours": 40,
        "description": "Gastlessen",
    }
    login(page, live_server, user.email, ADVISER_PASSWORD)
    upload_url = reverse("placements:portal_bulk_upload")
    page.goto(f"{url}{upload_url}")
    assert_accessible(page)
    assert page.locator(f"a[href='{reverse('placements:portal_bulk_template')}']").count() == 1

    # A bad row: its errors are shown by row and column, nothing is reported.
    bad = _spreadsheet(tmp_path / "fout.xlsx", [job, {**activity, "hours": "veel"}])
    page.locator("input[name=file]").set_input_files(bad)
    page.locator("main form button[type=submit]").first.click()
    page.locator("#errors-heading").wait_for()
    errors = page.locator("table").first.inner_text()
    assert "3" in errors and "Uren" in errors
    assert re.search(r"\((kolom|column) [A-Z]+\)", errors)
    assert Contribution.objects.count() == 0
    assert_accessible(page)

    # The corrected file: the preview with the values, then the confirmation.
    good = _spreadsheet(tmp_path / "goed.xlsx", [job, activity])
    page.locator("input[name=file]").set_input_files(good)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/contributions/portal/bulk/[\w-]+/$"))
    text = page.locator("main").inner_text()
    assert "20.164,38" in text and "4.000,00" in text
    assert_accessible(page)
    page.locator("main form button.btn-success").click()
    page.wait_for_url(re.compile(r".*/contributions/portal/bulk/[\w-]+/result/$"))
    assert Contribution.objects.filter(obligation=obligation).count() == 2
    assert_accessible(page)
