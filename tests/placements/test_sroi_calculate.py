"""``manage.py sroi_calculate``: the pure engine on JSON files, without the database."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
RULEBOOK = str(EXAMPLES / "rulebook-example.json")
CONTRIBUTIONS = str(EXAMPLES / "contributions-example.json")


def run(*args: str) -> list[dict]:
    out = StringIO()
    call_command("sroi_calculate", *args, stdout=out)
    return json.loads(out.getvalue())


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_worked_examples():
    # Explanations in Dutch by default; the values stay JSON strings with a decimal point.
    results = run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS)
    assert [(r["id"], r["value"], r["error"]) for r in results] == [
        ("a-participatiewet-24-hours", "26666.67", None),
        ("b-ww-capped-at-one-year", "15000.00", None),
        ("c-below-minimum-hours", "0.00", None),
    ]
    first, second, third = results
    assert first["rule"] == "job-pw-ge2"
    assert first["base_value"] == "26666.67" and first["bonus_value"] == "0.00"
    assert any("€ 26.666,67" in line for line in first["explanation"])
    assert any("24,00/36,00" in line for line in first["explanation"])
    assert first["explanation"][0].startswith("Regel job-pw-ge2 (geselecteerd)")
    assert second["capped"] is True
    assert any("Maximum toegepast" in line for line in second["explanation"])
    assert (
        third["zero_reason"] == "10,00 uur per week ligt onder het minimum van 12,00 uur per week"
    )


def test_worked_examples_in_english():
    results = run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--lang", "en")
    assert [(r["id"], r["value"], r["error"]) for r in results] == [
        ("a-participatiewet-24-hours", "26666.67", None),
        ("b-ww-capped-at-one-year", "15000.00", None),
        ("c-below-minimum-hours", "0.00", None),
    ]
    first, second, third = results
    assert first["explanation"][0].startswith("Rule job-pw-ge2 (selected)")
    assert any("24.00/36.00" in line for line in first["explanation"])
    assert first["explanation"][-1] == "Value: 26666.67 (base 26666.67 + bonuses 0.00)."
    assert any("Cap applied" in line for line in second["explanation"])
    assert third["zero_reason"] == "10.00 hours per week is below the minimum of 12.00"


def test_the_language_changes_only_the_texts():
    dutch = run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--lang", "nl")
    english = run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--lang", "en")
    assert dutch == run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS)  # nl is the default
    texts = ("explanation", "zero_reason")
    for nl_item, en_item in zip(dutch, english, strict=True):
        assert {k: v for k, v in nl_item.items() if k not in texts} == {
            k: v for k, v in en_item.items() if k not in texts
        }
        assert nl_item["explanation"] != en_item["explanation"]


def test_unknown_language_is_a_command_error():
    with pytest.raises(CommandError, match="invalid choice: 'de'"):
        run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--lang", "de")
    out = StringIO()
    with pytest.raises(CommandError, match="--lang: expected one of nl, en, got 'de'"):
        call_command(
            "sroi_calculate", rulebook=RULEBOOK, input=CONTRIBUTIONS, lang="de", stdout=out
        )


def test_command_line_window_and_bad_items(tmp_path):
    items = [
        # 2026-07-01..2026-12-31 clipped by the window: 184 days; NUG 10000 * 184/365 = 5041.10
        {"id": 1, "block": "job", "target_group": "nug", "start": "2026-07-01",
         "end": "2027-06-30", "hours_per_week": "36"},
        {"id": 2, "block": "job", "target_group": "nug", "start": "2026-07-01"},
        {"id": 3, "block": "job", "target_group": "student", "start": "2026-07-01",
         "hours_per_week": "36"},
        "not an object",
        {"id": 5, "block": "job", "start": "2026-07-01", "window": {"start": "2026-01-01"}},
    ]  # fmt: skip
    results = run(
        "--rulebook",
        RULEBOOK,
        "--input",
        write(tmp_path, "in.json", items),
        "--window-start",
        "2026-01-01",
        "--window-end",
        "2026-12-31",
    )
    assert results[0]["value"] == "5041.10"
    assert results[0]["counted_days"] == 184
    assert results[1]["error"].startswith("hours_per_week: required by rule job-nug")
    assert results[1]["value"] is None
    assert "no rule in rulebook" in results[2]["error"]
    assert results[3]["error"] == "[3]: expected an object, got str"
    assert results[4]["error"] == "[4].window.end: is required"


def test_without_window_nothing_is_clipped(tmp_path):
    # 2025-01-01..2026-12-31 = 730 days; NUG 10000 * 730/365 = 20000.00
    items = [{"block": "job", "target_group": "nug", "start": "2025-01-01",
              "end": "2026-12-31", "hours_per_week": "36"}]  # fmt: skip
    results = run("--rulebook", RULEBOOK, "--input", write(tmp_path, "in.json", items))
    assert (results[0]["id"], results[0]["value"]) == (None, "20000.00")


def test_bad_rulebook_is_a_command_error(tmp_path):
    data = json.loads(Path(RULEBOOK).read_text(encoding="utf-8"))
    data["rules"][2]["rate"] = "abc"
    with pytest.raises(CommandError, match=r"invalid rulebook .*: rules\[2\]\.rate: not a decimal"):
        run("--rulebook", write(tmp_path, "rb.json", data), "--input", CONTRIBUTIONS)
    with pytest.raises(CommandError, match="cannot read rulebook file"):
        run("--rulebook", str(tmp_path / "missing.json"), "--input", CONTRIBUTIONS)


def test_bad_input_file_and_window_options(tmp_path):
    with pytest.raises(CommandError, match="must hold a JSON list"):
        run("--rulebook", RULEBOOK, "--input", write(tmp_path, "in.json", {"a": 1}))
    with pytest.raises(CommandError, match="not valid JSON"):
        run("--rulebook", RULEBOOK, "--input", write(tmp_path, "bad.json", "[{"))
    with pytest.raises(CommandError, match="both --window-start and --window-end"):
        run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--window-start", "2026-01-01")
    with pytest.raises(CommandError, match="--window-end: expected a date"):
        run("--rulebook", RULEBOOK, "--input", CONTRIBUTIONS, "--window-start", "2026-01-01",
            "--window-end", "31-12-2026")  # fmt: skip
