"""The back-office contract and obligation screens, with the personas of ``world``.

For every view: who gets the page with the data, who gets 404 (may not see it), who gets 403
(may see it but not do this), and that the anonymous visitor is sent to the login page. Then
what the screens do: filters, sorting, totals, the obligation preview before saving, saving
through the services, the change history, and query budgets that do not grow with rows.

World policy (both municipalities, valid from 01-01-2020): threshold 100,000, 5%, 90 grace days.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from contracts import services
from contracts.models import Contract, Contractor, Obligation, ObligationChange, Settlement
from placements.models import Contribution
from tests import factories as f

D = Decimal


@pytest.fixture(autouse=True)
def _english_pages(client):
    """The pages in English (the tests assert on the source strings); one test below looks at
    the Dutch page."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def today() -> date:
    return timezone.localdate()


@pytest.fixture
def nwk(world):
    """A Noordwijk contract of contractor A with an obligation of 25,000 (open)."""
    contract = f.ContractFactory(
        municipality=world.noordwijk,
        contractor=world.contractor_a,
        reference="NWK-001",
        title="Herinrichting Dorpsstraat",
    )
    f.ObligationFactory(contract=contract)
    return contract


@pytest.fixture
def kwk(world):
    contract = f.ContractFactory(
        municipality=world.katwijk,
        contractor=world.contractor_b,
        reference="KWK-001",
        title="Groenonderhoud Boulevard",
    )
    f.ObligationFactory(contract=contract)
    return contract


def get(client, user, url, **params):
    if user is not None:
        client.force_login(user)
    return client.get(url, params)


def assert_login_redirect(response):
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- Access: who gets what ---------------------------------------------------------------------

LIST_URLS = ["contracts:contract_list", "contracts:obligation_list"]


@pytest.mark.parametrize("name", LIST_URLS)
@pytest.mark.parametrize(
    "persona", ["officer_noordwijk", "adviser", "council_noordwijk", "functional_admin"]
)
def test_lists_show_own_municipality(client, world, nwk, kwk, name, persona):
    response = get(client, getattr(world, persona), reverse(name))
    assert response.status_code == 200
    assert "NWK-001" in response.text


@pytest.mark.parametrize("name", LIST_URLS)
def test_lists_hide_other_municipality(client, world, nwk, kwk, name):
    response = get(client, world.officer_katwijk, reverse(name))
    assert response.status_code == 200
    assert "KWK-001" in response.text
    assert "NWK-001" not in response.text
    response = get(client, world.council_noordwijk, reverse(name))
    assert "KWK-001" not in response.text


@pytest.mark.parametrize("name", LIST_URLS)
@pytest.mark.parametrize("persona", ["contractor_a_user", "contractor_b_user", "outsider"])
def test_lists_not_found_for_non_staff(client, world, nwk, name, persona):
    response = get(client, getattr(world, persona), reverse(name))
    assert response.status_code == 404
    assert "NWK-001" not in response.text


@pytest.mark.parametrize(
    "name",
    [*LIST_URLS, "contracts:contract_create"],
)
def test_anonymous_redirected_to_login(client, name):
    assert_login_redirect(client.get(reverse(name)))


@pytest.mark.parametrize(
    "name",
    ["contracts:contract_detail", "contracts:contract_edit", "contracts:obligation_detail"],
)
def test_anonymous_redirected_to_login_for_objects(client, nwk, name):
    pk = nwk.obligation.pk if name == "contracts:obligation_detail" else nwk.pk
    assert_login_redirect(client.get(reverse(name, args=[pk])))
    assert_login_redirect(client.post(reverse(name, args=[pk]), {}))


@pytest.mark.parametrize(
    "persona,status",
    [
        ("officer_noordwijk", 200),
        ("adviser", 200),
        ("council_noordwijk", 200),
        ("mixed_user", 200),  # council viewer of Noordwijk
        ("functional_admin", 200),
        ("officer_katwijk", 404),
        ("council_katwijk", 404),
        ("adviser_katwijk", 404),
        ("contractor_a_user", 404),  # the contract's own contractor: the portal, not here
        ("contractor_b_user", 404),
        ("outsider", 404),
    ],
)
def test_contract_detail_access(client, world, nwk, persona, status):
    response = get(
        client, getattr(world, persona), reverse("contracts:contract_detail", args=[nwk.pk])
    )
    assert response.status_code == status
    if status == 404:
        assert "Herinrichting Dorpsstraat" not in response.text


def test_contract_detail_unknown_pk_is_404(client, world):
    assert (
        get(client, world.adviser, reverse("contracts:contract_detail", args=[99999])).status_code
        == 404
    )


@pytest.mark.parametrize(
    "persona,status",
    [
        ("officer_noordwijk", 200),
        ("adviser", 200),
        ("council_noordwijk", 403),
        ("mixed_user", 403),
        ("functional_admin", 403),
        ("officer_katwijk", 404),
        ("council_katwijk", 404),
        ("contractor_a_user", 404),
        ("contractor_b_user", 404),
        ("outsider", 404),
    ],
)
def test_contract_edit_access(client, world, nwk, persona, status):
    url = reverse("contracts:contract_edit", args=[nwk.pk])
    assert get(client, getattr(world, persona), url).status_code == status
    # POST is refused the same way, and changes nothing.
    response = client.post(url, {"save": "1", "title": "Gehackt"})
    assert response.status_code == (200 if status == 200 else status)
    nwk.refresh_from_db()
    assert nwk.title == "Herinrichting Dorpsstraat"


@pytest.mark.parametrize(
    "persona,status",
    [
        ("officer_noordwijk", 200),
        ("adviser", 200),
        ("council_noordwijk", 403),
        ("functional_admin", 403),
        ("contractor_a_user", 404),
        ("outsider", 404),
    ],
)
def test_contract_create_access(client, world, persona, status):
    url = reverse("contracts:contract_create")
    assert get(client, getattr(world, persona), url).status_code == status
    response = client.post(url, {"save": "1", **contract_data(world)})
    assert response.status_code == (302 if status == 200 else status)
    assert Contract.objects.exists() == (status == 200)


@pytest.mark.parametrize(
    "persona,status",
    [
        ("officer_noordwijk", 302),
        ("adviser", 302),
        ("council_noordwijk", 302),
        ("officer_katwijk", 404),
        ("council_katwijk", 404),
        ("contractor_a_user", 404),
        ("outsider", 404),
    ],
)
def test_obligation_detail_redirects_to_contract(client, world, nwk, persona, status):
    url = reverse("contracts:obligation_detail", args=[nwk.obligation.pk])
    response = get(client, getattr(world, persona), url)
    assert response.status_code == status
    if status == 302:
        assert response.url == reverse("contracts:contract_detail", args=[nwk.pk]) + "#obligation"


# --- Council viewers: read only ----------------------------------------------------------------


def test_council_viewer_sees_no_edit_buttons(client, world, nwk):
    response = get(
        client, world.council_noordwijk, reverse("contracts:contract_detail", args=[nwk.pk])
    )
    assert response.status_code == 200
    assert reverse("contracts:contract_edit", args=[nwk.pk]) not in response.text
    response = get(client, world.council_noordwijk, reverse("contracts:contract_list"))
    assert reverse("contracts:contract_create") not in response.text


def test_officer_sees_edit_and_new_buttons(client, world, nwk):
    response = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[nwk.pk])
    )
    assert reverse("contracts:contract_edit", args=[nwk.pk]) in response.text
    response = get(client, world.officer_noordwijk, reverse("contracts:contract_list"))
    assert reverse("contracts:contract_create") in response.text


def test_adviser_actions_only_for_adviser(client, world, nwk, settings):
    """The agree/settle links appear for the adviser once those screens exist (their URL names
    are resolved with ``as``, so a missing name never breaks the page)."""
    response = get(client, world.adviser, reverse("contracts:contract_detail", args=[nwk.pk]))
    assert response.status_code == 200
    officer = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[nwk.pk])
    )
    for url_name in ("contracts:obligation_agree", "contracts:obligation_settle"):
        try:
            url = reverse(url_name, args=[nwk.obligation.pk])
        except NoReverseMatch:  # built by another screen; not there yet
            url = None
        if url is None:
            assert 'href="None"' not in response.text
            continue
        assert url in response.text
        assert url not in officer.text


# --- Contract detail content ---------------------------------------------------------------------


def test_contract_detail_shows_obligation_progress_contributions_history(client, world):
    contract, obligation = services.create_contract(
        acting_user=world.officer_noordwijk, **contract_fields(world)
    )
    f.ContributionFactory(obligation=obligation, value=D("5000.00"), approved=True)
    f.ContributionFactory(obligation=obligation, value=D("2500.00"))  # submitted
    response = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[contract.pk])
    )
    text = response.text
    assert "€ 25,000.00" in text  # the obligation
    assert 'role="progressbar"' in text
    assert 'aria-valuenow="20.0"' in text  # 5,000 of 25,000 realised
    assert "€ 7,500.00" in text  # reported incl. approved
    # The explanation lines, as stored on the obligation.
    for line in obligation.explanation:
        assert line in text
    assert "Computed at award" in text  # the change history
    assert "€ 5,000.00" in text and "€ 2,500.00" in text


def test_personal_data_only_for_adviser(client, world, nwk):
    candidate = f.CandidateFactory(contractor=world.contractor_a, initials="Q.X.", birth_year=1971)
    f.ContributionFactory(obligation=nwk.obligation, candidate=candidate)
    candidate.refresh_from_db()
    url = reverse("contracts:contract_detail", args=[nwk.pk])
    adviser = get(client, world.adviser, url).text
    assert candidate.code in adviser and "Q.X." in adviser and "1971" in adviser
    for persona in ("officer_noordwijk", "council_noordwijk", "mixed_user", "functional_admin"):
        text = get(client, getattr(world, persona), url).text
        assert candidate.code in text
        assert "Q.X." not in text and "1971" not in text


def test_contract_detail_below_threshold_and_missing(client, world):
    below = f.ContractFactory(municipality=world.noordwijk, below_threshold=True)
    missing = f.ContractFactory(municipality=world.noordwijk)  # 500,000, no obligation
    text = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[below.pk])
    ).text
    assert "below the threshold of € 100,000.00" in text
    text = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[missing.pk])
    ).text
    assert "has no SROI obligation" in text


def test_contract_detail_shows_settlement(client, world, nwk):
    Settlement.objects.create(
        obligation=nwk.obligation,
        decision=Settlement.Decision.WAIVER,
        required_amount=nwk.obligation.amount,
        realised_amount=D("0"),
        shortfall=nwk.obligation.amount,
        reason="Aantoonbaar inspanning geleverd",
        decided_by=world.adviser,
    )
    text = get(
        client, world.council_noordwijk, reverse("contracts:contract_detail", args=[nwk.pk])
    ).text
    assert "Aantoonbaar inspanning geleverd" in text
    assert "Waiver (best efforts proven)" in text


# --- Contract list: filters, sorting, totals ----------------------------------------------------


def test_contract_list_totals(client, world):
    f.ObligationFactory(
        contract=f.ContractFactory(municipality=world.noordwijk, value_excl_vat=D("200000"))
    )
    f.ContractFactory(municipality=world.noordwijk, below_threshold=True)  # 50,000
    f.ObligationFactory(contract=f.ContractFactory(municipality=world.katwijk))  # not visible
    response = get(client, world.officer_noordwijk, reverse("contracts:contract_list"))
    totals = response.context["totals"]
    assert totals["count"] == 2
    assert totals["with_obligation"] == 1
    assert totals["value"] == D("250000")
    assert totals["required"] == D("10000")
    assert "€ 250,000.00" in response.text


def _status_world(world):
    t = today()
    open_ = f.ContractFactory(
        municipality=world.noordwijk,
        reference="OPEN",
        award_date=t - timedelta(days=30),
        start_date=t - timedelta(days=20),
        end_date=t + timedelta(days=300),
    )
    f.ObligationFactory(contract=open_)
    overdue = f.ContractFactory(municipality=world.noordwijk, reference="LATE", overdue=True)
    f.ObligationFactory(contract=overdue, deadline=t - timedelta(days=1))
    settled = f.ContractFactory(municipality=world.noordwijk, reference="DONE", overdue=True)
    f.ObligationFactory(contract=settled, status=Obligation.Status.SETTLED)
    f.ContractFactory(municipality=world.noordwijk, reference="SMALL", below_threshold=True)
    f.ContractFactory(municipality=world.noordwijk, reference="MISSING")


@pytest.mark.parametrize(
    "status,expected",
    [
        ("obligation", {"OPEN"}),
        ("overdue", {"LATE"}),
        ("settled", {"DONE"}),
        ("below_threshold", {"SMALL"}),
        ("missing", {"MISSING"}),
        ("", {"OPEN", "LATE", "DONE", "SMALL", "MISSING"}),
    ],
)
def test_contract_list_status_filter(client, world, status, expected):
    _status_world(world)
    response = get(
        client, world.officer_noordwijk, reverse("contracts:contract_list"), status=status
    )
    assert {c.reference for c in response.context["contracts"]} == expected


def test_contract_list_filters_year_contractor_text(client, world):
    a = f.ContractFactory(
        municipality=world.noordwijk,
        contractor=world.contractor_a,
        reference="A-1",
        title="Riolering Zeeweg",
    )
    f.ContractFactory(
        municipality=world.noordwijk, contractor=world.contractor_b, reference="B-1", overdue=True
    )
    user = world.officer_noordwijk
    url = reverse("contracts:contract_list")

    def refs(**params):
        return {c.reference for c in get(client, user, url, **params).context["contracts"]}

    assert refs(contractor=world.contractor_a.pk) == {"A-1"}
    assert refs(award_year=2024) == {"B-1"}
    assert refs(award_year=2026) == {"A-1"}
    assert refs(q="zeeweg") == {"A-1"}
    assert refs(q="groenbedrijf") == {"B-1"}
    assert refs(q="a-1") == {"A-1"}
    assert refs(municipality=world.noordwijk.pk) == {"A-1", "B-1"}
    assert a.pk


def test_contract_list_filter_choices_are_scoped(client, world, nwk, kwk):
    response = get(client, world.officer_noordwijk, reverse("contracts:contract_list"))
    form = response.context["filter"].form
    assert list(form.fields["municipality"].queryset) == [world.noordwijk]
    assert list(form.fields["contractor"].queryset) == [world.contractor_a]
    # Another municipality's id is refused, not silently applied.
    response = get(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_list"),
        municipality=world.katwijk.pk,
    )
    assert response.status_code == 200
    assert "KWK-001" not in response.text
    assert "municipality" in response.context["filter"].form.errors


@pytest.mark.parametrize(
    "sort,expected",
    [
        ("reference", ["C-1", "C-2", "C-3"]),
        ("-reference", ["C-3", "C-2", "C-1"]),
        ("value", ["C-2", "C-3", "C-1"]),
        ("-value", ["C-1", "C-3", "C-2"]),
        ("award_date", ["C-3", "C-1", "C-2"]),
        ("contractor", ["C-3", "C-1", "C-2"]),
        ("title; drop table", ["C-2", "C-1", "C-3"]),  # not whitelisted: the default (-award)
    ],
)
def test_contract_list_sorting(client, world, sort, expected):
    z = f.ContractorFactory(name="Zwart")
    a = f.ContractorFactory(name="Aarts")
    f.ContractFactory(
        municipality=world.noordwijk,
        reference="C-1",
        value_excl_vat=D("900000"),
        award_date=date(2025, 6, 1),
        contractor=world.contractor_a,
    )
    f.ContractFactory(
        municipality=world.noordwijk,
        reference="C-2",
        value_excl_vat=D("100000"),
        award_date=date(2026, 1, 1),
        contractor=z,
    )
    f.ContractFactory(
        municipality=world.noordwijk,
        reference="C-3",
        value_excl_vat=D("500000"),
        award_date=date(2024, 1, 1),
        start_date=date(2024, 2, 1),
        end_date=date(2025, 1, 1),
        contractor=a,
    )
    response = get(client, world.officer_noordwijk, reverse("contracts:contract_list"), sort=sort)
    assert [c.reference for c in response.context["contracts"]] == expected


def test_contract_list_pagination(client, world):
    for _ in range(27):
        f.ContractFactory(municipality=world.noordwijk)
    url = reverse("contracts:contract_list")
    first = get(client, world.officer_noordwijk, url)
    assert len(first.context["contracts"]) == 25
    assert first.context["totals"]["count"] == 27
    second = get(client, world.officer_noordwijk, url, page=2)
    assert len(second.context["contracts"]) == 2
    assert get(client, world.officer_noordwijk, url, page="abc").status_code == 200
    assert get(client, world.officer_noordwijk, url, page=999).status_code == 200


# --- Obligation list -----------------------------------------------------------------------------


def _obligation(
    world, reference, *, start_offset, end_offset, realised=None, status="open", municipality=None
):
    t = today()
    contract = f.ContractFactory(
        municipality=municipality or world.noordwijk,
        reference=reference,
        award_date=t + timedelta(days=start_offset),
        start_date=t + timedelta(days=start_offset),
        end_date=t + timedelta(days=end_offset),
        value_excl_vat=D("200000"),
    )
    obligation = f.ObligationFactory(
        contract=contract,
        window_start=t + timedelta(days=start_offset),
        deadline=t + timedelta(days=end_offset),
        status=status,
    )  # amount 10,000
    if realised:
        f.ContributionFactory(obligation=obligation, value=realised, approved=True)
    return obligation


def _obligation_world(world):
    # Half the window has passed: 50% expected.
    _obligation(world, "BEHIND", start_offset=-100, end_offset=100, realised=D("1000"))
    _obligation(world, "ONTRACK", start_offset=-100, end_offset=100, realised=D("6000"))
    _obligation(world, "FUTURE", start_offset=10, end_offset=400)
    _obligation(world, "LATE", start_offset=-400, end_offset=-1, realised=D("2000"))
    _obligation(
        world, "DONE", start_offset=-400, end_offset=-10, realised=D("10000"), status="settled"
    )
    _obligation(world, "KATWIJK", start_offset=-100, end_offset=100, municipality=world.katwijk)


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, {"BEHIND", "ONTRACK", "FUTURE", "LATE", "DONE"}),
        ({"status": "open"}, {"BEHIND", "ONTRACK", "FUTURE", "LATE"}),
        ({"status": "behind"}, {"BEHIND"}),
        ({"status": "overdue"}, {"LATE"}),
        ({"status": "settled"}, {"DONE"}),
        ({"progress_below": "50"}, {"BEHIND", "FUTURE", "LATE"}),
        ({"progress_below": "10"}, {"FUTURE"}),
        ({"q": "ontr"}, {"ONTRACK"}),
    ],
)
def test_obligation_list_filters(client, world, params, expected):
    _obligation_world(world)
    response = get(client, world.officer_noordwijk, reverse("contracts:obligation_list"), **params)
    assert response.status_code == 200
    assert {o.contract.reference for o in response.context["obligations"]} == expected


def test_obligation_list_deadline_range(client, world):
    _obligation_world(world)
    t = today()
    url = reverse("contracts:obligation_list")
    response = get(
        client,
        world.officer_noordwijk,
        url,
        deadline_from=(t - timedelta(days=5)).isoformat(),
        deadline_to=(t + timedelta(days=200)).isoformat(),
    )
    assert {o.contract.reference for o in response.context["obligations"]} == {
        "BEHIND",
        "ONTRACK",
        "LATE",
    }
    # An inverted range is an error at the field, not a silent empty list.
    response = get(
        client, world.officer_noordwijk, url, deadline_from="2027-01-01", deadline_to="2026-01-01"
    )
    assert "deadline_to" in response.context["filter"].form.errors


def test_obligation_list_totals_and_statuses(client, world):
    _obligation_world(world)
    f.ContributionFactory(
        obligation=Obligation.objects.get(contract__reference="FUTURE"), value=D("300")
    )
    response = get(client, world.officer_noordwijk, reverse("contracts:obligation_list"))
    totals = response.context["totals"]
    assert totals["count"] == 5
    assert totals["required"] == D("50000")
    assert totals["realised"] == D("19000")
    assert totals["reported"] == D("19300")
    statuses = {o.contract.reference: o.sroi_status for o in response.context["obligations"]}
    assert statuses == {
        "BEHIND": "behind",
        "ONTRACK": "open",
        "FUTURE": "open",
        "LATE": "overdue",
        "DONE": "settled",
    }
    assert response.text.count('role="progressbar"') == 5


@pytest.mark.parametrize(
    "sort,expected",
    [
        ("deadline", ["LATE", "DONE"]),
        ("-realised", ["DONE", "ONTRACK"]),
        ("realised", ["FUTURE", "BEHIND"]),
        ("progress", ["FUTURE", "BEHIND"]),
        ("-progress", ["DONE", "ONTRACK"]),
    ],
)
def test_obligation_list_sorting(client, world, sort, expected):
    _obligation_world(world)
    response = get(client, world.officer_noordwijk, reverse("contracts:obligation_list"), sort=sort)
    refs = [o.contract.reference for o in response.context["obligations"]]
    if sort == "deadline":
        assert refs[0] == "DONE" or refs[:2] == ["DONE", "LATE"] or refs[0] == "LATE"
        assert refs.index("DONE") < refs.index("FUTURE")
    else:
        assert refs[:2] == expected


# --- Create: preview and save ---------------------------------------------------------------------


def contract_fields(world, **overrides) -> dict:
    values = {
        "municipality": world.noordwijk,
        "reference": "NW-2026-001",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a,
        "kind": Contract.Kind.WORKS,
        "value_excl_vat": D("500000.00"),
        "award_date": date(2026, 1, 15),
        "start_date": date(2026, 2, 1),
        "end_date": date(2027, 1, 31),
        "procurement_officer": world.officer_noordwijk,
    }
    values.update(overrides)
    return values


def contract_data(world, **overrides) -> dict:
    values = {
        "municipality": world.noordwijk.pk,
        "reference": "NW-2026-001",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a.pk,
        "kind": "works",
        "value_excl_vat": "500000.00",
        "labour_cost": "",
        "award_date": "2026-01-15",
        "start_date": "2026-02-01",
        "end_date": "2027-01-31",
        "procurement_officer": world.officer_noordwijk.pk,
        "description": "",
    }
    values.update(overrides)
    return values


def post(client, user, url, data):
    client.force_login(user)
    return client.post(url, data)


def test_preview_equals_service_and_saves_nothing(client, world):
    world.contractor_a.pso_level = "trede_2"
    world.contractor_a.pso_valid_from = date(2020, 1, 1)
    world.contractor_a.pso_valid_until = date(2030, 1, 1)
    world.contractor_a.save()
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"preview": "1", **contract_data(world, value_excl_vat="432109.87")},
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    expected = services.preview_obligation(
        Contract(**contract_fields(world, value_excl_vat=D("432109.87")))
    )
    assert preview.error is None
    assert preview.computation == expected.computation
    assert preview.computation.amount == D("17284.39")  # 432,109.87 × 5% × (1 − 20%)
    assert "€ 17,284.39" in response.text
    for line in expected.computation.explanation:
        assert line in response.text
    assert not Contract.objects.exists()


def test_preview_below_threshold(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"preview": "1", **contract_data(world, value_excl_vat="99999.99")},
    )
    assert not response.context["preview"].computation.applies
    assert "No obligation: the contract is below the threshold." in response.text


def test_preview_error_shown(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"preview": "1", **contract_data(world, award_date="2015-01-15", start_date="2015-02-01")},
    )
    assert response.status_code == 200
    assert response.context["preview"].error
    assert "No SROI policy of Noordwijk is in force on 15-01-2015." in response.text


def test_enter_without_button_previews(client, world):
    response = post(
        client, world.officer_noordwijk, reverse("contracts:contract_create"), contract_data(world)
    )
    assert response.status_code == 200
    assert response.context["preview"].computation.amount == D("25000.00")
    assert not Contract.objects.exists()


def test_invalid_form_shows_errors_and_no_preview(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"preview": "1", **contract_data(world, end_date="2026-01-20")},
    )
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "The end date cannot be before the start date." in response.text
    assert "aria-describedby" in response.text or "invalid-feedback" in response.text


def test_save_creates_contract_and_obligation(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"save": "1", **contract_data(world)},
    )
    contract = Contract.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("contracts:contract_detail", args=[contract.pk])
    assert contract.obligation.amount == D("25000.00")
    assert contract.procurement_officer == world.officer_noordwijk
    change = ObligationChange.objects.get()
    assert change.kind == ObligationChange.Kind.CREATED
    assert change.changed_by == world.officer_noordwijk


def test_save_below_threshold_creates_no_obligation(client, world):
    post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"save": "1", **contract_data(world, value_excl_vat="5000")},
    )
    assert Contract.objects.count() == 1
    assert not Obligation.objects.exists()


def test_save_service_error_lands_on_form(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"save": "1", **contract_data(world, award_date="2015-01-15", start_date="2015-02-01")},
    )
    assert response.status_code == 200
    assert "No SROI policy of Noordwijk is in force" in response.text
    assert response.context["form"].non_field_errors()
    assert not Contract.objects.exists()


def test_duplicate_reference_error_at_field(client, world, nwk):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"save": "1", **contract_data(world, reference="NWK-001")},
    )
    assert response.status_code == 200
    assert (
        "Noordwijk already has a contract with reference NWK-001."
        in response.context["form"].errors["reference"]
    )


def test_officer_cannot_create_in_other_municipality(client, world):
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_create"),
        {"save": "1", **contract_data(world, municipality=world.katwijk.pk)},
    )
    assert response.status_code == 200
    assert "municipality" in response.context["form"].errors
    assert not Contract.objects.exists()


def test_create_contractor_inline_keeps_typed_fields(client, world):
    data = contract_data(world, contractor="", title="Nieuw fietspad")
    data.update(
        {
            "create_contractor": "1",
            "new_contractor-name": "Fietspaden C B.V.",
            "new_contractor-kvk_number": "5555 1234",
            "new_contractor-city": "Lisse",
        }
    )
    response = post(client, world.officer_noordwijk, reverse("contracts:contract_create"), data)
    assert response.status_code == 200
    contractor = Contractor.objects.get(kvk_number="55551234")
    assert contractor.name == "Fietspaden C B.V." and contractor.city == "Lisse"
    form = response.context["form"]
    assert not form.is_bound
    assert str(form.initial["contractor"]) == str(contractor.pk)
    assert "Nieuw fietspad" in response.text
    assert f'<option value="{contractor.pk}" selected>' in response.text
    assert not Contract.objects.exists()


def test_create_contractor_inline_errors(client, world):
    data = contract_data(world)
    data.update(
        {"create_contractor": "1", "new_contractor-name": "X", "new_contractor-kvk_number": "123"}
    )
    response = post(client, world.officer_noordwijk, reverse("contracts:contract_create"), data)
    assert response.status_code == 200
    assert "kvk_number" in response.context["contractor_form"].errors
    assert Contractor.objects.count() == 2


# --- Edit ---


def _created(world):
    contract, _ = services.create_contract(
        acting_user=world.officer_noordwijk, **contract_fields(world)
    )
    return contract


def test_edit_records_obligation_change(client, world):
    contract = _created(world)
    url = reverse("contracts:contract_edit", args=[contract.pk])
    data = {"save": "1", **contract_data(world, value_excl_vat="600000.00")}
    response = post(client, world.officer_noordwijk, url, data)
    assert response.status_code == 200
    assert "change_reason" in response.context["form"].errors
    assert ObligationChange.objects.count() == 1  # only "created"

    data["change_reason"] = "Meerwerk fase 2"
    response = post(client, world.officer_noordwijk, url, data)
    assert response.status_code == 302
    change = ObligationChange.objects.filter(kind=ObligationChange.Kind.RECOMPUTED).get()
    assert (change.old_amount, change.new_amount) == (D("25000.00"), D("30000.00"))
    assert change.reason == "Meerwerk fase 2"
    assert change.changed_by == world.officer_noordwijk
    text = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[contract.pk])
    ).text
    assert "Meerwerk fase 2" in text
    assert "Recomputed after contract change" in text


def test_edit_preview_shows_current_and_new(client, world):
    contract = _created(world)
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_edit", args=[contract.pk]),
        {"preview": "1", **contract_data(world, value_excl_vat="600000.00")},
    )
    assert response.context["preview"].computation.amount == D("30000.00")
    assert "€ 25,000.00" in response.text and "€ 30,000.00" in response.text
    contract.refresh_from_db()
    assert contract.value_excl_vat == D("500000.00")


def test_edit_title_only(client, world):
    contract = _created(world)
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_edit", args=[contract.pk]),
        {"save": "1", **contract_data(world, title="Nieuwe titel")},
    )
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.title == "Nieuwe titel"
    assert ObligationChange.objects.count() == 1


def test_edit_of_settled_obligation_refused_on_form(client, world):
    contract = _created(world)
    Obligation.objects.filter(contract=contract).update(status=Obligation.Status.SETTLED)
    response = post(
        client,
        world.officer_noordwijk,
        reverse("contracts:contract_edit", args=[contract.pk]),
        {
            "save": "1",
            "change_reason": "Meerwerk",
            **contract_data(world, value_excl_vat="600000.00"),
        },
    )
    assert response.status_code == 200
    assert "The obligation is settled" in response.text
    contract.refresh_from_db()
    assert contract.value_excl_vat == D("500000.00")


# --- Query budgets ---


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _contracts_with_obligations(world, n):
    for i in range(n):
        contractor = f.ContractorFactory()
        contract = f.ContractFactory(
            municipality=world.noordwijk, contractor=contractor, below_threshold=i % 3 == 0
        )
        if i % 3:
            obligation = f.ObligationFactory(contract=contract)
            f.ContributionFactory(obligation=obligation, approved=i % 2 == 0)


@pytest.mark.parametrize("name", LIST_URLS)
@pytest.mark.parametrize("persona", ["officer_noordwijk", "adviser"])
def test_list_query_count_constant(client, world, name, persona):
    client.force_login(getattr(world, persona))
    url = reverse(name)
    _contracts_with_obligations(world, 3)
    few = _queries(client, url)
    _contracts_with_obligations(world, 27)
    many = _queries(client, url)
    assert few == many


@pytest.mark.parametrize("persona", ["officer_noordwijk", "adviser", "mixed_user"])
def test_contract_detail_query_count_constant(client, world, persona):
    contract = _created(world)
    obligation = contract.obligation
    client.force_login(getattr(world, persona))
    url = reverse("contracts:contract_detail", args=[contract.pk])

    def add(n):
        for i in range(n):
            f.ContributionFactory(obligation=obligation, approved=i % 2 == 0)
            ObligationChange.objects.create(
                obligation=obligation, kind=ObligationChange.Kind.AGREED, changed_by=world.adviser
            )
        Settlement.objects.create(
            obligation=obligation,
            decision=Settlement.Decision.EXTENSION,
            required_amount=obligation.amount,
            realised_amount=D("0"),
            shortfall=obligation.amount,
            new_deadline=obligation.deadline + timedelta(days=30 * n),
            reason="Herstelperiode",
            decided_by=world.adviser,
        )

    add(3)
    few = _queries(client, url)
    add(27)
    many = _queries(client, url)
    assert few == many
    assert Contribution.objects.filter(obligation=obligation).count() == 30


def test_dutch_page_formats_amounts_and_dates(client, world, nwk):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "nl"
    text = get(
        client, world.officer_noordwijk, reverse("contracts:contract_detail", args=[nwk.pk])
    ).text
    assert '<html lang="nl">' in text
    assert "€ 500.000,00" in text  # the contract value
    assert "€ 25.000,00" in text  # the obligation
    assert "15-01-2026" in text  # the award date
    assert 'aria-valuenow="0"' in text or 'aria-valuenow="0.0"' in text  # never "0,0"


@pytest.mark.parametrize(
    "realised,expected",
    [
        (D("3900"), "behind"),  # 39% realised, 50% of the window elapsed: > 10 points behind
        (D("4100"), "open"),  # 41%: within the 10-point margin, on track
        (D("10000"), "fulfilled"),  # all realised, not settled yet
        (D("12000"), "fulfilled"),
    ],
)
def test_obligation_status_behind_margin_and_fulfilled(client, world, realised, expected):
    _obligation(world, "X", start_offset=-100, end_offset=100, realised=realised)
    response = get(client, world.officer_noordwijk, reverse("contracts:obligation_list"))
    (obligation,) = response.context["obligations"]
    assert obligation.sroi_status == expected
    filtered = get(
        client, world.officer_noordwijk, reverse("contracts:obligation_list"), status=expected
    )
    assert [o.contract.reference for o in filtered.context["obligations"]] == ["X"]
