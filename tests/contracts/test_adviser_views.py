"""The adviser's decisions on an obligation in the browser: agree it, review its plan of
approach (and enter one for the contractor), settle it. Every view with every persona."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import Obligation, ObligationChange, Settlement
from placements import plans
from placements.models import PlanOfApproach
from tests import factories as f


@pytest.fixture
def client(client):
    """Pages in English: the tests read the English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def data(world):
    obligation = f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NW-2026-007",
        contract__labour_cost=Decimal("100000.00"),  # 20% of 500,000: reduced % allowed
        explanation=["Beleid geldig vanaf 01-01-2020.", "Verplichting: € 25.000,00."],
    )
    other = f.ObligationFactory(
        contract__municipality=world.katwijk, contract__contractor=world.contractor_b
    )
    overdue = f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__overdue=True,  # deadline passed: final decisions allowed
    )
    return SimpleNamespace(world=world, obligation=obligation, other=other, overdue=overdue)


def url(name, obligation):
    return reverse(f"contracts:{name}", args=[obligation.pk])


def as_user(client, user):
    if user is not None:
        client.force_login(user)
    return client


def is_login_redirect(response):
    return response.status_code == 302 and reverse("login") in response["Location"]


DECISION_PAGES = ["obligation_agree", "obligation_settle", "plan_enter"]

FORBIDDEN = [
    ("officer_noordwijk", 403),
    ("council_noordwijk", 403),
    ("contractor_a_user", 403),
    ("officer_katwijk", 404),
    ("council_katwijk", 404),
    ("contractor_b_user", 404),
    ("functional_admin", 403),  # sees the obligation through the executing body
    ("outsider", 404),
]


@pytest.mark.parametrize("page", DECISION_PAGES)
def test_decision_pages_open_for_the_adviser(client, data, page):
    response = as_user(client, data.world.adviser).get(url(page, data.obligation))
    assert response.status_code == 200
    assert "NW-2026-007" in response.content.decode()


@pytest.mark.parametrize("page", DECISION_PAGES)
@pytest.mark.parametrize(("persona", "status"), FORBIDDEN)
def test_decision_pages_refuse_others(client, data, page, persona, status):
    user = getattr(data.world, persona)
    assert as_user(client, user).get(url(page, data.obligation)).status_code == status
    assert client.post(url(page, data.obligation), {}).status_code == status


@pytest.mark.parametrize("page", [*DECISION_PAGES, "plan_review"])
def test_pages_send_anonymous_to_login(client, data, page):
    assert is_login_redirect(client.get(url(page, data.obligation)))
    assert is_login_redirect(client.post(url(page, data.obligation), {}))


def test_adviser_of_the_other_municipality_only_gets_404(client, data):
    """The adviser serves both; an obligation that does not exist is a 404 like any other."""
    client.force_login(data.world.adviser)
    missing = SimpleNamespace(pk=data.other.pk + 1000)
    assert client.get(url("obligation_agree", missing)).status_code == 404


# --- Agree -----------------------------------------------------------------------------------


def test_agree_page_shows_the_computation(client, data):
    response = as_user(client, data.world.adviser).get(url("obligation_agree", data.obligation))
    html = response.content.decode()
    assert "Verplichting: € 25.000,00." in html
    assert "€ 25,000.00" in html
    assert 'name="deviation"' in html and 'name="reason"' in html


def test_agree_as_computed(client, data):
    client.force_login(data.world.adviser)
    response = client.post(url("obligation_agree", data.obligation), {"deviation": ""})
    assert response.status_code == 302
    data.obligation.refresh_from_db()
    assert data.obligation.agreed_by == data.world.adviser
    assert data.obligation.amount == Decimal("25000.00")
    assert data.obligation.changes.get().kind == ObligationChange.Kind.AGREED


def test_agree_with_reduced_percentage_and_reason(client, data):
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_agree", data.obligation),
        {"deviation": "reduced_percentage", "reason": "Vooral materiaal, weinig arbeid"},
    )
    assert response.status_code == 302
    data.obligation.refresh_from_db()
    assert (data.obligation.deviation, data.obligation.percentage) == (
        "reduced_percentage",
        Decimal("2.00"),
    )
    assert data.obligation.amount == Decimal("10000.00")
    assert data.obligation.deviation_reason == "Vooral materiaal, weinig arbeid"
    assert data.obligation.changes.get().kind == ObligationChange.Kind.DEVIATION


def test_agree_with_other_percentage(client, data):
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_agree", data.obligation),
        {"deviation": "custom_percentage", "percentage": "3", "reason": "Raadsbesluit"},
    )
    assert response.status_code == 302
    data.obligation.refresh_from_db()
    assert data.obligation.amount == Decimal("15000.00")


def test_exemption(client, data):
    client.force_login(data.world.adviser)
    client.post(
        url("obligation_agree", data.obligation), {"deviation": "exemption", "reason": "Noodzaak"}
    )
    data.obligation.refresh_from_db()
    assert data.obligation.amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"deviation": "exemption", "reason": " "}, "reason", "needs a recorded reason"),
        ({"deviation": "custom_percentage", "reason": "x"}, "percentage", "Enter the percentage"),
        (
            {"deviation": "custom_percentage", "percentage": "120", "reason": "x"},
            "percentage",
            "less than or equal to 100",
        ),
    ],
)
def test_agree_form_errors(client, data, payload, field, message):
    client.force_login(data.world.adviser)
    response = client.post(url("obligation_agree", data.obligation), payload)
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors[field])
    data.obligation.refresh_from_db()
    assert data.obligation.agreed_at is None


def test_reduced_percentage_refused_for_high_labour_share_is_shown(client, data):
    contract = data.obligation.contract
    contract.labour_cost = Decimal("400000.00")  # 80% labour
    contract.save()
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_agree", data.obligation),
        {"deviation": "reduced_percentage", "reason": "Weinig arbeid"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["deviation"]
    assert errors == [
        "The reduced percentage applies only when labour is below 30% of the contract value; "
        "here it is 80.0%."
    ]
    assert "here it is 80.0%" in response.content.decode()
    data.obligation.refresh_from_db()
    assert (data.obligation.deviation, data.obligation.agreed_at) == ("", None)


def test_settled_obligation_cannot_be_agreed(client, data):
    Obligation.objects.filter(pk=data.obligation.pk).update(status="settled")
    client.force_login(data.world.adviser)
    response = client.post(url("obligation_agree", data.obligation), {"deviation": ""})
    assert response.status_code == 200
    assert "has been settled" in response.content.decode()
    data.obligation.refresh_from_db()
    assert data.obligation.agreed_at is None


# --- Settle ----------------------------------------------------------------------------------


def approved(obligation, value):
    return f.ContributionFactory(obligation=obligation, approved=True, value=Decimal(value))


def test_settle_page_shows_the_shortfall(client, data):
    approved(data.obligation, "10000.00")
    f.ContributionFactory(obligation=data.obligation, value=Decimal("5000.00"))  # submitted
    client.force_login(data.world.adviser)
    response = client.get(url("obligation_settle", data.obligation))
    assert response.context["realised"] == Decimal("10000.00")
    assert response.context["shortfall"] == Decimal("15000.00")
    html = response.content.decode()
    assert "€ 15,000.00" in html
    # The fine defaults to the shortfall.
    assert response.context["form"]["amount"].value() == Decimal("15000.00")


def test_settle_with_a_fine_defaulting_to_the_shortfall(client, data):
    approved(data.overdue, "10000.00")
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_settle", data.overdue),
        {"decision": "fine", "amount": "", "reason": "Onvoldoende inspanning"},
    )
    assert response.status_code == 302
    settlement = Settlement.objects.get(obligation=data.overdue)
    assert (settlement.decision, settlement.amount, settlement.shortfall) == (
        "fine",
        Decimal("15000.00"),
        Decimal("15000.00"),
    )
    assert settlement.decided_by == data.world.adviser
    data.overdue.refresh_from_db()
    assert data.overdue.status == Obligation.Status.SETTLED
    page = client.get(url("obligation_settle", data.overdue))
    assert "the decision is final" in page.content.decode()
    assert "Onvoldoende inspanning" in page.content.decode()
    assert 'name="decision"' not in page.content.decode()


def test_settle_with_a_buy_out_amount(client, data):
    client.force_login(data.world.adviser)
    client.post(
        url("obligation_settle", data.overdue),
        {"decision": "buy_out", "amount": "12000.50", "reason": "Afkoop afgesproken"},
    )
    assert Settlement.objects.get().amount == Decimal("12000.50")


def test_a_fine_before_the_deadline_is_refused_and_shown(client, data):
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_settle", data.obligation),
        {"decision": "fine", "amount": "100", "reason": "Te vroeg"},
    )
    assert response.status_code == 200
    assert "decided at the deadline" in response.context["form"].errors["decision"][0]
    assert "decided at the deadline" in response.content.decode()
    assert not Settlement.objects.exists()


def test_extension_moves_the_deadline(client, data):
    new = data.obligation.deadline + timedelta(days=180)
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_settle", data.obligation),
        {"decision": "extension", "new_deadline": new.isoformat(), "reason": "Herstelperiode"},
    )
    assert response.status_code == 302
    data.obligation.refresh_from_db()
    assert data.obligation.deadline == new
    assert data.obligation.status == Obligation.Status.OPEN
    page = client.get(url("obligation_settle", data.obligation))
    assert "Herstelperiode" in page.content.decode()  # listed under the decisions so far
    assert page.context["form"] is not None and not page.context["settled"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"decision": "extension", "reason": "x"}, "new_deadline", "needs a new deadline"),
        ({"decision": "fine", "reason": ""}, "reason", "needs a reason"),
        ({"decision": "fulfilled", "reason": "klaar"}, "decision", "There is a shortfall"),
        (
            {"decision": "extension", "new_deadline": "2020-01-01", "reason": "x"},
            "new_deadline",
            "must be after the current deadline",
        ),
        ({"decision": "fine", "amount": "-5", "reason": "x"}, "amount", "greater than or equal"),
    ],
)
def test_settle_errors_are_shown_with_the_field(client, data, payload, field, message):
    client.force_login(data.world.adviser)
    response = client.post(url("obligation_settle", data.obligation), payload)
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors[field])
    assert not Settlement.objects.exists()


def test_fulfilled_when_realised_covers_the_obligation(client, data):
    approved(data.obligation, "25000.00")
    client.force_login(data.world.adviser)
    response = client.post(
        url("obligation_settle", data.obligation), {"decision": "fulfilled", "reason": "Behaald"}
    )
    assert response.status_code == 302
    assert Settlement.objects.get().shortfall == Decimal("0.00")


# --- Plan of approach ------------------------------------------------------------------------


def item(**overrides):
    data = {
        "block": "job",
        "planned_count": 2,
        "planned_amount": None,
        "planned_start": date(2026, 3, 1),
        "planned_end": date(2026, 12, 31),
        "description": "Twee banen",
    }
    data.update(overrides)
    return data


def submitted_plan(data, n=1):
    return plans.submit_plan(
        acting_user=data.world.contractor_a_user,
        obligation=data.obligation,
        items=[item(description=f"Regel {i}") for i in range(n)],
    )


@pytest.mark.parametrize(
    ("persona", "status", "form"),
    [
        ("adviser", 200, True),
        ("officer_noordwijk", 200, False),
        ("council_noordwijk", 200, False),
        ("contractor_a_user", 200, False),
        ("officer_katwijk", 404, False),
        ("contractor_b_user", 404, False),
        ("outsider", 404, False),
    ],
)
def test_plan_review_page_per_persona(client, data, persona, status, form):
    submitted_plan(data)
    response = as_user(client, getattr(data.world, persona)).get(
        url("plan_review", data.obligation)
    )
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert "Regel 0" in html
        assert ('name="decision"' in html) == form


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("officer_noordwijk", 403),
        ("council_noordwijk", 403),
        ("contractor_a_user", 403),
        ("officer_katwijk", 404),
        ("contractor_b_user", 404),
        ("outsider", 404),
    ],
)
def test_plan_review_post_is_for_the_adviser(client, data, persona, status):
    plan = submitted_plan(data)
    response = as_user(client, getattr(data.world, persona)).post(
        url("plan_review", data.obligation), {"decision": "approve"}
    )
    assert response.status_code == status
    plan.refresh_from_db()
    assert plan.status == PlanOfApproach.Status.SUBMITTED


def test_adviser_approves_the_plan(client, data):
    plan = submitted_plan(data)
    client.force_login(data.world.adviser)
    response = client.post(url("plan_review", data.obligation), {"decision": "approve"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.reviewed_by) == ("approved", data.world.adviser)


def test_adviser_returns_the_plan_with_a_comment(client, data):
    plan = submitted_plan(data)
    client.force_login(data.world.adviser)
    response = client.post(
        url("plan_review", data.obligation), {"decision": "return", "comment": "Meer BBL"}
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.review_comment) == ("returned", "Meer BBL")
    assert "Meer BBL" in client.get(url("plan_review", data.obligation)).content.decode()


def test_returning_needs_a_comment(client, data):
    plan = submitted_plan(data)
    client.force_login(data.world.adviser)
    response = client.post(url("plan_review", data.obligation), {"decision": "return"})
    assert response.status_code == 200
    assert response.context["form"].errors["comment"]
    plan.refresh_from_db()
    assert plan.status == "submitted"


def test_no_plan_yet(client, data):
    client.force_login(data.world.adviser)
    response = client.get(url("plan_review", data.obligation))
    assert "has not submitted a plan" in response.content.decode()
    assert not response.context["may_review"]
    response = client.post(url("plan_review", data.obligation), {"decision": "approve"})
    assert "There is no plan to review" in response.content.decode()


def test_adviser_enters_a_plan_for_the_contractor(client, data):
    client.force_login(data.world.adviser)
    payload = {
        "items-TOTAL_FORMS": "3",
        "items-INITIAL_FORMS": "0",
        "items-0-block": "bbl",
        "items-0-planned_count": "2",
        "items-0-planned_amount": "",
        "items-0-planned_start": "2026-03-01",
        "items-0-planned_end": "2026-12-31",
        "items-0-description": "Twee BBL-plekken",
    }
    response = client.post(url("plan_enter", data.obligation), payload)
    assert response.status_code == 302
    plan = plans.current_plan(user=data.world.adviser, obligation=data.obligation)
    assert (plan.version, plan.status, plan.submitted_by) == (1, "submitted", data.world.adviser)
    assert [(i.block, i.planned_count) for i in plan.items.all()] == [("bbl", 2)]


def test_plan_entry_validates_lines(client, data):
    client.force_login(data.world.adviser)
    payload = {
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-0-block": "job",
        "items-0-planned_start": "2026-03-01",
        "items-0-planned_end": "2026-01-01",
        "items-0-planned_count": "1",
    }
    response = client.post(url("plan_enter", data.obligation), payload)
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["planned_end"]
    empty = {"items-TOTAL_FORMS": "2", "items-INITIAL_FORMS": "0"}
    response = client.post(url("plan_enter", data.obligation), empty)
    assert "at least one line" in response.content.decode()
    assert not PlanOfApproach.objects.exists()


def test_plan_entry_while_a_plan_awaits_review_shows_the_error(client, data):
    submitted_plan(data)
    client.force_login(data.world.adviser)
    payload = {
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-block": "job",
        "items-0-planned_count": "1",
        "items-0-planned_start": "2026-03-01",
        "items-0-planned_end": "2026-04-01",
    }
    response = client.post(url("plan_enter", data.obligation), payload)
    assert response.status_code == 200
    assert "waiting for the adviser" in response.content.decode()
    assert PlanOfApproach.objects.count() == 1


# --- Query budgets ---------------------------------------------------------------------------


def count_queries(client, target) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_plan_review_query_count_does_not_grow_with_lines_or_versions(client, data):
    client.force_login(data.world.adviser)
    first = submitted_plan(data, n=3)
    few = count_queries(client, url("plan_review", data.obligation))
    plans.return_plan(acting_user=data.world.adviser, plan=first, comment="meer")
    submitted_plan(data, n=30)
    assert count_queries(client, url("plan_review", data.obligation)) == few


def test_settle_query_count_does_not_grow_with_contributions(client, data):
    client.force_login(data.world.adviser)
    for _ in range(3):
        approved(data.obligation, "100.00")
    few = count_queries(client, url("obligation_settle", data.obligation))
    for _ in range(27):
        approved(data.obligation, "100.00")
    assert count_queries(client, url("obligation_settle", data.obligation)) == few
