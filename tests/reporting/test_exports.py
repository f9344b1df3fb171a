"""The workbook opens and has the sheets, headers, formats, frozen panes, filters and chart;
the CSV parses; neither holds personal data or formulas from user input."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from reporting import exports, periods, selectors
from tests import factories as f

from .conftest import AS_OF

D = Decimal


@pytest.fixture
def report(dataset):
    w = dataset.world
    scope = selectors.report_scope(user=w.adviser, municipality=None)
    return selectors.build_report(scope=scope, period=periods.year_period(2026), as_of=AS_OF)


@pytest.fixture
def workbook(report):
    buffer = io.BytesIO()
    exports.write_workbook(report, buffer)
    buffer.seek(0)
    return load_workbook(buffer)


def header(ws, row=1):
    return [c.value for c in ws[row] if c.value is not None]


def column(ws, name, header_row=1):
    names = [c.value for c in ws[header_row]]
    index = names.index(name)
    return [row[index] for row in ws.iter_rows(min_row=header_row + 1)]


def test_workbook_has_the_four_sheets(workbook):
    assert workbook.sheetnames == ["Samenvatting", "Opdrachten", "Inzet", "Definities"]


def test_summary_sheet(workbook, report):
    ws = workbook["Samenvatting"]
    assert ws["A1"].value == "SROI progress report"
    assert ws["B2"].value == "Katwijk, Noordwijk"
    assert header(ws, 7) == exports.summary_headers()
    assert [ws.cell(row=r, column=1).value for r in (8, 9, 10)] == [
        "Katwijk",
        "Noordwijk",
        "Total",
    ]
    required = ws.cell(row=9, column=7)
    assert D(str(required.value)) == D("46000.00")
    assert required.number_format == "€ #,##0.00"
    fulfilment = ws.cell(row=9, column=10)
    assert fulfilment.number_format == "0.0%"
    assert round(fulfilment.value, 3) == 0.457
    assert ws["B4"].number_format == "dd-mm-yyyy"
    assert ws.freeze_panes == "B8"
    assert ws.auto_filter.ref == "A7:Q9"
    assert ws.column_dimensions["A"].width == 30
    values = [c.value for row in ws.iter_rows() for c in row]
    assert "Not yet available: monitoring is not built yet." in values


def test_summary_chart_compares_required_and_realised(workbook):
    charts = workbook["Samenvatting"]._charts
    assert len(charts) == 1
    chart = charts[0]
    assert chart.tagname == "barChart"
    refs = [s.val.numRef.f for s in chart.series]
    assert refs == ["'Samenvatting'!$G$8:$G$9", "'Samenvatting'!$I$8:$I$9"]
    assert [s.tx.strRef.f for s in chart.series] == ["'Samenvatting'!G7", "'Samenvatting'!I7"]
    assert chart.series[0].cat.numRef.f == "'Samenvatting'!$A$8:$A$9" or (
        chart.series[0].cat.strRef.f == "'Samenvatting'!$A$8:$A$9"
    )


def test_contracts_sheet(workbook, report):
    ws = workbook["Opdrachten"]
    assert header(ws) == exports.contract_headers()
    assert ws.freeze_panes == "C2"
    assert ws.auto_filter.ref == f"A1:P{report.total.contracts + 1}"
    assert ws.max_row == report.total.contracts + 1
    assert ws.column_dimensions["C"].width == 40
    required = column(ws, "Required")
    assert sum(D(str(c.value)) for c in required if c.value is not None) == D("86000.00")
    assert {c.number_format for c in required if c.value is not None} == {"€ #,##0.00"}
    assert {c.number_format for c in column(ws, "Award date")} == {"dd-mm-yyyy"}
    assert "Yes" in [c.value for c in column(ws, "Above threshold without obligation")]


def test_contributions_sheet_is_pseudonymous(workbook, report, dataset):
    ws = workbook["Inzet"]
    assert header(ws) == exports.contribution_headers()
    assert ws.freeze_panes == "C2"
    assert ws.max_row == report.total.contribution_rows + 1
    assert ws.auto_filter.ref == f"A1:N{report.total.contribution_rows + 1}"
    codes = {c.value for c in column(ws, "Candidate code")} - {None}
    assert codes and all(code.startswith("K-T") for code in codes)
    everything = {str(c.value) for row in ws.iter_rows() for c in row}
    assert "Q.Z." not in everything and "1961" not in everything
    assert "A.B." not in everything
    realised = column(ws, "Realised")
    assert sum(D(str(c.value)) for c in realised) == report.total.realised
    assert {c.number_format for c in realised} == {"€ #,##0.00"}


def test_definitions_sheet(workbook):
    ws = workbook["Definities"]
    assert header(ws) == ["Figure", "Definition"]
    terms = [c.value for c in column(ws, "Figure")]
    for term in ("Required", "Reported", "Realised", "Settled", "People placed", "Open flags"):
        assert term in terms
    assert ws.freeze_panes == "A2"


def test_text_that_looks_like_a_formula_stays_text(world):
    contract = f.ContractFactory(
        municipality=world.noordwijk, title='=HYPERLINK("http://evil","x")'
    )
    f.ObligationFactory(contract=contract)
    scope = selectors.system_scope([world.noordwijk])
    report = selectors.build_report(scope=scope, period=periods.year_period(2026), as_of=AS_OF)
    buffer = io.BytesIO()
    exports.write_workbook(report, buffer)
    buffer.seek(0)
    cell = column(load_workbook(buffer)["Opdrachten"], "Title")[0]
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")
    rows = list(
        csv.reader(io.StringIO("".join(exports.csv_stream(report, "contracts"))[1:]), delimiter=";")
    )
    assert rows[1][2] == '\'=HYPERLINK("http://evil","x")'


def parse_csv(report, table):
    text = "".join(exports.csv_stream(report, table))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_csv_summary_parses_with_decimal_commas(report):
    rows = parse_csv(report, "summary")
    assert rows[0] == exports.summary_headers()
    noordwijk = dict(zip(rows[0], rows[2], strict=True))
    assert noordwijk["Municipality"] == "Noordwijk"
    assert noordwijk["Required"] == "46000,00"
    assert noordwijk["Realised"] == "21000,50"
    assert noordwijk["Fulfilment"] == "45,7"
    assert rows[-1][0] == "Total"


def test_csv_contracts_and_contributions_parse(report):
    contracts = parse_csv(report, "contracts")
    assert contracts[0] == exports.contract_headers()
    assert len(contracts) == report.total.contracts + 1
    award = contracts[0].index("Award date")
    assert all(len(row[award]) == 10 and row[award][4] == "-" for row in contracts[1:])
    contributions = parse_csv(report, "contributions")
    assert contributions[0] == exports.contribution_headers()
    assert len(contributions) == report.total.contribution_rows + 1
    realised = contributions[0].index("Realised")
    total = sum(D(row[realised].replace(",", ".")) for row in contributions[1:])
    assert total == report.total.realised


def test_filename_per_period(dataset):
    w = dataset.world
    scope = selectors.report_scope(user=w.council_noordwijk, municipality=None)
    cases = {
        periods.year_period(2026): "sroi-rapportage-noordwijk-2026",
        periods.quarter_period(2026, 3): "sroi-rapportage-noordwijk-2026-Q3",
        periods.all_period(AS_OF): "sroi-rapportage-noordwijk-t-m-2026-11-20",
    }
    for period, stem in cases.items():
        report = selectors.build_report(scope=scope, period=period, as_of=AS_OF)
        assert exports.xlsx_filename(report) == f"{stem}.xlsx"
        assert exports.csv_filename(report, "contracts") == f"{stem}-opdrachten.csv"
