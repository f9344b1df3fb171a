"""Property tests of bulk reporting by spreadsheet (hypothesis): whatever the cells or the
file hold, the upload either imports every row (and what is stored is what was read) or
reports row-by-row or file-level errors and writes nothing; no exception escapes.

Setting (as in test_bulk_import.py): contractor A has an open obligation on ``NW-A-1`` valued
by ``RulebookFactory``'s default rules (a Participatiewet job, a social activity per hour, a
bonus for a permanent contract). Every example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from auditlog.models import LogEntry
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from placements import bulk_import
from placements.bulk_import import COLUMNS, ImportRejected
from placements.models import Candidate, Contribution
from tests import factories as f
from tests.contracts.test_import_properties import (
    MALFORMED,
    build_xlsx,
    date_like,
    escaped_text,
    huge_numbers,
    junk,
    long_text,
    number_text,
    odd_text,
    rolled_back,
)

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEYS = [c.key for c in COLUMNS]
HEADERS = [c.title for c in COLUMNS]


@pytest.fixture
def obligation(world):
    return f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-1",
    )


def job() -> dict:
    return {
        "reference": "NW-A-1",
        "municipality": "Noordwijk",
        "block": "baan",
        "initials": "J.K.",
        "birth_year": 1984,
        "target_group": "Participatiewet",
        "years_on_benefit": 3,
        "start_date": datetime(2026, 3, 1),
        "end_date": datetime(2026, 8, 31),
        "hours_per_week": 36,
        "permanent_contract": "nee",
        "description": "Grondwerker",
    }


def activity() -> dict:
    return {
        "reference": "NW-A-1",
        "municipality": "Noordwijk",
        "block": "sociale activiteit",
        "start_date": datetime(2026, 4, 1),
        "hours": 40,
        "description": "Gastlessen",
    }


def counts() -> tuple[int, ...]:
    return Contribution.objects.count(), Candidate.objects.count(), LogEntry.objects.count()


STORED = {
    "start_date": "start_date",
    "end_date": "end_date",
    "hours_per_week": "hours_per_week",
    "hours": "hours",
    "invoiced_amount": "invoiced_amount",
    "actual_cost": "actual_cost",
    "description": "description",
    "delivered_by": "delivered_by",
    "social_enterprise": "social_enterprise",
}


def assert_all_or_nothing(user, data: bytes):
    before = counts()
    report = bulk_import.validate_workbook(acting_user=user, data=data)
    assert counts() == before, "validation wrote something"
    for message in report.file_errors:
        assert isinstance(message, str) and message.strip()
    for row in report.rows:
        for error in row.errors:
            assert isinstance(error.message, str) and error.message.strip()
    if report.can_import:
        result = bulk_import.import_workbook(acting_user=user, data=data)
        assert result.created == len(report.new_rows)
        for row, pk in zip(report.new_rows, result.contribution_ids, strict=True):
            stored = Contribution.objects.get(pk=pk)
            for key, attr in STORED.items():
                if key in row.inputs:
                    assert getattr(stored, attr) == row.inputs[key], key
            assert "\x00" not in stored.description + stored.delivered_by
            if row.new_candidate:
                candidate = stored.candidate
                for key, value in row.new_candidate.items():
                    assert getattr(candidate, key) == value, key
    else:
        with pytest.raises(ImportRejected):
            bulk_import.import_workbook(acting_user=user, data=data)
        assert counts() == before, "a rejected import wrote something"
    return report


def _file(rows: list[dict]) -> bytes:
    return build_xlsx([[row.get(k) for k in KEYS] for row in rows], headers=HEADERS)


@PROPERTY_SETTINGS
@given(
    base=st.sampled_from([job, activity]),
    overrides=st.lists(
        st.tuples(st.sampled_from(KEYS), junk), min_size=1, max_size=4, unique_by=lambda t: t[0]
    ),
)
def test_junk_in_cells_is_reported_per_row_or_imported_whole(world, obligation, base, overrides):
    good = {**activity(), "description": "Eerste rij"}
    bad = {**base(), **dict(overrides)}
    with rolled_back():
        report = assert_all_or_nothing(world.contractor_a_user, _file([good, bad]))
    assert report.rows or report.file_errors


@PROPERTY_SETTINGS
@given(
    value=st.one_of(huge_numbers, number_text),
    key=st.sampled_from(["hours_per_week", "hours", "years_on_benefit", "birth_year"]),
)
def test_numbers_fit_their_columns_or_are_refused(world, obligation, value, key):
    row = activity() if key == "hours" else job()
    row[key] = value
    with rolled_back():
        assert_all_or_nothing(world.contractor_a_user, _file([row]))


@PROPERTY_SETTINGS
@given(
    text=st.one_of(odd_text, escaped_text, long_text),
    key=st.sampled_from(
        ["initials", "description", "delivered_by", "target_group_note", "candidate_code"]
    ),
)
def test_odd_text_is_cleaned_or_refused(world, obligation, text, key):
    row = job()
    row[key] = text
    if key == "candidate_code":
        for name in ("initials", "birth_year", "target_group", "years_on_benefit"):
            row.pop(name)
    with rolled_back():
        assert_all_or_nothing(world.contractor_a_user, _file([row]))


@PROPERTY_SETTINGS
@given(value=date_like, key=st.sampled_from(["start_date", "end_date"]))
def test_dates_in_any_form_are_read_or_refused(world, obligation, value, key):
    row = job()
    row[key] = value
    with rolled_back():
        assert_all_or_nothing(world.contractor_a_user, _file([row]))


@PROPERTY_SETTINGS
@given(
    headers=st.lists(
        st.one_of(st.sampled_from(HEADERS), odd_text, st.none(), st.integers()), max_size=22
    ),
    cells=st.lists(st.lists(junk, max_size=22), max_size=3),
)
def test_any_header_row_gives_a_file_error_or_row_results(world, obligation, headers, cells):
    with rolled_back():
        report = assert_all_or_nothing(
            world.contractor_a_user, build_xlsx(cells, headers=headers, sheet="Bijdragen")
        )
    assert report.file_errors or report.rows


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files(world, obligation, name):
    data = MALFORMED[name](_file([activity()]))
    with rolled_back():
        assert_all_or_nothing(world.contractor_a_user, data)


@PROPERTY_SETTINGS
@given(cut=st.floats(min_value=0.0, max_value=0.999), noise=st.binary(max_size=200))
def test_truncated_or_noisy_files_are_refused(world, obligation, cut, noise):
    data = _file([activity()])
    broken = data[: int(len(data) * cut)] + noise
    assume(broken != data)
    with rolled_back():
        report = assert_all_or_nothing(world.contractor_a_user, broken)
    assert report.file_errors


def test_a_lone_surrogate_is_a_row_error(world, obligation):
    """Minimal failing input of the properties (see contracts/test_import_properties.py)."""
    row = activity()
    row["description"] = "Gastles _xDC00_"
    before = counts()
    report = bulk_import.validate_workbook(acting_user=world.contractor_a_user, data=_file([row]))
    (error,) = report.rows[0].errors
    assert error.column == "Omschrijving"
    assert "invalid character (U+DC00)" in error.message
    assert counts() == before
