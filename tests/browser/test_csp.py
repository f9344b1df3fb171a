"""The Content-Security-Policy in a real browser: the main pages of the adviser, the contractor
portal and the Django admin load without a single CSP violation.

Violations are collected twice: ``securitypolicyviolation`` events (a listener installed
before any page script runs) and Chromium's console messages ("Refused to ..."). A self-check
on the first page proves the collector sees a violation when there is one. The policy is the
real one: the browser context does not bypass CSP.
"""

import pytest
from django.urls import reverse

from placements.models import Evidence
from placements.services import add_evidence
from sroi.models import Role
from sroi.services import sync_user_access
from tests import factories as f
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"  # UserFactory's password
ADVISER = "adviseur@example.nl"
CONTACT = "planner@aannemer.example.nl"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " (" + (event.sourceFile || "") + ":" + event.lineNumber + ")"
  );
});
"""


class ViolationLog:
    """CSP violations seen by one page, per URL."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(COLLECT_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.console.append(text)

    def events(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def visit(self, url: str) -> list[str]:
        """Open ``url`` and return the violations it caused (events and console)."""
        self.console.clear()
        response = self.page.goto(url)
        self.page.wait_for_load_state("load")
        status = response.status if response is not None else None
        assert status == 200, f"{url}: {status}"
        assert self.page.url == url, f"{url} led to {self.page.url}"  # no redirect elsewhere
        header = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in header and "unsafe-inline" not in header, url
        self.page.wait_for_timeout(100)  # violation events are dispatched asynchronously
        return self.events() + list(self.console)


def _world():
    noordwijk = f.MunicipalityFactory(name="Noordwijk")
    body = f.ServiceBodyFactory(name="SROI-team", serves=[noordwijk])
    f.PolicyFactory(municipality=noordwijk)
    adviser = f.UserFactory(email=ADVISER, full_name="Sanne Adviseur")
    f.MembershipFactory(user=adviser, organisation=body, role=Role.ADVISER)
    sync_user_access(adviser)  # role group and admin access, as the services do
    contractor = f.ContractorFactory(name="Bouwbedrijf A")
    contact = f.ContractorUserFactory(
        contractor=contractor, user=f.UserFactory(email=CONTACT, full_name="Piet Planner")
    ).user
    sync_user_access(contact)
    obligation = f.RuledObligationFactory(
        contract__municipality=noordwijk, contract__contractor=contractor
    )
    f.ContributionFactory(obligation=obligation, approved=True, value="5000.00")
    contribution = f.ContributionFactory(obligation=obligation, candidate__confirmed=True)
    add_evidence(
        acting_user=contact,
        contribution=contribution,
        uploaded_file=_pdf(),
        kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
    )
    return obligation, contribution


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("contract.pdf", PDF, content_type="application/pdf")


def test_collector_sees_a_violation(page, live_server):
    """Self-check: an inline <style> added to the page is blocked and reported."""
    log = ViolationLog(page)
    assert log.visit(f"{live_server.url}{reverse('login')}") == []
    page.evaluate(
        "document.head.appendChild(Object.assign(document.createElement('style'),"
        " {textContent: 'body { color: red }'}))"
    )
    page.wait_for_timeout(200)
    assert any("style-src" in v for v in log.events())


def test_adviser_pages_have_no_csp_violations(page, live_server):
    obligation, contribution = _world()
    log = ViolationLog(page)
    login(page, live_server, ADVISER, PASSWORD)
    pages = [
        reverse("home"),  # the dashboard
        reverse("reporting:dashboard"),
        reverse("contracts:contract_list"),
        reverse("contracts:contract_detail", args=[obligation.contract.pk]),
        reverse("contracts:obligation_list"),
        reverse("contracts:obligation_settle", args=[obligation.pk]),
        reverse("placements:contribution_list"),
        reverse("placements:verification_queue"),
        reverse("placements:contribution_detail", args=[contribution.pk]),
        reverse("reporting:report"),
        reverse("contracts:import_contracts"),
        reverse("admin:index"),
        reverse("admin:contracts_contract_changelist"),
        reverse("admin:contracts_contract_change", args=[obligation.contract.pk]),
    ]
    found = {path: log.visit(f"{live_server.url}{path}") for path in pages}
    # The collapsed navigation (its toggler icon is a data: image in Bootstrap's CSS).
    page.set_viewport_size({"width": 800, "height": 900})
    found["narrow " + pages[0]] = log.visit(f"{live_server.url}{pages[0]}")
    assert {path: v for path, v in found.items() if v} == {}


def test_contractor_pages_have_no_csp_violations(page, live_server):
    obligation, contribution = _world()
    log = ViolationLog(page)
    login(page, live_server, CONTACT, PASSWORD)
    pages = [
        reverse("placements:portal_home"),
        reverse("placements:portal_obligation", args=[obligation.pk]),
        reverse("placements:portal_contribution", args=[contribution.pk]),
        reverse("placements:portal_report", args=[obligation.pk]),
        reverse("placements:portal_candidates"),
        reverse("placements:portal_plan", args=[obligation.pk]),
        reverse("placements:portal_bulk_upload"),
        # Optional two-factor login for contractors: the set-up page shows a QR code image.
        reverse("account_security"),
        reverse("two_factor_enrol"),
    ]
    found = {path: log.visit(f"{live_server.url}{path}") for path in pages}
    assert {path: v for path, v in found.items() if v} == {}


def test_login_page_has_no_csp_violations(page, live_server):
    log = ViolationLog(page)
    assert log.visit(f"{live_server.url}{reverse('login')}") == []
    assert log.visit(f"{live_server.url}{reverse('password_reset')}") == []
