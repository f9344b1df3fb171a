"""SROI valuation engine: rulebooks, rule selection and the value of one contribution.

Pure Python on purpose (no Django imports) so that every number can be reproduced and tested
without a database. The conventions are those of ``docs/rulebook-format.md``:

* money is ``Decimal``, never ``float``; the base value is rounded to cents with ROUND_HALF_UP
  once, at the end of its calculation; every bonus is rounded separately and then added;
* days are calendar days with both ends inclusive; a year is 365 days, a month 365/12 days;
* annual rate: ``rate * min(hours_per_week, fte_hours) / fte_hours * counted_days / 365`` where
  ``counted_days`` are the days inside the contribution period, inside the cap (``max_years * 365``
  days from the contribution's start) and inside the counting window;
* every value carries a human-readable explanation, in Dutch (``lang="nl"``, the default: the
  explanations stored on contributions are Dutch records) or English (``lang="en"``). All texts
  come from the two-language catalogue :data:`MESSAGES`; :data:`NUMBER_STYLES` writes the numbers
  and dates (``€ 26.666,67``, ``24,00``, ``01-03-2026`` in Dutch; ``26666.67``, ``24.00``,
  ``2026-03-01`` in English). Error messages (exceptions) are English.

The JSON format of rulebooks and contributions lives in ``placements.rulebook_format``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "BLOCK_NAMES",
    "DEFAULT_LANG",
    "LANGUAGES",
    "MESSAGES",
    "NUMBER_STYLES",
    "TARGET_GROUP_NAMES",
    "AmbiguousRule",
    "Block",
    "Bonus",
    "ContributionInput",
    "NoMatchingRule",
    "NumberStyle",
    "Rule",
    "RuleKind",
    "Rulebook",
    "RulebookError",
    "TargetGroup",
    "Valuation",
    "ValuationError",
    "ValuationInputError",
    "Window",
    "check_lang",
    "example_rulebook",
    "select_rule",
    "value_contribution",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
DAYS_PER_YEAR = 365
MONTHS_PER_YEAR = 12
DEFAULT_FTE_HOURS = Decimal("36")
HOURS_IN_A_WEEK = Decimal("168")
# Any amount, rate or count beyond this is a typing error, not an SROI value (keeps every
# calculation far inside the working precision below).
MAX_NUMBER = Decimal("1e15")
# Working precision for the single division of each calculation: far more digits than any
# realistic amount has, so the only rounding that matters is the final ROUND_HALF_UP to cents.
_PRECISION = 60


# --------------------------------------------------------------------------------------------
# Enumerations
# --------------------------------------------------------------------------------------------


class Block(StrEnum):
    """Building block (bouwblok) of a contribution."""

    JOB = "job"
    WORK_EXPERIENCE = "work_experience"
    INTERNSHIP = "internship"
    BBL = "bbl"
    SOCIAL_PURCHASE = "social_purchase"
    SOCIAL_ACTIVITY = "social_activity"
    TRAINING = "training"


class TargetGroup(StrEnum):
    """Target group of the person placed; ``wia`` covers WIA/WGA/WAZ/IOAW/IOAZ."""

    PARTICIPATIEWET = "participatiewet"
    WW = "ww"
    WIA = "wia"
    WAJONG = "wajong"
    BANENAFSPRAAK = "banenafspraak"
    NUG = "nug"
    STATUSHOUDER = "statushouder"
    EARLY_SCHOOL_LEAVER = "early_school_leaver"
    PRAKTIJKONDERWIJS_VSO = "praktijkonderwijs_vso"
    STUDENT = "student"
    OTHER = "other"


class RuleKind(StrEnum):
    """How a rule turns a contribution into a value."""

    ANNUAL = "annual"
    MONTHLY = "monthly"
    FIXED = "fixed"
    PERCENTAGE = "percentage"
    HOURLY = "hourly"
    ACTUAL_COST = "actual_cost"


TIME_BASED_KINDS = frozenset({RuleKind.ANNUAL, RuleKind.MONTHLY})
PERCENT_KINDS = frozenset({RuleKind.PERCENTAGE, RuleKind.ACTUAL_COST})


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ValuationError(Exception):
    """Base class of every error raised by the valuation engine."""


class RulebookError(ValuationError):
    """An invalid rulebook. ``errors`` holds one message per problem, each prefixed by a path."""

    def __init__(self, errors: str | Iterable[str]) -> None:
        self.errors: tuple[str, ...] = (errors,) if isinstance(errors, str) else tuple(errors)
        super().__init__("; ".join(self.errors))


class NoMatchingRule(ValuationError):
    """No rule of the rulebook applies to the contribution."""


class AmbiguousRule(NoMatchingRule):
    """Several equally specific rules apply, so there is no single matching rule."""


class ValuationInputError(ValuationError):
    """The contribution's inputs are missing, inconsistent or of the wrong type."""


# --------------------------------------------------------------------------------------------
# Coercion helpers (shared by the dataclasses)
# --------------------------------------------------------------------------------------------

E = TypeVar("E", bound=StrEnum)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _coerce_enum(enum_cls: type[E], value: Any, what: str, error: type[Exception]) -> E:
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise error(f"{what}: {value!r} is not one of {allowed}") from None


def _coerce_enum_set(
    enum_cls: type[E], values: Any, what: str, error: type[Exception]
) -> frozenset[E]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise error(f"{what}: expected a collection of values, got {type(values).__name__}")
    return frozenset(_coerce_enum(enum_cls, value, what, error) for value in values)


def _coerce_decimal(value: Any, what: str, error: type[Exception]) -> Decimal | None:
    """Accept ``Decimal`` and ``int`` (converted), reject ``float``/``bool``; ``None`` passes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise error(f"{what}: expected a Decimal, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise error(f"{what}: must be a finite number, got {value}")
    if abs(number) >= MAX_NUMBER:
        raise error(f"{what}: {value} is too large")
    return number


def _coerce_int(value: Any, what: str, error: type[Exception]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def _check_date(value: Any, what: str, error: type[Exception], *, optional: bool = False) -> None:
    if value is None and optional:
        return
    # datetime is a subclass of date; a time of day has no meaning here.
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise error(f"{what}: expected a date, got {type(value).__name__}")


def fmt(number: Decimal | int) -> str:
    """A number with exactly two decimals (ROUND_HALF_UP), e.g. ``"26666.67"``: the JSON form of
    money and the English style of explanations (see :data:`NUMBER_STYLES`)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return str(Decimal(number).quantize(CENT, rounding=ROUND_HALF_UP))


def _to_cents(number: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return number.quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio(factors: Iterable[Decimal | int], denominator: Decimal | int = 1) -> Decimal:
    """``product(factors) / denominator`` at high precision, then the single rounding to cents."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        numerator = Decimal(1)
        for factor in factors:
            numerator *= factor
        return (numerator / denominator).quantize(CENT, rounding=ROUND_HALF_UP)


def _add_days(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _days_between(first: date, last: date) -> int:
    """Calendar days from ``first`` to ``last``, both inclusive; 0 when ``last < first``."""
    return max((last - first).days + 1, 0)


# --------------------------------------------------------------------------------------------
# Explanation texts: a two-language message catalogue and per-language number/date styles
# --------------------------------------------------------------------------------------------

#: Languages of the explanations; Dutch is the default (stored explanations are Dutch records).
LANGUAGES = ("nl", "en")
DEFAULT_LANG = "nl"

#: Every explanation line, part of a line and zero reason: message key -> template per language.
#: Templates use named ``str.format`` placeholders (the same ones in every language); the values
#: arrive already written in the language's style (see :class:`NumberStyle`).
MESSAGES: dict[str, dict[str, str]] = {
    # The rule line and the statement of its rate.
    "rule": {
        "nl": "Regel {code} ({how}): {label}{variant}; {rate}.",
        "en": "Rule {code} ({how}): {label}{variant}; {rate}.",
    },
    "rule_explicit": {"nl": "expliciet gekozen", "en": "chosen explicitly"},
    "rule_selected": {"nl": "geselecteerd", "en": "selected"},
    "rule_variant": {"nl": ", variant {variant}", "en": ", variant {variant}"},
    "rate_per_fte": {"nl": " voor {fte} uur per week", "en": " per {fte} hours/week"},
    "rate_annual": {
        "nl": "jaarbedrag {rate} per jaar{per_fte}",
        "en": "annual rate {rate} per year{per_fte}",
    },
    "rate_monthly": {
        "nl": "maandbedrag {rate} per maand{per_fte}",
        "en": "monthly rate {rate} per month{per_fte}",
    },
    "rate_fixed": {
        "nl": "vast bedrag {rate} per bijdrage",
        "en": "fixed amount {rate} per contribution",
    },
    "rate_percentage": {
        "nl": "{percent}% van het gefactureerde bedrag excl. btw",
        "en": "{percent}% of the invoiced amount excl. VAT",
    },
    "rate_hourly": {"nl": "uurtarief {rate} per uur", "en": "hourly rate {rate} per hour"},
    "rate_actual_cost": {
        "nl": "{percent}% van de werkelijke kosten",
        "en": "{percent}% of the actual cost",
    },
    # The inputs line; its parts are joined by ", ". Block and permanent contract also name the
    # conditions a bonus met. Privacy: stored explanations are shown to every role that sees the
    # contribution and go into exports, so no part ever names the candidate's initials, birth
    # year, age, target group or years on benefit. A rule chosen by target group is explained by
    # its code and label (rulebook data) only.
    "inputs": {"nl": "Invoer: {parts}.", "en": "Inputs: {parts}."},
    "block": {"nl": "blok {block}", "en": "block {block}"},
    "variant": {"nl": "variant {variant}", "en": "variant {variant}"},
    "period": {"nl": "periode {period}", "en": "period {period}"},
    "period_open": {
        "nl": "periode vanaf {start}, zonder einddatum",
        "en": "period {start} to open-ended",
    },
    "hours_per_week": {"nl": "uren per week {hours}", "en": "hours per week {hours}"},
    "invoiced_amount": {
        "nl": "gefactureerd bedrag excl. btw {amount}",
        "en": "invoiced amount excl. VAT {amount}",
    },
    "hours": {"nl": "uren {hours}", "en": "hours {hours}"},
    "actual_cost": {"nl": "werkelijke kosten {amount}", "en": "actual cost {amount}"},
    "permanent_contract": {"nl": "vast contract", "en": "permanent contract"},
    # Hours per week (annual and monthly rules).
    "hours_not_used": {
        "nl": "Uren per week worden niet gebruikt: deze regel rekent niet naar rato van uren.",
        "en": "Hours per week are not used: this rule is not pro rata by hours.",
    },
    "zero_below_min_hours": {
        "nl": "{hours} uur per week ligt onder het minimum van {minimum} uur per week",
        "en": "{hours} hours per week is below the minimum of {minimum}",
    },
    "min_hours_met": {
        "nl": "Minimum uren per week: {minimum}; gehaald met {hours}.",
        "en": "Minimum hours per week: {minimum}; met with {hours}.",
    },
    "no_fte_hours": {
        "nl": "Niet naar rato van uren: de regel heeft geen voltijduren.",
        "en": "Not pro rata by hours: the rule has no full-time hours.",
    },
    "hours_above_fte": {
        "nl": "{hours} uur per week is meer dan voltijd ({fte} uur per week); geteld als {fte}.",
        "en": "{hours} hours per week exceeds the full-time {fte}; counted as {fte}.",
    },
    # Period, counting window (telperiode) and cap (maximum).
    "range": {"nl": "{start} t/m {end}", "en": "{start} to {end}"},
    "open_to_window_end": {
        "nl": "Geen einddatum (open einde): gerekend tot het einde van de telperiode, {end}.",
        "en": "No end date (open-ended): treated as running to the window end {end}.",
    },
    "open_to_cap_end": {
        "nl": "Geen einddatum en geen telperiode: gerekend tot het einde van het maximum, {end}.",
        "en": "No end date and no window: treated as running to the cap end {end}.",
    },
    "no_window_period": {
        "nl": "Geen telperiode: de periode wordt niet ingekort.",
        "en": "No counting window: the period is not clipped.",
    },
    "no_window_date": {
        "nl": "Geen telperiode: de datum van de bijdrage wordt niet gecontroleerd.",
        "en": "No counting window: the contribution date is not checked.",
    },
    "window": {"nl": "Telperiode: {window}.", "en": "Counting window: {window}."},
    "clipped_start": {
        "nl": "Ingekort tot het begin van de telperiode, {start}: {days} dagen daarvoor tellen "
        "niet mee.",
        "en": "Clipped to the window start {start}: {days} days before it are not counted.",
    },
    "clipped_end": {
        "nl": "Ingekort tot het einde van de telperiode, {end}: {days} dagen daarna tellen "
        "niet mee.",
        "en": "Clipped to the window end {end}: {days} days after it are not counted.",
    },
    "cap_not_reached": {
        "nl": "Maximum: telt ten hoogste {years} jaar ({cap_days} dagen, t/m {cap_end}); "
        "niet bereikt.",
        "en": "Cap: counts at most {years} years ({cap_days} days, up to {cap_end}); not reached.",
    },
    "cap_applied": {
        "nl": "Maximum toegepast: telt ten hoogste {years} jaar ({cap_days} dagen vanaf {start}, "
        "t/m {cap_end}); {days} dagen daarna tellen niet mee.",
        "en": "Cap applied: counts at most {years} years ({cap_days} days from {start}, "
        "up to {cap_end}); {days} days after it are not counted.",
    },
    "capped_period": {"nl": "periode binnen het maximum", "en": "capped period"},
    "contribution_period": {"nl": "periode van de bijdrage", "en": "contribution period"},
    "zero_outside_window": {
        "nl": "geen getelde dagen: de {what} ({period}) ligt geheel buiten de telperiode "
        "({window})",
        "en": "no counted days: the {what} ({period}) lies entirely outside "
        "the counting window ({window})",
    },
    "zero_date_outside_window": {
        "nl": "de datum van de bijdrage, {date}, ligt buiten de telperiode ({window})",
        "en": "the contribution date {date} lies outside the counting window ({window})",
    },
    "counted_days": {
        "nl": "Getelde dagen: {days} ({period}).",
        "en": "Counted days: {days} ({period}).",
    },
    # Minimum duration (fixed rules).
    "zero_below_min_duration": {
        "nl": "{days} getelde dagen is minder dan de minimale duur van {minimum} dagen",
        "en": "{days} counted days is below the minimum duration of {minimum} days",
    },
    "min_duration_met": {
        "nl": "Minimale duur {minimum} dagen: gehaald met {days} dagen.",
        "en": "Minimum duration {minimum} days: met with {days} days.",
    },
    # Formulas.
    "formula_hours": {"nl": " × {hours}/{fte}", "en": " x {hours}/{fte}"},
    "formula_annual": {"nl": "{rate}{hours} × {days}/365", "en": "{rate}{hours} x {days}/365"},
    "formula_monthly": {
        "nl": "{rate}{hours} × {days}/(365/12)",
        "en": "{rate}{hours} x {days}/(365/12)",
    },
    "formula_time_based": {
        "nl": "Formule: {formula} = {base}, afgerond op centen (half naar boven).",
        "en": "Formula: {formula} = {base} (rounded half up to cents).",
    },
    "formula_fixed": {
        "nl": "Formule: vast bedrag {rate} = {base}.",
        "en": "Formula: fixed amount {rate} = {base}.",
    },
    "formula_percent": {
        "nl": "Formule: {amount} × {percent}/100 = {base}.",
        "en": "Formula: {amount} x {percent}/100 = {base}.",
    },
    "formula_hourly": {
        "nl": "Formule: {hours} uur × {rate} = {base}.",
        "en": "Formula: {hours} hours x {rate} = {base}.",
    },
    # Bonuses.
    "bonus_applied": {
        "nl": "Bonus {code} ({label}): +{amount} ({conditions}).",
        "en": "Bonus {code} ({label}): +{amount} ({conditions}).",
    },
    "bonus_no_conditions": {"nl": "geen voorwaarden", "en": "no conditions"},
    # A condition met is named without the candidate's value: the age bonus by its age band
    # (rulebook data), the target-group condition without naming the group.
    "bonus_target_group": {
        "nl": "doelgroepvoorwaarde vervuld",
        "en": "target-group condition met",
    },
    "bonus_age": {
        "nl": "leeftijdsbonus {ages} van toepassing",
        "en": "age bonus {ages} applies",
    },
    "ages_between": {"nl": "{low}-{high} jaar", "en": "{low}-{high}"},
    "ages_from": {"nl": "{low} jaar of ouder", "en": "{low}+"},
    "ages_up_to": {"nl": "{high} jaar of jonger", "en": "up to {high}"},
    "bonus_birth_year_unknown": {
        "nl": "Bonus {code} niet toegekend: geboortejaar onbekend.",
        "en": "Bonus {code} not applied: birth year unknown.",
    },
    "bonuses_none": {
        "nl": "Bonussen: geen, want de basiswaarde is {zero}.",
        "en": "Bonuses: none, because the base value is {zero}.",
    },
    # The value.
    "zero_formula": {"nl": "de formule geeft {zero}", "en": "the formula yields {zero}"},
    "value_zero": {
        "nl": "Waarde is {zero}; reden: {reason}.",
        "en": "Value is {zero} because {reason}.",
    },
    "value": {
        "nl": "Waarde: {value} (basis {base} + bonussen {bonuses}).",
        "en": "Value: {value} (base {base} + bonuses {bonuses}).",
    },
}

#: Names of the blocks in explanations (English keeps the codes, as before).
BLOCK_NAMES: dict[Block, dict[str, str]] = {
    Block.JOB: {"nl": "baan", "en": "job"},
    Block.WORK_EXPERIENCE: {"nl": "werkervaringsplek", "en": "work_experience"},
    Block.INTERNSHIP: {"nl": "stage", "en": "internship"},
    Block.BBL: {"nl": "BBL-leerbaan", "en": "bbl"},
    Block.SOCIAL_PURCHASE: {"nl": "inkoop bij sociale onderneming", "en": "social_purchase"},
    Block.SOCIAL_ACTIVITY: {"nl": "sociale activiteit", "en": "social_activity"},
    Block.TRAINING: {"nl": "opleiding", "en": "training"},
}

#: Names of the target groups in explanations (English keeps the codes, as before).
TARGET_GROUP_NAMES: dict[TargetGroup, dict[str, str]] = {
    TargetGroup.PARTICIPATIEWET: {"nl": "Participatiewet", "en": "participatiewet"},
    TargetGroup.WW: {"nl": "WW", "en": "ww"},
    TargetGroup.WIA: {"nl": "WIA/WGA/WAZ/IOAW/IOAZ", "en": "wia"},
    TargetGroup.WAJONG: {"nl": "Wajong", "en": "wajong"},
    TargetGroup.BANENAFSPRAAK: {"nl": "banenafspraak", "en": "banenafspraak"},
    TargetGroup.NUG: {"nl": "NUG", "en": "nug"},
    TargetGroup.STATUSHOUDER: {"nl": "statushouder", "en": "statushouder"},
    TargetGroup.EARLY_SCHOOL_LEAVER: {
        "nl": "voortijdig schoolverlater",
        "en": "early_school_leaver",
    },
    TargetGroup.PRAKTIJKONDERWIJS_VSO: {
        "nl": "praktijkonderwijs/VSO",
        "en": "praktijkonderwijs_vso",
    },
    TargetGroup.STUDENT: {"nl": "BOL/BBL-student", "en": "student"},
    TargetGroup.OTHER: {"nl": "overig", "en": "other"},
}


@dataclass(frozen=True)
class NumberStyle:
    """How one language writes amounts of money, other decimals and dates in explanations.

    Every decimal has exactly two decimals (ROUND_HALF_UP); counts of days and years are
    written as plain integers by the templates themselves.
    """

    decimal_mark: str
    group_mark: str  # thousands separator, "" for none
    currency: str  # written before an amount of money, "" for none
    day_first: bool  # dd-mm-yyyy instead of ISO yyyy-mm-dd

    def number(self, value: Decimal | int) -> str:
        text = fmt(value)
        sign = "-" if text.startswith("-") else ""
        whole, decimals = text.lstrip("-").split(".")
        if self.group_mark:
            whole = f"{int(whole):,}".replace(",", self.group_mark)
        return f"{sign}{whole}{self.decimal_mark}{decimals}"

    def money(self, amount: Decimal | int) -> str:
        number = self.number(amount)
        if number.startswith("-"):
            return f"-{self.currency}{number[1:]}"
        return f"{self.currency}{number}"

    def date(self, day: date) -> str:
        if self.day_first:
            return f"{day.day:02d}-{day.month:02d}-{day.year:04d}"
        return day.isoformat()


#: Dutch: ``€ 26.666,67``, ``24,00``, ``01-03-2026``; English keeps ``26666.67``, ``2026-03-01``.
NUMBER_STYLES: dict[str, NumberStyle] = {
    "nl": NumberStyle(decimal_mark=",", group_mark=".", currency="€ ", day_first=True),
    "en": NumberStyle(decimal_mark=".", group_mark="", currency="", day_first=False),
}


def check_lang(lang: object) -> str:
    """``lang`` itself when it is one of :data:`LANGUAGES`, else :class:`ValueError`."""
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang


class _Text:
    """The explanation texts of one language: messages, names, numbers and dates."""

    __slots__ = ("lang", "style")

    def __init__(self, lang: str) -> None:
        self.lang = check_lang(lang)
        self.style = NUMBER_STYLES[lang]

    def __call__(self, key: str, **values: object) -> str:
        return MESSAGES[key][self.lang].format(**values)

    def money(self, amount: Decimal | int) -> str:
        return self.style.money(amount)

    def number(self, value: Decimal | int) -> str:
        return self.style.number(value)

    def date(self, day: date) -> str:
        return self.style.date(day)

    def range(self, start: date, end: date) -> str:
        return self("range", start=self.date(start), end=self.date(end))

    def window(self, window: Window | None) -> str:
        return "-" if window is None else self.range(window.start, window.end)

    def block(self, block: Block) -> str:
        return BLOCK_NAMES[block][self.lang]

    def target_group(self, group: TargetGroup | None) -> str:
        return "-" if group is None else TARGET_GROUP_NAMES[group][self.lang]


# --------------------------------------------------------------------------------------------
# Rulebook
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One line of a rulebook: how a block (for some target groups) is valued.

    ``target_groups`` empty means any target group. The years-on-benefit range is
    ``[min_years_on_benefit, max_years_on_benefit)``: the upper bound is exclusive.
    ``variant`` is a free-text discriminator (e.g. ``"mbo1-2"``); a rule with a variant only
    matches contributions asking for exactly that variant and vice versa.
    ``fte_hours`` ``None`` means the value is not pro rata by hours per week.
    """

    code: str
    label: str
    block: Block
    kind: RuleKind
    rate: Decimal = Decimal("0")
    target_groups: frozenset[TargetGroup] = frozenset()
    min_years_on_benefit: Decimal | None = None
    max_years_on_benefit: Decimal | None = None
    variant: str = ""
    fte_hours: Decimal | None = DEFAULT_FTE_HOURS
    min_hours_per_week: Decimal | None = None
    max_years: Decimal | None = None
    min_duration_days: int | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        where = f"rule {self.code!r}"
        if not isinstance(self.code, str) or not isinstance(self.label, str):
            raise RulebookError(f"{where}: code and label must be strings")
        if not isinstance(self.variant, str):
            raise RulebookError(f"{where}: variant must be a string")
        _set(self, "block", _coerce_enum(Block, self.block, f"{where}: block", RulebookError))
        _set(self, "kind", _coerce_enum(RuleKind, self.kind, f"{where}: kind", RulebookError))
        groups = _coerce_enum_set(
            TargetGroup, self.target_groups, f"{where}: target_groups", RulebookError
        )
        _set(self, "target_groups", groups)
        for name in (
            "rate",
            "min_years_on_benefit",
            "max_years_on_benefit",
            "fte_hours",
            "min_hours_per_week",
            "max_years",
            "percent",
        ):
            value = _coerce_decimal(getattr(self, name), f"{where}: {name}", RulebookError)
            _set(self, name, value)
        if self.rate is None:
            raise RulebookError(f"{where}: rate must not be None")
        days = _coerce_int(self.min_duration_days, f"{where}: min_duration_days", RulebookError)
        _set(self, "min_duration_days", days)

    @property
    def has_benefit_range(self) -> bool:
        return self.min_years_on_benefit is not None or self.max_years_on_benefit is not None

    def matches_years(self, years: Decimal) -> bool:
        low, high = self.min_years_on_benefit, self.max_years_on_benefit
        return (low is None or years >= low) and (high is None or years < high)

    def describe_years(self) -> str:
        low = fmt(self.min_years_on_benefit) if self.min_years_on_benefit is not None else "0.00"
        high = fmt(self.max_years_on_benefit) if self.max_years_on_benefit is not None else "inf"
        return f"[{low}, {high})"

    def describe(self, lang: str = DEFAULT_LANG) -> str:
        """Short statement of the rate, e.g. 'jaarbedrag € 40.000,00 per jaar voor 36,00 uur per
        week' (``lang="en"``: 'annual rate 40000.00 per year per 36.00 hours/week')."""
        text = _Text(lang)
        rate = text.money(self.rate)
        per_fte = ""
        if self.fte_hours is not None:
            per_fte = text("rate_per_fte", fte=text.number(self.fte_hours))
        match self.kind:
            case RuleKind.ANNUAL:
                return text("rate_annual", rate=rate, per_fte=per_fte)
            case RuleKind.MONTHLY:
                return text("rate_monthly", rate=rate, per_fte=per_fte)
            case RuleKind.FIXED:
                return text("rate_fixed", rate=rate)
            case RuleKind.PERCENTAGE:
                return text("rate_percentage", percent=text.number(self.percent or 0))
            case RuleKind.HOURLY:
                return text("rate_hourly", rate=rate)
            case _:
                return text("rate_actual_cost", percent=text.number(self.effective_percent))

    @property
    def effective_percent(self) -> Decimal:
        """Percentage used by percentage/actual-cost rules (actual cost defaults to 100)."""
        return self.percent if self.percent is not None else HUNDRED

    def cap_days(self) -> int | None:
        """Number of days counted at most (``max_years * 365``, rounded down), or ``None``."""
        if self.max_years is None:
            return None
        return int((self.max_years * DAYS_PER_YEAR).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class Bonus:
    """A fixed amount added to a contribution's value when all conditions hold.

    Empty ``blocks``/``target_groups`` mean any. Ages are inclusive bounds; the age is the
    contribution's start year minus the birth year (only the birth year is stored).
    """

    code: str
    label: str
    amount: Decimal
    blocks: frozenset[Block] = frozenset()
    target_groups: frozenset[TargetGroup] = frozenset()
    min_age: int | None = None
    max_age: int | None = None
    requires_permanent_contract: bool = False

    def __post_init__(self) -> None:
        where = f"bonus {self.code!r}"
        if not isinstance(self.code, str) or not isinstance(self.label, str):
            raise RulebookError(f"{where}: code and label must be strings")
        amount = _coerce_decimal(self.amount, f"{where}: amount", RulebookError)
        if amount is None:
            raise RulebookError(f"{where}: amount must not be None")
        _set(self, "amount", amount)
        _set(
            self, "blocks", _coerce_enum_set(Block, self.blocks, f"{where}: blocks", RulebookError)
        )
        groups = _coerce_enum_set(
            TargetGroup, self.target_groups, f"{where}: target_groups", RulebookError
        )
        _set(self, "target_groups", groups)
        for name in ("min_age", "max_age"):
            _set(self, name, _coerce_int(getattr(self, name), f"{where}: {name}", RulebookError))
        if not isinstance(self.requires_permanent_contract, bool):
            raise RulebookError(f"{where}: requires_permanent_contract must be a boolean")

    @property
    def has_age_condition(self) -> bool:
        return self.min_age is not None or self.max_age is not None

    def describe_ages(self, lang: str = DEFAULT_LANG) -> str:
        text = _Text(lang)
        if self.min_age is not None and self.max_age is not None:
            return text("ages_between", low=self.min_age, high=self.max_age)
        if self.min_age is not None:
            return text("ages_from", low=self.min_age)
        return text("ages_up_to", high=self.max_age)


def _rule_problems(rule: Rule) -> list[tuple[str, str]]:
    """Semantic problems of one rule as ``(field, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    if not rule.code.strip():
        problems.append(("code", "must not be empty"))
    if rule.rate < 0:
        problems.append(("rate", f"must not be negative (got {rule.rate})"))
    if rule.kind in PERCENT_KINDS and rule.rate != 0:
        problems.append(("rate", f"is not used by {rule.kind} rules; use percent"))
    problems += _percent_problems(rule)
    problems += _benefit_range_problems(rule)
    problems += _hours_and_duration_problems(rule)
    return problems


def _percent_problems(rule: Rule) -> list[tuple[str, str]]:
    if rule.percent is None:
        if rule.kind == RuleKind.PERCENTAGE:
            return [("percent", "is required for percentage rules")]
        return []
    if rule.kind not in PERCENT_KINDS:
        return [("percent", f"is only used by percentage and actual_cost rules, not {rule.kind}")]
    if not 0 <= rule.percent <= 100:
        return [("percent", f"must be between 0 and 100 (got {rule.percent})")]
    return []


def _benefit_range_problems(rule: Rule) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    low, high = rule.min_years_on_benefit, rule.max_years_on_benefit
    if low is not None and low < 0:
        problems.append(("min_years_on_benefit", f"must not be negative (got {low})"))
    if high is not None and high <= 0:
        problems.append(("max_years_on_benefit", f"must be positive (got {high})"))
    if low is not None and high is not None and low >= high:
        problems.append(
            (
                "min_years_on_benefit",
                f"must be below max_years_on_benefit (exclusive upper bound); got {low} >= {high}",
            )
        )
    return problems


def _hours_and_duration_problems(rule: Rule) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    time_based = rule.kind in TIME_BASED_KINDS
    if rule.fte_hours is not None and not 0 < rule.fte_hours <= HOURS_IN_A_WEEK:
        problems.append(("fte_hours", f"must be above 0 and at most 168 (got {rule.fte_hours})"))
    if rule.min_hours_per_week is not None:
        if not time_based:
            problems.append(("min_hours_per_week", "is only used by annual and monthly rules"))
        elif rule.min_hours_per_week < 0:
            problems.append(("min_hours_per_week", "must not be negative"))
        elif rule.fte_hours is not None and rule.min_hours_per_week > rule.fte_hours:
            problems.append(
                ("min_hours_per_week", f"must not exceed fte_hours ({fmt(rule.fte_hours)})")
            )
    if rule.max_years is not None:
        if not time_based:
            problems.append(("max_years", "is only used by annual and monthly rules"))
        elif (rule.cap_days() or 0) < 1:
            problems.append(("max_years", f"must cover at least one day (got {rule.max_years})"))
    if rule.min_duration_days is not None:
        if rule.kind != RuleKind.FIXED:
            problems.append(("min_duration_days", "is only used by fixed rules"))
        elif rule.min_duration_days < 1:
            problems.append(("min_duration_days", "must be at least 1"))
    return problems


def _bonus_problems(bonus: Bonus) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not bonus.code.strip():
        problems.append(("code", "must not be empty"))
    if bonus.amount < 0:
        problems.append(("amount", f"must not be negative (got {bonus.amount})"))
    for name in ("min_age", "max_age"):
        value = getattr(bonus, name)
        if value is not None and value < 0:
            problems.append((name, "must not be negative"))
    if bonus.min_age is not None and bonus.max_age is not None and bonus.min_age > bonus.max_age:
        problems.append(("min_age", f"must not exceed max_age ({bonus.min_age} > {bonus.max_age})"))
    return problems


def _duplicate_problems(codes: list[str], prefix: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for index, code in enumerate(codes):
        if code in seen:
            problems.append(
                f"{prefix}[{index}].code: duplicate code {code!r} (also {prefix}[{seen[code]}])"
            )
        else:
            seen[code] = index
    return problems


def _years_overlap(a: Rule, b: Rule) -> bool:
    low = max(a.min_years_on_benefit or Decimal(0), b.min_years_on_benefit or Decimal(0))
    highs = [h for h in (a.max_years_on_benefit, b.max_years_on_benefit) if h is not None]
    return not highs or low < min(highs)


def _rules_overlap(a: Rule, b: Rule) -> bool:
    """True when some contribution would match both rules with equal specificity."""
    if a.block != b.block or a.variant != b.variant or _specificity(a) != _specificity(b):
        return False
    if a.target_groups and not a.target_groups & b.target_groups:
        return False
    return not a.has_benefit_range or _years_overlap(a, b)


def _overlap_problems(rules: tuple[Rule, ...]) -> list[str]:
    problems = []
    for j, later in enumerate(rules):
        for i, earlier in enumerate(rules[:j]):
            if _rules_overlap(earlier, later):
                problems.append(
                    f"rules[{j}]: rule {later.code!r} overlaps rule {earlier.code!r} "
                    f"(rules[{i}]): a {later.block} contribution could match both equally; "
                    "make the target groups or years-on-benefit ranges disjoint, or use variants"
                )
    return problems


@dataclass(frozen=True)
class Rulebook:
    """A versioned table of effort values. Validated on construction (see :meth:`problems`)."""

    name: str
    version: str
    valid_from: date
    owner: str = ""
    is_example: bool = False
    rules: tuple[Rule, ...] = ()
    bonuses: tuple[Bonus, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "rules", tuple(self.rules))
        _set(self, "bonuses", tuple(self.bonuses))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`RulebookError` listing every problem, if there is any."""
        problems = self.problems()
        if problems:
            raise RulebookError(problems)

    def problems(self) -> list[str]:
        """Every problem of the rulebook, each prefixed with the path of the bad field."""
        problems = self._header_problems()
        typed_rules = [rule for rule in self.rules if isinstance(rule, Rule)]
        for index, item in enumerate(self.rules):
            if not isinstance(item, Rule):
                problems.append(f"rules[{index}]: expected a Rule, got {type(item).__name__}")
                continue
            problems += [f"rules[{index}].{name}: {msg}" for name, msg in _rule_problems(item)]
        for index, item in enumerate(self.bonuses):
            if not isinstance(item, Bonus):
                problems.append(f"bonuses[{index}]: expected a Bonus, got {type(item).__name__}")
                continue
            problems += [f"bonuses[{index}].{name}: {msg}" for name, msg in _bonus_problems(item)]
        if len(typed_rules) == len(self.rules):
            problems += _duplicate_problems([rule.code for rule in self.rules], "rules")
            problems += _overlap_problems(self.rules)
        if all(isinstance(bonus, Bonus) for bonus in self.bonuses):
            problems += _duplicate_problems([bonus.code for bonus in self.bonuses], "bonuses")
        return problems

    def _header_problems(self) -> list[str]:
        problems = []
        for name in ("name", "version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{name}: must be a non-empty string")
        if not isinstance(self.owner, str):
            problems.append("owner: must be a string")
        if not isinstance(self.is_example, bool):
            problems.append("is_example: must be a boolean")
        try:
            _check_date(self.valid_from, "valid_from", RulebookError)
        except RulebookError as error:
            problems.append(str(error))
        return problems

    def rule(self, code: str) -> Rule:
        """The rule with this code; :class:`NoMatchingRule` if there is none."""
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise NoMatchingRule(f"rulebook {self.title} has no rule with code {code!r}")

    @property
    def title(self) -> str:
        return f"{self.name!r} version {self.version}"


# --------------------------------------------------------------------------------------------
# Inputs and results
# --------------------------------------------------------------------------------------------

_CONTRIBUTION_DECIMALS = ("hours_per_week", "years_on_benefit", "invoiced_amount", "hours")


@dataclass(frozen=True)
class ContributionInput:
    """What the engine needs to know about one contribution.

    ``end`` ``None`` means open-ended (e.g. a running job). ``rule_code`` chooses a rule
    explicitly and skips matching (the block must still agree).
    """

    block: Block
    start: date
    end: date | None = None
    target_group: TargetGroup | None = None
    hours_per_week: Decimal | None = None
    years_on_benefit: Decimal | None = None
    birth_year: int | None = None
    permanent_contract: bool = False
    invoiced_amount: Decimal | None = None
    hours: Decimal | None = None
    actual_cost: Decimal | None = None
    variant: str = ""
    rule_code: str = ""

    def __post_init__(self) -> None:
        error = ValuationInputError
        _set(self, "block", _coerce_enum(Block, self.block, "block", error))
        if self.target_group is not None:
            group = _coerce_enum(TargetGroup, self.target_group, "target_group", error)
            _set(self, "target_group", group)
        _check_date(self.start, "start", error)
        _check_date(self.end, "end", error, optional=True)
        if self.end is not None and self.end < self.start:
            raise error(f"end: {self.end} is before start {self.start}")
        for name in (*_CONTRIBUTION_DECIMALS, "actual_cost"):
            value = _coerce_decimal(getattr(self, name), name, error)
            if value is not None and value < 0:
                raise error(f"{name}: must not be negative (got {value})")
            _set(self, name, value)
        if self.hours_per_week is not None and self.hours_per_week > HOURS_IN_A_WEEK:
            raise error(f"hours_per_week: {self.hours_per_week} exceeds the 168 hours of a week")
        self._check_scalars()

    def _check_scalars(self) -> None:
        error = ValuationInputError
        birth_year = _coerce_int(self.birth_year, "birth_year", error)
        if birth_year is not None and not 1900 <= birth_year <= self.start.year:
            raise error(f"birth_year: {birth_year} is not between 1900 and the start year")
        if not isinstance(self.permanent_contract, bool):
            raise error("permanent_contract: must be a boolean")
        for name in ("variant", "rule_code"):
            if not isinstance(getattr(self, name), str):
                raise error(f"{name}: must be a string")


@dataclass(frozen=True)
class Window:
    """The obligation's counting window (award date up to the deadline), both ends inclusive."""

    start: date
    end: date

    def __post_init__(self) -> None:
        _check_date(self.start, "window.start", ValuationInputError)
        _check_date(self.end, "window.end", ValuationInputError)
        if self.end < self.start:
            raise ValuationInputError(f"window.end: {self.end} is before start {self.start}")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return f"{self.start} to {self.end}"


@dataclass(frozen=True)
class Valuation:
    """The value of one contribution with its explanation.

    ``capped`` is true when the ``max_years`` cap removed counted days. ``zero_reason`` is set
    whenever ``value`` is 0.00. ``bonus_codes`` lists the applied bonuses.
    """

    value: Decimal
    base_value: Decimal
    bonus_value: Decimal
    rule_code: str | None
    explanation: tuple[str, ...]
    counted_days: int | None
    capped: bool
    zero_reason: str | None
    bonus_codes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: money as strings with two decimals, e.g. ``"26666.67"``."""
        return {
            "value": fmt(self.value),
            "base_value": fmt(self.base_value),
            "bonus_value": fmt(self.bonus_value),
            "rule_code": self.rule_code,
            "explanation": list(self.explanation),
            "counted_days": self.counted_days,
            "capped": self.capped,
            "zero_reason": self.zero_reason,
            "bonus_codes": list(self.bonus_codes),
        }


# --------------------------------------------------------------------------------------------
# Rule selection
# --------------------------------------------------------------------------------------------


def _specificity(rule: Rule) -> tuple[int, int]:
    """Higher is more specific: a target-group match beats a wildcard, then a range beats none."""
    return (1 if rule.target_groups else 0, 1 if rule.has_benefit_range else 0)


def _mismatch(rule: Rule, contribution: ContributionInput) -> str | None:
    """Why ``rule`` does not match ``contribution``, or ``None`` when it does."""
    if rule.variant != contribution.variant:
        wanted = repr(contribution.variant) if contribution.variant else "none"
        have = repr(rule.variant) if rule.variant else "none"
        return f"variant {have}, contribution asks for {wanted}"
    if rule.target_groups and contribution.target_group not in rule.target_groups:
        groups = ", ".join(sorted(rule.target_groups))
        return f"target groups {groups}, contribution has {contribution.target_group or 'none'}"
    if rule.has_benefit_range:
        years = contribution.years_on_benefit
        if years is None:
            return f"needs years_on_benefit in {rule.describe_years()}, contribution has none"
        if not rule.matches_years(years):
            return f"years on benefit {rule.describe_years()}, contribution has {fmt(years)}"
    return None


def _describe_contribution_key(contribution: ContributionInput) -> str:
    parts = [f"block {contribution.block}", f"target group {contribution.target_group or 'none'}"]
    if contribution.years_on_benefit is not None:
        parts.append(f"{fmt(contribution.years_on_benefit)} years on benefit")
    if contribution.variant:
        parts.append(f"variant {contribution.variant!r}")
    return ", ".join(parts)


def _explicit_rule(rulebook: Rulebook, contribution: ContributionInput) -> Rule:
    rule = rulebook.rule(contribution.rule_code)
    if rule.block != contribution.block:
        raise NoMatchingRule(
            f"rule {rule.code!r} is for block {rule.block}, "
            f"but the contribution is a {contribution.block}"
        )
    return rule


def select_rule(rulebook: Rulebook, contribution: ContributionInput) -> Rule:
    """The rule that values ``contribution``.

    An explicit ``rule_code`` wins (its block must match). Otherwise a rule matches when its
    block equals the contribution's, its variant equals the contribution's variant (both may be
    empty), its target groups are empty or contain the contribution's target group, and its
    years-on-benefit range (if any) contains the contribution's years on benefit. Of the
    matching rules the most specific wins: a target-group match beats a wildcard, then a
    years-on-benefit range beats no range. Equally specific matches raise :class:`AmbiguousRule`
    (a validated rulebook cannot contain such overlaps); no match raises :class:`NoMatchingRule`
    listing why each rule of the block did not match.
    """
    if contribution.rule_code:
        return _explicit_rule(rulebook, contribution)
    block_rules = [rule for rule in rulebook.rules if rule.block == contribution.block]
    if not block_rules:
        raise NoMatchingRule(
            f"rulebook {rulebook.title} has no rules for block {contribution.block}"
        )
    matches = [rule for rule in block_rules if _mismatch(rule, contribution) is None]
    if not matches:
        reasons = "; ".join(f"{rule.code}: {_mismatch(rule, contribution)}" for rule in block_rules)
        raise NoMatchingRule(
            f"no rule in rulebook {rulebook.title} matches "
            f"{_describe_contribution_key(contribution)} ({reasons})"
        )
    best = max(_specificity(rule) for rule in matches)
    winners = [rule for rule in matches if _specificity(rule) == best]
    if len(winners) > 1:
        codes = ", ".join(rule.code for rule in winners)
        raise AmbiguousRule(
            f"rules {codes} match {_describe_contribution_key(contribution)} equally; "
            "choose one with rule_code or fix the rulebook"
        )
    return winners[0]


# --------------------------------------------------------------------------------------------
# Valuation
# --------------------------------------------------------------------------------------------


@dataclass
class _Calc:
    """Mutable scratchpad of one base-value calculation, with the texts of its language."""

    text: _Text
    lines: list[str]
    base: Decimal = ZERO
    counted_days: int | None = None
    capped: bool = False
    zero_reason: str | None = None

    def say(self, key: str, **values: object) -> None:
        """Add the explanation line ``key`` of the catalogue."""
        self.lines.append(self.text(key, **values))

    def zero(self, key: str, **values: object) -> None:
        """The base value is 0.00 for the reason ``key`` of the catalogue."""
        self.base = ZERO
        self.zero_reason = self.text(key, **values)


def _require(value: Decimal | None, name: str, rule: Rule, purpose: str) -> Decimal:
    if value is None:
        raise ValuationInputError(f"{name}: required by rule {rule.code} ({purpose})")
    return value


def _inputs_line(contribution: ContributionInput, text: _Text) -> str:
    """The inputs line: block, variant, period, hours, amounts and permanent contract.

    Never the candidate's details (birth year, target group, years on benefit): they select
    the rule and bonuses, which the rule and bonus lines name by code and label.
    """
    c = contribution
    parts = [text("block", block=text.block(c.block))]
    if c.variant:
        parts.append(text("variant", variant=repr(c.variant)))
    if c.end is None:
        parts.append(text("period_open", start=text.date(c.start)))
    else:
        parts.append(text("period", period=text.range(c.start, c.end)))
    if c.hours_per_week is not None:
        parts.append(text("hours_per_week", hours=text.number(c.hours_per_week)))
    if c.invoiced_amount is not None:
        parts.append(text("invoiced_amount", amount=text.money(c.invoiced_amount)))
    if c.hours is not None:
        parts.append(text("hours", hours=text.number(c.hours)))
    if c.actual_cost is not None:
        parts.append(text("actual_cost", amount=text.money(c.actual_cost)))
    if c.permanent_contract:
        parts.append(text("permanent_contract"))
    return text("inputs", parts=", ".join(parts))


def _hours_factor(
    rule: Rule, contribution: ContributionInput, calc: _Calc
) -> tuple[Decimal, Decimal] | None:
    """``(hours counted, fte hours)`` for pro-rata rules; ``(1, 1)`` when not pro rata by hours.

    Returns ``None`` (and records the zero reason) below the minimum hours per week.
    """
    number = calc.text.number
    hours = contribution.hours_per_week
    if rule.fte_hours is None and rule.min_hours_per_week is None:
        if hours is not None:
            calc.say("hours_not_used")
        return Decimal(1), Decimal(1)
    hours = _require(hours, "hours_per_week", rule, f"{rule.kind} rate pro rata by hours")
    minimum = rule.min_hours_per_week
    if minimum is not None and hours < minimum:
        calc.zero("zero_below_min_hours", hours=number(hours), minimum=number(minimum))
        return None
    if minimum is not None:
        calc.say("min_hours_met", minimum=number(minimum), hours=number(hours))
    if rule.fte_hours is None:
        calc.say("no_fte_hours")
        return Decimal(1), Decimal(1)
    if hours > rule.fte_hours:
        calc.say("hours_above_fte", hours=number(hours), fte=number(rule.fte_hours))
        hours = rule.fte_hours
    return hours, rule.fte_hours


def _period_end(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> date:
    """The contribution's last day; an open-ended one runs to the window end (or the cap)."""
    if contribution.end is not None:
        return contribution.end
    if window is not None:
        calc.say("open_to_window_end", end=calc.text.date(window.end))
        return window.end
    cap_days = rule.cap_days() if rule.kind in TIME_BASED_KINDS else None
    if cap_days is not None:
        cap_end = _add_days(contribution.start, cap_days - 1)
        calc.say("open_to_cap_end", end=calc.text.date(cap_end))
        return cap_end
    raise ValuationInputError(
        "end: an open-ended contribution needs an end date or a counting window "
        f"to be valued by rule {rule.code}"
    )


def _clip_to_window(
    start: date, end: date, window: Window | None, calc: _Calc
) -> tuple[date, date]:
    text = calc.text
    if window is None:
        calc.say("no_window_period")
        return start, end
    calc.say("window", window=text.window(window))
    first, last = max(start, window.start), min(end, window.end)
    if first > start and first <= end:
        skipped = _days_between(start, _add_days(first, -1))
        calc.say("clipped_start", start=text.date(window.start), days=skipped)
    if last < end and last >= start:
        skipped = _days_between(_add_days(last, 1), end)
        calc.say("clipped_end", end=text.date(window.end), days=skipped)
    return first, last


def _apply_cap(rule: Rule, start: date, first: date, last: date, calc: _Calc) -> date:
    cap_days = rule.cap_days()
    if cap_days is None or rule.max_years is None:
        return last
    text = calc.text
    cap_end = _add_days(start, cap_days - 1)
    cap = {
        "years": text.number(rule.max_years),
        "cap_days": cap_days,
        "cap_end": text.date(cap_end),
    }
    if cap_end >= last:
        calc.say("cap_not_reached", **cap)
        return last
    calc.capped = True
    not_counted = _days_between(max(first, _add_days(cap_end, 1)), last)
    calc.say("cap_applied", start=text.date(start), days=not_counted, **cap)
    return cap_end


def _value_time_based(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    factor = _hours_factor(rule, contribution, calc)
    if factor is None:
        return
    hours, fte = factor
    text = calc.text
    end = _period_end(rule, contribution, window, calc)
    first, last = _clip_to_window(contribution.start, end, window, calc)
    last = _apply_cap(rule, contribution.start, first, last, calc)
    days = _days_between(first, last)
    calc.counted_days = days
    if days == 0:
        what = text("capped_period" if calc.capped else "contribution_period")
        period = text.range(contribution.start, last if calc.capped else end)
        calc.zero("zero_outside_window", what=what, period=period, window=text.window(window))
        return
    calc.say("counted_days", days=days, period=text.range(first, last))
    hours_text = ""
    if rule.fte_hours is not None:
        hours_text = text("formula_hours", hours=text.number(hours), fte=text.number(fte))
    if rule.kind == RuleKind.ANNUAL:
        calc.base = _ratio((rule.rate, hours, days), fte * DAYS_PER_YEAR)
        key = "formula_annual"
    else:
        calc.base = _ratio((rule.rate, hours, days, MONTHS_PER_YEAR), fte * DAYS_PER_YEAR)
        key = "formula_monthly"
    formula = text(key, rate=text.money(rule.rate), hours=hours_text, days=days)
    calc.say("formula_time_based", formula=formula, base=text.money(calc.base))


def _date_outside_window(
    contribution: ContributionInput, window: Window | None, calc: _Calc
) -> bool:
    """Record a zero reason when the contribution's (start) date is outside the window."""
    text = calc.text
    if window is None:
        calc.say("no_window_date")
        return False
    calc.say("window", window=text.window(window))
    if window.contains(contribution.start):
        return False
    calc.zero(
        "zero_date_outside_window", date=text.date(contribution.start), window=text.window(window)
    )
    return True


def _value_fixed(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    if _date_outside_window(contribution, window, calc):
        return
    if contribution.end is not None or window is not None or rule.min_duration_days is not None:
        end = _period_end(rule, contribution, window, calc)
        last = min(end, window.end) if window is not None else end
        calc.counted_days = _days_between(contribution.start, last)
    minimum = rule.min_duration_days
    if minimum is not None and calc.counted_days is not None:
        if calc.counted_days < minimum:
            calc.zero("zero_below_min_duration", days=calc.counted_days, minimum=minimum)
            return
        calc.say("min_duration_met", minimum=minimum, days=calc.counted_days)
    calc.base = _to_cents(rule.rate)
    money = calc.text.money
    calc.say("formula_fixed", rate=money(rule.rate), base=money(calc.base))


def _value_percentage(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    amount = _require(
        contribution.invoiced_amount, "invoiced_amount", rule, "percentage of the invoice"
    )
    if _date_outside_window(contribution, window, calc):
        return
    _percent_of(amount, rule.effective_percent, calc)


def _value_hourly(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    hours = _require(contribution.hours, "hours", rule, "hourly rate")
    if _date_outside_window(contribution, window, calc):
        return
    calc.base = _ratio((hours, rule.rate))
    text = calc.text
    calc.say(
        "formula_hourly",
        hours=text.number(hours),
        rate=text.money(rule.rate),
        base=text.money(calc.base),
    )


def _value_actual_cost(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    cost = _require(contribution.actual_cost, "actual_cost", rule, "actual cost")
    if _date_outside_window(contribution, window, calc):
        return
    _percent_of(cost, rule.effective_percent, calc)


def _percent_of(amount: Decimal, percent: Decimal, calc: _Calc) -> None:
    calc.base = _ratio((amount, percent), HUNDRED)
    text = calc.text
    calc.say(
        "formula_percent",
        amount=text.money(amount),
        percent=text.number(percent),
        base=text.money(calc.base),
    )


_Handler = Callable[[Rule, ContributionInput, Window | None, _Calc], None]

_HANDLERS: dict[RuleKind, _Handler] = {
    RuleKind.ANNUAL: _value_time_based,
    RuleKind.MONTHLY: _value_time_based,
    RuleKind.FIXED: _value_fixed,
    RuleKind.PERCENTAGE: _value_percentage,
    RuleKind.HOURLY: _value_hourly,
    RuleKind.ACTUAL_COST: _value_actual_cost,
}


def _bonus_conditions(
    bonus: Bonus, contribution: ContributionInput, text: _Text
) -> list[str] | None:
    """The conditions met (for the explanation), or ``None`` when the bonus does not apply.

    Age is approximated as the contribution's start year minus the birth year, because only the
    birth year is stored (privacy); the person may be one year younger on the start date. The
    conditions name the bonus's own band or rule, never the candidate's age, birth year or
    target group (explanations are stored and exported).
    """
    met: list[str] = []
    if bonus.blocks:
        if contribution.block not in bonus.blocks:
            return None
        met.append(text("block", block=text.block(contribution.block)))
    if bonus.target_groups:
        if contribution.target_group not in bonus.target_groups:
            return None
        met.append(text("bonus_target_group"))
    if bonus.requires_permanent_contract:
        if not contribution.permanent_contract:
            return None
        met.append(text("permanent_contract"))
    if bonus.has_age_condition:
        if contribution.birth_year is None:
            return None
        age = contribution.start.year - contribution.birth_year
        if bonus.min_age is not None and age < bonus.min_age:
            return None
        if bonus.max_age is not None and age > bonus.max_age:
            return None
        met.append(text("bonus_age", ages=bonus.describe_ages(text.lang)))
    return met


def _apply_bonuses(
    rulebook: Rulebook, contribution: ContributionInput, calc: _Calc
) -> tuple[Decimal, tuple[str, ...]]:
    text = calc.text
    total = ZERO
    codes: list[str] = []
    for bonus in rulebook.bonuses:
        met = _bonus_conditions(bonus, contribution, text)
        if met is None:
            if _only_age_unknown(bonus, contribution, text):
                calc.say("bonus_birth_year_unknown", code=bonus.code)
            continue
        amount = _to_cents(bonus.amount)
        total += amount
        codes.append(bonus.code)
        conditions = ", ".join(met) if met else text("bonus_no_conditions")
        calc.say(
            "bonus_applied",
            code=bonus.code,
            label=bonus.label,
            amount=text.money(amount),
            conditions=conditions,
        )
    return total, tuple(codes)


def _only_age_unknown(bonus: Bonus, contribution: ContributionInput, text: _Text) -> bool:
    """True when the bonus would apply if the (unknown) birth year were known to fit."""
    if not bonus.has_age_condition or contribution.birth_year is not None:
        return False
    without_age = replace(bonus, min_age=None, max_age=None)
    return _bonus_conditions(without_age, contribution, text) is not None


def _rule_line(rule: Rule, contribution: ContributionInput, text: _Text) -> str:
    how = text("rule_explicit" if contribution.rule_code else "rule_selected")
    variant = text("rule_variant", variant=repr(rule.variant)) if rule.variant else ""
    return text(
        "rule",
        code=rule.code,
        how=how,
        label=rule.label,
        variant=variant,
        rate=rule.describe(text.lang),
    )


def value_contribution(
    rulebook: Rulebook,
    contribution: ContributionInput,
    window: Window | None = None,
    *,
    lang: str = DEFAULT_LANG,
) -> Valuation:
    """Value one contribution with ``rulebook`` inside the obligation's counting ``window``.

    ``window`` ``None`` means no clipping (everything counts, dated contributions are never
    outside); an open-ended time-based contribution then runs to its cap, and without a cap an
    end date is required. Raises :class:`NoMatchingRule` / :class:`AmbiguousRule` when no single
    rule applies and :class:`ValuationInputError` when required inputs are missing.

    ``lang`` is the language of ``explanation`` and ``zero_reason``: ``"nl"`` (the default;
    ``€ 26.666,67``, ``24,00``, ``01-03-2026``) or ``"en"`` (``26666.67``, ``24.00``,
    ``2026-03-01``); anything else is a :class:`ValueError`. The numbers never depend on it.
    """
    text = _Text(lang)
    if window is not None and not isinstance(window, Window):
        raise ValuationInputError(f"window: expected a Window, got {type(window).__name__}")
    rule = select_rule(rulebook, contribution)
    calc = _Calc(text, [_rule_line(rule, contribution, text), _inputs_line(contribution, text)])
    _HANDLERS[rule.kind](rule, contribution, window, calc)
    base = calc.base
    bonus_value, bonus_codes = ZERO, ()
    if base > 0:
        bonus_value, bonus_codes = _apply_bonuses(rulebook, contribution, calc)
    elif rulebook.bonuses:
        calc.say("bonuses_none", zero=text.money(ZERO))
    if base == 0 and calc.zero_reason is None:
        calc.zero("zero_formula", zero=text.money(ZERO))
    value = base + bonus_value
    if calc.zero_reason is not None:
        calc.say("value_zero", zero=text.money(ZERO), reason=calc.zero_reason)
    calc.say(
        "value",
        value=text.money(value),
        base=text.money(base),
        bonuses=text.money(bonus_value),
    )
    return Valuation(
        value=value,
        base_value=base,
        bonus_value=bonus_value,
        rule_code=rule.code,
        explanation=tuple(calc.lines),
        counted_days=calc.counted_days,
        capped=calc.capped,
        zero_reason=calc.zero_reason,
        bonus_codes=bonus_codes,
    )


# --------------------------------------------------------------------------------------------
# Example rulebook with public values
# --------------------------------------------------------------------------------------------


def _d(text: str) -> Decimal:
    return Decimal(text)


def _job_rules() -> list[Rule]:
    job = {"block": Block.JOB, "kind": RuleKind.ANNUAL, "min_hours_per_week": _d("12")}
    pw = frozenset({TargetGroup.PARTICIPATIEWET})
    ww = frozenset({TargetGroup.WW})
    others = frozenset(
        {
            TargetGroup.STATUSHOUDER,
            TargetGroup.EARLY_SCHOOL_LEAVER,
            TargetGroup.PRAKTIJKONDERWIJS_VSO,
            TargetGroup.OTHER,
        }
    )
    return [
        Rule(
            "job-pw-lt2",
            "Baan Participatiewet, korter dan 2 jaar in de uitkering",
            rate=_d("30000.00"),
            target_groups=pw,
            max_years_on_benefit=_d("2"),
            max_years=_d("2"),
            **job,
        ),
        Rule(
            "job-pw-ge2",
            "Baan Participatiewet, 2 jaar of langer in de uitkering",
            rate=_d("40000.00"),
            target_groups=pw,
            min_years_on_benefit=_d("2"),
            max_years=_d("2"),
            **job,
        ),
        Rule(
            "job-banenafspraak",
            "Baan banenafspraak (doelgroepregister)",
            rate=_d("40000.00"),
            target_groups=frozenset({TargetGroup.BANENAFSPRAAK}),
            **job,
        ),
        Rule(
            "job-wajong",
            "Baan Wajong",
            rate=_d("40000.00"),
            target_groups=frozenset({TargetGroup.WAJONG}),
            **job,
        ),
        Rule(
            "job-wia",
            "Baan WIA/WGA/WAZ/IOAW/IOAZ",
            rate=_d("35000.00"),
            target_groups=frozenset({TargetGroup.WIA}),
            **job,
        ),
        Rule(
            "job-ww-lt1",
            "Baan WW, korter dan 1 jaar in de uitkering",
            rate=_d("10000.00"),
            target_groups=ww,
            max_years_on_benefit=_d("1"),
            max_years=_d("1"),
            **job,
        ),
        Rule(
            "job-ww-ge1",
            "Baan WW, 1 jaar of langer in de uitkering",
            rate=_d("15000.00"),
            target_groups=ww,
            min_years_on_benefit=_d("1"),
            max_years=_d("1"),
            **job,
        ),
        Rule(
            "job-nug",
            "Baan niet-uitkeringsgerechtigde werkzoekende (NUG)",
            rate=_d("10000.00"),
            target_groups=frozenset({TargetGroup.NUG}),
            **job,
        ),
        Rule(
            "job-other",
            "Baan overige doelgroepen",
            rate=_d("10000.00"),
            target_groups=others,
            **job,
        ),
    ]


def _other_rules() -> list[Rule]:
    return [
        Rule(
            "bbl",
            "BBL-leerbaan, per jaar (niet naar rato van uren)",
            Block.BBL,
            RuleKind.ANNUAL,
            rate=_d("20000.00"),
            fte_hours=None,
        ),
        Rule(
            "internship-mbo1-2",
            "Stage mbo niveau 1-2",
            Block.INTERNSHIP,
            RuleKind.FIXED,
            rate=_d("5000.00"),
            variant="mbo1-2",
            min_duration_days=60,
        ),
        Rule(
            "internship-mbo3-4-hbo",
            "Stage mbo niveau 3-4 of hbo",
            Block.INTERNSHIP,
            RuleKind.FIXED,
            rate=_d("2500.00"),
            variant="mbo3-4-hbo",
            min_duration_days=60,
        ),
        Rule(
            "work-experience",
            "Werkervaringsplek, per maand (niet naar rato van uren)",
            Block.WORK_EXPERIENCE,
            RuleKind.MONTHLY,
            rate=_d("750.00"),
            fte_hours=None,
        ),
        Rule(
            "purchase-register",
            "Inkoop bij sociale onderneming in het register (Code Sociale Ondernemingen)",
            Block.SOCIAL_PURCHASE,
            RuleKind.PERCENTAGE,
            variant="register",
            percent=_d("100"),
        ),
        Rule(
            "purchase-other",
            "Inkoop bij een andere sociale onderneming",
            Block.SOCIAL_PURCHASE,
            RuleKind.PERCENTAGE,
            variant="other",
            percent=_d("50"),
        ),
        Rule(
            "purchase-sw-labour-cost",
            "Uitbesteding aan SW-bedrijf tegen werkelijke loonkosten",
            Block.SOCIAL_PURCHASE,
            RuleKind.ACTUAL_COST,
            variant="sw-labour-cost",
            percent=_d("100"),
        ),
        Rule(
            "social-activity",
            "Sociale activiteit, per uur",
            Block.SOCIAL_ACTIVITY,
            RuleKind.HOURLY,
            rate=_d("100.00"),
        ),
        Rule(
            "training",
            "Gegeven opleiding, per uur (voorbeeldwaarde, geen publieke waarde)",
            Block.TRAINING,
            RuleKind.HOURLY,
            rate=_d("100.00"),
        ),
    ]


def _example_bonuses() -> list[Bonus]:
    job = frozenset({Block.JOB})
    return [
        Bonus(
            "permanent-contract",
            "Vast contract",
            _d("10000.00"),
            blocks=frozenset({Block.JOB, Block.BBL}),
            requires_permanent_contract=True,
        ),
        Bonus(
            "age-50-54", "Leeftijd 50-54 jaar", _d("5000.00"), blocks=job, min_age=50, max_age=54
        ),
        Bonus("age-55-plus", "Leeftijd 55 jaar of ouder", _d("7500.00"), blocks=job, min_age=55),
        Bonus(
            "statushouder",
            "Statushouder",
            _d("10000.00"),
            blocks=job,
            target_groups=frozenset({TargetGroup.STATUSHOUDER}),
        ),
    ]


def example_rulebook() -> Rulebook:
    """Example rulebook with public values from Utrecht, Oost-Nederland and Harlingen.

    ``is_example`` is true: these are not values adopted by a council. Shipped as
    ``docs/examples/rulebook-example.json`` (a test keeps the file equal to this function).
    """
    return Rulebook(
        name="Voorbeeld-rekenregels (publieke waarden)",
        version="2026.1",
        valid_from=date(2026, 1, 1),
        owner="Voorbeeld",
        is_example=True,
        rules=tuple(_job_rules() + _other_rules()),
        bonuses=tuple(_example_bonuses()),
    )


_FORMAT_EXPORTS = frozenset(
    {
        "FORMAT",
        "contribution_from_dict",
        "contribution_to_dict",
        "dumps_rulebook",
        "loads_rulebook",
        "rulebook_from_dict",
        "rulebook_to_dict",
        "window_from_dict",
        "window_to_dict",
    }
)


def __getattr__(name: str) -> Any:
    """Re-export the JSON functions of ``placements.rulebook_format`` (imported lazily, as that
    module imports this one): ``valuation.rulebook_from_dict`` works as well."""
    if name in _FORMAT_EXPORTS:
        from . import rulebook_format

        return getattr(rulebook_format, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
