"""``manage.py sroi_calculate``: value contributions from JSON files with the pure engine.

Never touches the database. Example::

    python manage.py sroi_calculate --rulebook docs/examples/rulebook-example.json \\
        --input docs/examples/contributions-example.json

Without ``--window-start/--window-end`` (and without a per-item ``"window"``) contributions are
not clipped to a counting window. ``--lang`` chooses the language of the explanations and zero
reasons: ``nl`` (Dutch, the default, as stored on contributions) or ``en``; the values, which are
JSON strings such as ``"26666.67"``, do not depend on it.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from placements.rulebook_format import contribution_from_dict, loads_rulebook, window_from_dict
from placements.valuation import (
    DEFAULT_LANG,
    LANGUAGES,
    Rulebook,
    RulebookError,
    Valuation,
    ValuationError,
    Window,
    check_lang,
    fmt,
    value_contribution,
)

ITEM_ONLY_KEYS = ("id", "window")


class Command(BaseCommand):
    help = (
        "Value contributions (a JSON list) with a rulebook (sroi-rulebook/1 JSON) and print the "
        "values with their explanations as JSON. Pure calculation: the database is not used."
    )
    requires_system_checks: ClassVar[list[str]] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rulebook", required=True, help="rulebook JSON file")
        parser.add_argument("--input", required=True, help="JSON list of contributions")
        parser.add_argument("--window-start", help="counting window start, YYYY-MM-DD")
        parser.add_argument("--window-end", help="counting window end, YYYY-MM-DD")
        parser.add_argument(
            "--lang",
            choices=LANGUAGES,
            default=DEFAULT_LANG,
            help="language of the explanations: nl (Dutch, default) or en (English)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rulebook = _load_rulebook(options["rulebook"])
        items = _load_items(options["input"])
        window = _default_window(options.get("window_start"), options.get("window_end"))
        lang = _language(options.get("lang") or DEFAULT_LANG)
        results = [
            _value_item(index, item, rulebook, window, lang) for index, item in enumerate(items)
        ]
        self.stdout.write(json.dumps(results, indent=2, ensure_ascii=False))


def _language(lang: str) -> str:
    """Checked here too: ``call_command(..., lang=...)`` bypasses the parser's choices."""
    try:
        return check_lang(lang)
    except ValueError as error:
        raise CommandError(f"--{error}") from None


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read {what} file {path}: {error.strerror or error}") from None


def _load_rulebook(path: str) -> Rulebook:
    try:
        return loads_rulebook(_read_text(path, "rulebook"))
    except RulebookError as error:
        raise CommandError(f"invalid rulebook {path}: {error}") from None


def _load_items(path: str) -> list[Any]:
    try:
        items = json.loads(_read_text(path, "input"), parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise CommandError(f"input file {path} is not valid JSON: {error}") from None
    if not isinstance(items, list):
        raise CommandError(f"input file {path} must hold a JSON list of contributions")
    return items


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: expected a date as YYYY-MM-DD, got {value!r}") from None


def _default_window(start: str | None, end: str | None) -> Window | None:
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise CommandError("give both --window-start and --window-end, or neither")
    try:
        return Window(_parse_date(start, "--window-start"), _parse_date(end, "--window-end"))
    except ValuationError as error:
        raise CommandError(f"invalid window: {error}") from None


def _value_item(
    index: int, item: Any, rulebook: Rulebook, default_window: Window | None, lang: str
) -> dict[str, Any]:
    item_id = item.get("id") if isinstance(item, dict) else None
    result: dict[str, Any] = {
        "id": item_id,
        "index": index,
        "value": None,
        "base_value": None,
        "bonus_value": None,
        "rule": None,
        "explanation": [],
        "counted_days": None,
        "capped": None,
        "zero_reason": None,
        "error": None,
    }
    try:
        valuation = _valuate(index, item, rulebook, default_window, lang)
    except (ValuationError, ArithmeticError) as error:
        result["error"] = str(error)
        return result
    result.update(
        value=fmt(valuation.value),
        base_value=fmt(valuation.base_value),
        bonus_value=fmt(valuation.bonus_value),
        rule=valuation.rule_code,
        explanation=list(valuation.explanation),
        counted_days=valuation.counted_days,
        capped=valuation.capped,
        zero_reason=valuation.zero_reason,
    )
    return result


def _valuate(
    index: int, item: Any, rulebook: Rulebook, default_window: Window | None, lang: str
) -> Valuation:
    path = f"[{index}]"
    if not isinstance(item, dict):
        raise ValuationError(f"{path}: expected an object, got {type(item).__name__}")
    fields = {key: value for key, value in item.items() if key not in ITEM_ONLY_KEYS}
    contribution = contribution_from_dict(fields, path)
    window = default_window
    if item.get("window") is not None:
        window = window_from_dict(item["window"], f"{path}.window")
    return value_contribution(rulebook, contribution, window, lang=lang)
