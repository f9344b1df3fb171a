"""SROI valuation engine: rulebooks, rule selection and the value of one contribution.

Pure Python on purpose (no Django imports) so that every number can be reproduced and tested
without a database. The conventions are those of ``docs/rulebook-format.md``:

* money is ``Decimal``, never ``float``; the base value is rounded to cents with ROUND_HALF_UP
  once, at the end of its calculation; every bonus is rounded separately and then added;
* days are calendar days with both ends inclusive; a year is 365 days, a month 365/12 days;
* annual rate: ``rate * min(hours_per_week, fte_hours) / fte_hours * counted_days / 365`` where
  ``counted_days`` are the days inside the contribution period, inside the cap (``max_years * 365``
  days from the contribution's start) and inside the counting window;
* every value carries a human-readable explanation.

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
    "AmbiguousRule",
    "Block",
    "Bonus",
    "ContributionInput",
    "NoMatchingRule",
    "Rule",
    "RuleKind",
    "Rulebook",
    "RulebookError",
    "TargetGroup",
    "Valuation",
    "ValuationError",
    "ValuationInputError",
    "Window",
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
    """Format a number with exactly two decimals (ROUND_HALF_UP), as used in explanations."""
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

    def describe(self) -> str:
        """Short human-readable statement of the rate, e.g. '40000.00 per year per 36.00 h/w'."""
        per_hours = f" per {fmt(self.fte_hours)} hours/week" if self.fte_hours is not None else ""
        match self.kind:
            case RuleKind.ANNUAL:
                return f"annual rate {fmt(self.rate)} per year{per_hours}"
            case RuleKind.MONTHLY:
                return f"monthly rate {fmt(self.rate)} per month{per_hours}"
            case RuleKind.FIXED:
                return f"fixed amount {fmt(self.rate)} per contribution"
            case RuleKind.PERCENTAGE:
                return f"{fmt(self.percent or 0)}% of the invoiced amount excl. VAT"
            case RuleKind.HOURLY:
                return f"hourly rate {fmt(self.rate)} per hour"
            case _:
                return f"{fmt(self.effective_percent)}% of the actual cost"

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

    def describe_ages(self) -> str:
        if self.min_age is not None and self.max_age is not None:
            return f"{self.min_age}-{self.max_age}"
        if self.min_age is not None:
            return f"{self.min_age}+"
        return f"up to {self.max_age}"


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
    """Mutable scratchpad of one base-value calculation."""

    lines: list[str]
    base: Decimal = ZERO
    counted_days: int | None = None
    capped: bool = False
    zero_reason: str | None = None

    def zero(self, reason: str) -> None:
        self.base = ZERO
        self.zero_reason = reason


def _require(value: Decimal | None, name: str, rule: Rule, purpose: str) -> Decimal:
    if value is None:
        raise ValuationInputError(f"{name}: required by rule {rule.code} ({purpose})")
    return value


def _inputs_line(contribution: ContributionInput) -> str:
    c = contribution
    parts = [f"block {c.block}"]
    if c.target_group is not None:
        parts.append(f"target group {c.target_group}")
    if c.variant:
        parts.append(f"variant {c.variant!r}")
    parts.append(f"period {c.start} to {c.end or 'open-ended'}")
    optional = [
        (c.hours_per_week, "hours per week"),
        (c.years_on_benefit, "years on benefit"),
        (c.invoiced_amount, "invoiced amount excl. VAT"),
        (c.hours, "hours"),
        (c.actual_cost, "actual cost"),
    ]
    parts += [f"{label} {fmt(value)}" for value, label in optional if value is not None]
    if c.birth_year is not None:
        parts.append(f"birth year {c.birth_year}")
    if c.permanent_contract:
        parts.append("permanent contract")
    return "Inputs: " + ", ".join(parts) + "."


def _hours_factor(
    rule: Rule, contribution: ContributionInput, calc: _Calc
) -> tuple[Decimal, Decimal] | None:
    """``(hours counted, fte hours)`` for pro-rata rules; ``(1, 1)`` when not pro rata by hours.

    Returns ``None`` (and records the zero reason) below the minimum hours per week.
    """
    hours = contribution.hours_per_week
    if rule.fte_hours is None and rule.min_hours_per_week is None:
        if hours is not None:
            calc.lines.append("Hours per week are not used: this rule is not pro rata by hours.")
        return Decimal(1), Decimal(1)
    hours = _require(hours, "hours_per_week", rule, f"{rule.kind} rate pro rata by hours")
    minimum = rule.min_hours_per_week
    if minimum is not None and hours < minimum:
        calc.zero(f"{fmt(hours)} hours per week is below the minimum of {fmt(minimum)}")
        return None
    if minimum is not None:
        calc.lines.append(f"Minimum hours per week: {fmt(minimum)}; met with {fmt(hours)}.")
    if rule.fte_hours is None:
        calc.lines.append("Not pro rata by hours: the rule has no full-time hours.")
        return Decimal(1), Decimal(1)
    if hours > rule.fte_hours:
        calc.lines.append(
            f"{fmt(hours)} hours per week exceeds the full-time {fmt(rule.fte_hours)}; "
            f"counted as {fmt(rule.fte_hours)}."
        )
        hours = rule.fte_hours
    return hours, rule.fte_hours


def _period_end(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> date:
    """The contribution's last day; an open-ended one runs to the window end (or the cap)."""
    if contribution.end is not None:
        return contribution.end
    if window is not None:
        calc.lines.append(
            f"No end date (open-ended): treated as running to the window end {window.end}."
        )
        return window.end
    cap_days = rule.cap_days() if rule.kind in TIME_BASED_KINDS else None
    if cap_days is not None:
        cap_end = _add_days(contribution.start, cap_days - 1)
        calc.lines.append(
            f"No end date and no window: treated as running to the cap end {cap_end}."
        )
        return cap_end
    raise ValuationInputError(
        "end: an open-ended contribution needs an end date or a counting window "
        f"to be valued by rule {rule.code}"
    )


def _clip_to_window(
    start: date, end: date, window: Window | None, calc: _Calc
) -> tuple[date, date]:
    if window is None:
        calc.lines.append("No counting window: the period is not clipped.")
        return start, end
    calc.lines.append(f"Counting window: {window}.")
    first, last = max(start, window.start), min(end, window.end)
    if first > start and first <= end:
        skipped = _days_between(start, _add_days(first, -1))
        calc.lines.append(
            f"Clipped to the window start {window.start}: {skipped} days before it are not counted."
        )
    if last < end and last >= start:
        skipped = _days_between(_add_days(last, 1), end)
        calc.lines.append(
            f"Clipped to the window end {window.end}: {skipped} days after it are not counted."
        )
    return first, last


def _apply_cap(rule: Rule, start: date, first: date, last: date, calc: _Calc) -> date:
    cap_days = rule.cap_days()
    if cap_days is None:
        return last
    cap_end = _add_days(start, cap_days - 1)
    if cap_end >= last:
        calc.lines.append(
            f"Cap: counts at most {fmt(rule.max_years)} years ({cap_days} days, up to {cap_end}); "
            "not reached."
        )
        return last
    calc.capped = True
    not_counted = _days_between(max(first, _add_days(cap_end, 1)), last)
    calc.lines.append(
        f"Cap applied: counts at most {fmt(rule.max_years)} years ({cap_days} days from {start}, "
        f"up to {cap_end}); {not_counted} days after it are not counted."
    )
    return cap_end


def _value_time_based(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    factor = _hours_factor(rule, contribution, calc)
    if factor is None:
        return
    hours, fte = factor
    end = _period_end(rule, contribution, window, calc)
    first, last = _clip_to_window(contribution.start, end, window, calc)
    last = _apply_cap(rule, contribution.start, first, last, calc)
    days = _days_between(first, last)
    calc.counted_days = days
    if days == 0:
        what = "capped period" if calc.capped else "contribution period"
        period = f"{contribution.start} to {last if calc.capped else end}"
        calc.zero(
            f"no counted days: the {what} ({period}) lies entirely outside "
            f"the counting window ({window})"
        )
        return
    calc.lines.append(f"Counted days: {days} ({first} to {last}).")
    hours_text = "" if rule.fte_hours is None else f" x {fmt(hours)}/{fmt(fte)}"
    if rule.kind == RuleKind.ANNUAL:
        calc.base = _ratio((rule.rate, hours, days), fte * DAYS_PER_YEAR)
        formula = f"{fmt(rule.rate)}{hours_text} x {days}/365"
    else:
        calc.base = _ratio((rule.rate, hours, days, MONTHS_PER_YEAR), fte * DAYS_PER_YEAR)
        formula = f"{fmt(rule.rate)}{hours_text} x {days}/(365/12)"
    calc.lines.append(f"Formula: {formula} = {fmt(calc.base)} (rounded half up to cents).")


def _date_outside_window(
    contribution: ContributionInput, window: Window | None, calc: _Calc
) -> bool:
    """Record a zero reason when the contribution's (start) date is outside the window."""
    if window is None:
        calc.lines.append("No counting window: the contribution date is not checked.")
        return False
    calc.lines.append(f"Counting window: {window}.")
    if window.contains(contribution.start):
        return False
    calc.zero(
        f"the contribution date {contribution.start} lies outside the counting window ({window})"
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
            calc.zero(
                f"{calc.counted_days} counted days is below the minimum duration of {minimum} days"
            )
            return
        calc.lines.append(f"Minimum duration {minimum} days: met with {calc.counted_days} days.")
    calc.base = _to_cents(rule.rate)
    calc.lines.append(f"Formula: fixed amount {fmt(rule.rate)} = {fmt(calc.base)}.")


def _value_percentage(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    amount = _require(
        contribution.invoiced_amount, "invoiced_amount", rule, "percentage of the invoice"
    )
    if _date_outside_window(contribution, window, calc):
        return
    percent = rule.effective_percent
    calc.base = _ratio((amount, percent), HUNDRED)
    calc.lines.append(f"Formula: {fmt(amount)} x {fmt(percent)}/100 = {fmt(calc.base)}.")


def _value_hourly(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    hours = _require(contribution.hours, "hours", rule, "hourly rate")
    if _date_outside_window(contribution, window, calc):
        return
    calc.base = _ratio((hours, rule.rate))
    calc.lines.append(f"Formula: {fmt(hours)} hours x {fmt(rule.rate)} = {fmt(calc.base)}.")


def _value_actual_cost(
    rule: Rule, contribution: ContributionInput, window: Window | None, calc: _Calc
) -> None:
    cost = _require(contribution.actual_cost, "actual_cost", rule, "actual cost")
    if _date_outside_window(contribution, window, calc):
        return
    percent = rule.effective_percent
    calc.base = _ratio((cost, percent), HUNDRED)
    calc.lines.append(f"Formula: {fmt(cost)} x {fmt(percent)}/100 = {fmt(calc.base)}.")


_Handler = Callable[[Rule, ContributionInput, Window | None, _Calc], None]

_HANDLERS: dict[RuleKind, _Handler] = {
    RuleKind.ANNUAL: _value_time_based,
    RuleKind.MONTHLY: _value_time_based,
    RuleKind.FIXED: _value_fixed,
    RuleKind.PERCENTAGE: _value_percentage,
    RuleKind.HOURLY: _value_hourly,
    RuleKind.ACTUAL_COST: _value_actual_cost,
}


def _bonus_conditions(bonus: Bonus, contribution: ContributionInput) -> list[str] | None:
    """The conditions met (for the explanation), or ``None`` when the bonus does not apply.

    Age is approximated as the contribution's start year minus the birth year, because only the
    birth year is stored (privacy); the person may be one year younger on the start date.
    """
    met: list[str] = []
    if bonus.blocks:
        if contribution.block not in bonus.blocks:
            return None
        met.append(f"block {contribution.block}")
    if bonus.target_groups:
        if contribution.target_group not in bonus.target_groups:
            return None
        met.append(f"target group {contribution.target_group}")
    if bonus.requires_permanent_contract:
        if not contribution.permanent_contract:
            return None
        met.append("permanent contract")
    if bonus.has_age_condition:
        if contribution.birth_year is None:
            return None
        age = contribution.start.year - contribution.birth_year
        if bonus.min_age is not None and age < bonus.min_age:
            return None
        if bonus.max_age is not None and age > bonus.max_age:
            return None
        met.append(
            f"age {age} ({contribution.start.year} - birth year {contribution.birth_year}) "
            f"in {bonus.describe_ages()}"
        )
    return met


def _apply_bonuses(
    rulebook: Rulebook, contribution: ContributionInput, lines: list[str]
) -> tuple[Decimal, tuple[str, ...]]:
    total = ZERO
    codes: list[str] = []
    for bonus in rulebook.bonuses:
        met = _bonus_conditions(bonus, contribution)
        if met is None:
            if _only_age_unknown(bonus, contribution):
                lines.append(f"Bonus {bonus.code} not applied: birth year unknown.")
            continue
        amount = _to_cents(bonus.amount)
        total += amount
        codes.append(bonus.code)
        because = ", ".join(met) if met else "no conditions"
        lines.append(f"Bonus {bonus.code} ({bonus.label}): +{fmt(amount)} ({because}).")
    return total, tuple(codes)


def _only_age_unknown(bonus: Bonus, contribution: ContributionInput) -> bool:
    """True when the bonus would apply if the (unknown) birth year were known to fit."""
    if not bonus.has_age_condition or contribution.birth_year is not None:
        return False
    without_age = replace(bonus, min_age=None, max_age=None)
    return _bonus_conditions(without_age, contribution) is not None


def _rule_line(rule: Rule, contribution: ContributionInput) -> str:
    how = "chosen explicitly" if contribution.rule_code else "selected"
    variant = f", variant {rule.variant!r}" if rule.variant else ""
    return f"Rule {rule.code} ({how}): {rule.label}{variant}; {rule.describe()}."


def value_contribution(
    rulebook: Rulebook, contribution: ContributionInput, window: Window | None = None
) -> Valuation:
    """Value one contribution with ``rulebook`` inside the obligation's counting ``window``.

    ``window`` ``None`` means no clipping (everything counts, dated contributions are never
    outside); an open-ended time-based contribution then runs to its cap, and without a cap an
    end date is required. Raises :class:`NoMatchingRule` / :class:`AmbiguousRule` when no single
    rule applies and :class:`ValuationInputError` when required inputs are missing.
    """
    if window is not None and not isinstance(window, Window):
        raise ValuationInputError(f"window: expected a Window, got {type(window).__name__}")
    rule = select_rule(rulebook, contribution)
    calc = _Calc(lines=[_rule_line(rule, contribution), _inputs_line(contribution)])
    _HANDLERS[rule.kind](rule, contribution, window, calc)
    base = calc.base
    bonus_value, bonus_codes = ZERO, ()
    if base > 0:
        bonus_value, bonus_codes = _apply_bonuses(rulebook, contribution, calc.lines)
    elif rulebook.bonuses:
        calc.lines.append("Bonuses: none, because the base value is 0.00.")
    if base == 0 and calc.zero_reason is None:
        calc.zero_reason = "the formula yields 0.00"
    value = base + bonus_value
    if calc.zero_reason is not None:
        calc.lines.append(f"Value is 0.00 because {calc.zero_reason}.")
    calc.lines.append(f"Value: {fmt(value)} (base {fmt(base)} + bonuses {fmt(bonus_value)}).")
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
            "Job, Participatiewet, less than 2 years on benefit",
            rate=_d("30000.00"),
            target_groups=pw,
            max_years_on_benefit=_d("2"),
            max_years=_d("2"),
            **job,
        ),
        Rule(
            "job-pw-ge2",
            "Job, Participatiewet, 2 years or more on benefit",
            rate=_d("40000.00"),
            target_groups=pw,
            min_years_on_benefit=_d("2"),
            max_years=_d("2"),
            **job,
        ),
        Rule(
            "job-banenafspraak",
            "Job, banenafspraak (doelgroepregister)",
            rate=_d("40000.00"),
            target_groups=frozenset({TargetGroup.BANENAFSPRAAK}),
            **job,
        ),
        Rule(
            "job-wajong",
            "Job, Wajong",
            rate=_d("40000.00"),
            target_groups=frozenset({TargetGroup.WAJONG}),
            **job,
        ),
        Rule(
            "job-wia",
            "Job, WIA/WGA/WAZ/IOAW/IOAZ",
            rate=_d("35000.00"),
            target_groups=frozenset({TargetGroup.WIA}),
            **job,
        ),
        Rule(
            "job-ww-lt1",
            "Job, WW, less than 1 year on benefit",
            rate=_d("10000.00"),
            target_groups=ww,
            max_years_on_benefit=_d("1"),
            max_years=_d("1"),
            **job,
        ),
        Rule(
            "job-ww-ge1",
            "Job, WW, 1 year or more on benefit",
            rate=_d("15000.00"),
            target_groups=ww,
            min_years_on_benefit=_d("1"),
            max_years=_d("1"),
            **job,
        ),
        Rule(
            "job-nug",
            "Job, non-benefit jobseeker (NUG)",
            rate=_d("10000.00"),
            target_groups=frozenset({TargetGroup.NUG}),
            **job,
        ),
        Rule(
            "job-other",
            "Job, other target groups",
            rate=_d("10000.00"),
            target_groups=others,
            **job,
        ),
    ]


def _other_rules() -> list[Rule]:
    return [
        Rule(
            "bbl",
            "BBL apprenticeship, per year (not pro rata by hours)",
            Block.BBL,
            RuleKind.ANNUAL,
            rate=_d("20000.00"),
            fte_hours=None,
        ),
        Rule(
            "internship-mbo1-2",
            "Internship, MBO level 1-2",
            Block.INTERNSHIP,
            RuleKind.FIXED,
            rate=_d("5000.00"),
            variant="mbo1-2",
            min_duration_days=60,
        ),
        Rule(
            "internship-mbo3-4-hbo",
            "Internship, MBO level 3-4 or HBO",
            Block.INTERNSHIP,
            RuleKind.FIXED,
            rate=_d("2500.00"),
            variant="mbo3-4-hbo",
            min_duration_days=60,
        ),
        Rule(
            "work-experience",
            "Work-experience place, per month (not pro rata by hours)",
            Block.WORK_EXPERIENCE,
            RuleKind.MONTHLY,
            rate=_d("750.00"),
            fte_hours=None,
        ),
        Rule(
            "purchase-register",
            "Purchase from a social enterprise in the register (Code Sociale Ondernemingen)",
            Block.SOCIAL_PURCHASE,
            RuleKind.PERCENTAGE,
            variant="register",
            percent=_d("100"),
        ),
        Rule(
            "purchase-other",
            "Purchase from another social enterprise",
            Block.SOCIAL_PURCHASE,
            RuleKind.PERCENTAGE,
            variant="other",
            percent=_d("50"),
        ),
        Rule(
            "purchase-sw-labour-cost",
            "SW subcontracting at actual labour cost",
            Block.SOCIAL_PURCHASE,
            RuleKind.ACTUAL_COST,
            variant="sw-labour-cost",
            percent=_d("100"),
        ),
        Rule(
            "social-activity",
            "Social activity, per hour",
            Block.SOCIAL_ACTIVITY,
            RuleKind.HOURLY,
            rate=_d("100.00"),
        ),
        Rule(
            "training",
            "Training given, per hour (example value, not a public one)",
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
            "Permanent contract",
            _d("10000.00"),
            blocks=frozenset({Block.JOB, Block.BBL}),
            requires_permanent_contract=True,
        ),
        Bonus("age-50-54", "Age 50-54", _d("5000.00"), blocks=job, min_age=50, max_age=54),
        Bonus("age-55-plus", "Age 55 or older", _d("7500.00"), blocks=job, min_age=55),
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
