"""Bulk reporting of contributions by spreadsheet (.xlsx), for contractors with many placements.

The flow is that of the contract import (:mod:`contracts.importing`). The spreadsheet reading
both share (header mapping, rows, the row limit, cell parsers for text, dates and amounts,
cleaning unicode) is :mod:`sroi.spreadsheets`; refusing garbage files and keeping the upload
between preview and confirmation are the contract import's, imported, not copied:

1. :func:`build_template` makes the template: a sheet ``Bijdragen`` with the Dutch column
   titles of :data:`COLUMNS` and a sheet ``Toelichting`` with instructions and the
   contractor's own open obligations.
2. :func:`validate_workbook` reads an uploaded file and validates every row without writing:
   the contract must be one of the uploading contractor's own contracts with an open
   obligation (any other reference, also one of another contractor, is an *unknown contract*:
   its existence is never revealed), the block gets the inputs the single-report form asks,
   a candidate is an existing one of the contractor (``Kandidaatcode``) or a new one
   (``Initialen``, ``Geboortejaar``, ``Doelgroep``, ``Uitkeringsjaren``), and the value comes
   from the engine through :func:`placements.services.value_of` (as stored:
   :func:`placements.portal.preview_value`, so an open-ended placement counts up to today).
   The result is a :class:`BulkReport` with, per row, its errors by column or the value the
   contribution would get.
3. :func:`import_workbook` validates again and, only when every row is fine, creates the new
   candidates (:func:`placements.services.create_candidate`) and submits the contributions
   (:func:`placements.services.submit_contribution`) in one transaction: all rows or none.
   No mail per row: once the import commits, each adviser concerned gets one summary
   (:func:`placements.notifications.notify_bulk_submitted`).

Re-uploading the same file creates nothing twice: a row identical to a contribution already
reported on the same obligation (same block, candidate or social enterprise, start date and
inputs) is *already reported* and skipped; when only its description or subcontractor
differs it is an error, so a change is never silently ignored (change that contribution in
the portal instead).

Queries: the validation of a file costs a constant number of queries, whatever its number of
rows: the contractor's contracts with their obligations and frozen rulebooks (rules and
bonuses prefetched once per obligation), the candidates named by code, and the contributions
already reported on those obligations. The engine then values every row in memory.

Privacy: cell values are echoed back only to the contractor who uploaded them and are never
logged.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import importing
from contracts.importing import (
    MAX_UPLOAD_BYTES,
    XLSX_CONTENT_TYPE,
    ImportFailed,
    ImportRejected,
    check_container,
    municipality_key,
)
from contracts.models import Contract, Obligation
from sroi import permissions, spreadsheets
from sroi.permissions import Action, get_scope
from sroi.spreadsheets import (
    EMPTY_TAIL_ROWS,
    MAX_ROWS,
    CellValueError,
    Column,
    FileError,
    RowStatus,
    Sheet,
    clean_text,
    header_key,
    parse_amount,
    parse_date,
    parse_text,
    safe_str,
)

from . import notifications, services
from .choices import Block, TargetGroup
from .models import Candidate, Contribution
from .portal import BlockSpec, block_specs, preview_value

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "SHEET_NAME",
    "XLSX_CONTENT_TYPE",
    "BulkReport",
    "BulkResult",
    "BulkRow",
    "ImportFailed",
    "ImportRejected",
    "build_template",
    "import_workbook",
    "validate_workbook",
]

logger = logging.getLogger(__name__)

SHEET_NAME = "Bijdragen"
HELP_SHEET_NAME = importing.HELP_SHEET_NAME  # "Toelichting"

# --- Columns ---------------------------------------------------------------------------------

COLUMNS: tuple[Column, ...] = (
    Column(
        "reference",
        "Kenmerk opdracht",
        True,
        ("kenmerk", "referentie", "contract reference", "reference", "contractnummer"),
        18,
    ),
    Column("municipality", "Gemeente", True, ("municipality", "opdrachtgever"), 14),
    Column("block", "Bouwblok", True, ("block", "soort bijdrage", "bijdrage"), 24),
    Column("candidate_code", "Kandidaatcode", False, ("candidate code", "code kandidaat"), 14),
    Column("initials", "Initialen", False, ("initials", "voorletters"), 10),
    Column("birth_year", "Geboortejaar", False, ("birth year",), 12),
    Column("target_group", "Doelgroep", False, ("target group",), 24),
    Column(
        "years_on_benefit",
        "Uitkeringsjaren",
        False,
        ("years on benefit", "jaren in de uitkering", "jaren uitkering"),
        14,
    ),
    Column(
        "target_group_note",
        "Toelichting doelgroep",
        False,
        ("target group justification", "onderbouwing doelgroep"),
        30,
    ),
    Column("start_date", "Startdatum", True, ("begindatum", "start date"), 12),
    Column("end_date", "Einddatum", False, ("end date",), 12),
    Column("hours_per_week", "Uren per week", False, ("hours per week",), 12),
    Column("permanent_contract", "Vast contract", False, ("permanent contract",), 12),
    Column("social_enterprise", "Sociale onderneming", False, ("social enterprise",), 28),
    Column(
        "invoiced_amount",
        "Gefactureerd bedrag excl. btw",
        False,
        ("gefactureerd bedrag", "factuurbedrag", "invoiced amount", "invoiced amount excl. vat"),
        18,
    ),
    Column("hours", "Uren", False, ("hours", "aantal uren"), 10),
    Column("actual_cost", "Werkelijke kosten", False, ("actual cost", "kosten"), 16),
    Column("variant", "Variant", False, ("variant",), 14),
    Column("delivered_by", "Geleverd door", False, ("delivered by", "onderaannemer"), 24),
    Column("description", "Omschrijving", False, ("description",), 36),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
CANDIDATE_DETAIL_KEYS = (
    "initials",
    "birth_year",
    "target_group",
    "years_on_benefit",
    "target_group_note",
)

# The words of the file for blocks and target groups (the template's lists use the first).
BLOCK_WORDS: dict[str, tuple[str, ...]] = {
    Block.JOB: ("baan", "job", "dienstverband", "werk"),
    Block.WORK_EXPERIENCE: ("werkervaringsplek", "work experience", "work-experience place"),
    Block.INTERNSHIP: ("stage", "internship", "stageplek"),
    Block.BBL: ("BBL", "bbl-leerbaan", "leerbaan", "bbl apprenticeship"),
    Block.SOCIAL_PURCHASE: (
        "inkoop sociale onderneming",
        "inkoop bij sociale onderneming",
        "social purchase",
        "purchase from social enterprise",
        "inkoop",
    ),
    Block.SOCIAL_ACTIVITY: ("sociale activiteit", "social activity", "activiteit"),
    Block.TRAINING: ("opleiding", "training", "scholing"),
}
TARGET_GROUP_WORDS: dict[str, tuple[str, ...]] = {
    TargetGroup.PARTICIPATIEWET: ("Participatiewet", "pw", "bijstand"),
    TargetGroup.WW: ("WW",),
    TargetGroup.WIA: ("WIA/WGA/WAZ/IOAW/IOAZ", "wia", "wga", "waz", "ioaw", "ioaz"),
    TargetGroup.WAJONG: ("Wajong",),
    TargetGroup.BANENAFSPRAAK: ("Banenafspraak", "doelgroepregister"),
    TargetGroup.NUG: ("NUG", "niet-uitkeringsgerechtigde", "non-benefit jobseeker"),
    TargetGroup.STATUSHOUDER: ("Statushouder",),
    TargetGroup.EARLY_SCHOOL_LEAVER: ("Voortijdig schoolverlater", "vsv", "early school leaver"),
    TargetGroup.PRAKTIJKONDERWIJS_VSO: ("Praktijkonderwijs/VSO", "praktijkonderwijs", "vso"),
    TargetGroup.STUDENT: ("BOL/BBL-student", "student", "bol-student", "bbl-student"),
    TargetGroup.OTHER: ("Anders", "overig", "other"),
}


def _word_index(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for value, names in words.items():
        for name in (value, *names):
            index[header_key(str(name))] = str(value)
    return index


BLOCK_BY_WORD = _word_index(BLOCK_WORDS)
TARGET_GROUP_BY_WORD = _word_index(TARGET_GROUP_WORDS)
YES_WORDS = frozenset({"ja", "j", "yes", "y", "1", "true", "waar", "x"})
NO_WORDS = frozenset({"nee", "n", "no", "0", "false", "onwaar"})


def block_word(block: str) -> str:
    return BLOCK_WORDS[block][0]


def target_group_word(group: str) -> str:
    return TARGET_GROUP_WORDS[group][0]


# --- What each block asks: the single-report form's rules ------------------------------------

# Inputs that vary per block ("candidate" stands for the candidate columns). Every block also
# takes the start date (required) and the subcontractor ("Geleverd door").
PER_BLOCK_INPUTS = (
    "candidate",
    "end_date",
    "hours_per_week",
    "permanent_contract",
    "social_enterprise",
    "invoiced_amount",
    "hours",
    "actual_cost",
    "variant",
    "description",
)


def form_inputs(spec: BlockSpec, variant: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(required, allowed)`` inputs of a block, exactly as the portal's report form
    (:class:`placements.forms_portal.ContributionForm`) asks them for the obligation's frozen
    rulebook (``spec`` from :func:`placements.portal.block_specs`): a placement needs a
    candidate and hours per week (and an end date, except an ongoing job); a purchase the
    social enterprise; a social activity or training a description; the variant when the
    rulebook distinguishes variants, and the invoiced amount, hours or actual cost its rule
    kind values by."""
    required: set[str] = set()
    allowed: set[str] = {"description", *spec.extra_inputs}
    if spec.is_person_block:
        required |= {"candidate", "hours_per_week"}
        allowed |= {"candidate", "hours_per_week", "end_date"}
        if spec.block != Block.JOB:
            required.add("end_date")
    if spec.permanent_contract:
        allowed.add("permanent_contract")
    if spec.block == Block.SOCIAL_PURCHASE:
        required.add("social_enterprise")
        allowed |= {"social_enterprise", "invoiced_amount"}
    if spec.has_variants:
        allowed.add("variant")
        if "" not in dict(spec.variants):
            required.add("variant")
    if spec.block in (Block.SOCIAL_ACTIVITY, Block.TRAINING):
        required.add("description")
    required |= spec.inputs_by_variant.get(variant, set())
    return frozenset(required), frozenset(allowed | required)


# --- Results ---------------------------------------------------------------------------------


@dataclass
class BulkRow(spreadsheets.SheetRow):
    contract: Contract | None = None
    obligation: Obligation | None = None
    candidate: Candidate | None = None  # existing (by code) or new (unsaved)
    new_candidate: dict | None = None  # cleaned details for ``create_candidate``
    inputs: dict = field(default_factory=dict)  # for ``submit_contribution`` (no candidate)
    valuation: object = None  # ``placements.valuation.Valuation``
    existing: Contribution | None = None  # the contribution this row already reported

    @property
    def value(self) -> Decimal | None:
        if self.existing is not None:
            return self.existing.value
        return self.valuation.value if self.valuation is not None else None

    @property
    def explanation(self) -> tuple[str, ...]:
        if self.existing is not None:
            return tuple(self.existing.value_explanation or ())
        return tuple(self.valuation.explanation) if self.valuation is not None else ()

    @property
    def block(self) -> str:
        return str(self.values.get("block", ""))

    @property
    def block_label(self) -> str:
        return Block(self.block).label if self.block in Block.values else ""

    @property
    def is_person_block(self) -> bool:
        return self.block in services.PERSON_BLOCKS

    @property
    def candidate_is_new(self) -> bool:
        return self.new_candidate is not None


@dataclass
class BulkReport(spreadsheets.SheetReport):
    rows: list[BulkRow] = field(default_factory=list)

    @property
    def new_candidate_count(self) -> int:
        return sum(1 for r in self.new_rows if r.candidate_is_new)

    @property
    def new_value_total(self) -> Decimal:
        return sum((r.value for r in self.new_rows if r.value is not None), Decimal("0.00"))


@dataclass(frozen=True)
class BulkResult:
    created: int
    skipped: int
    candidates_created: int
    total_value: Decimal
    contribution_ids: tuple[int, ...]


# --- Cell parsers (on top of the contract import's) ------------------------------------------


def parse_block(value) -> str:
    text = value if isinstance(value, str) else safe_str(value)
    block = BLOCK_BY_WORD.get(header_key(clean_text(text)))
    if block is None:
        raise CellValueError(
            _("Unknown block. Use one of: %(words)s.")
            % {"words": ", ".join(BLOCK_WORDS[b][0] for b in BLOCK_WORDS)}
        )
    return block


def parse_target_group(value) -> str:
    text = value if isinstance(value, str) else safe_str(value)
    group = TARGET_GROUP_BY_WORD.get(header_key(clean_text(text)))
    if group is None:
        raise CellValueError(
            _("Unknown target group. Use one of: %(words)s.")
            % {"words": ", ".join(w[0] for w in TARGET_GROUP_WORDS.values())}
        )
    return group


def parse_yes_no(value) -> bool:
    if isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else safe_str(value)
    word = clean_text(text).casefold()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise CellValueError(_("Fill in ja or nee."))


def parse_number(value) -> Decimal:
    """A non-negative number with at most 2 decimals (hours), as ``24`` or ``24,5``."""
    try:
        return parse_amount(value)
    except CellValueError as exc:
        raise CellValueError(
            _("Not a valid number: write it like 24 or 24,5 (not negative, at most 2 decimals).")
        ) from exc


def parse_years(value) -> Decimal:
    """Years on benefit: a non-negative number with at most 1 decimal (``2,5``)."""
    try:
        years = parse_amount(value)
    except CellValueError as exc:
        raise CellValueError(
            _("Not a valid number of years: write it like 3 or 2,5 (at most 1 decimal).")
        ) from exc
    if years != years.quantize(Decimal("0.1")):
        raise CellValueError(_("At most 1 decimal, for example 2,5."))
    return years.quantize(Decimal("0.1"))


def parse_year(value) -> int:
    invalid = CellValueError(_("Not a year: write it with four digits, for example 1985."))
    if isinstance(value, bool) or isinstance(value, date):
        raise invalid
    if isinstance(value, float):
        if not value.is_integer():
            raise invalid
        value = int(value)
    if isinstance(value, int):
        return value
    text = clean_text(str(value))
    if not re.fullmatch(r"\d{4}", text):
        raise invalid
    return int(text)


def parse_candidate_code(value) -> str:
    text = parse_text(value, max_length=30)
    return re.sub(r"\s+", "", text).upper()


_PARSERS = {
    "reference": lambda v, e: parse_text(v, max_length=50),
    "municipality": lambda v, e: parse_text(v, max_length=200),
    "block": lambda v, e: parse_block(v),
    "candidate_code": lambda v, e: parse_candidate_code(v),
    "initials": lambda v, e: parse_text(v, max_length=30),
    "birth_year": lambda v, e: parse_year(v),
    "target_group": lambda v, e: parse_target_group(v),
    "years_on_benefit": lambda v, e: parse_years(v),
    "target_group_note": lambda v, e: parse_text(v, max_length=300),
    "start_date": lambda v, e: parse_date(v, epoch=e),
    "end_date": lambda v, e: parse_date(v, epoch=e),
    "hours_per_week": lambda v, e: parse_number(v),
    "permanent_contract": lambda v, e: parse_yes_no(v),
    "social_enterprise": lambda v, e: parse_text(v, max_length=200),
    "invoiced_amount": lambda v, e: parse_amount(v),
    "hours": lambda v, e: parse_number(v),
    "actual_cost": lambda v, e: parse_amount(v),
    "variant": lambda v, e: parse_text(v, max_length=50),
    "delivered_by": lambda v, e: parse_text(v, max_length=200),
    "description": lambda v, e: parse_text(v, max_length=300),
}


# --- Reading the workbook --------------------------------------------------------------------


def _read_sheet(data: bytes, warnings: list[str]) -> Sheet:
    """The sheet ``Bijdragen`` (or the first sheet): its header mapped onto :data:`COLUMNS`
    and its non-empty rows, within the contract import's row limit."""
    return spreadsheets.read_sheet(data, warnings, FORMAT, max_rows=MAX_ROWS)


def _too_many_rows(title: str) -> FileError:
    return FileError(
        _(
            "The sheet “%(sheet)s” has more than %(max)s rows below the column titles; at most "
            "%(max)s contributions can be reported at once. Split the file into smaller files "
            "(and delete any empty formatted rows at the bottom)."
        )
        % {"sheet": title, "max": "5.000"}
    )


def _no_rows(title: str) -> FileError:
    return FileError(
        _(
            "The sheet “%(sheet)s” has column titles but no contributions below them. "
            "Fill in one contribution per row."
        )
        % {"sheet": title}
    )


FORMAT = spreadsheets.SheetFormat(
    columns=COLUMNS,
    sheet_name=SHEET_NAME,
    parsers=_PARSERS,
    logger=logger,
    log_label="Bulk reporting",
    too_many_rows=_too_many_rows,
    no_rows=_no_rows,
    too_many_declared=lambda title, declared, max_rows: (
        _too_many_rows(title) if declared > max_rows + 1 + EMPTY_TAIL_ROWS else None
    ),
)
HEADER_KEYS = FORMAT.header_keys  # normalised column title or alias -> column key


def _parse_row(sheet: Sheet, number: int, cells: list) -> BulkRow:
    return spreadsheets.parse_row(BulkRow(number=number), sheet, cells, FORMAT)


def _add(row: BulkRow, sheet: Sheet | None, key: str, message: str) -> None:
    spreadsheets.add_error(row, sheet, FORMAT, key, message)


def _has_error(row: BulkRow, key: str) -> bool:
    return spreadsheets.has_error(row, FORMAT, key)


# --- Validation ------------------------------------------------------------------------------


def _require_contractor(user) -> int:
    """Only a contractor's own users report in bulk (staff report one by one)."""
    contractor_id = get_scope(user).contractor_id
    if contractor_id is None:
        raise PermissionDenied
    return contractor_id


def own_contracts(user):
    """The uploading contractor's contracts on which they may report, with obligation and
    frozen rulebook (rules and bonuses prefetched: the engine values every row in memory)."""
    contractor_id = _require_contractor(user)
    return (
        permissions.contracts_visible_to(user, action=Action.REPORT_CONTRIBUTION)
        .filter(contractor_id=contractor_id)
        .select_related("municipality", "contractor", "obligation__rulebook__owner")
        .prefetch_related("obligation__rulebook__rules", "obligation__rulebook__bonuses")
        .order_by("municipality__name", "reference")
    )


def _obligation_of(contract: Contract) -> Obligation | None:
    try:
        return contract.obligation
    except Obligation.DoesNotExist:
        return None


def validate_workbook(*, acting_user, data: bytes) -> BulkReport:
    """Read and validate an uploaded .xlsx completely; writes nothing."""
    _require_contractor(acting_user)
    report = BulkReport(sha256=hashlib.sha256(data or b"").hexdigest())
    sheet = spreadsheets.read_into(report, data, check=check_container, read=_read_sheet)
    if sheet is None:
        return report
    report.rows = [_parse_row(sheet, number, cells) for number, cells in sheet.rows]
    _validate_against_database(report.rows, sheet, acting_user)
    spreadsheets.sort_errors(report.rows, FORMAT, unknown_position=len(COLUMNS))
    return report


def _validate_against_database(rows: list[BulkRow], sheet: Sheet, acting_user) -> None:
    contracts: dict[tuple[str, str], Contract] = {
        (municipality_key(c.municipality.name), c.reference.casefold()): c
        for c in own_contracts(acting_user)
    }
    # The contract first: nothing else about a row is checked where it is not the
    # contractor's own open obligation.
    valid: list[BulkRow] = []
    for row in rows:
        if _resolve_obligation(row, sheet, contracts):
            valid.append(row)
    specs: dict[int, dict[str, BlockSpec]] = {}
    for row in valid:
        if row.obligation.pk not in specs:  # from the prefetched rules: no queries
            specs[row.obligation.pk] = block_specs(row.obligation)
        _check_block_inputs(row, sheet, specs[row.obligation.pk])
    _resolve_candidates(valid, sheet, acting_user)
    today = timezone.localdate()
    for row in valid:
        if not row.errors:
            _value_row(row, sheet, today)
    _find_duplicates([r for r in valid if not r.errors], sheet, acting_user)


def _resolve_obligation(row: BulkRow, sheet: Sheet, contracts: dict) -> bool:
    reference, municipality = row.values.get("reference"), row.values.get("municipality")
    if reference is None or municipality is None:
        return False
    contract = contracts.get((municipality_key(municipality), reference.casefold()))
    if contract is None:
        # The same words whether the reference does not exist or is another contractor's.
        _add(
            row,
            sheet,
            "reference",
            _(
                "Unknown contract: you have no contract “%(reference)s” with %(municipality)s. "
                "Check the reference and the municipality (see the sheet “Toelichting” of the "
                "template)."
            )
            % {"reference": reference, "municipality": municipality},
        )
        return False
    obligation = _obligation_of(contract)
    if obligation is None:
        _add(
            row,
            sheet,
            "reference",
            _("This contract has no SROI obligation; there is nothing to report on it."),
        )
        return False
    if obligation.status != Obligation.Status.OPEN:
        _add(
            row,
            sheet,
            "reference",
            _("The SROI obligation of this contract is settled; nothing can be reported on it."),
        )
        return False
    if obligation.rulebook_id is None:
        _add(
            row,
            sheet,
            "reference",
            _(
                "This obligation has no rulebook yet, so contributions cannot be valued. "
                "Ask the SROI adviser."
            ),
        )
        return False
    row.contract = contract
    row.obligation = obligation
    return True


def _check_block_inputs(row: BulkRow, sheet: Sheet, specs: dict[str, BlockSpec]) -> None:
    """The block is one the obligation's rulebook values, its required inputs are there and
    the inputs its form does not ask are empty."""
    block = row.values.get("block")
    if block is None:
        return
    label = str(Block(block).label)
    spec = specs.get(block)
    if spec is None:
        _add(
            row,
            sheet,
            "block",
            _(
                "The rulebook of this contract does not value the block “%(block)s”. "
                "It values: %(blocks)s."
            )
            % {"block": label, "blocks": ", ".join(block_word(b) for b in specs) or "–"},
        )
        return
    variant = _check_variant(row, sheet, spec, label)
    required, allowed = form_inputs(spec, variant)
    has_candidate = "candidate_code" in row.values or any(
        key in row.values for key in CANDIDATE_DETAIL_KEYS
    )
    for name in PER_BLOCK_INPUTS:
        if name == "candidate":
            present = has_candidate
        elif name == "permanent_contract":
            present = row.values.get(name) is True  # "nee" is the default, never in the way
        else:
            present = name in row.values
        if name in required and not present and not _has_error(row, _column_of(name)):
            if name == "candidate":
                _add(
                    row,
                    sheet,
                    "candidate_code",
                    _(
                        "The block “%(block)s” needs a candidate: fill in Kandidaatcode (a "
                        "candidate you reported before), or Initialen, Geboortejaar and Doelgroep "
                        "(a new candidate)."
                    )
                    % {"block": label},
                )
            else:
                _add(row, sheet, name, _("Required for the block “%(block)s”.") % {"block": label})
        elif name not in allowed and present:
            keys = (
                [k for k in ("candidate_code", *CANDIDATE_DETAIL_KEYS) if k in row.values]
                if name == "candidate"
                else [name]
            )
            for key in keys:
                _add(
                    row,
                    sheet,
                    key,
                    _("Not used for the block “%(block)s”; leave this cell empty.")
                    % {"block": label},
                )


def _check_variant(row: BulkRow, sheet: Sheet, spec: BlockSpec, label: str) -> str:
    """The variant as the rulebook spells it ("" when none is given or it is unknown)."""
    given = row.values.get("variant")
    if given is None or not spec.has_variants:
        return ""
    variants = {v.casefold(): v for v, _label in spec.variants if v}
    variant = variants.get(given.casefold())
    if variant is None:
        _add(
            row,
            sheet,
            "variant",
            _("Unknown variant for the block “%(block)s”. Use one of: %(variants)s.")
            % {"block": label, "variants": ", ".join(variants.values())},
        )
        return ""
    row.values["variant"] = variant
    return variant


def _column_of(name: str) -> str:
    return "candidate_code" if name == "candidate" else name


# Candidate detail errors of ``services`` by field name → the column they belong to.
_CANDIDATE_FIELD_COLUMNS = {key: key for key in CANDIDATE_DETAIL_KEYS}


def _resolve_candidates(rows: list[BulkRow], sheet: Sheet, acting_user) -> None:
    contractor_id = get_scope(acting_user).contractor_id
    codes = sorted(
        {
            row.values["candidate_code"]
            for row in rows
            if "candidate_code" in row.values and not _candidate_errors(row)
        }
    )
    known: dict[str, Candidate] = {}
    for start in range(0, len(codes), 500):
        for candidate in permissions.candidates_visible_to(acting_user).filter(
            contractor_id=contractor_id, code__in=codes[start : start + 500]
        ):
            known[candidate.code.upper()] = candidate
    for row in rows:
        if _candidate_errors(row):
            continue
        has_details = any(key in row.values for key in CANDIDATE_DETAIL_KEYS)
        code = row.values.get("candidate_code")
        if code is not None and has_details:
            _add(
                row,
                sheet,
                "candidate_code",
                _(
                    "Fill in either Kandidaatcode (a candidate you reported before) or "
                    "Initialen, Geboortejaar and Doelgroep (a new candidate), not both."
                ),
            )
        elif code is not None:
            candidate = known.get(code)
            if candidate is None:
                # Never reveal that a code exists for another contractor.
                _add(
                    row,
                    sheet,
                    "candidate_code",
                    _(
                        "Unknown candidate code: none of your candidates has this code. "
                        "For a new candidate, leave Kandidaatcode empty and fill in Initialen, "
                        "Geboortejaar and Doelgroep."
                    ),
                )
            elif candidate.anonymised_at is not None:
                _add(
                    row,
                    sheet,
                    "candidate_code",
                    _("This candidate has been anonymised and cannot be reported."),
                )
            else:
                row.candidate = candidate
        elif has_details:
            _new_candidate(row, sheet, contractor_id)


def _candidate_errors(row: BulkRow) -> bool:
    return any(_has_error(row, key) for key in ("candidate_code", *CANDIDATE_DETAIL_KEYS))


def _new_candidate(row: BulkRow, sheet: Sheet, contractor_id: int) -> None:
    missing = [k for k in ("initials", "birth_year", "target_group") if k not in row.values]
    for key in missing:
        if not _has_error(row, key):
            _add(row, sheet, key, _("Required for a new candidate: fill in a value."))
    if missing:
        return
    try:
        details = services.clean_candidate_details(
            initials=row.values["initials"],
            birth_year=row.values["birth_year"],
            target_group=row.values["target_group"],
            years_on_benefit=row.values.get("years_on_benefit"),
            target_group_note=row.values.get("target_group_note", ""),
        )
    except ValidationError as exc:
        _add_validation_error(row, sheet, exc, _CANDIDATE_FIELD_COLUMNS)
        return
    row.new_candidate = details
    row.candidate = Candidate(contractor_id=contractor_id, **details)


def _add_validation_error(row: BulkRow, sheet: Sheet, exc: ValidationError, columns: dict):
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            key = columns.get(name, "") if name != NON_FIELD_ERRORS else ""
            for error in errors:
                for message in error.messages:
                    _add(row, sheet, key, message)
    else:
        for message in exc.messages:
            _add(row, sheet, "", message)


def _contribution_columns(row: BulkRow) -> dict[str, str]:
    """Service field names → the column an error of that field belongs to."""
    candidate_column = "target_group" if row.candidate_is_new else "candidate_code"
    return {
        "block": "block",
        "start_date": "start_date",
        "end_date": "end_date",
        "hours_per_week": "hours_per_week",
        "permanent_contract": "permanent_contract",
        "social_enterprise": "social_enterprise",
        "invoiced_amount": "invoiced_amount",
        "hours": "hours",
        "actual_cost": "actual_cost",
        "variant": "variant",
        "delivered_by": "delivered_by",
        "description": "description",
        "candidate": candidate_column,
    }


def _value_row(row: BulkRow, sheet: Sheet, today: date) -> None:
    """Value the row as the service will store it; errors keyed by column."""
    v = row.values
    inputs = {
        "block": v["block"],
        "candidate": row.candidate,
        "start_date": v["start_date"],
        "end_date": v.get("end_date"),
        "hours_per_week": v.get("hours_per_week"),
        "permanent_contract": bool(v.get("permanent_contract", False)),
        "social_enterprise": v.get("social_enterprise", ""),
        "invoiced_amount": v.get("invoiced_amount"),
        "hours": v.get("hours"),
        "actual_cost": v.get("actual_cost"),
        "variant": v.get("variant", ""),
        "delivered_by": v.get("delivered_by", ""),
        "description": v.get("description", ""),
    }
    obligation = row.obligation
    try:
        # What ``submit_contribution`` checks before it writes, in the same order: the
        # inputs as entered, then the value as it will be stored (an open-ended placement
        # counts up to today).
        data = services.normalise_inputs(inputs)
        services.check_reporting_inputs(data)
        result = services.value_of(obligation=obligation, **data)
        data.pop("candidate")
        if data["end_date"] is None:
            result = preview_value(obligation=obligation, candidate=row.candidate, inputs=data)
    except ValidationError as exc:
        _add_validation_error(row, sheet, exc, _contribution_columns(row))
        return
    row.inputs = data
    row.valuation = result


# --- Duplicates: within the file and with what was reported before ---------------------------


def _identity(obligation_id: int, block: str, candidate_key, data: dict) -> tuple:
    """What makes two reports the same contribution: obligation, block, candidate, social
    enterprise, start date and the inputs of its value. Numbers compare by value (24 ==
    24,00); text case-insensitively with whitespace collapsed."""

    def text(value) -> str:
        return " ".join(str(value or "").split()).casefold()

    def number(value) -> Decimal | None:
        return None if value is None else Decimal(value).normalize()

    return (
        obligation_id,
        block,
        candidate_key,
        text(data.get("social_enterprise")),
        data.get("start_date"),
        data.get("end_date"),
        number(data.get("hours_per_week")),
        bool(data.get("permanent_contract")),
        number(data.get("invoiced_amount")),
        number(data.get("hours")),
        number(data.get("actual_cost")),
        text(data.get("variant")),
    )


def _details_key(candidate: Candidate) -> tuple:
    years = candidate.years_on_benefit
    return (
        "details",
        " ".join((candidate.initials or "").split()).casefold(),
        candidate.birth_year,
        candidate.target_group,
        None if years is None else Decimal(years).normalize(),
    )


def _candidate_keys(candidate: Candidate | None, *, is_new: bool) -> list:
    """A row with a code matches contributions of that candidate; a row with new candidate
    details matches contributions of a candidate with the same details (the one the previous
    upload of the same file created)."""
    if candidate is None:
        return [None]
    if is_new:
        return [_details_key(candidate)]
    return [("pk", candidate.pk)]


_DESCRIPTIVE = (("description", "description"), ("delivered_by", "delivered_by"))


def _find_duplicates(rows: list[BulkRow], sheet: Sheet, acting_user) -> None:
    if not rows:
        return
    # Within the file.
    seen: dict[tuple, list[BulkRow]] = defaultdict(list)
    for row in rows:
        keys = _candidate_keys(row.candidate, is_new=row.candidate_is_new)
        seen[_identity(row.obligation.pk, row.block, keys[0], row.inputs)].append(row)
    for same in seen.values():
        if len(same) > 1:
            numbers = ", ".join(str(r.number) for r in same)
            for row in same:
                _add(
                    row,
                    sheet,
                    "",
                    _(
                        "Rows %(rows)s report the same contribution; report it once, or make "
                        "them differ (for example the start date)."
                    )
                    % {"rows": numbers},
                )
    rows = [r for r in rows if not r.errors]
    if not rows:
        return
    # With what was reported before on the same obligations (any status).
    existing: dict[tuple, Contribution] = {}
    obligation_ids = sorted({r.obligation.pk for r in rows})
    reported = (
        permissions.contributions_visible_to(acting_user)
        .filter(obligation_id__in=obligation_ids)
        .select_related("candidate")
        .order_by("pk")
    )
    for contribution in reported:
        data = {name: getattr(contribution, name) for name in services.VALUATION_INPUTS}
        data["social_enterprise"] = contribution.social_enterprise
        keys = [None]
        if contribution.candidate is not None:
            keys = [("pk", contribution.candidate_id), _details_key(contribution.candidate)]
        for key in keys:
            identity = _identity(contribution.obligation_id, contribution.block, key, data)
            existing.setdefault(identity, contribution)
    for row in rows:
        key = _candidate_keys(row.candidate, is_new=row.candidate_is_new)[0]
        match = existing.get(_identity(row.obligation.pk, row.block, key, row.inputs))
        if match is None:
            continue
        different = [
            column
            for column, attr in _DESCRIPTIVE
            if " ".join(str(row.inputs.get(column) or "").split())
            != " ".join(str(getattr(match, attr) or "").split())
        ]
        if different:
            _add(
                row,
                sheet,
                different[0] if len(different) == 1 else "",
                _(
                    "This contribution was already reported (%(status)s) with a different "
                    "%(columns)s. Change that contribution in the portal, or remove this row."
                )
                % {
                    "status": match.get_status_display().lower(),
                    "columns": ", ".join(COLUMN_BY_KEY[c].title for c in different),
                },
            )
            continue
        row.status = RowStatus.SKIP
        row.existing = match
        row.valuation = None


# --- Import ----------------------------------------------------------------------------------


def import_workbook(*, acting_user, data: bytes, expected_sha256: str | None = None) -> BulkResult:
    """Validate ``data`` again and import it: all rows or none.

    Raises :class:`ImportRejected` (with the report) when the file does not validate, and
    :class:`ImportFailed` when writing fails; in both cases nothing is written.
    """
    report = validate_workbook(acting_user=acting_user, data=data)
    if expected_sha256 is not None and not secrets.compare_digest(report.sha256, expected_sha256):
        raise ImportRejected(report, _("This is not the file that was checked; upload it again."))
    if not report.is_valid:
        raise ImportRejected(report)

    ids: list[int] = []
    candidates = 0
    total = Decimal("0.00")
    current: int | None = None
    try:
        with transaction.atomic():
            for row in report.new_rows:
                current = row.number
                candidate = row.candidate
                if row.new_candidate is not None:
                    candidate = services.create_candidate(
                        acting_user=acting_user,
                        contractor=row.contract.contractor,
                        **row.new_candidate,
                    )
                    candidates += 1
                contribution = services.submit_contribution(
                    notify=False,
                    acting_user=acting_user,
                    obligation=row.obligation,
                    candidate=candidate,
                    **row.inputs,
                )
                ids.append(contribution.pk)
                total += contribution.value
            # One summary per adviser instead of a mail per row; sent once this commits.
            notifications.notify_bulk_submitted(ids, acting_user=acting_user)
    except ValidationError as exc:
        raise ImportFailed(_failure(exc), current) from exc
    except PermissionDenied as exc:
        raise ImportFailed(
            _("You may no longer report on this contract; nothing was imported."), current
        ) from exc
    except IntegrityError as exc:
        raise ImportFailed(
            _("The import failed because of a conflict; nothing was imported. Try again."),
            current,
        ) from exc
    except DatabaseError as exc:
        # Only the kind of error: its message may quote cell values (personal data).
        logger.error("Bulk reporting: database error (%s)", type(exc).__name__)
        raise ImportFailed(
            _("The import failed because of a database error; nothing was imported."), current
        ) from exc
    return BulkResult(
        created=len(ids),
        skipped=len(report.skipped_rows),
        candidates_created=candidates,
        total_value=total,
        contribution_ids=tuple(ids),
    )


_SERVICE_FIELD_TITLES = {
    "candidate": gettext_lazy("Candidate"),
    **{name: COLUMN_BY_KEY[name].title for name in COLUMN_BY_KEY},
}


def _failure(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        parts = []
        for name, errors in exc.message_dict.items():
            title = _SERVICE_FIELD_TITLES.get(name)
            parts.extend(f"{title}: {m}" if title else m for m in errors)
        return " ".join(parts)
    return " ".join(exc.messages)


# --- The template ----------------------------------------------------------------------------


def open_obligation_contracts(user) -> list[Contract]:
    """The contractor's contracts with an open obligation (listed in the template)."""
    return [
        c
        for c in own_contracts(user)
        if (o := _obligation_of(c)) is not None and o.status == Obligation.Status.OPEN
    ]


def build_template(*, acting_user) -> bytes:
    """The .xlsx template: ``Bijdragen`` (column titles, lists, formats) and ``Toelichting``
    (instructions, the meaning of every column and the contractor's open obligations)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    contracts = open_obligation_contracts(acting_user)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    spreadsheets.write_header(
        sheet,
        FORMAT,
        {
            "invoiced_amount": spreadsheets.AMOUNT_FORMAT,
            "start_date": spreadsheets.DATE_FORMAT,
            "end_date": spreadsheets.DATE_FORMAT,
            "reference": spreadsheets.TEXT_FORMAT,
            "candidate_code": spreadsheets.TEXT_FORMAT,
        },
    )

    def validation(key: str, dv: DataValidation, prompt: str) -> None:
        spreadsheets.add_validation(sheet, FORMAT, key, dv, prompt, max_rows=MAX_ROWS)

    def listed(words) -> str | None:
        text = ",".join(words)
        return f'"{text}"' if len(text) <= 250 and '"' not in text else None

    for key, words, prompt in (
        ("block", [w[0] for w in BLOCK_WORDS.values()], _("Choose the block.")),
        ("target_group", [w[0] for w in TARGET_GROUP_WORDS.values()], _("New candidate only.")),
        ("permanent_contract", ["ja", "nee"], _("ja or nee")),
        (
            "reference",
            [c.reference for c in contracts if "," not in c.reference],
            _("The reference of one of your contracts with an open obligation."),
        ),
    ):
        formula = listed(words) if words else None
        if formula:
            validation(key, DataValidation(type="list", formula1=formula, allow_blank=True), prompt)
    for key in ("start_date", "end_date"):
        validation(
            key,
            DataValidation(type="date", operator="between", formula1="36526", formula2="73415"),
            _("A date as DD-MM-YYYY."),
        )
    _write_help_sheet(workbook.create_sheet(HELP_SHEET_NAME), contracts)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_help_sheet(sheet, contracts: list[Contract]) -> None:
    from openpyxl.styles import Alignment, Font

    wrap = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDE", (30, 12, 70, 30, 50), strict=True):
        sheet.column_dimensions[col].width = width
    sheet["A1"] = _("How to report contributions in bulk")
    sheet["A1"].font = Font(bold=True, size=14)
    general = [
        _(
            "Fill in one contribution per row on the sheet “%(sheet)s”, below the column titles. "
            "Do not change the column titles; columns a block does not use stay empty."
        )
        % {"sheet": SHEET_NAME},
        _(
            "Kenmerk opdracht and Gemeente name one of your contracts with an open SROI "
            "obligation (listed at the bottom of this sheet)."
        ),
        _(
            "A job, work-experience place, internship or BBL needs a candidate: the Kandidaatcode "
            "of a candidate you reported before, or Initialen, Geboortejaar and Doelgroep (and "
            "Uitkeringsjaren where it matters) for a new candidate, who then gets a code. Never "
            "enter a name or a BSN."
        ),
        _(
            "At most %(rows)s rows per file and at most %(mb)s MB. Formulas are not accepted: "
            "paste values only."
        )
        % {"rows": "5.000", "mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
        _(
            "Dates as DD-MM-YYYY (for example 26-11-2026); amounts in euros excl. VAT without € "
            "sign, for example 1234,50; hours as 24 or 24,5."
        ),
        _(
            "Every row is checked and valued before anything is saved. If one row has an error, "
            "nothing is reported: correct the file and upload it again."
        ),
        _(
            "Uploading the same file again is safe: contributions already reported with the same "
            "data are skipped."
        ),
        _(
            "Evidence (employment contract, internship agreement, invoice) is added per "
            "contribution in the portal afterwards."
        ),
    ]
    row = 3
    for text in general:
        sheet.cell(row=row, column=1, value="•")
        sheet.cell(row=row, column=3, value=text).alignment = wrap
        row += 1
    row += 1
    for col, title in enumerate((_("Column"), _("Required"), _("Meaning"), _("Example")), start=1):
        sheet.cell(row=row, column=col, value=title).font = Font(bold=True)
    row += 1
    for column in COLUMNS:
        meaning, example = _COLUMN_HELP[column.key]
        sheet.cell(row=row, column=1, value=column.title).alignment = wrap
        sheet.cell(row=row, column=2, value=_("yes") if column.required else _("depends"))
        sheet.cell(row=row, column=3, value=str(meaning)).alignment = wrap
        sheet.cell(row=row, column=4, value=example).alignment = wrap
        row += 1
    row += 1
    sheet.cell(row=row, column=1, value=_("What each block needs")).font = Font(bold=True)
    row += 1
    for block, text in _BLOCK_HELP.items():
        sheet.cell(row=row, column=1, value=block_word(block))
        sheet.cell(row=row, column=3, value=str(text)).alignment = wrap
        row += 1
    row += 1
    sheet.cell(row=row, column=1, value=_("Target groups (Doelgroep)")).font = Font(bold=True)
    sheet.cell(
        row=row, column=3, value=", ".join(w[0] for w in TARGET_GROUP_WORDS.values())
    ).alignment = wrap
    row += 2
    sheet.cell(row=row, column=1, value=_("Your open obligations")).font = Font(bold=True)
    row += 1
    if not contracts:
        sheet.cell(row=row, column=1, value=_("You have no contract with an open obligation."))
    else:
        headings = (
            "Kenmerk opdracht",
            "Gemeente",
            _("Title"),
            _("Deadline"),
            _("Blocks (variants) its rulebook values"),
        )
        for col, title in enumerate(headings, start=1):
            sheet.cell(row=row, column=col, value=str(title)).font = Font(bold=True)
        for contract in contracts:
            row += 1
            sheet.cell(row=row, column=1, value=contract.reference)
            sheet.cell(row=row, column=2, value=contract.municipality.name)
            sheet.cell(row=row, column=3, value=contract.title).alignment = wrap
            deadline = sheet.cell(row=row, column=4, value=contract.obligation.deadline)
            deadline.number_format = "DD-MM-YYYY"
            sheet.cell(row=row, column=5, value=_blocks_text(contract.obligation)).alignment = wrap
    row += 2
    sheet.cell(
        row=row,
        column=1,
        value=_("Only the sheet “%(sheet)s” is read.") % {"sheet": SHEET_NAME},
    ).font = Font(italic=True)


def _blocks_text(obligation: Obligation) -> str:
    parts = []
    for block, spec in block_specs(obligation).items():
        variants = [v for v, _label in spec.variants if v]
        parts.append(
            f"{block_word(block)} ({', '.join(variants)})" if variants else block_word(block)
        )
    return "; ".join(parts) or "–"


_BLOCK_HELP = {
    Block.JOB: gettext_lazy(
        "A candidate, Uren per week; Einddatum empty while the job is still running (only the "
        "period worked counts); Vast contract ja or nee."
    ),
    Block.WORK_EXPERIENCE: gettext_lazy("A candidate, Uren per week and Einddatum."),
    Block.INTERNSHIP: gettext_lazy(
        "A candidate, Uren per week and Einddatum; Variant when the rulebook distinguishes "
        "levels (e.g. mbo1-2)."
    ),
    Block.BBL: gettext_lazy("A candidate, Uren per week and Einddatum."),
    Block.SOCIAL_PURCHASE: gettext_lazy(
        "Sociale onderneming and Gefactureerd bedrag excl. btw; Startdatum is the invoice date; "
        "Variant when the rulebook distinguishes kinds of enterprises (e.g. register)."
    ),
    Block.SOCIAL_ACTIVITY: gettext_lazy("Omschrijving and Uren; Startdatum is the date."),
    Block.TRAINING: gettext_lazy(
        "Omschrijving and Uren (or Werkelijke kosten, as the rulebook asks); Startdatum is the "
        "date."
    ),
}


_COLUMN_HELP: dict[str, tuple[str, str]] = {
    "reference": (gettext_lazy("The reference of your contract."), "NW-2026-014"),
    "municipality": (gettext_lazy("The municipality that awarded the contract."), "Noordwijk"),
    "block": (
        gettext_lazy("The kind of contribution: %(words)s.")
        % {"words": ", ".join(w[0] for w in BLOCK_WORDS.values())},
        "baan",
    ),
    "candidate_code": (
        gettext_lazy("Code of a candidate you reported before (leave empty for a new one)."),
        "K-7QX4M2PA",
    ),
    "initials": (gettext_lazy("New candidate: initials only, never a name."), "A.B."),
    "birth_year": (gettext_lazy("New candidate: year of birth."), "1985"),
    "target_group": (gettext_lazy("New candidate: the target group."), "Participatiewet"),
    "years_on_benefit": (
        gettext_lazy("New candidate: years on benefit, when the rulebook distinguishes it."),
        "2,5",
    ),
    "target_group_note": (
        gettext_lazy("New candidate with target group Anders: the justification."),
        "",
    ),
    "start_date": (gettext_lazy("First day (DD-MM-YYYY)."), "01-03-2026"),
    "end_date": (gettext_lazy("Last day; empty while it is still running."), "28-02-2027"),
    "hours_per_week": (gettext_lazy("Contract hours per week (jobs, placements)."), "32"),
    "permanent_contract": (gettext_lazy("ja or nee (jobs)."), "nee"),
    "social_enterprise": (gettext_lazy("Purchase: the social enterprise."), "Sociaal Atelier"),
    "invoiced_amount": (gettext_lazy("Purchase: invoiced amount excl. VAT in euros."), "4500,00"),
    "hours": (gettext_lazy("Social activity or training: number of hours."), "40"),
    "actual_cost": (
        gettext_lazy("Only when the rulebook values the block at actual cost: the cost in euros."),
        "",
    ),
    "variant": (
        gettext_lazy("Only when the rulebook distinguishes variants (e.g. mbo1-2, register)."),
        "",
    ),
    "delivered_by": (gettext_lazy("The subcontractor that delivered it, if any."), ""),
    "description": (
        gettext_lazy("Short description (no personal data), at most 300 characters."),
        "Dienstverband grondwerker",
    ),
}
