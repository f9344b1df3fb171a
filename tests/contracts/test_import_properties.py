"""Property tests of the contract spreadsheet import (hypothesis): whatever the cells or the
file hold, the import either succeeds completely (and what is stored is what was read) or
reports file-level or row-by-row errors and writes nothing; no exception escapes.

Every example runs inside a savepoint that is rolled back, so examples do not see each other's
contracts; the counts compared are taken inside it.
"""

from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from contracts import importing
from contracts.importing import COLUMNS
from contracts.models import Contract, Contractor, Obligation, ObligationChange

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- Generated cell values ---------------------------------------------------------------------

#: Characters that trip up text handling: RTL/LTR marks and overrides, zero-width joiners, a
#: combining accent, emoji (astral plane), the byte-order mark, non-breaking and ideographic
#: spaces, a soft hyphen.
ODD_CHARS = (
    "\u200f\u200e\u202e\u2066\u200d\u200b\u0301"
    "\U0001f600\U0001f469\u200d\U0001f4bb\ufeff\u00a0\u3000\u00ad"
)
#: Excel's escape for characters XML cannot hold; the importer unescapes them, so a file can
#: carry NUL, other control characters and even lone surrogates this way.
ESCAPES = ("_x0000_", "_x0007_", "_x001B_", "_xD800_", "_xDFFF_", "_x202E_", "_xFFFE_")

odd_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(ODD_CHARS),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=40,
)
escaped_text = st.lists(
    st.one_of(st.sampled_from(ESCAPES), st.text(max_size=5)), min_size=1, max_size=4
).map("".join)
long_text = st.integers(min_value=199, max_value=12_000).map(lambda n: "é" * n)
huge_numbers = st.one_of(
    st.sampled_from([10**12, 10**15, 10**30, -1, -(10**30), 0, 999_999_999_999]),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e20, 1e308, float("inf"), float("-inf"), float("nan"), -0.0, 5e-324]),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d) < Decimal("1e300")
    ),
)
number_text = st.sampled_from(
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1e9999",
        "1E3",
        "1,5e3",
        "1.234.567,89",
        "1,234,567.89",
        "€ 5.000",
        "5.000,- EUR",
        "−12,50",
        "-0",
        "0,001",
        "1." + "0" * 200,
        "9" * 500,
        "12 34",
        "١٢٣",  # Arabic-Indic digits
        "１２３",  # full-width digits
        "1_000",
        "0x1F",
        "",
        "   ",
    ]
)
date_like = st.one_of(
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(
        [
            "31-02-2026",
            "00-00-0000",
            "2026-13-01",
            "99-99-9999",
            "1-1-1",
            "26/11/2026",
            "2026-11-26T00:00",
            "2026-11-26T12:30",
            "tomorrow",
            "0",
            "-1",
            "1e9",
        ]
    ),
    st.integers(min_value=-(10**12), max_value=10**12),
)
special = st.sampled_from(
    ["=1/0", "=SUM(A1:A3)", '=HYPERLINK("http://x")', "#DIV/0!", "#N/A", "#REF!", "#VALUE!"]
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    odd_text,
    escaped_text,
    long_text,
    huge_numbers,
    number_text,
    date_like,
    special,
)


def base_row(world) -> dict:
    return {
        "municipality": "Noordwijk",
        "reference": "NW-PROP-001",
        "title": "Herinrichting Dorpsstraat",
        "description": "Fase 1",
        "kvk": world.contractor_a.kvk_number,
        "contractor_name": None,
        "kind": "werken",
        "value": 500000,
        "labour_cost": None,
        "award_date": datetime(2026, 1, 15),
        "start_date": datetime(2026, 2, 1),
        "end_date": datetime(2027, 1, 31),
        "officer_email": None,
    }


def _writable(value):
    """openpyxl refuses some characters when a cell is set; the importer must cope with them
    anyway (they arrive as _xHHHH_ escapes), so write them escaped."""
    if isinstance(value, str):
        value = "".join(c for c in value if not 0xD800 <= ord(c) <= 0xDFFF)
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    return value


def build_xlsx(rows: list[list], *, headers: list, sheet: str = "Opdrachten", setup=None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([_writable(h) for h in headers])
    for row in rows:
        ws.append([_writable(v) for v in row])
    if setup is not None:
        setup(wb, ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def row_values(row: dict, keys) -> list:
    return [row.get(k) for k in keys]


def counts() -> tuple[int, ...]:
    return (
        Contract.objects.count(),
        Obligation.objects.count(),
        Contractor.objects.count(),
        ObligationChange.objects.count(),
        LogEntry.objects.count(),
    )


@contextmanager
def rolled_back():
    """Run one example in a savepoint that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _db_value(contract: Contract, key: str):
    return {
        "reference": contract.reference,
        "title": contract.title,
        "description": contract.description,
        "kind": contract.kind,
        "value": contract.value_excl_vat,
        "labour_cost": contract.labour_cost,
        "award_date": contract.award_date,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
    }[key]


def assert_all_or_nothing(user, data: bytes) -> importing.ImportReport:
    """The property: validation never raises; a valid file imports completely and what is
    stored equals what was read; an invalid one says why and writes nothing."""
    before = counts()
    report = importing.validate_workbook(acting_user=user, data=data)
    assert counts() == before, "validation wrote something"
    for message in report.file_errors:
        assert isinstance(message, str) and message.strip()
    for row in report.rows:
        for error in row.errors:
            assert isinstance(error.message, str) and error.message.strip()
            assert "\x00" not in error.value
    if report.can_import:
        result = importing.import_workbook(acting_user=user, data=data)
        assert result.created == len(report.new_rows)
        stored = Contract.objects.in_bulk(result.contract_ids)
        for row, pk in zip(report.new_rows, result.contract_ids, strict=True):
            contract = stored[pk]
            contract.refresh_from_db()
            for key, value in row.values.items():
                if key in ("municipality", "kvk", "contractor_name", "officer_email"):
                    continue
                assert _db_value(contract, key) == value, key
            assert "\x00" not in contract.title + contract.description + contract.reference
    else:
        with pytest.raises(importing.ImportRejected):
            importing.import_workbook(acting_user=user, data=data)
        assert counts() == before, "a rejected import wrote something"
    return report


# --- Rows with junk in their cells -------------------------------------------------------------

KEYS = [c.key for c in COLUMNS]
HEADERS = [c.title for c in COLUMNS]


@PROPERTY_SETTINGS
@given(
    overrides=st.lists(
        st.tuples(st.sampled_from(KEYS), junk), min_size=1, max_size=4, unique_by=lambda t: t[0]
    ),
    rows=st.integers(min_value=1, max_value=3),
)
def test_junk_in_cells_is_reported_per_row_or_imported_whole(world, overrides, rows):
    base = base_row(world)
    table = []
    for index in range(rows):
        row = {**base, "reference": f"NW-PROP-{index:03d}"}
        if index == rows - 1:  # junk in the last row: the others are fine
            row.update(dict(overrides))
        table.append(row_values(row, KEYS))
    data = build_xlsx(table, headers=HEADERS)
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, data)
    assert report.rows or report.file_errors


@PROPERTY_SETTINGS
@given(
    text=st.one_of(odd_text, escaped_text, long_text),
    key=st.sampled_from(["reference", "title", "description", "contractor_name"]),
)
def test_odd_text_is_cleaned_or_refused(world, text, key):
    row = base_row(world)
    row[key] = text
    if key == "contractor_name":
        row["kvk"] = "87654321"  # a new contractor: the name is stored
    data = build_xlsx([row_values(row, KEYS)], headers=HEADERS)
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, data)
        if report.can_import and key == "contractor_name":
            name = Contractor.objects.get(kvk_number="87654321").name
            assert "\x00" not in name and len(name) <= 200


@PROPERTY_SETTINGS
@given(value=huge_numbers | number_text, key=st.sampled_from(["value", "labour_cost"]))
def test_amounts_fit_the_column_or_are_refused(world, value, key):
    row = base_row(world)
    row[key] = value
    if key == "labour_cost":
        row["value"] = 999_999_999_999.99
    data = build_xlsx([row_values(row, KEYS)], headers=HEADERS)
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, data)
    if report.rows and not report.rows[0].errors and key in report.rows[0].values:
        stored = report.rows[0].values[key]
        assert Decimal(0) <= stored < importing.MAX_AMOUNT
        assert stored == stored.quantize(Decimal("0.01"))


@PROPERTY_SETTINGS
@given(value=date_like, key=st.sampled_from(["award_date", "start_date", "end_date"]))
def test_dates_in_any_form_are_read_or_refused(world, value, key):
    row = base_row(world)
    row[key] = value
    data = build_xlsx([row_values(row, KEYS)], headers=HEADERS)
    with rolled_back():
        assert_all_or_nothing(world.officer_noordwijk, data)


# --- Odd headers and sheets ----------------------------------------------------------------------

header_cell = st.one_of(
    st.sampled_from(HEADERS),
    st.sampled_from(["municipality", "KvK", "WAARDE", "  Titel  ", "Soort (werken)", "Kenmerk"]),
    odd_text,
    st.none(),
    st.integers(),
    special,
)


@PROPERTY_SETTINGS
@given(
    headers=st.lists(header_cell, min_size=0, max_size=16),
    cells=st.lists(st.lists(junk, max_size=16), min_size=0, max_size=3),
)
def test_any_header_row_gives_a_file_error_or_row_results(world, headers, cells):
    data = build_xlsx(cells, headers=headers)
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, data)
    assert report.file_errors or report.rows


def _merge(wb, ws):
    ws.merge_cells("A2:C2")


def _hide_and_add(wb, ws):
    ws.sheet_state = "hidden"
    wb.create_sheet("Leeg")


def _only_empty_sheet_first(wb, ws):
    wb.move_sheet(wb.create_sheet("Leeg"), offset=-1)


def _whitespace_rows(wb, ws):
    for _ in range(3):
        ws.append(["  ", "\u00a0", "\t", "\u3000", "\u200b"])


def _formula_headers(wb, ws):
    ws["A1"] = '="Gemeente"'


def _duplicate_header(wb, ws):
    ws.cell(row=1, column=ws.max_column + 1, value="Kenmerk")


def _missing_header(wb, ws):
    ws.delete_cols(2)


@pytest.mark.parametrize(
    "setup",
    [
        _merge,
        _hide_and_add,
        _only_empty_sheet_first,
        _whitespace_rows,
        _formula_headers,
        _duplicate_header,
        _missing_header,
    ],
)
def test_odd_sheet_layouts(world, setup):
    data = build_xlsx([row_values(base_row(world), KEYS)], headers=HEADERS, setup=setup)
    with rolled_back():
        assert_all_or_nothing(world.officer_noordwijk, data)


def test_a_sheet_of_only_whitespace_rows_is_a_file_error(world):
    data = build_xlsx([["  ", "\u00a0", "\t"], ["\u200b"]], headers=HEADERS)
    report = assert_all_or_nothing(world.officer_noordwijk, data)
    assert report.file_errors and not report.rows


def test_a_lone_surrogate_escape_is_refused_with_a_row_message(world):
    """Minimal failing input found by the properties: ``_xD800_`` unescapes to a lone surrogate,
    which no database can store (it used to reach the database and raise UnicodeEncodeError)."""
    row = base_row(world)
    row["title"] = "Dorpsstraat _xD800_"
    data = build_xlsx([row_values(row, KEYS)], headers=HEADERS)
    before = counts()
    report = importing.validate_workbook(acting_user=world.officer_noordwijk, data=data)
    (error,) = report.rows[0].errors
    assert error.column == "Titel"
    assert "invalid character (U+D800)" in error.message
    with pytest.raises(importing.ImportRejected):
        importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    assert counts() == before


# --- Malformed files -----------------------------------------------------------------------------


def _valid_file(world) -> bytes:
    return build_xlsx([row_values(base_row(world), KEYS)], headers=HEADERS)


def _without(data: bytes, *names: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name not in names:
                target.writestr(name, source.read(name))
    return buffer.getvalue()


def _replaced(data: bytes, name: str, content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.namelist():
            target.writestr(member, content if member == name else source.read(member))
    return buffer.getvalue()


ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    + b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    + b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    + b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
    + b'<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
    + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&f;</t></is></c></row></sheetData>'
    + b"</worksheet>"
)
#: Files that are still readable (openpyxl does not need these parts) need not be refused.
READABLE = {"no shared strings", "no styles"}

MALFORMED = {
    "empty": lambda ok: b"",
    "csv renamed": lambda ok: "Gemeente;Kenmerk\nNoordwijk;€ 1.000\n".encode("cp1252"),
    "old xls": lambda ok: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000,
    "no workbook part": lambda ok: _without(ok, "xl/workbook.xml"),
    "no sheet part": lambda ok: _without(ok, "xl/worksheets/sheet1.xml"),
    "no content types": lambda ok: _without(ok, "[Content_Types].xml"),
    "no shared strings": lambda ok: _without(ok, "xl/sharedStrings.xml"),
    "no styles": lambda ok: _without(ok, "xl/styles.xml"),
    "sheet is not xml": lambda ok: _replaced(ok, "xl/worksheets/sheet1.xml", b"\x00\xff" * 50),
    "xml entity bomb": lambda ok: _replaced(ok, "xl/worksheets/sheet1.xml", ENTITY_BOMB),
    "only zip header": lambda ok: b"PK\x03\x04",
    "utf-16 text": lambda ok: "Gemeente\tKenmerk\n".encode("utf-16"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_get_a_file_error(world, name):
    data = MALFORMED[name](_valid_file(world))
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, data)
    if name not in READABLE:
        assert report.file_errors


@PROPERTY_SETTINGS
@given(cut=st.floats(min_value=0.0, max_value=0.999))
def test_a_truncated_file_is_refused(world, cut):
    data = _valid_file(world)
    truncated = data[: int(len(data) * cut)]
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, truncated)
    assert report.file_errors


@PROPERTY_SETTINGS
@given(
    prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]),
    noise=st.binary(max_size=2000),
)
def test_random_bytes_are_refused(world, prefix, noise):
    with rolled_back():
        report = assert_all_or_nothing(world.officer_noordwijk, prefix + noise)
    assert report.file_errors


@PROPERTY_SETTINGS
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_a_flipped_byte_never_escapes_as_an_exception(world, position, byte):
    data = bytearray(_valid_file(world))
    index = position % len(data)
    assume(data[index] != byte)
    data[index] = byte
    with rolled_back():
        assert_all_or_nothing(world.officer_noordwijk, bytes(data))


def test_an_unknown_date_type_in_the_header_row(world):
    data = build_xlsx([row_values(base_row(world), KEYS)], headers=[date(2026, 1, 1), *HEADERS])
    with rolled_back():
        assert_all_or_nothing(world.officer_noordwijk, data)
