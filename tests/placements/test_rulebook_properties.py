"""Property tests of the rulebook file import (hypothesis): a JSON rulebook with odd text,
huge or malformed numbers and dates either imports completely (and is stored as read) or is
refused with a message on the form, writing nothing; no exception escapes, also through the
view (no 500).

Every example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placements import services
from placements.forms_rulebooks import RulebookImportForm
from placements.models import Bonus, Rule, Rulebook
from placements.rulebook_format import dumps_rulebook
from placements.valuation import example_rulebook
from tests.contracts.test_import_properties import ODD_CHARS, rolled_back

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BASE = json.loads(dumps_rulebook(example_rulebook()))

# Where a generated value goes: (path in the document, model attribute it is stored in).
TEXT_PATHS = [
    (("name",), "name"),
    (("version",), "version"),
    (("rules", 0, "label"), "label"),
    (("rules", 0, "code"), "code"),
    (("rules", 0, "variant"), "variant"),
    (("bonuses", 0, "label"), "label"),
]
NUMBER_PATHS = [
    ("rules", 0, "rate"),
    ("rules", 0, "fte_hours"),
    ("rules", 0, "min_hours_per_week"),
    ("rules", 0, "max_years"),
    ("rules", 0, "max_years_on_benefit"),
    ("rules", 0, "min_duration_days"),
    ("bonuses", 0, "amount"),
    ("bonuses", 0, "min_age"),
    ("bonuses", 0, "max_age"),
]
DATE_PATHS = [("valid_from",)]

json_text = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(ODD_CHARS + "\x00\x01\x1b\x7f\ud800\udfff\ufffe"), st.characters()
        ),
        max_size=30,
    ),
    st.integers(min_value=0, max_value=12_000).map(lambda n: "x" * n),
    st.sampled_from(["", " ", "\x00", "job\x00pw", "\ud83d", "\u202eevil", "a" * 61]),
)
json_number = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**4000, -1, 0, 2**31, 2**63, 32768]),
    st.sampled_from(
        [
            "NaN",
            "-Infinity",
            "Infinity",
            "1e9999",
            "-1",
            "0",
            "1E+14",
            "999999999999999",
            "1." + "0" * 300,
            "0.001",
            "1,5",
            "1.234,56",
            "€ 5",
            "",
            "1e-9999",
        ]
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.just([]),
    st.just({}),
)
json_date = st.one_of(
    st.sampled_from(
        ["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "26-11-2026", "", "2026-1-1"]
    ),
    st.dates().map(str),
    json_number,
)


def _set(document: dict, path: tuple, value) -> dict:
    doc = json.loads(json.dumps(document))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _encode(document) -> bytes:
    # ensure_ascii: lone surrogates and NUL travel as \\uXXXX escapes, as any JSON file can.
    return json.dumps(document, ensure_ascii=True).encode("ascii")


def counts() -> tuple[int, ...]:
    return (
        Rulebook.objects.count(),
        Rule.objects.count(),
        Bonus.objects.count(),
        LogEntry.objects.count(),
    )


def import_via_form(world, content: bytes):
    """The view's flow without HTTP: the form validates, the service stores (or refuses)."""
    form = RulebookImportForm(
        data={"owner": world.executing_body.pk, "municipalities": [world.noordwijk.pk]},
        files={"file": SimpleUploadedFile("rulebook.json", content)},
        user=world.adviser,
    )
    if not form.is_valid():
        assert form.errors, "invalid without a message"
        for messages in form.errors.values():
            assert all(isinstance(m, str) and m.strip() for m in messages)
        return None
    try:
        return services.import_rulebook_json(
            acting_user=world.adviser,
            data=form.cleaned_data["data"],
            owner=form.cleaned_data["owner"],
            municipalities=form.cleaned_data["municipalities"],
        )
    except ValidationError as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
        return None


def assert_all_or_nothing(world, document, path=None, attribute=None):
    before = counts()
    rulebook = import_via_form(world, _encode(document))
    if rulebook is None:
        assert counts() == before, "a refused import wrote something"
        return None
    rulebook.refresh_from_db()
    rules = {r.code: r for r in rulebook.rules.all()}
    bonuses = {b.code: b for b in rulebook.bonuses.all()}
    assert len(rules) == len(document["rules"]) and len(bonuses) == len(document["bonuses"])
    if path is not None:
        value = document
        for key in path:
            value = value[key]
        if path[0] == "rules":
            stored = getattr(rules[document["rules"][0]["code"]], attribute)
        elif path[0] == "bonuses":
            stored = getattr(bonuses[document["bonuses"][0]["code"]], attribute)
        else:
            stored = getattr(rulebook, attribute)
        assert stored == value, (stored, value)
    return rulebook


@PROPERTY_SETTINGS
@given(where=st.sampled_from(TEXT_PATHS), value=json_text)
def test_odd_text_is_stored_as_given_or_refused(world, where, value):
    path, attribute = where
    with rolled_back():
        assert_all_or_nothing(world, _set(BASE, path, value), path, attribute)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(NUMBER_PATHS), value=json_number)
def test_numbers_fit_their_columns_or_are_refused(world, path, value):
    with rolled_back():
        rulebook = assert_all_or_nothing(world, _set(BASE, path, value))
        if rulebook is not None and path[0] == "rules":
            rule = rulebook.rules.get(code=BASE["rules"][0]["code"])
            stored = getattr(rule, path[-1])
            if stored is not None and not isinstance(stored, int):
                assert stored == Decimal(str(value)) and abs(stored) < Decimal("1e12")


@PROPERTY_SETTINGS
@given(path=st.sampled_from(DATE_PATHS), value=json_date)
def test_dates_are_read_or_refused(world, path, value):
    with rolled_back():
        assert_all_or_nothing(world, _set(BASE, path, value))


@PROPERTY_SETTINGS
@given(content=st.binary(max_size=300))
def test_random_bytes_are_refused_on_the_form(world, content):
    with rolled_back():
        before = counts()
        assert import_via_form(world, content) is None
        assert counts() == before


@PROPERTY_SETTINGS
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | json_text,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["format", "rules", "name", "x"]), children, max_size=4
            )
        ),
        max_leaves=20,
    )
)
def test_any_json_document_is_refused_with_a_message(world, document):
    with rolled_back():
        before = counts()
        assert import_via_form(world, _encode(document)) is None
        assert counts() == before


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("name",), "Rekenregels\x00"),
        (("rules", 0, "label"), "Baan\x00"),
        (("rules", 0, "label"), "Baan \ud800"),
        (("version",), "2027\x1b"),
        (("bonuses", 0, "label"), "Vast\x00contract"),
    ],
)
def test_nul_and_surrogates_are_refused_on_the_form(world, path, value):
    """Minimal failing inputs of the properties: NUL (PostgreSQL refuses it in text) and lone
    surrogates (no database stores them) used to reach the database."""
    before = counts()
    form = RulebookImportForm(
        data={"owner": world.executing_body.pk, "municipalities": [world.noordwijk.pk]},
        files={"file": SimpleUploadedFile("r.json", _encode(_set(BASE, path, value)))},
        user=world.adviser,
    )
    assert not form.is_valid()
    assert "invalid character" in " ".join(form.errors["file"])
    assert counts() == before


DOCUMENTS = [
    ("nul in a label", _set(BASE, ("rules", 0, "label"), "a\x00b")),
    ("surrogate in the name", _set(BASE, ("name",), "\udc00")),
    ("huge rate", _set(BASE, ("rules", 0, "rate"), "1e14")),
    ("huge integer", _set(BASE, ("bonuses", 0, "min_age"), 10**30)),
    ("long label", _set(BASE, ("rules", 0, "label"), "x" * 10_000)),
    ("far future", _set(BASE, ("valid_from",), "9999-12-31")),
    ("negative", _set(BASE, ("bonuses", 0, "amount"), "-1")),
]


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_the_view_never_answers_500(client, world, name, document):
    client.force_login(world.adviser)
    before = counts()
    response = client.post(
        reverse("placements:rulebook_import"),
        {
            "file": SimpleUploadedFile("rulebook.json", _encode(document)),
            "owner": world.executing_body.pk,
            "municipalities": [world.noordwijk.pk],
        },
    )
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert counts() == before
        assert response.context["form"].errors
