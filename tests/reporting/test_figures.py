"""The report's figures equal sums computed independently over the factory dataset."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from reporting import periods, selectors
from tests import factories as f

from .conftest import AS_OF

D = Decimal
YEAR_2026 = (date(2026, 1, 1), date(2026, 12, 31))


def report_for(user, municipality, period, as_of=AS_OF):
    scope = selectors.report_scope(user=user, municipality=municipality)
    return selectors.build_report(scope=scope, period=period, as_of=as_of)


def assert_figures(fig, expected):
    assert fig.contracts == expected["contracts"]
    assert fig.with_obligation == expected["with_obligation"]
    assert fig.exempted == expected["exempted"]
    assert fig.without_obligation == expected["without_obligation"]
    assert fig.above_threshold_without_obligation == expected["findings"]
    assert fig.required == expected["required"]
    assert fig.reported == expected["reported"]
    assert fig.realised == expected["realised"]
    assert fig.settled == expected["settled"]
    assert fig.settled_count == expected["settled_count"]
    assert fig.fines == expected["fines"]
    assert fig.buy_outs == expected["buy_outs"]
    assert fig.contribution_rows == expected["contribution_rows"]


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (periods.year_period(2026), *YEAR_2026),
        (periods.quarter_period(2026, 1), date(2026, 1, 1), date(2026, 3, 31)),
        (periods.quarter_period(2026, 3), date(2026, 7, 1), date(2026, 9, 30)),
        (
            periods.custom_period(date(2025, 1, 1), date(2026, 6, 30)),
            date(2025, 1, 1),
            date(2026, 6, 30),
        ),
        (periods.all_period(AS_OF), None, AS_OF),
    ],
    ids=["year", "q1", "q3", "custom", "all"],
)
def test_figures_equal_independent_sums(dataset, period, start, end):
    w = dataset.world
    report = report_for(w.council_noordwijk, w.noordwijk, period)
    expected = dataset.expected(w.noordwijk, start, end)
    assert_figures(report.municipalities[0], expected)
    assert report.total.people_placed == expected["people_total"]
    assert report.total.fulfilment == (
        (expected["realised"] * 100 / expected["required"]).quantize(D("0.1"))
        if expected["required"]
        else None
    )


def test_the_year_2026_in_numbers(dataset):
    """The same figures, spelled out, so a mistake in the expectations shows too."""
    w = dataset.world
    fig = report_for(w.council_noordwijk, w.noordwijk, periods.year_period(2026)).total
    assert (fig.contracts, fig.with_obligation, fig.exempted, fig.without_obligation) == (
        7,
        4,
        1,
        2,
    )
    assert fig.above_threshold_without_obligation == 1
    assert fig.required == D("46000.00")  # 25,000 + 12,000 + 6,000 + 3,000
    assert fig.realised == D("21000.50")  # 10,000 + 5,000 + 4,000.50 + 2,000
    # Everything submitted by then and not rejected by then (the 300 was rejected later).
    assert fig.reported == D("26000.75")
    assert fig.settled == D("18000.00")  # the fine (12,000) and the buy-out (6,000)
    assert (fig.fines, fig.buy_outs) == (D("8000.00"), D("5500.00"))
    assert fig.people_placed == 2  # p1 (two blocks, counted once) and p2
    assert fig.fulfilment == D("45.7")


def test_people_placed_per_target_group_and_block(dataset):
    w = dataset.world
    report = report_for(w.council_noordwijk, w.noordwijk, periods.year_period(2026))
    expected = dataset.expected(w.noordwijk, *YEAR_2026)["people"]
    blocks = [code for code, _label in report.people.blocks]
    got = {
        (row.target_group, block): n
        for row in report.people.rows
        for block, n in zip(blocks, row.counts, strict=True)
        if n
    }
    assert (
        got
        == expected
        == {
            ("participatiewet", "job"): 1,
            ("participatiewet", "internship"): 1,
            ("ww", "job"): 1,
        }
    )
    assert dict(zip(blocks, report.people.block_totals, strict=True))["job"] == 2
    assert report.people.total == 2


def test_settlement_decisions_are_counted_per_decision(dataset):
    w = dataset.world
    report = report_for(w.council_noordwijk, w.noordwijk, periods.year_period(2026))
    lines = {line.decision: (line.count, line.amount) for line in report.decisions}
    assert lines["fine"] == (1, D("8000.00"))
    assert lines["buy_out"] == (1, D("5500.00"))
    assert lines["extension"] == (1, D("0.00"))
    assert lines["waiver"] == (0, D("0.00"))  # decided after the as-of date


def test_all_municipalities_of_the_adviser_and_the_total(dataset):
    w = dataset.world
    report = report_for(w.adviser, None, periods.year_period(2026))
    assert [f.municipality for f in report.municipalities] == [w.katwijk, w.noordwijk]
    for fig in report.municipalities:
        assert_figures(fig, dataset.expected(fig.municipality, *YEAR_2026))
    assert report.total.required == sum(f.required for f in report.municipalities)
    assert report.total.realised == D("21000.50") + D("31000.00")
    assert report.total.people_placed == 3


def test_an_as_of_date_in_the_past_shows_what_was_known_then(dataset):
    w = dataset.world
    as_of = date(2026, 4, 15)
    report = report_for(w.council_noordwijk, w.noordwijk, periods.year_period(2026), as_of)
    expected = dataset.expected(w.noordwijk, *YEAR_2026, as_of=as_of)
    assert_figures(report.total, expected)
    assert report.total.contracts == 3  # c7 (January), c1 (February), c5 (March)
    assert report.total.realised == D("0.00")  # the approvals were on 1 May
    assert report.total.reported == expected["reported"] > 0


def test_row_tables_match_the_summary(dataset):
    w = dataset.world
    report = report_for(w.council_noordwijk, w.noordwijk, periods.year_period(2026))
    lines = [selectors.contract_line(c) for c in selectors.contract_rows(report)]
    assert len(lines) == report.total.contracts
    assert sum((line.required or 0 for line in lines), D("0")) == report.total.required
    assert sum((line.realised or 0 for line in lines), D("0")) == report.total.realised
    assert sum((line.reported or 0 for line in lines), D("0")) == report.total.reported
    finding = [line for line in lines if line.above_threshold_without_obligation]
    assert len(finding) == 1 and finding[0].obligation == "no"
    rows = list(selectors.contribution_rows(report))
    assert len(rows) == report.total.contribution_rows
    status = dict(zip(selectors.CONTRIBUTION_COLUMNS, zip(*rows, strict=True), strict=True))[
        "status_as_of"
    ]
    # The approval and the rejection decided after the as-of date show as submitted.
    assert status.count("submitted") == 3


def test_contribution_rows_hold_no_personal_data(dataset):
    w = dataset.world
    report = report_for(w.council_noordwijk, w.noordwijk, periods.all_period(AS_OF))
    columns = set(selectors.CONTRIBUTION_COLUMNS)
    assert not columns & {"initials", "birth_year", "target_group", "description"}
    flat = {str(v) for row in selectors.contribution_rows(report) for v in row}
    assert "Q.Z." not in flat and "1961" not in flat and "ww" not in flat


def test_summary_query_count_does_not_grow_with_rows(world):
    def build():
        with CaptureQueriesContext(connection) as ctx:
            scope = selectors.report_scope(user=fresh(world.adviser), municipality=None)
            selectors.build_report(scope=scope, period=periods.year_period(2026), as_of=AS_OF)
        return len(ctx.captured_queries)

    def add(n):
        for _ in range(n):
            o = f.ObligationFactory(contract__municipality=world.noordwijk)
            f.ContributionFactory(obligation=o, approved=True)
            f.ContributionFactory(obligation=o)

    add(3)
    few = build()
    add(27)
    assert build() == few


def fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_scope_refuses_what_the_user_may_not_export(dataset):
    w = dataset.world
    with pytest.raises(Http404):
        selectors.report_scope(user=w.council_katwijk, municipality=w.noordwijk)
    for user in (w.contractor_a_user, w.outsider, w.functional_admin):
        with pytest.raises(PermissionDenied):
            selectors.report_scope(user=user, municipality=None)
    scope = selectors.report_scope(user=w.council_katwijk, municipality=None)
    assert scope.municipalities == (w.katwijk,)
