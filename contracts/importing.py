"""Spreadsheet import of awarded contracts (.xlsx): template, parsing, validation and import.

The flow is *validate everything, then write everything or nothing*:

1. :func:`build_template` makes the downloadable template: a sheet ``Opdrachten`` with the
   Dutch column titles of :data:`COLUMNS` and a sheet ``Toelichting`` with instructions.
2. :func:`validate_workbook` reads an uploaded file (never trusting it: size, zip structure,
   row count, formulas, odd unicode) and validates every row against the database, without
   writing anything. It returns an :class:`ImportReport`: file-level errors (the file cannot be
   used at all) or, per row, its errors by column, or the unsaved contract and the obligation it
   would get (:func:`contracts.services.preview_obligation`).
3. :func:`import_workbook` validates again (the database may have changed since the preview)
   and, only when every row is fine, creates the contractors and contracts through
   :func:`contracts.services.create_contracts` in one transaction: any failure rolls
   everything back.

Neither step makes a query per row: validation reads the municipalities, existing references,
contractors, officers and policy versions once for the whole file, and the import writes all
rows with a few bulk statements (the audit entries included).

Re-importing the same file creates nothing twice. A row whose (municipality, reference)
already exists is compared with the stored contract: with identical data it is reported as
*already imported* and skipped; with different data it is an error ("exists with different
data") so a changed contract is never silently ignored or overwritten. Changing an existing
contract is done on the contract's own page, where the obligation is recomputed with a reason.

Between the preview and the confirmation the uploaded file is kept in
``PRIVATE_MEDIA_ROOT/imports/<token>.xlsx`` (:func:`store_pending_upload`); the web layer
remembers the token and the file's SHA-256 in the user's session. Files older than a day are
removed by :func:`purge_stale_uploads`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError
from django.utils.translation import gettext as _

from sroi import spreadsheets, uploads
from sroi.models import Organisation, Role, User
from sroi.permissions import Action, can_in_municipality, get_scope

# Some of these are not used here: re-exported for the bulk reporting, the views and the tests.
from sroi.spreadsheets import (  # noqa: F401
    CENT,
    EARLIEST_DATE,
    EMPTY_TAIL_ROWS,
    LATEST_DATE,
    MAX_AMOUNT,
    MAX_ROWS,
    CellError,
    CellValueError,
    Column,
    FileError,
    RowStatus,
    Sheet,
    clean_text,
    clean_text_or_raw,
    display_value,
    header_key,
    is_blank,
    parse_amount,
    parse_date,
    parse_text,
    safe_str,
)
from sroi.spreadsheets import number_text as _number_text

from . import services
from .models import Contract, Contractor

logger = logging.getLogger(__name__)

# --- Limits ----------------------------------------------------------------------------------
# MAX_ROWS, EMPTY_TAIL_ROWS, MAX_AMOUNT, EARLIEST_DATE, LATEST_DATE and CENT are those of
# :mod:`sroi.spreadsheets`.

MAX_UPLOAD_BYTES = uploads.spreadsheet_max_bytes()  # SPREADSHEET_MAX_BYTES, 5 MB by default
# An .xlsx is a zip: refuse archives that would unpack to far more than a 5,000-row sheet needs
# (a "zip bomb") before openpyxl reads anything.
MAX_UNCOMPRESSED_BYTES = 80 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
MAX_DESCRIPTION = 10_000
PENDING_MAX_AGE_SECONDS = 24 * 60 * 60


SHEET_NAME = "Opdrachten"
HELP_SHEET_NAME = "Toelichting"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Columns ---------------------------------------------------------------------------------

COLUMNS: tuple[Column, ...] = (
    Column("municipality", "Gemeente", True, ("municipality", "opdrachtgever"), 16),
    Column("reference", "Kenmerk", True, ("reference", "referentie", "contractnummer"), 16),
    Column("title", "Titel", True, ("title", "naam opdracht"), 36),
    Column("description", "Omschrijving", False, ("description",), 40),
    Column(
        "kvk",
        "KvK-nummer opdrachtnemer",
        True,
        ("kvk", "kvk-nummer", "kvk number", "kvk number contractor"),
        16,
    ),
    Column(
        "contractor_name",
        "Naam opdrachtnemer",
        False,
        ("opdrachtnemer", "contractor", "contractor name", "name contractor"),
        30,
    ),
    Column("kind", "Soort", True, ("soort opdracht", "kind", "type"), 14),
    Column(
        "value",
        "Waarde excl. btw",
        True,
        ("waarde", "opdrachtwaarde", "value", "value excl. vat", "contract value"),
        18,
    ),
    Column("labour_cost", "Loonsom", False, ("loonkosten", "labour cost", "labor cost"), 16),
    Column("award_date", "Gunningsdatum", True, ("award date",), 14),
    Column("start_date", "Startdatum", True, ("begindatum", "start date"), 14),
    Column("end_date", "Einddatum", True, ("end date",), 14),
    Column(
        "officer_email",
        "E-mail inkoper",
        False,
        ("inkoper", "procurement officer", "e-mail procurement officer", "email officer"),
        30,
    ),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
# Which model field's errors belong to which column.
FIELD_COLUMN = {
    "municipality": "municipality",
    "reference": "reference",
    "title": "title",
    "description": "description",
    "contractor": "kvk",
    "kind": "kind",
    "value_excl_vat": "value",
    "labour_cost": "labour_cost",
    "award_date": "award_date",
    "start_date": "start_date",
    "end_date": "end_date",
    "procurement_officer": "officer_email",
}

KIND_WORDS = {
    Contract.Kind.WORKS: ("werken", "werk", "works", "work"),
    Contract.Kind.SUPPLIES: ("leveringen", "levering", "supplies", "supply", "goods"),
    Contract.Kind.SERVICES: ("diensten", "dienst", "services", "service"),
}
KIND_BY_WORD = {word: kind for kind, words in KIND_WORDS.items() for word in words}


# --- Results ---------------------------------------------------------------------------------


@dataclass
class RowResult(spreadsheets.SheetRow):
    municipality: Organisation | None = None
    contractor: Contractor | None = None
    contractor_is_new: bool = False
    officer: User | None = None
    contract: Contract | None = None  # unsaved; for the preview
    obligation: services.ObligationPreview | None = None
    existing: Contract | None = None  # for skipped rows

    @property
    def shown(self) -> Contract | None:
        """The contract this row stands for: the unsaved new one, or the existing one."""
        return self.contract or self.existing

    @property
    def obligation_amount(self) -> Decimal | None:
        comp = self.obligation.computation if self.obligation else None
        return comp.amount if comp is not None and comp.applies else None


@dataclass
class ImportReport(spreadsheets.SheetReport):
    rows: list[RowResult] = field(default_factory=list)

    @property
    def new_contractor_count(self) -> int:
        return len({r.contractor.kvk_number for r in self.new_rows if r.contractor_is_new})

    @property
    def obligation_rows(self) -> list[RowResult]:
        return [r for r in self.new_rows if r.obligation_amount is not None]

    @property
    def obligation_total(self) -> Decimal:
        return sum((r.obligation_amount for r in self.obligation_rows), Decimal("0.00"))


@dataclass(frozen=True)
class ImportResult:
    created: int
    obligations: int
    skipped: int
    contractors_created: int
    contract_ids: tuple[int, ...]


class ImportRejected(Exception):
    """The file did not validate (at confirm time); nothing was written."""

    def __init__(self, report: ImportReport, message: str = ""):
        super().__init__(message or _("The file has errors; nothing was imported."))
        self.report = report
        self.message = str(self.args[0])


class ImportFailed(Exception):
    """Writing failed; the transaction was rolled back and nothing was imported."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.message = message
        self.row = row


# --- Cell parsers (the generic ones are in :mod:`sroi.spreadsheets`) -------------------------


_KVK = re.compile(r"^[0-9]{8}$", re.ASCII)


def parse_kvk(value) -> str:
    invalid = CellValueError(_("A KvK number consists of exactly 8 digits (0-9)."))
    if isinstance(value, bool) or isinstance(value, datetime | date):
        raise invalid
    if isinstance(value, float):
        if not value.is_integer():
            raise invalid
        value = int(value)
    if isinstance(value, int):
        # Stored as a number, a KvK number loses its leading zeros: put them back.
        if not (0 < value < 10**8):
            raise invalid
        return f"{value:08d}"
    text = re.sub(r"\s+", "", clean_text(str(value)))
    if not _KVK.match(text):
        raise invalid
    return text


def parse_kind(value) -> str:
    text = clean_text(_number_text(value) if not isinstance(value, str) else value).casefold()
    kind = KIND_BY_WORD.get(text)
    if kind is None:
        raise CellValueError(_("Use werken, leveringen or diensten (works, supplies, services)."))
    return kind


def parse_email(value) -> str:
    if not isinstance(value, str):
        raise CellValueError(_("Not an e-mail address."))
    text = clean_text(value).lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    try:
        validate_email(text)
    except ValidationError as exc:
        raise CellValueError(_("Not an e-mail address.")) from exc
    return text


# --- Reading the workbook --------------------------------------------------------------------


def check_container(data: bytes) -> None:
    """Is this a readable .xlsx at all? Cheap checks before openpyxl parses anything."""
    if not data:
        raise FileError(_("The file is empty."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise FileError(
            _("The file is larger than %(max)s MB. Split it into smaller files.")
            % {"max": MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileError(
            _(
                "This is an old Excel file (.xls) or a password-protected workbook. Open it in "
                "Excel, remove any password and save it as an Excel workbook (.xlsx)."
            )
        )
    if data[:4] != b"PK\x03\x04":
        raise FileError(
            _(
                "This file is not an Excel workbook (.xlsx). Use the template and save it as "
                "an Excel workbook."
            )
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise FileError(
            _("The file is damaged and cannot be read as an Excel workbook (.xlsx).")
        ) from exc
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:  # OpenDocument (LibreOffice .ods)
            raise FileError(
                _("This is an OpenDocument spreadsheet. Save it as an Excel workbook (.xlsx).")
            )
        raise FileError(
            _(
                "This file is not an Excel workbook (.xlsx). Use the template and save it as "
                "an Excel workbook."
            )
        )
    if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES:
        raise FileError(
            _("The workbook is too large to import. Keep only the sheet with the contracts.")
        )
    problem = uploads.spreadsheet_problem(data)  # macros, zip bombs (sroi/uploads.py)
    if problem:
        raise FileError(problem)


def _too_many_declared(title: str, declared: int, max_rows: int) -> FileError | None:
    """The sheet says it has more rows than can be imported: refused before reading them."""
    if declared <= max_rows + 1:
        return None
    return FileError(
        _(
            "The sheet “%(sheet)s” has %(rows)s rows; at most %(max)s contracts can be "
            "imported at once. Split the file into smaller files (and delete any empty "
            "formatted rows at the bottom)."
        )
        % {"sheet": title, "rows": f"{declared - 1:,}".replace(",", "."), "max": "5.000"}
    )


def _too_many_rows(title: str) -> FileError:
    return FileError(
        _(
            "The sheet “%(sheet)s” has more than %(max)s rows below the column "
            "titles; at most %(max)s contracts can be imported at once. Split the "
            "file into smaller files."
        )
        % {"sheet": title, "max": "5.000"}
    )


def _no_rows(title: str) -> FileError:
    return FileError(
        _(
            "The sheet “%(sheet)s” has column titles but no contracts below them. "
            "Fill in one contract per row."
        )
        % {"sheet": title}
    )


def _read_sheet(data: bytes, warnings: list[str]) -> Sheet:
    return spreadsheets.read_sheet(data, warnings, FORMAT, max_rows=MAX_ROWS)


# --- Validation ------------------------------------------------------------------------------


_PARSERS = {
    "municipality": lambda v, e: parse_text(v, max_length=200),
    "reference": lambda v, e: parse_text(v, max_length=50),
    "title": lambda v, e: parse_text(v, max_length=200),
    "description": lambda v, e: parse_text(v, max_length=MAX_DESCRIPTION, multiline=True),
    "kvk": lambda v, e: parse_kvk(v),
    "contractor_name": lambda v, e: parse_text(v, max_length=200),
    "kind": lambda v, e: parse_kind(v),
    "value": lambda v, e: parse_amount(v),
    "labour_cost": lambda v, e: parse_amount(v),
    "award_date": lambda v, e: parse_date(v, epoch=e),
    "start_date": lambda v, e: parse_date(v, epoch=e),
    "end_date": lambda v, e: parse_date(v, epoch=e),
    "officer_email": lambda v, e: parse_email(v),
}

FORMAT = spreadsheets.SheetFormat(
    columns=COLUMNS,
    sheet_name=SHEET_NAME,
    parsers=_PARSERS,
    logger=logger,
    log_label="Contract import",
    too_many_rows=_too_many_rows,
    no_rows=_no_rows,
    too_many_declared=_too_many_declared,
    list_required=True,
)
HEADER_KEYS = FORMAT.header_keys  # normalised column title or alias -> column key


def _parse_row(sheet: Sheet, number: int, cells: list) -> RowResult:
    return spreadsheets.parse_row(RowResult(number=number), sheet, cells, FORMAT)


def _add(row: RowResult, sheet: Sheet | None, key: str, message: str) -> None:
    spreadsheets.add_error(row, sheet, FORMAT, key, message)


def _has_error(row: RowResult, key: str) -> bool:
    return spreadsheets.has_error(row, FORMAT, key)


def municipality_key(name: str) -> str:
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip().casefold()
    return re.sub(r"^gemeente\s+", "", name)


def validate_workbook(*, acting_user, data: bytes) -> ImportReport:
    """Read and validate an uploaded .xlsx completely; writes nothing."""
    report = ImportReport(sha256=hashlib.sha256(data or b"").hexdigest())
    sheet = spreadsheets.read_into(report, data, check=check_container, read=_read_sheet)
    if sheet is None:
        return report
    report.rows = [_parse_row(sheet, number, cells) for number, cells in sheet.rows]
    _validate_against_database(report.rows, sheet, acting_user)
    spreadsheets.sort_errors(report.rows, FORMAT, unknown_position=-1)
    return report


def _validate_against_database(rows: list[RowResult], sheet: Sheet, acting_user) -> None:
    municipalities = {
        municipality_key(org.name): org
        for org in Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)
    }
    # Municipality and permission first: nothing else about a row is checked (or revealed)
    # where the user may not enter contracts.
    allowed_rows: list[RowResult] = []
    for row in rows:
        name = row.values.get("municipality")
        if name is None:
            continue
        org = municipalities.get(municipality_key(name))
        if org is None:
            _add(row, sheet, "municipality", _("Unknown municipality “%(name)s”.") % {"name": name})
            continue
        if not org.is_active or not can_in_municipality(
            acting_user, Action.CREATE_CONTRACT, org.pk
        ):
            _add(
                row,
                sheet,
                "municipality",
                _("You may not enter contracts for %(name)s.") % {"name": org.name},
            )
            continue
        row.municipality = org
        allowed_rows.append(row)

    _check_references(allowed_rows, sheet)
    _resolve_contractors(allowed_rows, sheet)
    _resolve_officers(allowed_rows, sheet)
    # The policy versions of these municipalities, read once: the obligation of every row is
    # previewed without a query of its own.
    policies = services.PolicyVersions.load({row.municipality.pk for row in allowed_rows})
    for row in allowed_rows:
        _check_row(row, sheet, policies)


def _check_references(rows: list[RowResult], sheet: Sheet) -> None:
    by_key: dict[tuple[int, str], list[RowResult]] = {}
    for row in rows:
        reference = row.values.get("reference")
        if reference:
            by_key.setdefault((row.municipality.pk, reference), []).append(row)
    for (_muni, reference), same in by_key.items():
        if len(same) > 1:
            numbers = ", ".join(str(r.number) for r in same)
            for row in same:
                _add(
                    row,
                    sheet,
                    "reference",
                    _("“%(ref)s” appears more than once for %(muni)s in this file (rows %(rows)s).")
                    % {"ref": reference, "muni": row.municipality.name, "rows": numbers},
                )
    existing: dict[tuple[int, str], Contract] = {}
    references = {ref for (_m, ref) in by_key}
    muni_ids = {m for (m, _r) in by_key}
    if references:
        # In chunks where the database limits the number of query parameters.
        for refs in services.lookup_chunks(sorted(references)):
            for contract in Contract.objects.filter(
                municipality_id__in=muni_ids, reference__in=refs
            ).select_related("contractor", "procurement_officer"):
                existing[(contract.municipality_id, contract.reference)] = contract
    for key, same in by_key.items():
        contract = existing.get(key)
        if contract is not None:
            for row in same:
                row.existing = contract


def _resolve_contractors(rows: list[RowResult], sheet: Sheet) -> None:
    kvks = sorted({row.values["kvk"] for row in rows if "kvk" in row.values})
    known: dict[str, Contractor] = {}
    for chunk in services.lookup_chunks(kvks):
        for contractor in Contractor.objects.filter(kvk_number__in=chunk):
            known[contractor.kvk_number] = contractor
    # New contractors: the first name given for a KvK number names it; other rows may leave
    # the name empty but may not give a different one.
    new: dict[str, tuple[str, int]] = {}
    for row in rows:
        kvk, name = row.values.get("kvk"), row.values.get("contractor_name")
        if kvk and kvk not in known and name and kvk not in new:
            new[kvk] = (name, row.number)
    created: dict[str, Contractor] = {}
    for row in rows:
        kvk = row.values.get("kvk")
        if not kvk:
            continue
        if kvk in known:
            row.contractor = known[kvk]
            continue
        if kvk not in new:
            _add(
                row,
                sheet,
                "kvk",
                _(
                    "No contractor with KvK number %(kvk)s is known; fill in "
                    "“Naam opdrachtnemer” to add it."
                )
                % {"kvk": kvk},
            )
            continue
        name, first_row = new[kvk]
        given = row.values.get("contractor_name")
        if given and given != name:
            _add(
                row,
                sheet,
                "contractor_name",
                _("Differs from row %(row)s (“%(name)s”) for the same KvK number.")
                % {"row": first_row, "name": name},
            )
            continue
        if kvk not in created:
            contractor = Contractor(name=name, kvk_number=kvk)
            try:
                contractor.clean_fields(exclude=["pso_level"])
            except ValidationError as exc:
                for messages in exc.message_dict.values():
                    for message in messages:
                        _add(row, sheet, "contractor_name", message)
                continue
            created[kvk] = contractor
        row.contractor = created[kvk]
        row.contractor_is_new = True


def _resolve_officers(rows: list[RowResult], sheet: Sheet) -> None:
    emails = sorted({row.values["officer_email"] for row in rows if "officer_email" in row.values})
    # With their contractor link (or its absence), which their scope needs: one query per
    # officer named (their memberships) instead of two.
    officers = User.objects.filter(email__in=emails, is_active=True).select_related(
        "contractor_link"
    )
    users = {u.email.lower(): u for u in officers}
    officer_munis: dict[str, frozenset[int]] = {
        email: get_scope(user).municipalities(Role.PROCUREMENT_OFFICER)
        for email, user in users.items()
    }
    for row in rows:
        email = row.values.get("officer_email")
        if not email:
            continue
        user = users.get(email)
        if user is None or row.municipality.pk not in officer_munis.get(email, frozenset()):
            _add(
                row,
                sheet,
                "officer_email",
                _("%(email)s is not a procurement officer of %(muni)s.")
                % {"email": email, "muni": row.municipality.name},
            )
            continue
        row.officer = user


def _contract_fields(row: RowResult) -> dict:
    v = row.values
    return {
        "municipality": row.municipality,
        "reference": v.get("reference", ""),
        "title": v.get("title", ""),
        "description": v.get("description", ""),
        "contractor": row.contractor,
        "kind": v.get("kind", ""),
        "value_excl_vat": v.get("value"),
        "labour_cost": v.get("labour_cost"),
        "award_date": v.get("award_date"),
        "start_date": v.get("start_date"),
        "end_date": v.get("end_date"),
        "procurement_officer": row.officer,
    }


# Compared with an existing contract of the same reference: (column key, contract attribute).
_COMPARED = (
    ("title", "title"),
    ("description", "description"),
    ("kind", "kind"),
    ("value", "value_excl_vat"),
    ("labour_cost", "labour_cost"),
    ("award_date", "award_date"),
    ("start_date", "start_date"),
    ("end_date", "end_date"),
)


def _differences(row: RowResult, contract: Contract) -> list[str]:
    different = []
    if row.values.get("kvk") != contract.contractor.kvk_number:
        different.append(COLUMN_BY_KEY["kvk"].title)
    for key, attr in _COMPARED:
        mine = row.values.get(key, "" if key in ("title", "description", "kind") else None)
        if mine != getattr(contract, attr):
            different.append(COLUMN_BY_KEY[key].title)
    theirs = contract.procurement_officer.email.lower() if contract.procurement_officer else None
    if row.values.get("officer_email") != theirs:
        different.append(COLUMN_BY_KEY["officer_email"].title)
    return different


def _check_row(row: RowResult, sheet: Sheet, policies: services.PolicyVersions) -> None:
    v = row.values
    if (
        v.get("labour_cost") is not None
        and v.get("value") is not None
        and v["labour_cost"] > v["value"]
    ):
        _add(
            row, sheet, "labour_cost", _("The labour cost cannot be more than the contract value.")
        )
    if v.get("start_date") and v.get("end_date") and v["end_date"] < v["start_date"]:
        _add(row, sheet, "end_date", _("The end date cannot be before the start date."))
    elif v.get("award_date") and v.get("end_date") and v["end_date"] < v["award_date"]:
        _add(row, sheet, "end_date", _("The end date cannot be before the award date."))

    if row.existing is not None and not _has_error(row, "reference"):
        if row.errors:
            return
        different = _differences(row, row.existing)
        if different:
            _add(
                row,
                sheet,
                "reference",
                _(
                    "A contract with this reference already exists in %(muni)s with different "
                    "data (%(columns)s). Change that contract on its own page, or remove this "
                    "row."
                )
                % {"muni": row.municipality.name, "columns": ", ".join(different)},
            )
        else:
            row.status = RowStatus.SKIP
        return
    if row.errors:
        return

    contract = Contract(**_contract_fields(row))
    try:
        contract.clean_fields(exclude=["municipality", "contractor", "procurement_officer"])
        contract.clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                _add(row, sheet, FIELD_COLUMN.get(name, ""), message)
        return
    preview = services.preview_obligation(contract, policies=policies)
    if preview.error:
        key = "award_date" if preview.policy is None else "value"
        if preview.policy is not None and preview.policy.base == "labour_cost":
            key = "labour_cost"
        _add(row, sheet, key, str(preview.error))
        return
    row.contract = contract
    row.obligation = preview
    row.status = RowStatus.NEW


# --- Import ----------------------------------------------------------------------------------


def import_workbook(
    *, acting_user, data: bytes, expected_sha256: str | None = None
) -> ImportResult:
    """Validate ``data`` again and import it: all rows or none.

    Raises :class:`ImportRejected` (with the report) when the file does not validate, and
    :class:`ImportFailed` when writing fails; in both cases nothing is written.
    """
    report = validate_workbook(acting_user=acting_user, data=data)
    if expected_sha256 is not None and not secrets.compare_digest(report.sha256, expected_sha256):
        raise ImportRejected(report, _("This is not the file that was checked; upload it again."))
    if not report.is_valid:
        raise ImportRejected(report)

    # Through the service layer, all rows at once (one transaction, a number of queries that
    # does not grow with the rows); new contractors are the unsaved ones of the report, one
    # instance per KvK number, so each is created once.
    rows = [(row.number, _contract_fields(row)) for row in report.new_rows]
    try:
        created = services.create_contracts(acting_user=acting_user, rows=rows)
    except services.BulkRowError as exc:
        raise _import_failed(exc.error, exc.key) from exc
    except (ValidationError, PermissionDenied, DatabaseError) as exc:
        raise _import_failed(exc, None) from exc
    new_contractors = {row.contractor.pk for row in report.new_rows if row.contractor_is_new}
    return ImportResult(
        created=len(created),
        obligations=sum(obligation is not None for _contract, obligation in created),
        skipped=len(report.skipped_rows),
        contractors_created=len(new_contractors),
        contract_ids=tuple(contract.pk for contract, _obligation in created),
    )


def _import_failed(exc: Exception, row: int | None) -> ImportFailed:
    """The :class:`ImportFailed` for an error raised while writing (nothing was written)."""
    if isinstance(exc, ValidationError):
        return ImportFailed(_failure(exc), row)
    if isinstance(exc, PermissionDenied):
        return ImportFailed(_("You may no longer enter this contract; nothing was imported."), row)
    if isinstance(exc, IntegrityError):
        return ImportFailed(
            _(
                "Another user entered one of these contracts at the same moment; nothing was "
                "imported. Check the file again."
            ),
            row,
        )
    # The error class only: a database error's text can repeat row values (e-mail addresses).
    logger.error("Contract import: database error (%s)", type(exc).__name__)
    return ImportFailed(
        _("The import failed because of a database error; nothing was imported."), row
    )


def _failure(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        parts = []
        for name, messages in exc.message_dict.items():
            column = COLUMN_BY_KEY.get(FIELD_COLUMN.get(name, ""))
            prefix = f"{column.title}: " if column else ""
            parts.extend(prefix + m for m in messages)
        return " ".join(parts)
    return " ".join(exc.messages)


# --- Pending uploads between preview and confirmation ----------------------------------------
# Kept by :class:`sroi.uploads.PendingFiles`; these names are the import's (and the bulk
# reporting's) interface to it.

PENDING_UPLOADS = uploads.PendingFiles("imports", max_age_seconds=PENDING_MAX_AGE_SECONDS)
is_valid_token = uploads.is_valid_token


def _pending_dir() -> Path:
    return PENDING_UPLOADS.directory()


def _pending_path(token: str) -> Path:
    return PENDING_UPLOADS.path(token)


def store_pending_upload(data: bytes) -> str:
    """Keep an uploaded file until it is confirmed; returns its random token."""
    return PENDING_UPLOADS.store(data)


def load_pending_upload(token: str) -> bytes | None:
    return PENDING_UPLOADS.load(token, max_age_seconds=PENDING_MAX_AGE_SECONDS)


def discard_pending_upload(token: str) -> None:
    PENDING_UPLOADS.discard(token)


def purge_stale_uploads(max_age_seconds: int = PENDING_MAX_AGE_SECONDS) -> int:
    return PENDING_UPLOADS.purge_stale(max_age_seconds)


# --- The template ----------------------------------------------------------------------------


def build_template(*, acting_user) -> bytes:
    """The .xlsx template: ``Opdrachten`` (column titles, lists, formats) and ``Toelichting``."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    municipalities = [
        org.name
        for org in Organisation.objects.filter(
            kind=Organisation.Kind.MUNICIPALITY, is_active=True
        ).order_by("name")
        if can_in_municipality(acting_user, Action.CREATE_CONTRACT, org.pk)
    ]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    spreadsheets.write_header(
        sheet,
        FORMAT,
        {
            "value": spreadsheets.AMOUNT_FORMAT,
            "labour_cost": spreadsheets.AMOUNT_FORMAT,
            "award_date": spreadsheets.DATE_FORMAT,
            "start_date": spreadsheets.DATE_FORMAT,
            "end_date": spreadsheets.DATE_FORMAT,
            "kvk": spreadsheets.TEXT_FORMAT,
            "reference": spreadsheets.TEXT_FORMAT,
        },
    )

    def validation(key: str, dv: DataValidation, prompt: str) -> None:
        spreadsheets.add_validation(sheet, FORMAT, key, dv, prompt, max_rows=MAX_ROWS)

    listed = ",".join(municipalities)
    if municipalities and len(listed) <= 250 and '"' not in listed:
        validation(
            "municipality",
            DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True),
            _("Choose the commissioning municipality."),
        )
    validation(
        "kind",
        DataValidation(type="list", formula1='"werken,leveringen,diensten"', allow_blank=True),
        _("werken, leveringen or diensten"),
    )
    for key in ("value", "labour_cost"):
        validation(
            key,
            DataValidation(
                type="decimal", operator="between", formula1="0", formula2="999999999999.99"
            ),
            _("An amount in euros excl. VAT, without € sign, at most 2 decimals."),
        )
    for key in ("award_date", "start_date", "end_date"):
        validation(
            key,
            DataValidation(
                type="date", operator="between", formula1="36526", formula2="73415"
            ),  # 01-01-2000 .. 31-12-2100
            _("A date as DD-MM-YYYY."),
        )
    validation(
        "kvk",
        DataValidation(type="textLength", operator="equal", formula1="8"),
        _("The 8-digit KvK number of the contractor."),
    )

    _write_help_sheet(workbook.create_sheet(HELP_SHEET_NAME), municipalities)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_help_sheet(sheet, municipalities: list[str]) -> None:
    from openpyxl.styles import Alignment, Font

    wrap = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 12
    sheet.column_dimensions["C"].width = 70
    sheet.column_dimensions["D"].width = 28
    sheet["A1"] = _("How to fill in the import of awarded contracts")
    sheet["A1"].font = Font(bold=True, size=14)
    general = [
        _("Fill in one awarded contract per row on the sheet “%(sheet)s”, below the column titles.")
        % {"sheet": SHEET_NAME},
        _("Do not change, remove or rename the column titles. Optional columns may stay empty."),
        _(
            "At most %(rows)s contracts per file and at most %(mb)s MB. Split larger lists "
            "into several files."
        )
        % {"rows": "5.000", "mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
        _(
            "Formulas are not accepted: copy the cells and paste them as values "
            "(Paste special → Values)."
        ),
        _(
            "Dates as DD-MM-YYYY (for example 26-11-2026); amounts in euros excl. VAT without € "
            "sign, for example 1234567,89 or 1.234.567,89, at most 2 decimals."
        ),
        _(
            "Every row is checked before anything is saved. If one row has an error, nothing is "
            "imported: correct the file and upload it again."
        ),
        _(
            "Uploading the same file again is safe: contracts already imported with the same "
            "data are skipped. A contract whose reference already exists with different data is "
            "an error; change that contract on its own page."
        ),
        _(
            "A contractor is found by its KvK number. An unknown KvK number is added as a new "
            "contractor when “Naam opdrachtnemer” is filled in; otherwise the row is refused."
        ),
    ]
    if municipalities:
        general.append(
            _("You may import contracts for: %(list)s.") % {"list": ", ".join(municipalities)}
        )
    row = 3
    for text in general:
        sheet.cell(row=row, column=1, value="•")
        cell = sheet.cell(row=row, column=3, value=text)
        cell.alignment = wrap
        row += 1
    row += 1
    for col, title in enumerate((_("Column"), _("Required"), _("Meaning"), _("Example")), start=1):
        sheet.cell(row=row, column=col, value=title).font = Font(bold=True)
    row += 1
    meanings = {
        "municipality": (_("The commissioning municipality."), "Noordwijk"),
        "reference": (
            _("The contract's reference, unique within the municipality (at most 50 characters)."),
            "NW-2026-014",
        ),
        "title": (
            _("Short title of the contract (at most 200 characters)."),
            "Herinrichting Dorpsstraat",
        ),
        "description": (_("Optional longer description."), ""),
        "kvk": (_("KvK number of the contractor: exactly 8 digits."), "12345678"),
        "contractor_name": (
            _("Name of the contractor; needed only when the KvK number is not yet known."),
            "Bouwbedrijf Voorbeeld B.V.",
        ),
        "kind": (_("werken, leveringen or diensten (works, supplies, services)."), "werken"),
        "value": (
            _("Contract value in euros excl. VAT, without € sign, at most 2 decimals."),
            "1.250.000,00",
        ),
        "labour_cost": (
            _(
                "Optional labour cost in euros; needed when the municipality computes SROI over "
                "the labour cost. Not more than the value."
            ),
            "400.000,00",
        ),
        "award_date": (
            _("Date of award (DD-MM-YYYY): decides which SROI policy applies."),
            "15-01-2026",
        ),
        "start_date": (_("Start of the contract (DD-MM-YYYY)."), "01-02-2026"),
        "end_date": (
            _("End of the contract (DD-MM-YYYY), not before the start and award date."),
            "31-01-2027",
        ),
        "officer_email": (
            _(
                "Optional: e-mail address of the responsible procurement officer (a user of "
                "the system)."
            ),
            "inkoper@gemeente.nl",
        ),
    }
    for column in COLUMNS:
        meaning, example = meanings[column.key]
        sheet.cell(row=row, column=1, value=column.title).alignment = wrap
        sheet.cell(row=row, column=2, value=_("yes") if column.required else _("no"))
        sheet.cell(row=row, column=3, value=meaning).alignment = wrap
        sheet.cell(row=row, column=4, value=example).alignment = wrap
        row += 1
    row += 1
    note = sheet.cell(
        row=row,
        column=1,
        value=_("The examples above are not imported: only the sheet “%(sheet)s” is read.")
        % {"sheet": SHEET_NAME},
    )
    note.font = Font(italic=True)
