"""Reading uploaded spreadsheets (.xlsx): the part the contract import and the bulk reporting
of contributions share.

* :class:`Column` and :class:`SheetFormat` describe a file: its columns (Dutch titles and
  aliases), its sheet and a parser per column.
* :func:`read_sheet` opens the workbook, picks the sheet, maps the header row onto the columns
  (normalised titles, aliases; missing, duplicate and unknown columns) and returns the
  non-empty rows, within the row limit (empty formatted rows at the bottom are skipped).
* :func:`parse_row` parses the cells of one row into a :class:`SheetRow` (formulas, Excel
  errors, required values), :func:`add_error` records a cell's error.
* The cell parsers (:func:`clean_text`, :func:`parse_text`, :func:`parse_amount`,
  :func:`parse_date`, ...) never trust a cell: odd unicode, numbers typed as text and the
  other way round.

The wording that names what the rows are (contracts, contributions) stays with the caller:
:class:`SheetFormat` takes the messages for too many rows and for no rows at all.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

logger = logging.getLogger(__name__)

# --- Limits ----------------------------------------------------------------------------------

MAX_ROWS = 5000
# Empty (formatted) rows below the limit are skipped; reading stops this many rows after it.
EMPTY_TAIL_ROWS = 1000
MAX_AMOUNT = Decimal("1000000000000")  # exclusive: the model stores 12 digits before the comma
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
CENT = Decimal("0.01")


# --- Columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # the Dutch column title: the file format, the same in every UI language
    required: bool  # the header must be present and every row must have a value
    aliases: tuple[str, ...] = ()
    width: int = 18


def header_key(text: str) -> str:
    """``"Soort (werken/leveringen/diensten)"`` → ``"soort"``: case, spaces, punctuation and
    a parenthesised remark do not matter when matching a column title."""
    text = re.sub(r"\(.*?\)", "", text)
    return re.sub(r"[\W_]+", "", text.casefold())


# A parser gets the cell's value and the workbook's date epoch.
Parser = Callable[[object, object], object]


class SheetFormat:
    """What a file looks like: its columns, the sheet to read, a parser per column and the
    caller's wording for too many rows or none at all."""

    def __init__(
        self,
        *,
        columns: tuple[Column, ...],
        sheet_name: str,
        parsers: dict[str, Parser],
        logger: logging.Logger,
        log_label: str,
        too_many_rows: Callable[[str], FileError],
        no_rows: Callable[[str], FileError],
        too_many_declared: Callable[[str, int, int], FileError | None],
        list_required: bool = False,
    ):
        self.columns = columns
        self.sheet_name = sheet_name
        self.parsers = parsers
        self.logger = logger  # the caller's logger
        self.log_label = log_label  # in log lines: "Contract import", "Bulk reporting"
        # (sheet title) -> the error for rows found beyond the limit
        self.too_many_rows = too_many_rows
        # (sheet title) -> the error for a header without rows
        self.no_rows = no_rows
        # (sheet title, declared row count, max rows) -> an error when the sheet's declared
        # size alone is too large, before any row is read
        self.too_many_declared = too_many_declared
        # whether the "required columns are missing" message also lists the required ones
        self.list_required = list_required
        self.column_by_key = {c.key: c for c in columns}
        self.header_keys: dict[str, str] = {}
        for column in columns:
            for name in (column.title, *column.aliases):
                self.header_keys[header_key(name)] = column.key
        self.order = {c.title: i for i, c in enumerate(columns)}

    def expected_headers(self) -> str:
        return ", ".join(c.title for c in self.columns)

    def required_headers(self) -> str:
        return ", ".join(c.title for c in self.columns if c.required)


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
class SheetRow:
    number: int  # the row number as the user sees it in the spreadsheet
    values: dict[str, object] = field(default_factory=dict)  # parsed values per column key
    display: dict[str, str] = field(default_factory=dict)  # cleaned text per column key
    errors: list[CellError] = field(default_factory=list)
    status: str = RowStatus.NEW

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


@dataclass
class SheetReport:
    sha256: str = ""
    sheet_title: str = ""
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)
    column_letters: dict[str, str] = field(default_factory=dict)

    @property
    def error_rows(self) -> list:
        return [r for r in self.rows if r.errors]

    @property
    def ok_rows(self) -> list:
        return [r for r in self.rows if not r.errors]

    @property
    def new_rows(self) -> list:
        return [r for r in self.rows if r.status == RowStatus.NEW and not r.errors]

    @property
    def skipped_rows(self) -> list:
        return [r for r in self.rows if r.status == RowStatus.SKIP]

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.rows)

    @property
    def is_valid(self) -> bool:
        """Readable, with at least one row, and no row has an error."""
        return not self.file_errors and bool(self.rows) and not self.error_rows

    @property
    def can_import(self) -> bool:
        return self.is_valid and bool(self.new_rows)


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


def number_text(value) -> str:
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
        value = number_text(value)
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


def safe_str(value) -> str:
    try:
        return number_text(value) if not isinstance(value, datetime | date) else str(value)
    except CellValueError:
        return str(value)


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


def damaged() -> FileError:
    return FileError(_("The file is damaged and cannot be read as an Excel workbook (.xlsx)."))


def read_sheet(data: bytes, warnings: list[str], fmt: SheetFormat, *, max_rows: int) -> Sheet:
    """The sheet ``fmt.sheet_name`` (or the first sheet): its header mapped onto the format's
    columns and its non-empty rows, at most ``max_rows`` of them. Unrecognised columns are
    reported in ``warnings``; anything that makes the file unusable raises :class:`FileError`."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many kinds of errors on damaged files
        fmt.logger.info("%s: unreadable workbook (%s)", fmt.log_label, type(exc).__name__)
        raise damaged() from exc
    try:
        sheet = _pick_sheet(workbook, fmt.sheet_name)
        title = sheet.title
        declared = getattr(sheet, "max_row", None)
        if isinstance(declared, int):
            error = fmt.too_many_declared(title, declared, max_rows)
            if error is not None:
                raise error
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
                % {"sheet": title, "headers": fmt.expected_headers()}
            )
        header, letters = map_header(header_cells, warnings, fmt, get_column_letter)
        width = max(header.values()) + 1
        body: list[tuple[int, list]] = []
        for number, cells in enumerate(sheet.iter_rows(min_row=2, max_col=width), start=2):
            cells = list(cells)
            if all(is_blank(getattr(c, "value", None)) for c in cells):
                if number > max_rows + 1 + EMPTY_TAIL_ROWS:
                    break
                continue
            if number > max_rows + 1:
                raise fmt.too_many_rows(title)
            body.append((number, cells))
        if not body:
            raise fmt.no_rows(title)
        return Sheet(title=title, header=header, letters=letters, rows=body, epoch=workbook.epoch)
    except FileError:
        raise
    except Exception as exc:
        fmt.logger.info("%s: unreadable sheet (%s)", fmt.log_label, type(exc).__name__)
        raise damaged() from exc
    finally:
        workbook.close()


def _pick_sheet(workbook, name: str):
    sheets = list(workbook.worksheets)
    if not sheets:
        raise FileError(_("The workbook contains no sheets."))
    for sheet in sheets:
        if sheet.title.strip().casefold() == name.casefold():
            return sheet
    return sheets[0]


def map_header(
    cells, warnings: list[str], fmt: SheetFormat, get_column_letter
) -> tuple[dict[str, int], dict[str, str]]:
    """Column key → 0-based index and column key → letter, from the header row's cells."""
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
        key = fmt.header_keys.get(header_key(text))
        if key is None:
            unknown.append(text[:60])
        elif key in header:
            duplicates.append(fmt.column_by_key[key].title)
        else:
            header[key] = index
            letters[key] = get_column_letter(index + 1)
    if duplicates:
        raise FileError(
            _("These columns appear more than once: %(columns)s. Keep each column once.")
            % {"columns": ", ".join(duplicates)}
        )
    missing = [c.title for c in fmt.columns if c.required and c.key not in header]
    if missing and fmt.list_required:
        raise FileError(
            _(
                "Required columns are missing: %(missing)s. The first row must hold the column "
                "titles of the template: %(expected)s (required: %(required)s)."
            )
            % {
                "missing": ", ".join(missing),
                "expected": fmt.expected_headers(),
                "required": fmt.required_headers(),
            }
        )
    if missing:
        raise FileError(
            _(
                "Required columns are missing: %(missing)s. The first row must hold the column "
                "titles of the template: %(expected)s."
            )
            % {"missing": ", ".join(missing), "expected": fmt.expected_headers()}
        )
    if unknown:
        warnings.append(
            _("These columns are not recognised and were ignored: %(columns)s.")
            % {"columns": ", ".join(unknown)}
        )
    return header, letters


# --- Rows ------------------------------------------------------------------------------------


def parse_row(row: SheetRow, sheet: Sheet, cells: list, fmt: SheetFormat) -> SheetRow:
    """Parse the cells of one row into ``row`` (its values, display texts and errors)."""
    for column in fmt.columns:
        index = sheet.header.get(column.key)
        if index is None:
            continue
        cell = cells[index] if index < len(cells) else None
        value = getattr(cell, "value", None)
        data_type = getattr(cell, "data_type", None)
        if data_type == "f" or isinstance(value, ArrayFormula | DataTableFormula):
            row.display[column.key] = display_value(str(value))
            add_error(row, sheet, fmt, column.key, _("Cell contains a formula; paste values only."))
            continue
        row.display[column.key] = display_value(value)
        if data_type == "e":
            add_error(
                row,
                sheet,
                fmt,
                column.key,
                _("Cell contains an Excel error (%(v)s).") % {"v": value},
            )
            continue
        if is_blank(value):
            continue
        try:
            row.values[column.key] = fmt.parsers[column.key](value, sheet.epoch)
        except CellValueError as exc:
            add_error(row, sheet, fmt, column.key, str(exc))
    for column in fmt.columns:
        if column.required and column.key not in row.values and not has_error(row, fmt, column.key):
            add_error(row, sheet, fmt, column.key, _("Required: fill in a value."))
    return row


def add_error(row: SheetRow, sheet: Sheet | None, fmt: SheetFormat, key: str, message) -> None:
    """Record an error in the column ``key`` ("" or an unknown key: the row as a whole)."""
    column = fmt.column_by_key.get(key)
    row.errors.append(
        CellError(
            column=column.title if column else "",
            letter=(sheet.letters.get(key, "") if sheet else ""),
            message=str(message),
            value=row.display.get(key, ""),
        )
    )
    row.status = RowStatus.ERROR


def has_error(row: SheetRow, fmt: SheetFormat, key: str) -> bool:
    column = fmt.column_by_key.get(key)
    return any(e.column == column.title for e in row.errors) if column else False


def sort_errors(rows: list[SheetRow], fmt: SheetFormat, *, unknown_position: int) -> None:
    """Each row's errors in the order of the columns; errors of no known column (the row as a
    whole) at ``unknown_position``."""
    for row in rows:
        row.errors.sort(key=lambda e: fmt.order.get(e.column, unknown_position))


def read_into(report: SheetReport, data: bytes, *, check, read) -> Sheet | None:
    """Check and read an upload into ``report``: ``check(data)`` refuses a file that is no
    usable .xlsx, ``read(data, warnings)`` returns its :class:`Sheet`. Returns ``None`` (with
    the reason in ``report.file_errors``) when the file cannot be used."""
    try:
        check(data)
        sheet = read(data, report.warnings)
    except FileError as exc:
        report.file_errors.append(str(exc))
        return None
    report.sheet_title = sheet.title
    report.column_letters = dict(sheet.letters)
    return sheet


# --- Templates -------------------------------------------------------------------------------

AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "DD-MM-YYYY"
TEXT_FORMAT = "@"


def write_header(sheet, fmt: SheetFormat, number_formats: dict[str, str]) -> None:
    """A template's first row: the column titles (white on dark blue), the column widths and
    the cell format per column key (:data:`AMOUNT_FORMAT`, :data:`DATE_FORMAT`, ...)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="1F4E79")
    for index, column in enumerate(fmt.columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.title)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        dim = sheet.column_dimensions[get_column_letter(index)]
        dim.width = column.width
        if column.key in number_formats:
            dim.number_format = number_formats[column.key]
    sheet.row_dimensions[1].height = 30
    sheet.freeze_panes = "A2"


def add_validation(sheet, fmt: SheetFormat, key: str, dv, prompt: str, *, max_rows: int) -> None:
    """Attach the data validation ``dv`` (with ``prompt`` as its input and error message) to
    the column ``key``, for the rows below the header up to the row limit."""
    from openpyxl.utils import get_column_letter

    title = fmt.column_by_key[key].title
    letter = get_column_letter(fmt.columns.index(fmt.column_by_key[key]) + 1)
    dv.promptTitle = title[:32]
    dv.prompt = prompt[:255]
    dv.showInputMessage = True
    dv.showErrorMessage = True
    dv.errorTitle = title[:32]
    dv.error = prompt[:255]
    dv.add(f"{letter}2:{letter}{max_rows + 1}")
    sheet.add_data_validation(dv)
