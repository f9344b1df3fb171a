"""The Dutch catalogue is complete, compiled and active.

Pure Python on purpose: the .po is parsed here and the committed .mo is read with
``gettext.GNUTranslations``, so these tests need no gettext tools. Only the msgfmt
cross-check is skipped where ``msgfmt`` is not installed.
"""

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LC_DIR = Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES"
PO = LC_DIR / "django.po"
MO = LC_DIR / "django.mo"

PLACEHOLDER = re.compile(r"%%|%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file, obsolete (#~) ones left out; the header is the first."""
    entries: list[dict] = []
    entry: dict = {}
    field = None

    def flush():
        nonlocal entry, field
        if "msgid" in entry:
            entries.append(entry)
        entry, field = {}, None

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#~"):
            if not line:
                flush()
            continue
        if line.startswith("#"):
            if "msgstr" in entry or "msgstr_plural" in entry:
                flush()
            if line.startswith("#,"):
                entry.setdefault("flags", set()).update(
                    f.strip() for f in line[2:].split(",") if f.strip()
                )
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$', line)
        if m:
            keyword, index, text = m.group(1), m.group(2), ast.literal_eval(m.group(3))
            if keyword in ("msgctxt", "msgid") and ("msgstr" in entry or "msgstr_plural" in entry):
                flush()
            if index is not None:
                entry.setdefault("msgstr_plural", {})[int(index)] = text
                field = ("msgstr_plural", int(index))
            else:
                entry[keyword] = text
                field = keyword
        elif line.startswith('"') and field is not None:
            text = ast.literal_eval(line)
            if isinstance(field, tuple):
                entry["msgstr_plural"][field[1]] += text
            else:
                entry[field] += text
        else:
            raise AssertionError(f"{path}: cannot parse line {line!r}")
    flush()
    assert entries and entries[0]["msgid"] == "", "the .po has no header entry"
    return entries


def po_catalog(entries: list[dict]) -> dict:
    """The messages msgfmt would compile, keyed like GNUTranslations._catalog."""
    catalog = {}
    for e in entries[1:]:
        if "fuzzy" in e.get("flags", ()):
            continue
        key = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            for index, text in e["msgstr_plural"].items():
                if text:
                    catalog[(key, index)] = text
        elif e["msgstr"]:
            catalog[key] = e["msgstr"]
    return catalog


def mo_catalog(path: Path) -> dict:
    with path.open("rb") as fp:
        catalog = dict(gettext.GNUTranslations(fp)._catalog)
    catalog.pop("", None)  # the header
    return catalog


@pytest.fixture(scope="module")
def entries():
    return parse_po(PO)


def test_po_header_is_dutch(entries):
    header = entries[0]["msgstr"]
    assert "Language: nl\n" in header
    assert "charset=UTF-8" in header
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header
    assert "fuzzy" not in entries[0].get("flags", ())


def test_po_has_no_empty_or_fuzzy_entry(entries):
    assert len(entries) > 1
    empty = [
        e["msgid"]
        for e in entries[1:]
        if ("msgid_plural" in e and not all(e["msgstr_plural"].values()))
        or ("msgid_plural" not in e and not e["msgstr"])
    ]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", ())]
    assert empty == [], f"untranslated: {empty}"
    assert fuzzy == [], f"fuzzy (review and remove the flag): {fuzzy}"


def test_placeholders_are_preserved(entries):
    wrong = []
    for e in entries[1:]:
        if "msgid_plural" in e:
            pairs = [(e["msgid"], e["msgstr_plural"].get(0, ""))]
            pairs += [(e["msgid_plural"], t) for i, t in e["msgstr_plural"].items() if i]
        else:
            pairs = [(e["msgid"], e["msgstr"])]
        for source, target in pairs:
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(target)):
                wrong.append((source, target))
    assert wrong == []


def test_committed_mo_matches_po(entries):
    """Someone who edits the .po must run compilemessages and commit the .mo."""
    assert MO.exists(), "run: manage.py compilemessages -l nl"
    assert mo_catalog(MO) == po_catalog(entries), (
        "locale/nl/LC_MESSAGES/django.mo is stale: run manage.py compilemessages -l nl"
    )


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_committed_mo_matches_a_fresh_msgfmt_compile(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(PO)], check=True, capture_output=True
    )
    assert mo_catalog(MO) == mo_catalog(fresh)


def test_dutch_is_active_for_model_names():
    from contracts.models import Contract, Obligation

    with translation.override("nl"):
        assert str(Contract._meta.verbose_name) == "opdracht"
        assert str(Obligation._meta.verbose_name_plural) == "SROI-verplichtingen"
    with translation.override("en"):
        assert str(Contract._meta.verbose_name) == "contract"
