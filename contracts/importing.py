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
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError
from django.utils.translation import gettext as _
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from sroi import uploads
from sroi.models import Organisation, Role, User
from sroi.permissions import Action, can_in_municipality, get_scope

from . import services
from .models import Contract, Contractor

logger = logging.getLogger(__name__)

# --- Limits ----------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = uploads.spreadsheet_max_bytes()  # SPREADSHEET_MAX_BYTES, 5 MB by default
MAX_ROWS = 5000
# An .xlsx is a zip: refuse archives that would unpack to far more than a 5,000-row sheet needs
# (a "zip bomb") before openpyxl reads anything.
MAX_UNCOMPRESSED_BYTES = 80 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
# Empty (formatted) rows below the limit are skipped; reading stops this many rows after it.
EMPTY_TAIL_ROWS = 1000
MAX_AMOUNT = Decimal("1000000000000")  # exclusive: the model stores 12 digits before the comma
MAX_DESCRIPTION = 10_000
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
CENT = Decimal("0.01")
PENDING_MAX_AGE_SECONDS = 24 * 60 * 60

SHEET_NAME = "Opdrachten"
HELP_SHEET_NAME = "Toelichting"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # the Dutch column title: the file format, the same in every UI language
    required: bool  # the header must be present and every row must have a value
    aliases: tuple[str, ...] = ()
    width: int = 18


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


def header_key(text: str) -> str:
    """``"Soort (werken/leveringen/diensten)"`` → ``"soort"``: case, spaces, punctuation and
    a parenthesised remark do not matter when matching a column title."""
    text = re.sub(r"\(.*?\)", "", text)
    return re.sub(r"[\W_]+", "", text.casefold())


HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    for _name in (_column.title, *_column.aliases):
        HEADER_KEYS[header_key(_name)] = _column.key


# --- Results ---------------------------------------------------------------------------------


class RowStatus:
    NEW = "new"
    SKIP = "skip"  # already imported with identical data
    ERROR = "error"


@dataclass(frozen=True)
class CellError:
    column: str  # Dutch column title ("" for the row as a whole)
    letter: str  # the column letter in the uploaded sheet ("" when unknown)
    message: str
    value: str = ""  # what the cell held, cleaned and shortened, to show next to the message


@dataclass
class RowResult:
    number: int  # the row number as the user sees it in the spreadsheet
    values: dict[str, object] = field(default_factory=dict)  # parsed values per column key
    display: dict[str, str] = field(default_factory=dict)  # cleaned text per column key
    errors: list[CellError] = field(default_factory=list)
    status: str = RowStatus.NEW
    municipality: Organisation | None = None
    contractor: Contractor | None = None
    contractor_is_new: bool = False
    officer: User | None = None
    contract: Contract | None = None  # unsaved; for the preview
    obligation: services.ObligationPreview | None = None
    existing: Contract | None = None  # for skipped rows

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def shown(self) -> Contract | None:
        """The contract this row stands for: the unsaved new one, or the existing one."""
        return self.contract or self.existing

    @property
    def obligation_amount(self) -> Decimal | None:
        comp = self.obligation.computation if self.obligation else None
        return comp.amount if comp is not None and comp.applies else None


@dataclass
class ImportReport:
    sha256: str = ""
    sheet_title: str = ""
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    column_letters: dict[str, str] = field(default_factory=dict)

    @property
    def error_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.errors]

    @property
    def ok_rows(self) -> list[RowResult]:
        return [r for r in self.rows if not r.errors]

    @property
    def new_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == RowStatus.NEW and not r.errors]

    @property
    def skipped_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == RowStatus.SKIP]

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.rows)

    @property
    def new_contractor_count(self) -> int:
        return len({r.contractor.kvk_number for r in self.new_rows if r.contractor_is_new})

    @property
    def obligation_rows(self) -> list[RowResult]:
        return [r for r in self.new_rows if r.obligation_amount is not None]

    @property
    def obligation_total(self) -> Decimal:
        return sum((r.obligation_amount for r in self.obligation_rows), Decimal("0.00"))

    @property
    def is_valid(self) -> bool:
        """Readable, with at least one row, and no row has an error."""
        return not self.file_errors and bool(self.rows) and not self.error_rows

    @property
    def can_import(self) -> bool:
        return self.is_valid and bool(self.new_rows)


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


# --- Text cleaning ---------------------------------------------------------------------------

# Invisible characters that creep in through copy and paste: removed.
_STRIP_CHARS = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u180e"), None
)
# Bidirectional embeddings, overrides and isolates can make text read differently from what
# is stored ("Trojan source"): refused like control characters.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


class CellValueError(ValueError):
    pass


def clean_text(value: str, *, multiline: bool = False) -> str:
    """NFC-normalise, drop zero-width characters, normalise whitespace, refuse control
    characters. ``multiline`` keeps line breaks (for the description)."""
    # Excel writes characters that XML cannot hold as _xHHHH_; openpyxl leaves them escaped.
    value = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    value = unicodedata.normalize("NFC", value).translate(_STRIP_CHARS)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    for char in value:
        if char in "\n\t":
            continue
        category = unicodedata.category(char)
        if category == "Cc" or char in _BIDI_CONTROLS:
            raise CellValueError(
                _("Contains an invisible control character (U+%(code)04X); retype the value.")
                % {"code": ord(char)}
            )
        if category == "Cs":
            # A lone surrogate (from an _xD800_ escape) is not text: no database stores it.
            raise CellValueError(
                _("Contains an invalid character (U+%(code)04X); retype the value.")
                % {"code": ord(char)}
            )
    if multiline:
        lines = [re.sub(r"[^\S\n]+", " ", line).strip() for line in value.split("\n")]
        return "\n".join(lines).strip()
    return re.sub(r"\s+", " ", value).strip()


# --- Cell parsers ----------------------------------------------------------------------------


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and clean_text_or_raw(value) == "")


def clean_text_or_raw(value: str) -> str:
    try:
        return clean_text(value)
    except CellValueError:
        return value


def _number_text(value) -> str:
    """A number typed in a text column (a reference such as 2026001)."""
    if isinstance(value, bool):
        raise CellValueError(_("Expected text, found TRUE/FALSE."))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CellValueError(_("Not a valid value."))
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def parse_text(value, *, max_length: int, multiline: bool = False) -> str:
    if isinstance(value, datetime | date):
        raise CellValueError(_("Expected text, found a date."))
    if not isinstance(value, str):
        value = _number_text(value)
    text = clean_text(value, multiline=multiline)
    if len(text) > max_length:
        raise CellValueError(
            _("Too long: at most %(max)s characters (now %(n)s).")
            % {"max": max_length, "n": len(text)}
        )
    return text


_AMOUNT_CHARS = re.compile(r"^[0-9.,]+$")


def parse_amount(value) -> Decimal:
    """A non-negative amount with at most 2 decimals, below 10^12: a number, or text in Dutch
    (``1.234.567,89``) or English (``1,234,567.89``) notation, with or without ``€``."""
    if isinstance(value, bool) or isinstance(value, datetime | date):
        raise CellValueError(_("Not an amount."))
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CellValueError(_("Not an amount."))
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        amount = _parse_amount_text(clean_text(value))
    else:
        raise CellValueError(_("Not an amount."))
    if not amount.is_finite():
        raise CellValueError(_("Not an amount."))
    if amount < 0:
        raise CellValueError(_("An amount cannot be negative."))
    if amount >= MAX_AMOUNT:
        raise CellValueError(_("Too large: at most 999.999.999.999,99."))
    if amount != amount.quantize(CENT):
        raise CellValueError(_("More than 2 decimals; round to cents."))
    return amount.quantize(CENT)


def _parse_amount_text(text: str) -> Decimal:
    invalid = CellValueError(
        _("Not a valid amount: write it like 1234567,89 or 1.234.567,89 (without € sign).")
    )
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"^(€|eur|euro)", "", text, flags=re.IGNORECASE)
    text = re.sub(r"(€|eur|euro)$", "", text, flags=re.IGNORECASE)
    negative = text[:1] in ("-", "\u2212")
    if negative:
        text = text[1:]
    if text.endswith((",-", ".-")):  # "1.250,-"
        text = text[:-2]
    if not text or not _AMOUNT_CHARS.match(text) or not text[0].isdigit():
        raise invalid
    seps = [c for c in text if c in ".,"]
    if not seps:
        whole, decimals = text, ""
    else:
        last = max(text.rfind("."), text.rfind(","))
        last_sep = text[last]
        tail = text[last + 1 :]
        if len(set(seps)) == 2:
            # Both used: the last one separates the decimals, the other groups thousands.
            whole, decimals = text[:last], tail
            group = "," if last_sep == "." else "."
            if last_sep in whole:
                raise invalid
            whole = _ungroup(whole, group, invalid)
        elif len(seps) > 1:
            # One separator, several times: thousands groups ("1.234.567").
            whole, decimals = _ungroup(text, last_sep, invalid), ""
        elif len(tail) == 3:
            # "1.234" or "1,234": amounts have at most 2 decimals, so 3 digits after a single
            # separator always group thousands.
            whole, decimals = text.replace(last_sep, ""), ""
        else:
            whole, decimals = text[:last], tail
    if not whole or not whole.isdigit() or (decimals and not decimals.isdigit()):
        raise invalid
    try:
        amount = Decimal(f"{whole}.{decimals}" if decimals else whole)
    except InvalidOperation as exc:
        raise invalid from exc
    return -amount if negative else amount


def _ungroup(text: str, sep: str, invalid: Exception) -> str:
    parts = text.split(sep)
    if not (1 <= len(parts[0]) <= 3) or any(len(p) != 3 for p in parts[1:]):
        raise invalid
    return "".join(parts)


_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$")


def parse_date(value, *, epoch=None) -> date:
    """A real Excel date, or text DD-MM-YYYY (also with / or .) or YYYY-MM-DD."""
    invalid = CellValueError(_("Not a valid date: use DD-MM-YYYY, for example 26-11-2026."))
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, bool):
        raise invalid
    elif isinstance(value, int | float):
        # A date serial that lost its date format (e.g. pasted from CSV).
        from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel

        if isinstance(value, float) and not value.is_integer():
            raise invalid
        try:
            day = from_excel(int(value), epoch or CALENDAR_WINDOWS_1900)
        except (OverflowError, ValueError, TypeError) as exc:
            raise invalid from exc
        day = day.date() if isinstance(day, datetime) else day
        if not isinstance(day, date):
            raise invalid
    elif isinstance(value, str):
        text = clean_text(value)
        if m := _DMY.match(text):
            d, mth, y = (int(g) for g in m.groups())
        elif m := _YMD.match(text):
            y, mth, d = (int(g) for g in m.groups())
        else:
            raise invalid
        try:
            day = date(y, mth, d)
        except ValueError as exc:
            raise CellValueError(_("This date does not exist.")) from exc
    else:
        raise invalid
    if not (EARLIEST_DATE <= day <= LATEST_DATE):
        raise CellValueError(
            _("The date lies outside %(start)s – %(end)s.")
            % {"start": f"{EARLIEST_DATE:%d-%m-%Y}", "end": f"{LATEST_DATE:%d-%m-%Y}"}
        )
    return day


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


@dataclass
class Sheet:
    title: str
    header: dict[str, int]  # column key -> 0-based index
    letters: dict[str, str]
    rows: list[tuple[int, list]]  # (row number, cells by index)
    epoch: object = None


class FileError(Exception):
    pass


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


def _pick_sheet(workbook):
    sheets = list(workbook.worksheets)
    if not sheets:
        raise FileError(_("The workbook contains no sheets."))
    for sheet in sheets:
        if sheet.title.strip().casefold() == SHEET_NAME.casefold():
            return sheet
    return sheets[0]


def _expected_headers() -> str:
    return ", ".join(c.title for c in COLUMNS)


def _required_headers() -> str:
    return ", ".join(c.title for c in COLUMNS if c.required)


def _read_sheet(data: bytes, warnings: list[str]) -> Sheet:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except FileError:
        raise
    except Exception as exc:  # openpyxl raises many kinds of errors on damaged files
        logger.info("Contract import: unreadable workbook (%s)", type(exc).__name__)
        raise FileError(
            _("The file is damaged and cannot be read as an Excel workbook (.xlsx).")
        ) from exc
    try:
        sheet = _pick_sheet(workbook)
        title = sheet.title
        declared = getattr(sheet, "max_row", None)
        if isinstance(declared, int) and declared > MAX_ROWS + 1:
            raise FileError(
                _(
                    "The sheet “%(sheet)s” has %(rows)s rows; at most %(max)s contracts can be "
                    "imported at once. Split the file into smaller files (and delete any empty "
                    "formatted rows at the bottom)."
                )
                % {"sheet": title, "rows": f"{declared - 1:,}".replace(",", "."), "max": "5.000"}
            )
        # The declared size may be wrong (files not written by Excel): read what is there.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, max_row=1)
        header_cells = next(rows, None)
        rows.close()
        if header_cells is None or all(is_blank(c.value) for c in header_cells):
            raise FileError(
                _(
                    "The sheet “%(sheet)s” is empty or its first row is empty. The first row "
                    "must hold the column titles: %(headers)s."
                )
                % {"sheet": title, "headers": _expected_headers()}
            )
        header, letters = _map_header(header_cells, warnings, get_column_letter)
        width = max(header.values()) + 1
        body: list[tuple[int, list]] = []
        number = 1
        for cells in sheet.iter_rows(min_row=2, max_col=width):
            number += 1
            cells = list(cells)
            if all(is_blank(getattr(c, "value", None)) for c in cells):
                if number > MAX_ROWS + 1 + EMPTY_TAIL_ROWS:
                    break
                continue
            if number > MAX_ROWS + 1:
                raise FileError(
                    _(
                        "The sheet “%(sheet)s” has more than %(max)s rows below the column "
                        "titles; at most %(max)s contracts can be imported at once. Split the "
                        "file into smaller files."
                    )
                    % {"sheet": title, "max": "5.000"}
                )
            body.append((number, cells))
        if not body:
            raise FileError(
                _(
                    "The sheet “%(sheet)s” has column titles but no contracts below them. "
                    "Fill in one contract per row."
                )
                % {"sheet": title}
            )
        return Sheet(title=title, header=header, letters=letters, rows=body, epoch=workbook.epoch)
    except FileError:
        raise
    except Exception as exc:
        logger.info("Contract import: unreadable sheet (%s)", type(exc).__name__)
        raise FileError(
            _("The file is damaged and cannot be read as an Excel workbook (.xlsx).")
        ) from exc
    finally:
        workbook.close()


def _map_header(cells, warnings: list[str], get_column_letter) -> tuple[dict, dict]:
    header: dict[str, int] = {}
    letters: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, cell in enumerate(cells):
        value = cell.value
        if is_blank(value):
            continue
        if getattr(cell, "data_type", None) == "f":
            raise FileError(_("The column titles in the first row must be text, not formulas."))
        text = clean_text_or_raw(value if isinstance(value, str) else safe_str(value))
        key = HEADER_KEYS.get(header_key(text))
        if key is None:
            unknown.append(text[:60])
            continue
        if key in header:
            duplicates.append(COLUMN_BY_KEY[key].title)
            continue
        header[key] = index
        letters[key] = get_column_letter(index + 1)
    if duplicates:
        raise FileError(
            _("These columns appear more than once: %(columns)s. Keep each column once.")
            % {"columns": ", ".join(duplicates)}
        )
    missing = [c.title for c in COLUMNS if c.required and c.key not in header]
    if missing:
        raise FileError(
            _(
                "Required columns are missing: %(missing)s. The first row must hold the column "
                "titles of the template: %(expected)s (required: %(required)s)."
            )
            % {
                "missing": ", ".join(missing),
                "expected": _expected_headers(),
                "required": _required_headers(),
            }
        )
    if unknown:
        warnings.append(
            _("These columns are not recognised and were ignored: %(columns)s.")
            % {"columns": ", ".join(unknown)}
        )
    return header, letters


def safe_str(value) -> str:
    try:
        return _number_text(value) if not isinstance(value, datetime | date) else str(value)
    except CellValueError:
        return str(value)


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


def display_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%d-%m-%Y}"
    if isinstance(value, date):
        return f"{value:%d-%m-%Y}"
    if isinstance(value, str):
        text = clean_text_or_raw(value)
        # Never echo control characters back into the page.
        text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
        return text[:120]
    return safe_str(value)[:120]


def _parse_row(sheet: Sheet, number: int, cells: list) -> RowResult:
    row = RowResult(number=number)
    for column in COLUMNS:
        index = sheet.header.get(column.key)
        if index is None:
            continue
        cell = cells[index] if index < len(cells) else None
        value = getattr(cell, "value", None)
        data_type = getattr(cell, "data_type", None)
        if data_type == "f" or isinstance(value, ArrayFormula | DataTableFormula):
            row.display[column.key] = display_value(str(value))
            _add(row, sheet, column.key, _("Cell contains a formula; paste values only."))
            continue
        row.display[column.key] = display_value(value)
        if data_type == "e":
            _add(row, sheet, column.key, _("Cell contains an Excel error (%(v)s).") % {"v": value})
            continue
        if is_blank(value):
            continue
        try:
            row.values[column.key] = _PARSERS[column.key](value, sheet.epoch)
        except CellValueError as exc:
            _add(row, sheet, column.key, str(exc))
    for column in COLUMNS:
        if column.required and column.key not in row.values and not _has_error(row, column.key):
            _add(row, sheet, column.key, _("Required: fill in a value."))
    return row


def _add(row: RowResult, sheet: Sheet | None, key: str, message: str) -> None:
    column = COLUMN_BY_KEY.get(key)
    row.errors.append(
        CellError(
            column=column.title if column else "",
            letter=(sheet.letters.get(key, "") if sheet else ""),
            message=message,
            value=row.display.get(key, ""),
        )
    )
    row.status = RowStatus.ERROR


def _has_error(row: RowResult, key: str) -> bool:
    column = COLUMN_BY_KEY.get(key)
    return any(e.column == column.title for e in row.errors) if column else False


def municipality_key(name: str) -> str:
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip().casefold()
    return re.sub(r"^gemeente\s+", "", name)


def validate_workbook(*, acting_user, data: bytes) -> ImportReport:
    """Read and validate an uploaded .xlsx completely; writes nothing."""
    report = ImportReport(sha256=hashlib.sha256(data or b"").hexdigest())
    try:
        check_container(data)
        sheet = _read_sheet(data, report.warnings)
    except FileError as exc:
        report.file_errors.append(str(exc))
        return report
    report.sheet_title = sheet.title
    report.column_letters = dict(sheet.letters)
    report.rows = [_parse_row(sheet, number, cells) for number, cells in sheet.rows]
    _validate_against_database(report.rows, sheet, acting_user)
    order = {c.title: i for i, c in enumerate(COLUMNS)}
    for row in report.rows:
        row.errors.sort(key=lambda e: order.get(e.column, -1))
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
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
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
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="1F4E79")
    last = MAX_ROWS + 1
    letter = {c.key: get_column_letter(i + 1) for i, c in enumerate(COLUMNS)}
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=column.title)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        dim = sheet.column_dimensions[get_column_letter(index)]
        dim.width = column.width
        if column.key in ("value", "labour_cost"):
            dim.number_format = "#,##0.00"
        elif column.key in ("award_date", "start_date", "end_date"):
            dim.number_format = "DD-MM-YYYY"
        elif column.key in ("kvk", "reference"):
            dim.number_format = "@"
    sheet.row_dimensions[1].height = 30
    sheet.freeze_panes = "A2"

    def validation(key: str, dv: DataValidation, prompt: str) -> None:
        dv.promptTitle = COLUMN_BY_KEY[key].title[:32]
        dv.prompt = prompt[:255]
        dv.showInputMessage = True
        dv.showErrorMessage = True
        dv.errorTitle = COLUMN_BY_KEY[key].title[:32]
        dv.error = prompt[:255]
        dv.add(f"{letter[key]}2:{letter[key]}{last}")
        sheet.add_data_validation(dv)

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
