"""The adviser's dashboard (issue 5, part 4): personas and scoping, totals against hand-computed
sums, flags by severity, acknowledge and snooze, charts without a CDN, the query budget, and the
adviser's home page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reporting.models import Flag, FlagKind, FlagSeverity
from tests import factories as f

D = Decimal


@pytest.fixture(autouse=True)
def _english_ui(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def dashboard_url(**query) -> str:
    url = reverse("reporting:dashboard")
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def make_flag(contract, kind=FlagKind.BEHIND_SCHEDULE, severity=FlagSeverity.WARNING, **kwargs):
    now = timezone.now()
    obligation = getattr(contract, "obligation", None)
    return Flag.objects.create(
        kind=kind,
        severity=severity,
        municipality=contract.municipality,
        contract=contract,
        obligation=kwargs.pop("obligation", obligation),
        first_seen=kwargs.pop("first_seen", now),
        last_seen=now,
        **kwargs,
    )


class Data:
    """Noordwijk: two obligations (25,000 + 10,000 required; 12,500.50 + 1,234.56 approved,
    plus a submitted and a rejected contribution that do not count); Katwijk: one obligation
    (25,000 required, 7,000 approved). Flags: a critical and a warning in Noordwijk, a warning
    in Katwijk."""

    def __init__(self, world):
        self.world = world
        nw, kw = world.noordwijk, world.katwijk
        self.n1 = f.ObligationFactory(
            contract=f.ContractFactory(
                municipality=nw, contractor=world.contractor_a, reference="NW-001"
            )
        )
        self.n2 = f.ObligationFactory(
            contract=f.ContractFactory(
                municipality=nw,
                contractor=world.contractor_b,
                reference="NW-002",
                value_excl_vat=D("200000.00"),
            )
        )
        self.k1 = f.ObligationFactory(
            contract=f.ContractFactory(
                municipality=kw, contractor=world.contractor_a, reference="KW-001"
            )
        )
        participatiewet = f.CandidateFactory(contractor=world.contractor_a)
        ww = f.CandidateFactory(contractor=world.contractor_a, target_group="ww")
        wajong = f.CandidateFactory(contractor=world.contractor_a, target_group="wajong")
        f.ContributionFactory(
            obligation=self.n1, candidate=participatiewet, value=D("10000.00"), approved=True
        )
        f.ContributionFactory(
            obligation=self.n1,
            candidate=ww,
            block="internship",
            value=D("2500.50"),
            approved=True,
        )
        f.ContributionFactory(obligation=self.n1, candidate=ww, value=D("5000.00"))
        f.ContributionFactory(
            obligation=self.n1, candidate=participatiewet, value=D("3000.00"), rejected=True
        )
        f.ContributionFactory(
            obligation=self.n2,
            candidate=None,
            block="social_purchase",
            value=D("1234.56"),
            approved=True,
        )
        f.ContributionFactory(
            obligation=self.k1, candidate=wajong, block="bbl", value=D("7000.00"), approved=True
        )
        self.flag_n1 = make_flag(self.n1.contract, FlagKind.OVERDUE, FlagSeverity.CRITICAL)
        self.flag_n2 = make_flag(self.n2.contract)
        self.flag_k1 = make_flag(self.k1.contract, FlagKind.NO_APPROVED_PLAN)


@pytest.fixture
def data(world):
    return Data(world)


def login(client, user):
    client.force_login(user)


# --- Personas --------------------------------------------------------------------------------


def test_adviser_sees_both_municipalities(client, data):
    login(client, data.world.adviser)
    response = client.get(dashboard_url())
    assert response.status_code == 200
    html = response.content.decode()
    for reference in ("NW-001", "NW-002", "KW-001"):
        assert reference in html
    names = [line.name for line in response.context["board"].totals]
    assert names == ["Katwijk", "Noordwijk"]


@pytest.mark.parametrize("persona", ["officer_noordwijk", "council_noordwijk", "functional_admin"])
def test_other_staff_get_403(client, data, persona):
    login(client, getattr(data.world, persona))
    assert client.get(dashboard_url()).status_code == 403


@pytest.mark.parametrize("persona", ["contractor_a_user", "outsider"])
def test_contractors_and_outsiders_get_404(client, data, persona):
    login(client, getattr(data.world, persona))
    assert client.get(dashboard_url()).status_code == 404


def test_anonymous_is_sent_to_login(client, data):
    response = client.get(dashboard_url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["adviser_katwijk", "mixed_user"])
def test_katwijk_adviser_sees_nothing_of_noordwijk(client, data, persona):
    """``mixed_user`` is also a council viewer of Noordwijk: that role does not mix in."""
    login(client, getattr(data.world, persona))
    response = client.get(dashboard_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "KW-001" in html
    assert "NW-001" not in html and "NW-002" not in html
    board = response.context["board"]
    assert [line.name for line in board.totals] == ["Katwijk"]
    assert board.total.required == D("25000.00")
    assert board.total.realised == D("7000.00")
    assert [flag.pk for flag in response.context["flags"]] == [data.flag_k1.pk]
    assert board.per_target_group[0].label == "Wajong" and len(board.per_target_group) == 1
    # Asking for Noordwijk by id is an invalid choice, not Noordwijk's figures.
    response = client.get(dashboard_url(municipality=data.world.noordwijk.pk))
    assert response.status_code == 200
    assert "NW-001" not in response.content.decode()
    assert [line.name for line in response.context["board"].totals] == ["Katwijk"]


def test_filter_by_municipality(client, data):
    login(client, data.world.adviser)
    response = client.get(dashboard_url(municipality=data.world.katwijk.pk))
    board = response.context["board"]
    assert [line.name for line in board.totals] == ["Katwijk"]
    assert {flag.pk for flag in response.context["flags"]} == {data.flag_k1.pk}
    assert "NW-001" not in response.content.decode()


# --- Figures ---------------------------------------------------------------------------------


def test_totals_equal_hand_computed_sums(client, data):
    login(client, data.world.adviser)
    board = client.get(dashboard_url()).context["board"]
    by_name = {line.name: line for line in board.totals}
    # 5% of 500,000 and 5% of 200,000; approved only (submitted 5,000 and rejected 3,000 not).
    assert by_name["Noordwijk"].required == D("35000.00")
    assert by_name["Noordwijk"].realised == D("13735.06")
    assert by_name["Noordwijk"].percentage == D("39.2")
    assert by_name["Noordwijk"].obligations == 2
    assert by_name["Noordwijk"].open_flags == 2
    assert by_name["Katwijk"].required == D("25000.00")
    assert by_name["Katwijk"].realised == D("7000.00")
    assert by_name["Katwijk"].percentage == D("28.0")
    assert board.total.required == D("60000.00")
    assert board.total.realised == D("20735.06")
    assert board.total.percentage == D("34.6")
    blocks = {line.key: (line.amount, line.count) for line in board.per_block}
    assert blocks == {
        "job": (D("10000.00"), 1),
        "internship": (D("2500.50"), 1),
        "bbl": (D("7000.00"), 1),
        "social_purchase": (D("1234.56"), 1),
    }
    groups = {line.key: line.amount for line in board.per_target_group}
    assert groups == {
        "participatiewet": D("10000.00"),
        "ww": D("2500.50"),
        "wajong": D("7000.00"),
        "-": D("1234.56"),  # a purchase: no person
    }


def test_municipality_without_obligations_shows_zero(client, world):
    login(client, world.adviser)
    board = client.get(dashboard_url()).context["board"]
    assert [(line.name, line.required, line.percentage) for line in board.totals] == [
        ("Katwijk", D("0.00"), None),
        ("Noordwijk", D("0.00"), None),
    ]
    assert board.urgent == [] and board.open_flags == 0


def test_flags_by_severity_and_urgent_order(client, data):
    later = f.ObligationFactory(
        contract=f.ContractFactory(
            municipality=data.world.noordwijk,
            reference="NW-LATE",
            end_date=data.n1.contract.end_date + timedelta(days=300),
        )
    )
    make_flag(later.contract, FlagKind.OVERDUE, FlagSeverity.CRITICAL)
    resolved = make_flag(data.k1.contract, FlagKind.DEADLINE_NEAR, FlagSeverity.CRITICAL)
    resolved.resolved_at = timezone.now()
    resolved.save()
    login(client, data.world.adviser)
    response = client.get(dashboard_url())
    board = response.context["board"]
    assert [(s.label, s.count) for s in board.severities] == [
        ("Critical", 2),
        ("Warning", 2),
        ("Info", 0),
    ]
    # Critical first, then the nearest deadline (then the reference).
    assert [c.reference for c in board.urgent] == ["NW-001", "NW-LATE", "KW-001", "NW-002"]
    flags = list(response.context["flags"])
    assert [flag.severity for flag in flags] == [3, 3, 2, 2]
    assert resolved.pk not in {flag.pk for flag in flags}
    html = response.content.decode()
    assert reverse("contracts:contract_detail", args=[data.n1.contract_id]) in html


def test_urgent_is_limited_to_ten(client, world):
    for i in range(12):
        obligation = f.ObligationFactory(
            contract=f.ContractFactory(municipality=world.noordwijk, reference=f"NW-{i:03d}")
        )
        make_flag(obligation.contract)
    login(client, world.adviser)
    board = client.get(dashboard_url()).context["board"]
    assert len(board.urgent) == 10
    assert board.open_flags == 12


# --- Snoozed flags -----------------------------------------------------------------------------


def test_snoozed_flags_are_hidden_unless_asked_for(client, data):
    today = timezone.localdate()
    data.flag_n2.snoozed_until = today + timedelta(days=5)
    data.flag_n2.save()
    data.flag_k1.snoozed_until = today  # the snooze ends today: shown again
    data.flag_k1.save()
    login(client, data.world.adviser)
    response = client.get(dashboard_url())
    shown = {flag.pk for flag in response.context["flags"]}
    assert shown == {data.flag_n1.pk, data.flag_k1.pk}
    assert response.context["board"].snoozed == 1
    assert "1 snoozed flag is not shown." in response.content.decode()
    assert "NW-002" not in response.content.decode()  # neither listed nor urgent

    response = client.get(dashboard_url(snoozed="on"))
    shown = {flag.pk for flag in response.context["flags"]}
    assert shown == {data.flag_n1.pk, data.flag_n2.pk, data.flag_k1.pk}
    assert "NW-002" in response.content.decode()


# --- Acknowledge -------------------------------------------------------------------------------


def ack_url(flag):
    return reverse("reporting:flag_acknowledge", args=[flag.pk])


def snooze_url(flag):
    return reverse("reporting:flag_snooze", args=[flag.pk])


def test_acknowledge_with_note(client, data):
    login(client, data.world.adviser)
    next_url = dashboard_url(municipality=data.world.noordwijk.pk)
    response = client.post(
        ack_url(data.flag_n1), {"note": "Called the contractor; plan follows.", "next": next_url}
    )
    assert response.status_code == 302 and response.url == next_url
    data.flag_n1.refresh_from_db()
    assert data.flag_n1.acknowledged_by == data.world.adviser
    assert data.flag_n1.acknowledged_at is not None
    assert data.flag_n1.acknowledge_note == "Called the contractor; plan follows."
    html = client.get(next_url).content.decode()
    assert "Acknowledged" in html and "Called the contractor; plan follows." in html


def test_acknowledge_requires_a_note(client, data):
    login(client, data.world.adviser)
    response = client.post(ack_url(data.flag_n1), {"note": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors
    data.flag_n1.refresh_from_db()
    assert data.flag_n1.acknowledged_at is None


def test_acknowledge_page_and_open_redirect(client, data):
    login(client, data.world.adviser)
    assert client.get(ack_url(data.flag_n1)).status_code == 200
    response = client.post(
        ack_url(data.flag_n1), {"note": "Seen.", "next": "https://evil.example/phish"}
    )
    assert response.status_code == 302 and response.url == dashboard_url()


def test_acknowledge_a_resolved_flag_is_a_form_error(client, data):
    data.flag_n1.resolved_at = timezone.now()
    data.flag_n1.save()
    login(client, data.world.adviser)
    response = client.post(ack_url(data.flag_n1), {"note": "Seen."})
    assert response.status_code == 200
    assert "resolved" in str(response.context["form"].non_field_errors())
    data.flag_n1.refresh_from_db()
    assert data.flag_n1.acknowledged_at is None


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("adviser_katwijk", 404),  # Noordwijk's flag is not visible to them
        ("mixed_user", 403),  # visible as council viewer of Noordwijk, not their adviser
        ("council_noordwijk", 403),
        ("officer_noordwijk", 403),
        ("officer_katwijk", 404),
        ("contractor_a_user", 404),
        ("outsider", 404),
    ],
)
def test_acknowledge_and_snooze_permissions(client, data, persona, status):
    login(client, getattr(data.world, persona))
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert client.post(ack_url(data.flag_n1), {"note": "x"}).status_code == status
    assert client.post(snooze_url(data.flag_n1), {"until": tomorrow}).status_code == status
    assert client.get(ack_url(data.flag_n1)).status_code == status
    data.flag_n1.refresh_from_db()
    assert data.flag_n1.acknowledged_at is None and data.flag_n1.snoozed_until is None


def test_katwijk_adviser_handles_their_own_flag(client, data):
    login(client, data.world.mixed_user)
    response = client.post(ack_url(data.flag_k1), {"note": "Plan asked for."})
    assert response.status_code == 302
    data.flag_k1.refresh_from_db()
    assert data.flag_k1.acknowledged_by == data.world.mixed_user


def test_anonymous_cannot_acknowledge(client, data):
    response = client.post(ack_url(data.flag_n1), {"note": "x"})
    assert response.status_code == 302 and reverse("login") in response.url


# --- Snooze ------------------------------------------------------------------------------------


def test_snooze_hides_the_flag_until_the_date(client, data):
    login(client, data.world.adviser)
    until = timezone.localdate() + timedelta(days=14)
    response = client.post(snooze_url(data.flag_n1), {"until": until.isoformat()})
    assert response.status_code == 302
    data.flag_n1.refresh_from_db()
    assert data.flag_n1.snoozed_until == until
    response = client.get(dashboard_url())
    assert data.flag_n1.pk not in {flag.pk for flag in response.context["flags"]}
    assert response.context["board"].snoozed == 1


@pytest.mark.parametrize(
    ("days", "ok"), [(-1, False), (0, False), (1, True), (365, True), (366, False)]
)
def test_snooze_date_must_be_in_the_coming_year(client, data, days, ok):
    login(client, data.world.adviser)
    until = timezone.localdate() + timedelta(days=days)
    response = client.post(snooze_url(data.flag_n1), {"until": until.isoformat()})
    data.flag_n1.refresh_from_db()
    if ok:
        assert response.status_code == 302
        assert data.flag_n1.snoozed_until == until
    else:
        assert response.status_code == 200
        assert "until" in response.context["form"].errors
        assert data.flag_n1.snoozed_until is None


def test_snooze_rejects_garbage(client, data):
    login(client, data.world.adviser)
    response = client.post(snooze_url(data.flag_n1), {"until": "not-a-date"})
    assert response.status_code == 200 and "until" in response.context["form"].errors


# --- Charts and accessibility of the markup -----------------------------------------------------


def test_charts_are_server_rendered_svg_with_tables(client, data):
    login(client, data.world.adviser)
    html = client.get(dashboard_url()).content.decode()
    assert html.count("<figure") == 3 and html.count("<figcaption") == 3
    assert html.count('<svg class="d-block mw-100 h-auto dashboard-chart"') == 3
    assert "style=" not in html  # no inline styles (a strict CSP comes later)
    assert "<script>" not in html and "cdn" not in html.lower()
    # Coordinates are never localised ("45,3" would break the SVG), also in Dutch.
    dutch = client.get(dashboard_url(), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "€ 13.735,06" in dutch
    coordinates = re.findall(r'\s(?:width|height|x|y|x1|x2|y1|y2|viewBox)="([^"]*)"', dutch)
    assert coordinates
    for value in coordinates:
        assert "," not in value
    # Each chart has a table with the same numbers.
    assert "Required and realised value per municipality</caption>" in html
    assert "Realised value per block</caption>" in html
    assert "Realised value per target group</caption>" in html


# --- Home page -----------------------------------------------------------------------------------


def test_home_of_an_adviser_is_the_dashboard(client, data):
    login(client, data.world.adviser)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "reporting/dashboard.html" in [t.name for t in response.templates]
    assert "NW-001" in response.content.decode()


def test_home_of_others_is_unchanged(client, data):
    login(client, data.world.officer_noordwijk)
    response = client.get(reverse("home"))
    assert "home.html" in [t.name for t in response.templates]
    assert "reporting/dashboard.html" not in [t.name for t in response.templates]
    login(client, data.world.contractor_a_user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "reporting/dashboard.html" not in [t.name for t in response.templates]


# --- Query budget --------------------------------------------------------------------------------


def _build(world, n: int) -> None:
    for i in range(n):
        municipality = world.noordwijk if i % 2 else world.katwijk
        obligation = f.ObligationFactory(
            contract=f.ContractFactory(municipality=municipality, reference=f"Q-{n}-{i:03d}")
        )
        f.ContributionFactory(obligation=obligation, approved=True)
        f.ContributionFactory(obligation=obligation, candidate=None, block="social_purchase")
        make_flag(
            obligation.contract,
            FlagKind.OVERDUE if i % 3 else FlagKind.BEHIND_SCHEDULE,
            FlagSeverity.CRITICAL if i % 3 else FlagSeverity.WARNING,
            snoozed_until=timezone.localdate() + timedelta(days=3) if i % 5 == 0 else None,
            acknowledged_at=timezone.now() if i % 4 == 0 else None,
            acknowledged_by=world.adviser if i % 4 == 0 else None,
        )


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_query_count_is_constant_in_obligations_and_flags(client, world):
    login(client, world.adviser)
    _build(world, 3)
    few = _count(client, dashboard_url())
    few_home = _count(client, reverse("home"))
    _build(world, 30)
    many = _count(client, dashboard_url())
    assert many == few
    assert _count(client, reverse("home")) == few_home
    assert _count(client, dashboard_url(snoozed="on")) <= many
