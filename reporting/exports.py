"""The report as an Excel workbook (openpyxl, write-only) and as CSV.

Memory does not grow with the number of rows: the row tables are read with
``.iterator(chunk_size=...)`` and written with ``Workbook(write_only=True)``, which streams each
sheet to a temporary file; the finished workbook goes to a ``SpooledTemporaryFile`` (on disk
above ``REPORT_SPOOL_MAX_BYTES``) that the view streams to the browser. CSV rows are yielded
one by one to a ``StreamingHttpResponse``.

Every text that came from users (titles, names) is written as text, never as a formula: an
Excel cell starting with ``=`` would otherwise be a formula, and in CSV a leading ``= + - @``
is neutralised with an apostrophe (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from contracts.models import Settlement
from placements.choices import Block
from placements.models import Contribution

from . import selectors
from .definitions import DEFINITIONS
from .selectors import ROW_CHUNK_SIZE, Figures, Report, money

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = "€ #,##0.00"
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "dd-mm-yyyy"
DATETIME_FORMAT = "dd-mm-yyyy hh:mm"
EXCEL_MAX_ROWS = 1_048_576

SHEET_SUMMARY = "Samenvatting"
SHEET_CONTRACTS = "Opdrachten"
SHEET_CONTRIBUTIONS = "Inzet"
SHEET_DEFINITIONS = "Definities"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")

CSV_TABLES = {"summary": "samenvatting", "contracts": "opdrachten", "contributions": "inzet"}


# --- Labels shared by the workbook, the CSV and the screen -----------------------------------


def period_description(report: Report) -> str:
    period, as_of = report.period, report.as_of
    end = date_format(period.clipped_end(as_of), "SHORT_DATE_FORMAT")
    if period.start is None:
        return _("Contracts awarded up to and including %(end)s") % {"end": end}
    return _("Contracts awarded from %(start)s up to and including %(end)s") % {
        "start": date_format(period.start, "SHORT_DATE_FORMAT"),
        "end": end,
    }


def summary_headers() -> list[str]:
    return [
        _("Municipality"),
        _("Contracts"),
        _("With obligation"),
        _("Exempted"),
        _("Without obligation"),
        _("Above threshold without obligation"),
        _("Required"),
        _("Reported"),
        _("Realised"),
        _("Fulfilment"),
        _("Settled (number)"),
        _("Settled"),
        _("Fines (number)"),
        _("Fines"),
        _("Buy-outs (number)"),
        _("Buy-outs"),
        _("People placed"),
    ]


def summary_values(fig: Figures) -> list:
    return [
        fig.name,
        fig.contracts,
        fig.with_obligation,
        fig.exempted,
        fig.without_obligation,
        fig.above_threshold_without_obligation,
        fig.required,
        fig.reported,
        fig.realised,
        None if fig.fulfilment is None else fig.fulfilment / 100,
        fig.settled_count,
        fig.settled,
        fig.fines_count,
        fig.fines,
        fig.buy_outs_count,
        fig.buy_outs,
        fig.people_placed,
    ]


SUMMARY_FORMATS = [None, *[None] * 5, EURO_FORMAT, EURO_FORMAT, EURO_FORMAT, PERCENT_FORMAT]
SUMMARY_FORMATS += [None, EURO_FORMAT, None, EURO_FORMAT, None, EURO_FORMAT, None]


def contract_headers() -> list[str]:
    return [
        _("Municipality"),
        _("Reference"),
        _("Title"),
        _("Contractor"),
        _("Award date"),
        _("End date"),
        _("Contract value excl. VAT"),
        _("Obligation"),
        _("Above threshold without obligation"),
        _("Required"),
        _("Reported"),
        _("Realised"),
        _("Fulfilment"),
        _("Deadline"),
        _("Settlement decision"),
        _("Fine or buy-out amount"),
    ]


CONTRACT_FORMATS = [None, None, None, None, DATE_FORMAT, DATE_FORMAT, EURO_FORMAT, None, None]
CONTRACT_FORMATS += [EURO_FORMAT, EURO_FORMAT, EURO_FORMAT, PERCENT_FORMAT, DATE_FORMAT, None]
CONTRACT_FORMATS += [EURO_FORMAT]


def contract_values(contract, decision_labels: dict[str, str]) -> list:
    line = selectors.contract_line(contract)
    obligation = {"yes": _("Yes"), "exempted": _("Exempted"), "no": _("No")}[line.obligation]
    rate = line.fulfilment
    return [
        contract.municipality.name,
        contract.reference,
        contract.title,
        contract.contractor.name,
        contract.award_date,
        contract.end_date,
        money(contract.value_excl_vat),
        obligation,
        _("Yes") if line.above_threshold_without_obligation else "",
        line.required,
        line.reported,
        line.realised,
        None if rate is None else rate / 100,
        line.deadline,
        decision_labels.get(line.decision, ""),
        line.decision_amount,
    ]


def contribution_headers() -> list[str]:
    return [
        _("Municipality"),
        _("Contract"),
        _("Contractor"),
        _("Candidate code"),
        _("Block"),
        _("Rule"),
        _("Delivered by (subcontractor)"),
        _("Start date"),
        _("End date"),
        _("Submitted on"),
        _("Status as of the report date"),
        _("Value"),
        _("Reported"),
        _("Realised"),
    ]


CONTRIBUTION_FORMATS = [None] * 7 + [DATE_FORMAT, DATE_FORMAT, DATE_FORMAT, None]
CONTRIBUTION_FORMATS += [EURO_FORMAT, EURO_FORMAT, EURO_FORMAT]


def contribution_values(row: tuple, blocks: dict, statuses: dict) -> list:
    (municipality, reference, contractor, code, block, rule, delivered_by) = row[:7]
    (start, end, submitted_at, status, value) = row[7:]
    value = money(value)
    return [
        municipality,
        reference,
        contractor,
        code or "",
        blocks.get(block, block),
        rule,
        delivered_by,
        start,
        end,
        timezone.localdate(submitted_at) if submitted_at else None,
        statuses.get(status, status),
        value,
        value if status != Contribution.Status.REJECTED else Decimal("0.00"),
        value if status == Contribution.Status.APPROVED else Decimal("0.00"),
    ]


def _labels():
    return (
        {k: str(v) for k, v in Settlement.Decision.choices},
        {k: str(v) for k, v in Block.choices},
        {k: str(v) for k, v in Contribution.Status.choices},
    )


# --- Excel -----------------------------------------------------------------------------------


class _Sheet:
    """A write-only worksheet with typed cell helpers."""

    def __init__(self, wb: Workbook, title: str, widths: Iterable[float]):
        self.ws = wb.create_sheet(title)
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.rows = 0

    def cell(self, value, number_format: str | None = None, font=None, fill=None, wrap=False):
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(self.ws, value=value)
            cell.data_type = "s"  # text that looks like a formula stays text
        elif isinstance(value, datetime):
            cell = WriteOnlyCell(self.ws, value=timezone.localtime(value).replace(tzinfo=None))
        else:
            cell = WriteOnlyCell(self.ws, value=value)
        if number_format and value is not None:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if wrap:
            cell.alignment = WRAP
        return cell

    def append(self, values: list, formats: list | None = None, font=None) -> None:
        formats = formats or [None] * len(values)
        row = []
        for value, number_format in zip(values, formats, strict=False):
            plain = (
                font is None
                and number_format is None
                and not isinstance(value, date)
                and not (isinstance(value, str) and value.startswith("="))
            )
            row.append(value if plain else self.cell(value, number_format, font))
        self.ws.append(row)
        self.rows += 1

    def header(self, values: list[str]) -> None:
        self.ws.append(
            [self.cell(v, font=HEADER_FONT, fill=HEADER_FILL, wrap=True) for v in values]
        )
        self.rows += 1

    def blank(self) -> None:
        self.ws.append([])
        self.rows += 1


def write_workbook(report: Report, target) -> None:
    """Write the whole report as an .xlsx workbook to ``target`` (a path or binary file)."""
    wb = Workbook(write_only=True)
    _summary_sheet(wb, report)
    _contracts_sheet(wb, report)
    _contributions_sheet(wb, report)
    _definitions_sheet(wb)
    wb.save(target)


def workbook_file(report: Report) -> SpooledTemporaryFile:
    """The workbook in a temporary file (kept in memory while small), positioned at 0."""
    spool = SpooledTemporaryFile(max_size=settings.REPORT_SPOOL_MAX_BYTES)  # noqa: SIM115
    write_workbook(report, spool)
    spool.seek(0)
    return spool


def _summary_sheet(wb: Workbook, report: Report) -> None:
    headers = summary_headers()
    sheet = _Sheet(wb, SHEET_SUMMARY, [30] + [15] * (len(headers) - 1))
    header_row = 7
    sheet.ws.freeze_panes = f"B{header_row + 1}"
    sheet.append([sheet.cell(_("SROI progress report"), font=TITLE_FONT)])
    sheet.append([_("Municipalities"), report.scope.label])
    sheet.append([_("Period"), period_description(report)])
    sheet.append([_("As of"), report.as_of], [None, DATE_FORMAT])
    sheet.append([_("Generated"), report.generated_at], [None, DATETIME_FORMAT])
    sheet.blank()
    sheet.header(headers)
    for fig in report.municipalities:
        sheet.append(summary_values(fig), SUMMARY_FORMATS)
    last_municipality_row = sheet.rows
    sheet.ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(headers))}{sheet.rows}"
    sheet.append(summary_values(report.total), SUMMARY_FORMATS, font=BOLD)

    sheet.blank()
    sheet.append([_("Open flags"), _("Not yet available: monitoring is not built yet.")])
    sheet.blank()
    sheet.header([_("Settlement decision"), _("Number"), _("Amount")])
    for line in report.decisions:
        sheet.append([line.label, line.count, line.amount], [None, None, EURO_FORMAT])
    sheet.blank()
    sheet.append([sheet.cell(_("People placed per target group and block"), font=BOLD)])
    people = report.people
    sheet.header([_("Target group")] + [label for _code, label in people.blocks] + [_("Total")])
    for row in people.rows:
        sheet.append([row.label, *row.counts, row.total])
    sheet.append([_("Total"), *people.block_totals, people.total], font=BOLD)
    sheet.blank()

    chart = BarChart()
    chart.type = "col"
    chart.title = _("Required and realised per municipality")
    chart.y_axis.title = _("Amount")
    chart.y_axis.number_format = "€ #,##0"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    for column in (7, 9):  # Required, Realised
        chart.add_data(
            Reference(sheet.ws, min_col=column, min_row=header_row, max_row=last_municipality_row),
            titles_from_data=True,
        )
    chart.set_categories(
        Reference(sheet.ws, min_col=1, min_row=header_row + 1, max_row=last_municipality_row)
    )
    chart.width, chart.height = 24, 12
    sheet.ws.add_chart(chart, f"A{sheet.rows + 1}")


def _contracts_sheet(wb: Workbook, report: Report) -> None:
    headers = contract_headers()
    sheet = _Sheet(
        wb, SHEET_CONTRACTS, [18, 18, 40, 30, 12, 12, 16, 12, 16, 15, 15, 15, 11, 12, 22, 15]
    )
    sheet.ws.freeze_panes = "C2"
    sheet.header(headers)
    decisions, _blocks, _statuses = _labels()
    for contract in selectors.contract_rows(report).iterator(chunk_size=ROW_CHUNK_SIZE):
        sheet.append(contract_values(contract, decisions), CONTRACT_FORMATS)
    sheet.ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(sheet.rows, 2)}"


def _contributions_sheet(wb: Workbook, report: Report) -> None:
    headers = contribution_headers()
    sheet = _Sheet(
        wb, SHEET_CONTRIBUTIONS, [18, 18, 30, 14, 24, 22, 24, 12, 12, 13, 20, 15, 15, 15]
    )
    sheet.ws.freeze_panes = "C2"
    sheet.header(headers)
    _decisions, blocks, statuses = _labels()
    limit = EXCEL_MAX_ROWS - 2
    for index, row in enumerate(
        selectors.contribution_rows(report).iterator(chunk_size=ROW_CHUNK_SIZE)
    ):
        if index >= limit:
            sheet.append([_("More rows than Excel can hold: use the CSV download.")])
            break
        sheet.append(contribution_values(row, blocks, statuses), CONTRIBUTION_FORMATS)
    sheet.ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(sheet.rows, 2)}"


def _definitions_sheet(wb: Workbook) -> None:
    sheet = _Sheet(wb, SHEET_DEFINITIONS, [34, 110])
    sheet.ws.freeze_panes = "A2"
    sheet.header([_("Figure"), _("Definition")])
    for term, definition in DEFINITIONS:
        sheet.ws.append(
            [sheet.cell(str(term), font=BOLD, wrap=True), sheet.cell(str(definition), wrap=True)]
        )
        sheet.rows += 1
    sheet.ws.auto_filter.ref = f"A1:B{sheet.rows}"


# --- CSV -------------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose ``write`` returns the line (for csv.writer streaming)."""

    def write(self, value: str) -> str:
        return value


CSV_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")  # money has 2 decimals, percentages 1
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(CSV_DANGEROUS) else text


def _percent_for_csv(values: list, formats: list) -> list:
    """Percent columns hold a fraction for Excel; CSV shows the percentage (47,2)."""
    return [
        (value * 100).quantize(Decimal("0.1"))
        if number_format == PERCENT_FORMAT and value is not None
        else value
        for value, number_format in zip(values, formats, strict=False)
    ]


def csv_rows(report: Report, table: str) -> Iterator[list]:
    if table == "summary":
        yield summary_headers()
        for fig in [*report.municipalities, report.total]:
            yield _percent_for_csv(summary_values(fig), SUMMARY_FORMATS)
    elif table == "contracts":
        yield contract_headers()
        decisions, _blocks, _statuses = _labels()
        for contract in selectors.contract_rows(report).iterator(chunk_size=ROW_CHUNK_SIZE):
            yield _percent_for_csv(contract_values(contract, decisions), CONTRACT_FORMATS)
    elif table == "contributions":
        yield contribution_headers()
        _decisions, blocks, statuses = _labels()
        for row in selectors.contribution_rows(report).iterator(chunk_size=ROW_CHUNK_SIZE):
            yield contribution_values(row, blocks, statuses)
    else:
        raise ValueError(f"unknown table {table!r}")


def csv_stream(report: Report, table: str) -> Iterator[str]:
    """Semicolon-separated, UTF-8 with a byte-order mark, decimal comma, ISO dates."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    for row in csv_rows(report, table):
        yield writer.writerow([_csv_value(v) for v in row])


def csv_filename(report: Report, table: str) -> str:
    return f"{report.filename_stem}-{CSV_TABLES[table]}.csv"


def xlsx_filename(report: Report) -> str:
    return f"{report.filename_stem}.xlsx"
