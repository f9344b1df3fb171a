"""JSON format of rulebooks (``"format": "sroi-rulebook/1"``) and contributions.

Pure Python (no Django). Money and other decimals are written as strings (``"40000.00"``), dates
as ISO ``YYYY-MM-DD``. Reading is strict: unknown fields, floats, malformed dates and unknown enum
values are rejected with the path of the bad field, e.g. ``rules[2].rate: not a decimal: 'abc'``.
JSON numbers are accepted for decimals only when they were parsed exactly (``int`` or
``Decimal``, see :func:`loads_rulebook`), never as ``float``.

Regenerate the shipped example with::

    python -m placements.rulebook_format example > docs/examples/rulebook-example.json
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from placements.valuation import (
    DEFAULT_FTE_HOURS,
    MAX_NUMBER,
    Block,
    Bonus,
    ContributionInput,
    Rule,
    Rulebook,
    RulebookError,
    RuleKind,
    TargetGroup,
    ValuationInputError,
    Window,
    example_rulebook,
)

__all__ = [
    "FORMAT",
    "contribution_from_dict",
    "contribution_to_dict",
    "dumps_rulebook",
    "loads_rulebook",
    "rulebook_from_dict",
    "rulebook_to_dict",
    "window_from_dict",
    "window_to_dict",
]

FORMAT = "sroi-rulebook/1"

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
_MISSING: Any = object()
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

RULEBOOK_FIELDS = ("format", "name", "version", "valid_from", "owner", "is_example")
RULEBOOK_KEYS = frozenset((*RULEBOOK_FIELDS, "rules", "bonuses"))
RULE_KEYS = frozenset(
    (
        "code",
        "label",
        "block",
        "kind",
        "rate",
        "target_groups",
        "min_years_on_benefit",
        "max_years_on_benefit",
        "variant",
        "fte_hours",
        "min_hours_per_week",
        "max_years",
        "min_duration_days",
        "percent",
    )
)
BONUS_KEYS = frozenset(
    (
        "code",
        "label",
        "amount",
        "blocks",
        "target_groups",
        "min_age",
        "max_age",
        "requires_permanent_contract",
    )
)
CONTRIBUTION_KEYS = frozenset(
    (
        "block",
        "start",
        "end",
        "target_group",
        "hours_per_week",
        "years_on_benefit",
        "birth_year",
        "permanent_contract",
        "invoiced_amount",
        "hours",
        "actual_cost",
        "variant",
        "rule_code",
    )
)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return f"a number ({value})"
    return names.get(type(value), type(value).__name__)


class _Reader:
    """Reads typed fields of one JSON object, reporting errors with their path."""

    def __init__(self, data: Any, path: str, error: type[Exception], keys: frozenset[str]):
        self.path = path
        self.error = error
        if not isinstance(data, dict):
            raise error(f"{path or 'document'}: expected an object, got {_json_type(data)}")
        unknown = sorted(str(key) for key in data if key not in keys)
        if unknown:
            allowed = ", ".join(sorted(keys))
            raise error(f"{self._path(unknown[0])}: unknown field (allowed fields: {allowed})")
        self.data: dict[str, Any] = data

    def _path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> Exception:
        return self.error(f"{self._path(key)}: {message}")

    def raw(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.fail(key, "is required")
        return default

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_json_type(value)}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_json_type(value)}")
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_json_type(value)}")
        return value

    def decimal(self, key: str, default: Any = _MISSING) -> Decimal | None:
        value = self.raw(key, default)
        if value is None or isinstance(value, Decimal):
            return self._finite(key, value)
        if isinstance(value, bool | float):
            raise self.fail(key, f'write decimals as strings such as "40000.00", not {value!r}')
        if isinstance(value, int):
            return Decimal(value)
        if not isinstance(value, str):
            raise self.fail(key, f"not a decimal: expected a string, got {_json_type(value)}")
        try:
            return self._finite(key, Decimal(value.strip()))
        except InvalidOperation:
            raise self.fail(key, f"not a decimal: {value!r}") from None

    def _finite(self, key: str, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise self.fail(key, f"not a finite decimal: {value}")
        if value is not None and abs(value) >= MAX_NUMBER:
            raise self.fail(key, f"{value} is too large")
        return value

    def day(self, key: str, default: Any = _MISSING) -> date | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.fail(key, f"expected a date as YYYY-MM-DD, got {value!r}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(key, f"not a valid date: {value!r}") from None

    def enum(self, key: str, enum_cls: type[E], default: Any = _MISSING) -> E | None:
        value = self.raw(key, default)
        if value is None:
            return None
        return self._member(self._path(key), enum_cls, value)

    def enum_set(self, key: str, enum_cls: type[E]) -> frozenset[E]:
        values = self.raw(key, [])
        if not isinstance(values, list):
            raise self.fail(key, f"expected a list, got {_json_type(values)}")
        return frozenset(
            self._member(f"{self._path(key)}[{i}]", enum_cls, value)
            for i, value in enumerate(values)
        )

    def _member(self, path: str, enum_cls: type[E], value: Any) -> E:
        try:
            return enum_cls(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum_cls)
            raise self.error(f"{path}: {value!r} is not one of {allowed}") from None

    def items(self, key: str) -> list[Any]:
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_json_type(value)}")
        return value


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _dec(value: Decimal | None) -> str | None:
    """Decimal as a plain (non-scientific) string, keeping its exponent: ``"40000.00"``."""
    return None if value is None else format(value, "f")


def _sorted(values: frozenset[E], enum_cls: type[E]) -> list[str]:
    """Enum members in declaration order (stable, readable output)."""
    return [member.value for member in enum_cls if member in values]


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "label": rule.label,
        "block": rule.block.value,
        "kind": rule.kind.value,
        "rate": _dec(rule.rate),
        "target_groups": _sorted(rule.target_groups, TargetGroup),
        "min_years_on_benefit": _dec(rule.min_years_on_benefit),
        "max_years_on_benefit": _dec(rule.max_years_on_benefit),
        "variant": rule.variant,
        "fte_hours": _dec(rule.fte_hours),
        "min_hours_per_week": _dec(rule.min_hours_per_week),
        "max_years": _dec(rule.max_years),
        "min_duration_days": rule.min_duration_days,
        "percent": _dec(rule.percent),
    }


def _bonus_to_dict(bonus: Bonus) -> dict[str, Any]:
    return {
        "code": bonus.code,
        "label": bonus.label,
        "amount": _dec(bonus.amount),
        "blocks": _sorted(bonus.blocks, Block),
        "target_groups": _sorted(bonus.target_groups, TargetGroup),
        "min_age": bonus.min_age,
        "max_age": bonus.max_age,
        "requires_permanent_contract": bonus.requires_permanent_contract,
    }


def rulebook_to_dict(rulebook: Rulebook) -> dict[str, Any]:
    """The JSON-ready form of ``rulebook``, every field written (``null`` where unset)."""
    return {
        "format": FORMAT,
        "name": rulebook.name,
        "version": rulebook.version,
        "valid_from": rulebook.valid_from.isoformat(),
        "owner": rulebook.owner,
        "is_example": rulebook.is_example,
        "rules": [_rule_to_dict(rule) for rule in rulebook.rules],
        "bonuses": [_bonus_to_dict(bonus) for bonus in rulebook.bonuses],
    }


def dumps_rulebook(rulebook: Rulebook) -> str:
    """Canonical JSON text of ``rulebook`` (2-space indent, UTF-8, trailing newline)."""
    return json.dumps(rulebook_to_dict(rulebook), indent=2, ensure_ascii=False) + "\n"


def contribution_to_dict(contribution: ContributionInput) -> dict[str, Any]:
    """The JSON-ready form of a contribution (accepted by :func:`contribution_from_dict`)."""
    c = contribution
    return {
        "block": c.block.value,
        "start": c.start.isoformat(),
        "end": c.end.isoformat() if c.end else None,
        "target_group": c.target_group.value if c.target_group else None,
        "hours_per_week": _dec(c.hours_per_week),
        "years_on_benefit": _dec(c.years_on_benefit),
        "birth_year": c.birth_year,
        "permanent_contract": c.permanent_contract,
        "invoiced_amount": _dec(c.invoiced_amount),
        "hours": _dec(c.hours),
        "actual_cost": _dec(c.actual_cost),
        "variant": c.variant,
        "rule_code": c.rule_code,
    }


def window_to_dict(window: Window) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _build(path: str, cls: type[T], **fields: Any) -> T:
    """Construct ``cls``; errors raised by its own checks get ``path`` in front."""
    try:
        return cls(**fields)
    except RulebookError as error:
        raise RulebookError(f"{path}: {error}") from None


def _rule_from_dict(data: Any, path: str) -> Rule:
    r = _Reader(data, path, RulebookError, RULE_KEYS)
    rate = r.decimal("rate", Decimal("0"))
    if rate is None:
        raise r.fail("rate", 'must not be null (omit it or write "0")')
    return _build(
        path,
        Rule,
        code=r.text("code"),
        label=r.text("label", ""),
        block=r.enum("block", Block),
        kind=r.enum("kind", RuleKind),
        rate=rate,
        target_groups=r.enum_set("target_groups", TargetGroup),
        min_years_on_benefit=r.decimal("min_years_on_benefit", None),
        max_years_on_benefit=r.decimal("max_years_on_benefit", None),
        variant=r.text("variant", ""),
        fte_hours=r.decimal("fte_hours", DEFAULT_FTE_HOURS),
        min_hours_per_week=r.decimal("min_hours_per_week", None),
        max_years=r.decimal("max_years", None),
        min_duration_days=r.integer("min_duration_days", None),
        percent=r.decimal("percent", None),
    )


def _bonus_from_dict(data: Any, path: str) -> Bonus:
    r = _Reader(data, path, RulebookError, BONUS_KEYS)
    return _build(
        path,
        Bonus,
        code=r.text("code"),
        label=r.text("label", ""),
        amount=r.decimal("amount"),
        blocks=r.enum_set("blocks", Block),
        target_groups=r.enum_set("target_groups", TargetGroup),
        min_age=r.integer("min_age", None),
        max_age=r.integer("max_age", None),
        requires_permanent_contract=r.boolean("requires_permanent_contract", False),
    )


def rulebook_from_dict(data: Any) -> Rulebook:
    """Build and validate a :class:`Rulebook` from its JSON form.

    Raises :class:`RulebookError` whose message starts with the path of the bad field.
    Optional fields may be omitted; an omitted ``fte_hours`` means 36, ``null`` means "not
    pro rata by hours".
    """
    r = _Reader(data, "", RulebookError, RULEBOOK_KEYS)
    marker = r.raw("format", None)
    if marker != FORMAT:
        found = "missing" if marker is None else f"unsupported format {marker!r}"
        raise RulebookError(f"format: {found}; expected {FORMAT!r}")
    rules = [_rule_from_dict(item, f"rules[{i}]") for i, item in enumerate(r.items("rules"))]
    bonuses = [_bonus_from_dict(item, f"bonuses[{i}]") for i, item in enumerate(r.items("bonuses"))]
    valid_from = r.day("valid_from")
    return Rulebook(
        name=r.text("name"),
        version=r.text("version"),
        valid_from=valid_from,  # type: ignore[arg-type]  # required, so never None
        owner=r.text("owner", ""),
        is_example=r.boolean("is_example", False),
        rules=tuple(rules),
        bonuses=tuple(bonuses),
    )


def loads_rulebook(text: str) -> Rulebook:
    """Parse JSON text into a rulebook; JSON numbers are read exactly as ``Decimal``."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise RulebookError(f"not valid JSON: {error}") from None
    return rulebook_from_dict(data)


def contribution_from_dict(data: Any, path: str = "") -> ContributionInput:
    """Build a :class:`ContributionInput` from its JSON form.

    Raises :class:`~placements.valuation.ValuationInputError` with the path of the bad field
    (prefixed with ``path``, e.g. ``"[3].hours_per_week: not a decimal: 'x'"``).
    """
    r = _Reader(data, path, ValuationInputError, CONTRIBUTION_KEYS)
    try:
        return ContributionInput(
            block=r.enum("block", Block),
            start=r.day("start"),
            end=r.day("end", None),
            target_group=r.enum("target_group", TargetGroup, None),
            hours_per_week=r.decimal("hours_per_week", None),
            years_on_benefit=r.decimal("years_on_benefit", None),
            birth_year=r.integer("birth_year", None),
            permanent_contract=r.boolean("permanent_contract", False),
            invoiced_amount=r.decimal("invoiced_amount", None),
            hours=r.decimal("hours", None),
            actual_cost=r.decimal("actual_cost", None),
            variant=r.text("variant", ""),
            rule_code=r.text("rule_code", ""),
        )
    except ValuationInputError as error:
        if path and not str(error).startswith(path):
            raise ValuationInputError(f"{path}.{error}") from None
        raise


def window_from_dict(data: Any, path: str = "window") -> Window:
    """A :class:`Window` from ``{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}``."""
    r = _Reader(data, path, ValuationInputError, frozenset({"start", "end"}))
    return Window(start=r.day("start"), end=r.day("end"))  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    """``python -m placements.rulebook_format example``: print the example rulebook JSON."""
    if argv != ["example"]:
        sys.stderr.write("usage: python -m placements.rulebook_format example\n")
        return 2
    sys.stdout.write(dumps_rulebook(example_rulebook()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
