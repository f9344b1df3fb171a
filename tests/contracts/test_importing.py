"""contracts.importing: the spreadsheet import of awarded contracts, without the web layer.

Every workbook is built here with openpyxl (no binary fixtures). World policy (both
municipalities, valid from 01-01-2020): threshold 100,000, 5%, 90 grace days. The default row
below: Noordwijk, 500,000 excl. VAT, awarded 15-01-2026 → an obligation of 25,000.00.

Every error test asserts the row number, the (Dutch) column title and the message, and that
nothing was written.
"""

import io
import os
import re
import time
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook, load_workbook

from contracts import importing, services
from contracts.importing import COLUMNS, MAX_ROWS, RowStatus
from contracts.models import Contract, Contractor, Obligation, ObligationChange
from sroi.models import Role
from tests import factories as f

D = Decimal
HEADERS = [c.title for c in COLUMNS]


@pytest.fixture
def base_row(world) -> dict:
    return {
        "municipality": "Noordwijk",
        "reference": "NW-IMP-001",
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


def make_row(base: dict, **overrides) -> dict:
    row = dict(base)
    row.update(overrides)
    return row


def xlsx(rows: list[dict], *, headers=None, sheet="Opdrachten", keys=None, setup=None) -> bytes:
    """A workbook with ``headers`` in row 1 and one row per dict (values in column order)."""
    keys = keys or [c.key for c in COLUMNS]
    headers = headers or [importing.COLUMN_BY_KEY[k].title for k in keys]
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append([row.get(k) for k in keys])
    if setup:
        setup(wb, ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def validate(user, data: bytes):
    return importing.validate_workbook(acting_user=user, data=data)


def counts() -> tuple[int, int, int, int]:
    return (
        Contract.objects.count(),
        Obligation.objects.count(),
        Contractor.objects.count(),
        ObligationChange.objects.count(),
    )


def only_error(report, *, row: int) -> importing.CellError:
    assert not report.file_errors
    (bad,) = [r for r in report.rows if r.number == row]
    assert bad.status == RowStatus.ERROR
    assert len(bad.errors) == 1, bad.errors
    return bad.errors[0]


def assert_row_error(user, data: bytes, *, row: int, column: str, message: str):
    before = counts()
    report = validate(user, data)
    error = only_error(report, row=row)
    assert error.column == column
    assert message in error.message, error.message
    assert not report.is_valid
    with pytest.raises(importing.ImportRejected):
        importing.import_workbook(acting_user=user, data=data)
    assert counts() == before
    return error


# --- The happy path ----------------------------------------------------------------------------


def test_valid_file_previews_then_imports_everything(world, base_row):
    rows = [
        base_row,
        make_row(
            base_row,
            reference="NW-IMP-002",
            title="Levering bestrating",
            kind="leveringen",
            value="50.000,00",  # below the threshold: no obligation
            kvk="87654321",
            contractor_name="Nieuw Bouwbedrijf B.V.",
        ),
        make_row(
            base_row,
            reference="NW-IMP-003",
            kind="Diensten",
            kvk="87654321",  # the same new contractor, name given once is enough
            officer_email=world.officer_noordwijk.email.upper(),
        ),
    ]
    data = xlsx(rows)
    before = counts()
    report = validate(world.officer_noordwijk, data)
    assert report.is_valid and report.can_import, [r.errors for r in report.rows]
    assert [r.number for r in report.rows] == [2, 3, 4]
    assert report.new_contractor_count == 1
    assert len(report.obligation_rows) == 2
    assert report.obligation_total == D("50000.00")
    first = report.rows[0]
    assert first.obligation_amount == D("25000.00")
    assert first.contract.pk is None and first.contract.reference == "NW-IMP-001"
    assert report.rows[1].obligation_amount is None  # below the threshold
    assert counts() == before  # the preview wrote nothing

    result = importing.import_workbook(
        acting_user=world.officer_noordwijk, data=data, expected_sha256=report.sha256
    )
    assert (result.created, result.obligations, result.skipped) == (3, 2, 0)
    assert result.contractors_created == 1
    new = Contractor.objects.get(kvk_number="87654321")
    assert new.name == "Nieuw Bouwbedrijf B.V."
    c1 = Contract.objects.get(reference="NW-IMP-001")
    assert c1.municipality == world.noordwijk and c1.contractor == world.contractor_a
    assert c1.description == "Fase 1" and c1.kind == Contract.Kind.WORKS
    assert c1.obligation.amount == D("25000.00")
    assert c1.obligation.deadline == date(2027, 5, 1)
    c2 = Contract.objects.get(reference="NW-IMP-002")
    assert c2.kind == Contract.Kind.SUPPLIES and c2.value_excl_vat == D("50000.00")
    assert not Obligation.objects.filter(contract=c2).exists()
    c3 = Contract.objects.get(reference="NW-IMP-003")
    assert c3.contractor == new and c3.kind == Contract.Kind.SERVICES
    assert c3.procurement_officer == world.officer_noordwijk
    # The audit trail records who created each obligation.
    assert ObligationChange.objects.filter(changed_by=world.officer_noordwijk).count() == 2
    assert sorted(result.contract_ids) == sorted([c1.pk, c2.pk, c3.pk])


def test_reimporting_the_same_file_creates_nothing(world, base_row):
    data = xlsx([base_row, make_row(base_row, reference="NW-IMP-002")])
    first = importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    assert first.created == 2
    after_first = counts()

    report = validate(world.officer_noordwijk, data)
    assert report.is_valid and not report.can_import
    assert [r.status for r in report.rows] == [RowStatus.SKIP, RowStatus.SKIP]
    second = importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    assert (second.created, second.obligations, second.skipped) == (0, 0, 2)
    assert counts() == after_first


def test_reimport_with_one_new_row_imports_only_that_row(world, base_row):
    importing.import_workbook(acting_user=world.officer_noordwijk, data=xlsx([base_row]))
    data = xlsx([base_row, make_row(base_row, reference="NW-IMP-009")])
    result = importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    assert (result.created, result.skipped) == (1, 1)
    assert Contract.objects.filter(reference__startswith="NW-IMP").count() == 2


def test_existing_reference_with_different_data_is_an_error(world, base_row):
    importing.import_workbook(acting_user=world.officer_noordwijk, data=xlsx([base_row]))
    changed = make_row(base_row, title="Andere titel", value=600000)
    error = assert_row_error(
        world.officer_noordwijk,
        xlsx([changed]),
        row=2,
        column="Kenmerk",
        message="already exists in Noordwijk with different data (Titel, Waarde excl. btw)",
    )
    assert error.letter == "B"


def test_same_reference_in_another_municipality_is_fine(world, base_row):
    f.ContractFactory(municipality=world.katwijk, reference="NW-IMP-001")
    report = validate(world.officer_noordwijk, xlsx([base_row]))
    assert report.can_import


def test_the_adviser_imports_for_both_municipalities(world, base_row):
    data = xlsx([base_row, make_row(base_row, municipality="katwijk")])
    result = importing.import_workbook(acting_user=world.adviser, data=data)
    assert result.created == 2
    assert set(Contract.objects.values_list("municipality__name", flat=True)) == {
        "Noordwijk",
        "Katwijk",
    }


def test_reordered_headers_and_extra_columns_are_matched_by_name(world, base_row):
    keys = list(reversed([c.key for c in COLUMNS]))
    headers = [importing.COLUMN_BY_KEY[k].title.upper() for k in keys] + ["Opmerking"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Opdrachten"
    ws.append(headers)
    ws.append([base_row.get(k) for k in keys] + ["niet importeren"])
    buffer = io.BytesIO()
    wb.save(buffer)
    report = validate(world.officer_noordwijk, buffer.getvalue())
    assert report.can_import, [r.errors for r in report.rows]
    assert report.warnings == ["These columns are not recognised and were ignored: Opmerking."]
    assert report.column_letters["municipality"] == "M"


def test_optional_columns_may_be_absent_and_english_titles_work(world, base_row):
    keys = ["municipality", "reference", "title", "kvk", "kind", "value"]
    keys += ["award_date", "start_date", "end_date"]
    headers = ["Municipality", "Reference", "Title", "KvK number", "Kind", "Value excl. VAT"]
    headers += ["Award date", "Start date", "End date"]
    report = validate(
        world.officer_noordwijk,
        xlsx([make_row(base_row, kind="works")], headers=headers, keys=keys),
    )
    assert report.can_import, [r.errors for r in report.rows]


def test_the_sheet_opdrachten_is_read_even_if_not_first(world, base_row):
    def setup(wb, ws):
        wb.move_sheet(wb.create_sheet("Voorblad"), offset=-1)

    data = xlsx([base_row], setup=setup)
    assert load_workbook(io.BytesIO(data)).sheetnames[0] == "Voorblad"
    assert validate(world.officer_noordwijk, data).can_import


def test_empty_rows_between_contracts_are_skipped(world, base_row):
    data = xlsx([base_row, {}, make_row(base_row, reference="NW-IMP-004")])
    report = validate(world.officer_noordwijk, data)
    assert [r.number for r in report.rows] == [2, 4]
    assert report.can_import


# --- All or nothing ----------------------------------------------------------------------------


def test_one_bad_row_in_the_middle_imports_nothing(world, base_row):
    rows = [
        make_row(base_row, reference="A-1", kvk="11112222", contractor_name="Nieuw A"),
        make_row(base_row, reference="A-2", value="veel"),
        make_row(base_row, reference="A-3"),
    ]
    assert_row_error(
        world.officer_noordwijk,
        xlsx(rows),
        row=3,
        column="Waarde excl. btw",
        message="Not a valid amount",
    )
    assert not Contractor.objects.filter(kvk_number="11112222").exists()


def test_a_failure_while_writing_rolls_everything_back(world, base_row, monkeypatch):
    rows = [
        make_row(base_row, reference="B-1", kvk="11113333", contractor_name="Nieuw B"),
        make_row(base_row, reference="B-2"),
        make_row(base_row, reference="B-3"),
    ]
    real = services.prepare_contract  # the per-row step of services.create_contracts
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["reference"])
        if kwargs["reference"] == "B-2":
            raise ValidationError({"title": ["Kapot."]})
        return real(**kwargs)

    monkeypatch.setattr(services, "prepare_contract", failing)
    before = counts()
    with pytest.raises(importing.ImportFailed) as exc:
        importing.import_workbook(acting_user=world.officer_noordwijk, data=xlsx(rows))
    assert exc.value.row == 3
    assert exc.value.message == "Titel: Kapot."
    assert calls == ["B-1", "B-2"]
    assert counts() == before
    assert not Contractor.objects.filter(kvk_number="11113333").exists()


def test_a_changed_file_is_refused_at_confirmation(world, base_row):
    data = xlsx([base_row])
    with pytest.raises(importing.ImportRejected) as exc:
        importing.import_workbook(
            acting_user=world.officer_noordwijk, data=data, expected_sha256="0" * 64
        )
    assert "not the file that was checked" in exc.value.message
    assert Contract.objects.count() == 0


def test_the_database_is_checked_again_at_confirmation(world, base_row):
    data = xlsx([base_row])
    assert validate(world.officer_noordwijk, data).can_import
    # Meanwhile a colleague enters a contract with the same reference and other data.
    f.ContractFactory(municipality=world.noordwijk, reference="NW-IMP-001", title="Iets anders")
    with pytest.raises(importing.ImportRejected) as exc:
        importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    assert exc.value.report.rows[0].errors[0].column == "Kenmerk"
    assert Contract.objects.count() == 1


# --- Permissions -------------------------------------------------------------------------------


def test_katwijk_officer_cannot_import_a_noordwijk_row(world, base_row):
    assert_row_error(
        world.officer_katwijk,
        xlsx([base_row]),
        row=2,
        column="Gemeente",
        message="You may not enter contracts for Noordwijk.",
    )


@pytest.mark.parametrize(
    "persona", ["council_noordwijk", "functional_admin", "contractor_a_user", "outsider"]
)
def test_users_without_the_right_to_enter_contracts_import_nothing(world, base_row, persona):
    assert_row_error(
        getattr(world, persona),
        xlsx([base_row]),
        row=2,
        column="Gemeente",
        message="You may not enter contracts for Noordwijk.",
    )


# --- Every kind of row error -------------------------------------------------------------------

ROW_ERRORS = [
    # (overrides, column, message)
    ({"municipality": "Atlantis"}, "Gemeente", "Unknown municipality “Atlantis”."),
    ({"municipality": None}, "Gemeente", "Required: fill in a value."),
    ({"reference": None}, "Kenmerk", "Required: fill in a value."),
    ({"reference": "K" * 51}, "Kenmerk", "Too long: at most 50 characters (now 51)."),
    ({"title": "   "}, "Titel", "Required: fill in a value."),
    ({"title": "T" * 201}, "Titel", "Too long: at most 200 characters (now 201)."),
    ({"kvk": "1234567a"}, "KvK-nummer opdrachtnemer", "exactly 8 digits"),
    ({"kvk": "123456789"}, "KvK-nummer opdrachtnemer", "exactly 8 digits"),
    ({"kvk": "١٢٣٤٥٦٧٨"}, "KvK-nummer opdrachtnemer", "exactly 8 digits"),  # Arabic digits
    ({"kvk": "１２３４５６７８"}, "KvK-nummer opdrachtnemer", "exactly 8 digits"),  # full width
    ({"kvk": 12345678.5}, "KvK-nummer opdrachtnemer", "exactly 8 digits"),
    ({"kvk": "99999999"}, "KvK-nummer opdrachtnemer", "fill in “Naam opdrachtnemer”"),
    ({"kind": "bouw"}, "Soort", "Use werken, leveringen or diensten"),
    ({"kind": None}, "Soort", "Required: fill in a value."),
    ({"value": None}, "Waarde excl. btw", "Required: fill in a value."),
    ({"value": "veel"}, "Waarde excl. btw", "Not a valid amount"),
    ({"value": "1e20"}, "Waarde excl. btw", "Not a valid amount"),
    ({"value": 1e20}, "Waarde excl. btw", "Too large: at most 999.999.999.999,99."),
    ({"value": 10**12}, "Waarde excl. btw", "Too large"),
    ({"value": "1.000.000.000.000"}, "Waarde excl. btw", "Too large"),
    ({"value": -5}, "Waarde excl. btw", "An amount cannot be negative."),
    ({"value": "-1.000,00"}, "Waarde excl. btw", "An amount cannot be negative."),
    ({"value": 500000.123}, "Waarde excl. btw", "More than 2 decimals"),
    ({"value": "500000,1234"}, "Waarde excl. btw", "More than 2 decimals"),
    ({"value": "1.23.456"}, "Waarde excl. btw", "Not a valid amount"),
    ({"value": True}, "Waarde excl. btw", "Not an amount."),
    ({"value": datetime(2026, 1, 1)}, "Waarde excl. btw", "Not an amount."),
    ({"labour_cost": 500000.01}, "Loonsom", "cannot be more than the contract value"),
    ({"labour_cost": "-1"}, "Loonsom", "An amount cannot be negative."),
    ({"award_date": None}, "Gunningsdatum", "Required: fill in a value."),
    ({"award_date": "31-02-2026"}, "Gunningsdatum", "This date does not exist."),
    ({"award_date": "15 januari 2026"}, "Gunningsdatum", "use DD-MM-YYYY"),
    ({"award_date": "15-01-26"}, "Gunningsdatum", "use DD-MM-YYYY"),
    ({"award_date": "1999-12-31"}, "Gunningsdatum", "outside 01-01-2000 – 31-12-2100"),
    ({"award_date": 2026}, "Gunningsdatum", "outside 01-01-2000"),  # a serial, 1905
    ({"award_date": datetime(2010, 1, 1)}, "Gunningsdatum", "No SROI policy"),
    ({"start_date": "not a date"}, "Startdatum", "use DD-MM-YYYY"),
    ({"end_date": datetime(2026, 1, 31)}, "Einddatum", "cannot be before the start date"),
    ({"officer_email": "geen-mail"}, "E-mail inkoper", "Not an e-mail address."),
    (
        {"officer_email": "onbekend@example.nl"},
        "E-mail inkoper",
        "onbekend@example.nl is not a procurement officer of Noordwijk.",
    ),
    (
        {"officer_email": "raad.noordwijk@example.nl"},
        "E-mail inkoper",
        "is not a procurement officer of Noordwijk",
    ),
    (
        {"officer_email": "inkoper.katwijk@example.nl"},
        "E-mail inkoper",
        "is not a procurement officer of Noordwijk",
    ),
    ({"title": "Onder\x85houd"}, "Titel", "invisible control character (U+0085)"),
    ({"title": "Onder_x0007_houd"}, "Titel", "invisible control character (U+0007)"),
    ({"title": "Onder\u202ehoud"}, "Titel", "invisible control character (U+202E)"),
    ({"description": "regel 1_x001B_[31m"}, "Omschrijving", "control character (U+001B)"),
]


@pytest.mark.parametrize(("overrides", "column", "message"), ROW_ERRORS)
def test_row_errors_by_row_and_column(world, base_row, overrides, column, message):
    rows = [make_row(base_row, reference="OK-1"), make_row(base_row, **overrides)]
    if "reference" not in overrides:
        rows[1]["reference"] = "BAD-1"
    error = assert_row_error(
        world.officer_noordwijk, xlsx(rows), row=3, column=column, message=message
    )
    assert error.letter == "ABCDEFGHIJKLM"[HEADERS.index(column)]


def test_a_reference_twice_in_the_file_marks_both_rows(world, base_row):
    data = xlsx([base_row, make_row(base_row, title="Dubbel")])
    report = validate(world.officer_noordwijk, data)
    for number in (2, 3):
        error = only_error(report, row=number)
        assert error.column == "Kenmerk"
        assert "appears more than once for Noordwijk in this file (rows 2, 3)" in error.message
    assert Contract.objects.count() == 0


def test_two_names_for_one_new_kvk_number(world, base_row):
    rows = [
        make_row(base_row, reference="N-1", kvk="44445555", contractor_name="Nieuw"),
        make_row(base_row, reference="N-2", kvk="44445555", contractor_name="Anders"),
    ]
    report = validate(world.officer_noordwijk, xlsx(rows))
    error = only_error(report, row=3)
    assert error.column == "Naam opdrachtnemer"
    assert "Differs from row 2 (“Nieuw”)" in error.message


def test_a_formula_is_refused(world, base_row):
    def setup(wb, ws):
        ws["H2"] = "=400000+100000"

    error = assert_row_error(
        world.officer_noordwijk,
        xlsx([base_row], setup=setup),
        row=2,
        column="Waarde excl. btw",
        message="Cell contains a formula; paste values only.",
    )
    assert error.value == "=400000+100000"


def test_an_array_formula_is_refused(world, base_row):
    from openpyxl.worksheet.formula import ArrayFormula

    def setup(wb, ws):
        ws["C2"] = ArrayFormula("C2", '=UPPER("x")')

    assert_row_error(
        world.officer_noordwijk,
        xlsx([base_row], setup=setup),
        row=2,
        column="Titel",
        message="formula",
    )


def test_labour_cost_base_needs_the_labour_cost(world, base_row):
    f.PolicyFactory(municipality=world.noordwijk, valid_from=date(2025, 1, 1), base="labour_cost")
    assert_row_error(
        world.officer_noordwijk,
        xlsx([base_row]),
        row=2,
        column="Loonsom",
        message="computes SROI over the labour cost",
    )
    report = validate(world.officer_noordwijk, xlsx([make_row(base_row, labour_cost=200000)]))
    assert report.rows[0].obligation_amount == D("10000.00")


def test_errors_are_listed_in_column_order(world, base_row):
    row = make_row(base_row, end_date="x", municipality=None, value="?")
    report = validate(world.officer_noordwijk, xlsx([row]))
    assert [e.column for e in report.rows[0].errors] == [
        "Gemeente",
        "Waarde excl. btw",
        "Einddatum",
    ]


# --- Values that are accepted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (500000, "500000.00"),
        (1234567.89, "1234567.89"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567.89", "1234567.89"),
        ("1234567,89", "1234567.89"),
        ("1234567.89", "1234567.89"),
        ("€ 1.234.567,89", "1234567.89"),
        ("1 234 567,89", "1234567.89"),
        ("1\u00a0234\u202f567,89", "1234567.89"),
        ("150.000", "150000.00"),  # 3 digits after one separator: thousands
        ("150,000", "150000.00"),
        ("150.000,-", "150000.00"),
        ("150000,5", "150000.50"),
        ("999999999999,99", "999999999999.99"),
        ("0", "0.00"),
    ],
)
def test_amount_notations(value, expected):
    assert importing.parse_amount(value) == D(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 15, 0, 0), date(2026, 1, 15)),
        (date(2026, 1, 15), date(2026, 1, 15)),
        ("15-01-2026", date(2026, 1, 15)),
        ("5-1-2026", date(2026, 1, 5)),
        ("15/01/2026", date(2026, 1, 15)),
        ("15.01.2026", date(2026, 1, 15)),
        ("2026-01-15", date(2026, 1, 15)),
        ("2026-01-15 00:00:00", date(2026, 1, 15)),
        (46037, date(2026, 1, 15)),  # an Excel serial without a date format
    ],
)
def test_date_notations(value, expected):
    assert importing.parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345678", "12345678"),
        (12345678, "12345678"),
        (1234567, "01234567"),  # a number lost its leading zero
        (1234567.0, "01234567"),
        (" 1234 5678 ", "12345678"),
        ("\u200b12345678", "12345678"),
    ],
)
def test_kvk_notations(value, expected):
    assert importing.parse_kvk(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("werken", "works"), ("Leveringen", "supplies"), ("DIENSTEN", "services")]
    + [("works", "works"), ("Supplies", "supplies"), ("service", "services")],
)
def test_kind_words(value, expected):
    assert importing.parse_kind(value) == expected


def test_unicode_is_normalised_and_invisible_characters_removed(world, base_row):
    row = make_row(
        base_row,
        title="  Cafe\u0301\u200b  renovatie\ufeff ",  # decomposed é, zero-width space, BOM
        description="Regel 1\r\nRegel\u00a0 2",
        municipality="\u200bnoordwijk",
        reference="NW\u2060-IMP-001",
    )
    data = xlsx([row])
    report = validate(world.officer_noordwijk, data)
    assert report.can_import, [r.errors for r in report.rows]
    importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    contract = Contract.objects.get()
    assert contract.title == "Café renovatie"
    assert contract.title == "Caf\u00e9 renovatie"  # NFC
    assert contract.description == "Regel 1\nRegel 2"
    assert contract.reference == "NW-IMP-001"


def test_numbers_and_leading_zeros_in_the_file(world, base_row):
    kvk = world.contractor_a.kvk_number
    world.contractor_a.kvk_number = "01234567"
    world.contractor_a.save()
    row = make_row(base_row, reference=2026001, kvk=1234567, value="500.000,00")
    report = validate(world.officer_noordwijk, xlsx([row]))
    assert report.can_import, [r.errors for r in report.rows]
    assert report.rows[0].contract.reference == "2026001"
    assert report.rows[0].contractor == world.contractor_a
    assert kvk != "01234567"


def test_an_existing_contractor_keeps_its_name(world, base_row):
    row = make_row(base_row, contractor_name="Een andere naam")
    importing.import_workbook(acting_user=world.officer_noordwijk, data=xlsx([row]))
    assert Contract.objects.get().contractor == world.contractor_a
    world.contractor_a.refresh_from_db()
    assert world.contractor_a.name == "Bouwbedrijf A"


# --- Garbage -----------------------------------------------------------------------------------


def assert_file_error(user, data: bytes, message: str):
    before = counts()
    report = validate(user, data)
    assert not report.rows
    assert len(report.file_errors) == 1, report.file_errors
    assert message in report.file_errors[0], report.file_errors[0]
    with pytest.raises(importing.ImportRejected):
        importing.import_workbook(acting_user=user, data=data)
    assert counts() == before
    return report.file_errors[0]


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


GARBAGE = [
    ("empty", b"", "The file is empty."),
    ("text", b"Gemeente;Kenmerk\nNoordwijk;1\n", "not an Excel workbook (.xlsx)"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not an Excel workbook"),
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not an Excel workbook"),
    ("old xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "old Excel file (.xls)"),
    ("corrupt zip", b"PK\x03\x04" + b"\x13\x37" * 200, "damaged"),
    ("zip, not excel", zip_of({"readme.txt": b"hallo"}), "not an Excel workbook"),
    (
        "opendocument",
        zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""}),
        "OpenDocument",
    ),
    (
        "broken workbook xml",
        zip_of({"[Content_Types].xml": b"<nonsense", "xl/workbook.xml": b"<<<"}),
        "damaged",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_files_get_a_clear_message(world, name, data, message):
    assert_file_error(world.officer_noordwijk, data, message)


def test_a_truncated_workbook_is_damaged(world, base_row):
    data = xlsx([base_row])
    assert_file_error(world.officer_noordwijk, data[: len(data) // 2], "damaged")


def test_a_corrupted_sheet_inside_a_valid_zip_is_damaged(world, base_row):
    data = xlsx([base_row])
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {n: source.read(n) for n in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"][:300]
    assert_file_error(world.officer_noordwijk, zip_of(members), "damaged")


def test_a_file_larger_than_5_mb(world):
    assert_file_error(world.officer_noordwijk, b"PK\x03\x04" + b"0" * (5 * 1024 * 1024), "5 MB")


def test_a_zip_bomb_is_refused_before_reading(world, base_row):
    data = xlsx([base_row])
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {n: source.read(n) for n in source.namelist()}
    members["xl/media/padding.bin"] = b"\0" * (importing.MAX_UNCOMPRESSED_BYTES + 1)
    bomb = zip_of(members)
    assert len(bomb) < importing.MAX_UPLOAD_BYTES
    assert_file_error(world.officer_noordwijk, bomb, "too large to import")


def test_an_empty_workbook(world):
    buffer = io.BytesIO()
    Workbook().save(buffer)
    assert_file_error(world.officer_noordwijk, buffer.getvalue(), "is empty")


def test_a_sheet_with_only_headers(world):
    assert_file_error(world.officer_noordwijk, xlsx([]), "column titles but no contracts")


def test_wrong_headers_give_one_error_listing_the_expected_headers(world, base_row):
    data = xlsx([base_row], headers=["Naam", "Bedrag", "Datum"], keys=["title", "value", "kvk"])
    message = assert_file_error(world.officer_noordwijk, data, "Required columns are missing")
    assert "Gemeente, Kenmerk, Titel, Omschrijving, KvK-nummer opdrachtnemer" in message
    assert message.startswith("Required columns are missing: Gemeente, Kenmerk, Titel, KvK-")


def test_one_missing_required_header(world, base_row):
    keys = [c.key for c in COLUMNS if c.key != "end_date"]
    message = assert_file_error(
        world.officer_noordwijk, xlsx([base_row], keys=keys), "Required columns are missing"
    )
    assert message.startswith("Required columns are missing: Einddatum.")


def test_a_header_twice(world, base_row):
    keys = [c.key for c in COLUMNS] + ["title"]
    assert_file_error(
        world.officer_noordwijk, xlsx([base_row], keys=keys), "appear more than once: Titel"
    )


def test_an_empty_first_row(world, base_row):
    def setup(wb, ws):
        ws.insert_rows(1)

    assert_file_error(
        world.officer_noordwijk, xlsx([base_row], setup=setup), "its first row is empty"
    )


def test_more_than_5000_rows_is_refused_before_reading_them(world, base_row, monkeypatch):
    rows = [make_row(base_row, reference=f"R-{i}") for i in range(MAX_ROWS + 1)]
    data = xlsx(rows)
    # The rows are never parsed: the sheet's declared size is enough.
    monkeypatch.setattr(importing, "_parse_row", lambda *a: pytest.fail("rows were read"))
    started = time.monotonic()
    message = assert_file_error(world.officer_noordwijk, data, "at most 5.000 contracts")
    assert "has 5.001 rows" in message
    assert time.monotonic() - started < 5


def test_more_than_5000_rows_with_a_lying_dimension(world, base_row, monkeypatch):
    """A file that declares a small size still cannot sneak in more rows."""
    data = xlsx([make_row(base_row, reference=f"R-{i}") for i in range(MAX_ROWS + 1)])
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {n: source.read(n) for n in source.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    # The serialiser writes `<dimension ref="…" />` (stdlib) or `<dimension ref="…"/>` (lxml).
    lying, count = re.subn(rb'<dimension ref="A1:M5002"\s*/>', b'<dimension ref="A1:M3"/>', sheet)
    assert count == 1
    members["xl/worksheets/sheet1.xml"] = lying
    monkeypatch.setattr(importing, "_parse_row", lambda *a: pytest.fail("rows were validated"))
    assert_file_error(world.officer_noordwijk, zip_of(members), "more than 5.000 rows")


def test_exactly_5000_rows_are_read(world, base_row, monkeypatch):
    data = xlsx([make_row(base_row, reference=f"R-{i}") for i in range(MAX_ROWS)])
    seen = []
    monkeypatch.setattr(importing, "_validate_against_database", lambda rows, *a: seen.extend(rows))
    report = validate(world.officer_noordwijk, data)
    assert not report.file_errors
    assert len(seen) == MAX_ROWS and seen[-1].number == MAX_ROWS + 1


# --- The template ------------------------------------------------------------------------------


def test_template_has_the_headers_lists_and_instructions(world):
    data = importing.build_template(acting_user=world.officer_noordwijk)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Opdrachten", "Toelichting"]
    ws = wb["Opdrachten"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.freeze_panes == "A2"
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["A2:A5001"] == '"Noordwijk"'  # only where this user may enter contracts
    assert lists["G2:G5001"] == '"werken,leveringen,diensten"'
    assert ws.column_dimensions["J"].number_format == "DD-MM-YYYY"
    assert ws.column_dimensions["E"].number_format == "@"
    text = " ".join(str(c.value) for row in wb["Toelichting"].iter_rows() for c in row if c.value)
    assert "DD-MM-YYYY" in text and "5.000" in text and "without € sign" in text
    assert "Naam opdrachtnemer" in text and "KvK" in text
    assert "Formulas are not accepted" in text
    # Empty, the template is "headers only".
    assert_file_error(world.officer_noordwijk, data, "column titles but no contracts")


def test_the_adviser_template_lists_both_municipalities(world):
    data = importing.build_template(acting_user=world.adviser)
    ws = load_workbook(io.BytesIO(data))["Opdrachten"]
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["A2:A5001"] == '"Katwijk,Noordwijk"'


def test_a_filled_in_template_imports(world, base_row):
    wb = load_workbook(io.BytesIO(importing.build_template(acting_user=world.officer_noordwijk)))
    ws = wb["Opdrachten"]
    for index, column in enumerate(COLUMNS, start=1):
        ws.cell(row=2, column=index, value=base_row[column.key])
    buffer = io.BytesIO()
    wb.save(buffer)
    result = importing.import_workbook(acting_user=world.officer_noordwijk, data=buffer.getvalue())
    assert result.created == 1


# --- Pending uploads ---------------------------------------------------------------------------


def test_pending_uploads_are_kept_privately_and_expire(settings, tmp_path):
    token = importing.store_pending_upload(b"abc")
    path = tmp_path / "private" / "imports" / f"{token}.xlsx"
    assert path.read_bytes() == b"abc"
    assert path.stat().st_mode & 0o077 == 0  # private to the web process
    assert importing.load_pending_upload(token) == b"abc"
    assert importing.load_pending_upload("../../etc/passwd") is None
    assert importing.load_pending_upload("x" * 40) is None
    importing.discard_pending_upload(token)
    assert not path.exists()

    old = importing.store_pending_upload(b"old")
    stale = time.time() - importing.PENDING_MAX_AGE_SECONDS - 10
    os.utime(tmp_path / "private" / "imports" / f"{old}.xlsx", (stale, stale))
    assert importing.load_pending_upload(old) is None
    assert importing.purge_stale_uploads() == 1


def test_officer_role_is_needed_for_the_officer_column(world, base_row):
    # A Noordwijk officer who is also... only a council viewer elsewhere is not enough.
    user = f.UserFactory(email="dubbel@example.nl")
    f.MembershipFactory(user=user, organisation=world.katwijk, role=Role.PROCUREMENT_OFFICER)
    f.MembershipFactory(user=user, organisation=world.noordwijk, role=Role.COUNCIL_VIEWER)
    error = assert_row_error(
        world.officer_noordwijk,
        xlsx([make_row(base_row, officer_email="dubbel@example.nl")]),
        row=2,
        column="E-mail inkoper",
        message="not a procurement officer of Noordwijk",
    )
    assert error.value == "dubbel@example.nl"
