"""placements.bulk_import: bulk reporting of contributions by spreadsheet, without the web layer.

Every workbook is built here with openpyxl (no binary fixtures). The setting: contractor A has
an open obligation on Noordwijk contract ``NW-A-1`` (awarded 15-01-2026, ends 31-01-2027,
deadline 01-05-2027) valued by ``RulebookFactory``'s default rules: a Participatiewet job at
40,000 a year (min. 12 h/week, max. 2 years), a social activity at 100 an hour and a bonus of
10,000 for a permanent contract. Contractor B has ``NW-B-1``.

Every error test asserts the row number, the (Dutch) column title and the message, and that
nothing was written.
"""

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from contracts.models import Obligation
from placements import bulk_import, services
from placements.bulk_import import COLUMNS, ImportFailed, ImportRejected, RowStatus
from placements.models import Candidate, Contribution, Rule
from tests import factories as f

D = Decimal
KEYS = [c.key for c in COLUMNS]


@pytest.fixture
def setting(world):
    obligation_a = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-1",
    )
    obligation_b = f.RuledObligationFactory(
        contract__contractor=world.contractor_b,
        contract__municipality=world.noordwijk,
        contract__reference="NW-B-1",
    )
    return obligation_a, obligation_b


def job(**overrides) -> dict:
    row = {
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
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def job_of(code: str, **overrides) -> dict:
    """A job for an existing candidate: the code instead of the new candidate's details."""
    details = dict.fromkeys(("initials", "birth_year", "target_group", "years_on_benefit"))
    return job(**{**details, "candidate_code": code, **overrides})


def activity(**overrides) -> dict:
    row = {
        "reference": "NW-A-1",
        "municipality": "Noordwijk",
        "block": "sociale activiteit",
        "start_date": datetime(2026, 4, 1),
        "hours": 40,
        "description": "Gastlessen",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def xlsx(rows: list[dict], *, keys=None, headers=None, sheet="Bijdragen", setup=None) -> bytes:
    keys = keys or KEYS
    headers = headers or [bulk_import.COLUMN_BY_KEY[k].title for k in keys]
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append([row.get(k) for k in keys])
    if setup:
        setup(wb, ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def validate(user, data: bytes):
    return bulk_import.validate_workbook(acting_user=user, data=data)


def counts() -> tuple[int, int]:
    return Contribution.objects.count(), Candidate.objects.count()


def letter(key: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(KEYS.index(key) + 1)


# --- The happy path ----------------------------------------------------------------------------


def test_a_valid_file_is_previewed_with_the_engine_value_then_imported(world, setting):
    obligation, _ = setting
    existing = f.CandidateFactory(contractor=world.contractor_a, code="K-EXIST001")
    rows = [
        job(),
        job_of(
            "k-exist001",  # codes are matched case-insensitively
            permanent_contract="ja",
            start_date="01-05-2026",
            end_date="30-04-2027",
            hours_per_week="24,5",
        ),
        activity(),
    ]
    data = xlsx(rows)
    before = counts()

    report = validate(world.contractor_a_user, data)

    assert report.file_errors == []
    assert report.error_rows == [], [(r.number, r.errors) for r in report.error_rows]
    assert [r.number for r in report.new_rows] == [2, 3, 4]
    assert report.can_import
    assert counts() == before  # the preview writes nothing
    new_job, code_job, act = report.rows
    # 40,000 x 36/36 x 184/365
    assert new_job.value == D("20164.38")
    assert new_job.candidate_is_new and new_job.candidate.pk is None
    assert code_job.candidate == existing
    assert act.value == D("4000.00")
    # The preview is the engine's value through services.value_of.
    expected = services.value_of(
        obligation=obligation,
        block="job",
        candidate=existing,
        start_date=date(2026, 5, 1),
        end_date=date(2027, 4, 30),
        hours_per_week=D("24.5"),
        permanent_contract=True,
    )
    assert code_job.value == expected.value
    assert code_job.explanation == tuple(expected.explanation)
    assert report.new_candidate_count == 1
    assert report.new_value_total == new_job.value + code_job.value + act.value

    result = bulk_import.import_workbook(
        acting_user=world.contractor_a_user, data=data, expected_sha256=report.sha256
    )

    assert result.created == 3 and result.skipped == 0 and result.candidates_created == 1
    stored = list(Contribution.objects.filter(pk__in=result.contribution_ids).order_by("pk"))
    assert [c.value for c in stored] == [new_job.value, code_job.value, act.value]
    assert all(c.status == Contribution.Status.SUBMITTED for c in stored)
    assert all(c.submitted_by == world.contractor_a_user for c in stored)
    assert stored[0].candidate.initials == "J.K." and stored[0].candidate.birth_year == 1984
    assert stored[0].candidate.contractor == world.contractor_a
    assert stored[0].candidate.code.startswith("K-")
    assert stored[1].candidate == existing and stored[1].permanent_contract
    assert stored[1].hours_per_week == D("24.5")
    assert stored[2].block == "social_activity" and stored[2].hours == D("40")
    assert result.total_value == sum(c.value for c in stored)


def test_an_open_ended_placement_is_valued_as_stored_up_to_today(world, setting):
    data = xlsx([job(end_date=None, start_date=datetime(2026, 11, 1))])
    report = validate(world.contractor_a_user, data)
    assert not report.error_rows
    result = bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    stored = Contribution.objects.get(pk=result.contribution_ids[0])
    assert stored.end_date is None
    assert stored.value == report.rows[0].value


def test_reuploading_the_same_file_creates_no_duplicates(world, setting):
    data = xlsx([job(), activity(), job(start_date=datetime(2026, 6, 1), initials="P.")])
    bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    before = counts()
    assert before == (3, 2)

    report = validate(world.contractor_a_user, data)

    assert report.is_valid and not report.can_import
    assert [r.status for r in report.rows] == [RowStatus.SKIP] * 3
    assert all(r.existing is not None for r in report.rows)
    result = bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    assert (result.created, result.skipped, result.candidates_created) == (0, 3, 0)
    assert counts() == before


def test_reupload_skips_also_after_review_and_with_other_notations(world, setting):
    data = xlsx([job(), activity()])
    bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    first = Contribution.objects.get(block="job")
    services.return_contribution(acting_user=world.adviser, contribution=first, reason="Bewijs?")
    same = xlsx(
        [
            job(hours_per_week="36,00", start_date="01-03-2026", initials=" J.K. "),
            activity(hours="40", block="Sociale activiteit"),
        ]
    )
    report = validate(world.contractor_a_user, same)
    assert [r.status for r in report.rows] == [RowStatus.SKIP, RowStatus.SKIP]


def test_reupload_with_one_new_row_imports_only_that_row(world, setting):
    bulk_import.import_workbook(acting_user=world.contractor_a_user, data=xlsx([job()]))
    data = xlsx([job(), activity()])
    report = validate(world.contractor_a_user, data)
    assert [r.status for r in report.rows] == [RowStatus.SKIP, RowStatus.NEW]
    result = bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    assert (result.created, result.skipped) == (1, 1)
    assert counts() == (2, 1)


def test_an_already_reported_row_with_another_description_is_an_error(world, setting):
    bulk_import.import_workbook(acting_user=world.contractor_a_user, data=xlsx([job()]))
    report = validate(world.contractor_a_user, xlsx([job(description="Machinist")]))
    (error,) = report.rows[0].errors
    assert error.column == "Omschrijving"
    assert "already reported (submitted) with a different Omschrijving" in error.message
    with pytest.raises(ImportRejected):
        bulk_import.import_workbook(
            acting_user=world.contractor_a_user, data=xlsx([job(description="Machinist")])
        )
    assert counts() == (1, 1)


def test_a_different_start_date_is_a_new_contribution(world, setting):
    bulk_import.import_workbook(acting_user=world.contractor_a_user, data=xlsx([activity()]))
    report = validate(world.contractor_a_user, xlsx([activity(start_date=datetime(2026, 5, 1))]))
    assert report.rows[0].status == RowStatus.NEW


def test_a_contribution_of_another_obligation_is_no_duplicate(world, setting):
    other = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.katwijk,
        contract__reference="NW-A-1",  # the same reference in another municipality
    )
    services.submit_contribution(
        acting_user=world.contractor_a_user,
        obligation=other,
        block="social_activity",
        start_date=date(2026, 4, 1),
        hours=D("40"),
        description="Gastlessen",
    )
    report = validate(world.contractor_a_user, xlsx([activity()]))
    assert report.rows[0].status == RowStatus.NEW
    assert report.rows[0].obligation == setting[0]


# --- What each block asks follows the obligation's rulebook, as the report form does ----------


@pytest.fixture
def rich_rulebook(setting):
    """Internships by level (fixed amounts), purchases by kind of enterprise (percentages)
    and training at actual cost, on top of the default rules."""
    rulebook = setting[0].rulebook
    for variant, rate in (("mbo1-2", "5000"), ("mbo3-4-hbo", "2500")):
        Rule.objects.create(
            rulebook=rulebook,
            code=f"stage-{variant}",
            label=f"Stage {variant}",
            block="internship",
            kind="fixed",
            rate=D(rate),
            variant=variant,
            fte_hours=None,
        )
    for variant, percent in (("register", "100"), ("other", "50")):
        Rule.objects.create(
            rulebook=rulebook,
            code=f"inkoop-{variant}",
            label=f"Inkoop {variant}",
            block="social_purchase",
            kind="percentage",
            percent=D(percent),
            variant=variant,
            fte_hours=None,
        )
    Rule.objects.create(
        rulebook=rulebook,
        code="opleiding",
        label="Opleiding",
        block="training",
        kind="actual_cost",
        fte_hours=None,
    )
    return rulebook


def internship(**overrides) -> dict:
    return job(
        **{
            "block": "stage",
            "variant": "MBO1-2",
            "target_group": "BOL/BBL-student",
            "years_on_benefit": None,
            "birth_year": 2007,
            "permanent_contract": None,
            "hours_per_week": 32,
            "end_date": datetime(2026, 6, 30),
            **overrides,
        }
    )


def purchase(**overrides) -> dict:
    row = {
        "reference": "NW-A-1",
        "municipality": "Noordwijk",
        "block": "inkoop sociale onderneming",
        "variant": "register",
        "social_enterprise": "Sociaal Atelier Duinstreek",
        "invoiced_amount": "4.500,00",
        "start_date": "15-04-2026",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def test_blocks_with_variants_and_amounts_follow_the_rulebook(world, setting, rich_rulebook):
    obligation = setting[0]
    training = activity(block="opleiding", hours=None, actual_cost="1250,00")
    data = xlsx([internship(), purchase(), purchase(variant="Other"), training])
    report = validate(world.contractor_a_user, data)
    assert not report.error_rows, [(r.number, r.errors) for r in report.error_rows]
    stage, register, other, course = report.rows
    assert stage.inputs["variant"] == "mbo1-2"  # spelled as the rulebook does
    assert stage.value == D("5000.00")
    assert (register.value, other.value) == (D("4500.00"), D("2250.00"))
    assert course.value == D("1250.00")
    expected = services.value_of(
        obligation=obligation,
        block="social_purchase",
        variant="other",
        start_date=date(2026, 4, 15),
        invoiced_amount=D("4500"),
        social_enterprise="Sociaal Atelier Duinstreek",
    )
    assert other.value == expected.value
    result = bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    stored = Contribution.objects.filter(pk__in=result.contribution_ids).order_by("pk")
    assert [c.value for c in stored] == [r.value for r in report.rows]
    assert stored[2].variant == "other" and stored[3].actual_cost == D("1250.00")


RULEBOOK_ERRORS = [
    (internship(end_date=None), "end_date", "Required for the block “Internship”."),
    (internship(hours_per_week=None), "hours_per_week", "Required for the block “Internship”."),
    (internship(variant=None), "variant", "Required for the block “Internship”."),
    (
        internship(variant="hbo-master"),
        "variant",
        "Unknown variant for the block “Internship”. Use one of: mbo1-2, mbo3-4-hbo.",
    ),
    (
        internship(permanent_contract="ja"),
        "permanent_contract",
        "Not used for the block “Internship”",
    ),
    (purchase(invoiced_amount=None), "invoiced_amount", "Required for the block “Purchase from"),
    (
        purchase(social_enterprise=None),
        "social_enterprise",
        "Required for the block “Purchase from",
    ),
    (purchase(hours_per_week=12), "hours_per_week", "Not used for the block “Purchase from"),
    (purchase(end_date="30-04-2026"), "end_date", "Not used for the block “Purchase from"),
    (purchase(actual_cost=10), "actual_cost", "Not used for the block “Purchase from"),
    (purchase(invoiced_amount="-12"), "invoiced_amount", "An amount cannot be negative."),
    (activity(block="opleiding", hours=None), "actual_cost", "Required for the block “Training”."),
]


@pytest.mark.parametrize(
    ("row", "key", "message"),
    RULEBOOK_ERRORS,
    ids=[f"{k}-{i}" for i, (_r, k, _m) in enumerate(RULEBOOK_ERRORS)],
)
def test_what_the_rulebook_asks_is_checked_per_row(
    world, setting, rich_rulebook, row, key, message
):
    report = validate(world.contractor_a_user, xlsx([purchase(), row]))
    assert report.rows[0].errors == []
    messages = [(e.column, e.message) for e in report.rows[1].errors]
    title = bulk_import.COLUMN_BY_KEY[key].title
    assert any(c == title and message in m for c, m in messages), messages
    assert not report.is_valid


# --- Contracts: only the contractor's own open obligations --------------------------------------


def test_another_contractors_reference_is_an_unknown_contract(world, setting):
    theirs = validate(world.contractor_a_user, xlsx([activity(reference="NW-B-1")]))
    nowhere = validate(world.contractor_a_user, xlsx([activity(reference="NW-X-9")]))
    (error,) = theirs.rows[0].errors
    (other,) = nowhere.rows[0].errors
    assert (error.column, error.letter) == ("Kenmerk opdracht", "A")
    assert error.message.startswith("Unknown contract: you have no contract “NW-B-1”")
    # Word for word the same as for a reference that does not exist at all.
    assert error.message.replace("NW-B-1", "X") == other.message.replace("NW-X-9", "X")
    with pytest.raises(ImportRejected):
        bulk_import.import_workbook(
            acting_user=world.contractor_a_user, data=xlsx([activity(reference="NW-B-1")])
        )
    assert counts() == (0, 0)


def test_the_municipality_must_match(world, setting):
    report = validate(world.contractor_a_user, xlsx([activity(municipality="Katwijk")]))
    assert "Unknown contract" in report.rows[0].errors[0].message
    ok = validate(world.contractor_a_user, xlsx([activity(municipality="gemeente noordwijk")]))
    assert not ok.error_rows


def test_contractor_b_reports_on_its_own_contract(world, setting):
    report = validate(world.contractor_b_user, xlsx([activity(reference="NW-B-1")]))
    assert not report.error_rows
    report = validate(world.contractor_b_user, xlsx([activity(reference="NW-A-1")]))
    assert "Unknown contract" in report.rows[0].errors[0].message


def test_a_contract_without_obligation_or_settled_or_without_rulebook(world, setting):
    f.ContractFactory(
        contractor=world.contractor_a, municipality=world.noordwijk, reference="NW-A-2"
    )
    settled = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-3",
        status=Obligation.Status.SETTLED,
    )
    f.ObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-4",
    )
    assert settled.status == "settled"
    report = validate(
        world.contractor_a_user,
        xlsx([activity(reference=r) for r in ("NW-A-2", "NW-A-3", "NW-A-4")]),
    )
    messages = [r.errors[0].message for r in report.rows]
    assert all(r.errors[0].column == "Kenmerk opdracht" for r in report.rows)
    assert "has no SROI obligation" in messages[0]
    assert "is settled" in messages[1]
    assert "has no rulebook yet" in messages[2]


# --- Row errors by row and column ----------------------------------------------------------------

ROW_ERRORS = [
    (job(block="ploegleider"), "block", "Unknown block. Use one of: baan, "),
    (job(start_date="31-02-2026"), "start_date", "This date does not exist."),
    (job(start_date=None), "start_date", "Required: fill in a value."),
    (job(end_date="2026-01-31"), "end_date", "end: 2026-01-31 is before start 2026-03-01"),
    (job(hours_per_week="veel"), "hours_per_week", "Not a valid number"),
    (job(hours_per_week=None), "hours_per_week", "Required for the block “Job”."),
    (job(hours_per_week=200), "hours_per_week", "exceeds the 168 hours of a week"),
    (job(permanent_contract="misschien"), "permanent_contract", "Fill in ja or nee."),
    (
        job(invoiced_amount=1500),
        "invoiced_amount",
        "Not used for the block “Job”; leave this cell empty.",
    ),
    (job(target_group="Pensionado"), "target_group", "Unknown target group."),
    (job(target_group=None), "target_group", "Required for a new candidate: fill in a value."),
    (job(birth_year=1850), "birth_year", "The birth year must be between 1900 and"),
    (job(birth_year="85"), "birth_year", "Not a year"),
    (job(initials="Jan 2"), "initials", "Initials may contain only letters, dots and spaces."),
    (job(years_on_benefit="2,25"), "years_on_benefit", "At most 1 decimal"),
    (job(target_group="Anders"), "target_group_note", "needs a justification"),
    (
        job(description="BSN 123456782"),
        "description",
        "Do not enter a BSN or other identifying number here.",
    ),
    (job(delivered_by="x" * 201), "delivered_by", "Too long: at most 200 characters"),
    (job(target_group="WW"), "", "no rule"),  # the rulebook values no WW job
    (activity(hours=None), "hours", "Required for the block “Social activity”."),
    (activity(description=None), "description", "Required for the block “Social activity”."),
    (activity(variant="mbo1-2"), "variant", "Not used for the block “Social activity”"),
    (
        activity(block="inkoop sociale onderneming"),
        "block",
        "The rulebook of this contract does not value the block “Purchase from social "
        "enterprise”. "
        "It values: baan, sociale activiteit.",
    ),
    (activity(initials="A."), "initials", "Not used for the block “Social activity”"),
    (
        activity(permanent_contract="ja"),
        "permanent_contract",
        "Not used for the block “Social activity”",
    ),
    (activity(reference=None), "reference", "Required: fill in a value."),
    (
        job(initials=None, birth_year=None, target_group=None, years_on_benefit=None),
        "candidate_code",
        "The block “Job” needs a candidate",
    ),
    (job(candidate_code="K-NOPE0000"), "candidate_code", "not both"),
]


@pytest.mark.parametrize(
    ("row", "key", "message"),
    ROW_ERRORS,
    ids=[f"{k or 'row'}-{i}" for i, (_r, k, _m) in enumerate(ROW_ERRORS)],
)
def test_row_errors_by_row_and_column(world, setting, row, key, message):
    data = xlsx([activity(), row])
    report = validate(world.contractor_a_user, data)
    assert report.rows[0].errors == []
    bad = report.rows[1]
    assert bad.number == 3
    matching = [e for e in bad.errors if message.casefold() in e.message.casefold()]
    assert matching, [(e.column, e.message) for e in bad.errors]
    error = matching[0]
    if key:
        assert error.column == bulk_import.COLUMN_BY_KEY[key].title
        assert error.letter == letter(key)
    else:
        assert error.column == ""
    assert not report.is_valid
    with pytest.raises(ImportRejected):
        bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    assert counts() == (0, 0)


def test_unknown_and_other_contractors_candidate_codes_read_the_same(world, setting):
    f.CandidateFactory(contractor=world.contractor_b, code="K-THEIRS01")
    data = xlsx([job_of(code) for code in ("K-THEIRS01", "K-NOBODY01")])
    report = validate(world.contractor_a_user, data)
    first, second = (r.errors[0] for r in report.rows)
    assert first.column == "Kandidaatcode"
    assert first.message == second.message
    assert first.message.startswith("Unknown candidate code")


def test_an_anonymised_candidate_cannot_be_reported(world, setting):
    f.CandidateFactory(
        contractor=world.contractor_a,
        code="K-GONE0001",
        anonymised_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    data = xlsx([job_of("K-GONE0001")])
    (error,) = validate(world.contractor_a_user, data).rows[0].errors
    assert (error.column, error.message) == (
        "Kandidaatcode",
        "This candidate has been anonymised and cannot be reported.",
    )


def test_the_same_contribution_twice_in_the_file_marks_both_rows(world, setting):
    report = validate(world.contractor_a_user, xlsx([activity(), job(), activity()]))
    assert [bool(r.errors) for r in report.rows] == [True, False, True]
    assert "Rows 2, 4 report the same contribution" in report.rows[0].errors[0].message


def test_a_formula_and_an_excel_error_are_refused(world, setting):
    def setup(wb, ws):
        ws[f"{letter('hours')}2"] = "=20*2"
        ws[f"{letter('description')}2"].value = "#N/A"
        ws[f"{letter('description')}2"].data_type = "e"

    report = validate(world.contractor_a_user, xlsx([activity()], setup=setup))
    messages = {e.column: e.message for e in report.rows[0].errors}
    assert messages["Uren"] == "Cell contains a formula; paste values only."
    assert messages["Omschrijving"].startswith("Cell contains an Excel error")


def test_errors_of_several_rows_are_all_listed_in_column_order(world, setting):
    report = validate(
        world.contractor_a_user,
        xlsx([job(hours_per_week="x", block="baan", start_date="gisteren"), activity(hours=None)]),
    )
    assert [r.number for r in report.error_rows] == [2, 3]
    assert [e.column for e in report.rows[0].errors] == ["Startdatum", "Uren per week"]


def test_headers_in_another_order_with_english_titles_and_extra_columns(world, setting):
    keys = ["block", "start_date", "hours", "municipality", "reference", "description", "x"]
    headers = ["Block", "Start date", "Hours", "Municipality", "Reference", "Description", "Memo"]
    data = xlsx([activity()], keys=keys, headers=headers)
    report = validate(world.contractor_a_user, data)
    assert not report.error_rows
    assert report.rows[0].value == D("4000.00")
    assert "not recognised" in report.warnings[0]


def test_a_job_with_a_candidate_code_column_missing_still_takes_new_candidates(world, setting):
    keys = [k for k in KEYS if k != "candidate_code"]
    report = validate(world.contractor_a_user, xlsx([job()], keys=keys))
    assert not report.error_rows


# --- All or nothing ------------------------------------------------------------------------------


def test_one_bad_row_in_the_middle_imports_nothing(world, setting):
    rows = [job(), activity(hours="x"), activity(start_date=datetime(2026, 5, 1))]
    with pytest.raises(ImportRejected) as caught:
        bulk_import.import_workbook(acting_user=world.contractor_a_user, data=xlsx(rows))
    assert [r.number for r in caught.value.report.error_rows] == [3]
    assert counts() == (0, 0)


def test_a_failure_while_writing_rolls_everything_back(world, setting, monkeypatch):
    real = services.submit_contribution
    calls = []

    def failing(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ValidationError({"hours": "Kapot."})
        return real(**kwargs)

    monkeypatch.setattr(services, "submit_contribution", failing)
    rows = [job(), job(initials="P.Q."), activity()]
    with pytest.raises(ImportFailed) as caught:
        bulk_import.import_workbook(acting_user=world.contractor_a_user, data=xlsx(rows))
    assert caught.value.row == 4
    assert caught.value.message == "Uren: Kapot."
    assert counts() == (0, 0)  # the two candidates created before are rolled back too


def test_a_changed_file_is_refused_at_confirmation(world, setting):
    data = xlsx([activity()])
    report = validate(world.contractor_a_user, data)
    with pytest.raises(ImportRejected, match="not the file that was checked"):
        bulk_import.import_workbook(
            acting_user=world.contractor_a_user,
            data=xlsx([activity(hours=41)]),
            expected_sha256=report.sha256,
        )
    assert counts() == (0, 0)


def test_the_database_is_checked_again_at_confirmation(world, setting):
    obligation, _ = setting
    data = xlsx([activity()])
    assert validate(world.contractor_a_user, data).can_import
    Obligation.objects.filter(pk=obligation.pk).update(status=Obligation.Status.SETTLED)
    with pytest.raises(ImportRejected) as caught:
        bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    assert "is settled" in caught.value.report.rows[0].errors[0].message
    assert counts() == (0, 0)


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona", ["adviser", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"]
)
def test_only_contractor_users_report_in_bulk(world, setting, persona):
    user = getattr(world, persona)
    data = xlsx([activity()])
    with pytest.raises(PermissionDenied):
        validate(user, data)
    with pytest.raises(PermissionDenied):
        bulk_import.import_workbook(acting_user=user, data=data)
    with pytest.raises(PermissionDenied):
        bulk_import.build_template(acting_user=user)
    assert counts() == (0, 0)


def test_a_deactivated_contractor_user_reports_nothing(world, setting):
    link = world.contractor_a_user.contractor_link
    link.is_active = False
    link.save()
    with pytest.raises(PermissionDenied):
        validate(world.contractor_a_user, xlsx([activity()]))


# --- Queries ------------------------------------------------------------------------------------


def test_validation_queries_do_not_grow_with_the_rows(world, setting):
    f.CandidateFactory(contractor=world.contractor_a, code="K-EXIST001")
    second = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.katwijk,
        contract__reference="KW-A-1",
    )
    services.submit_contribution(
        acting_user=world.contractor_a_user,
        obligation=second,
        block="social_activity",
        start_date=date(2026, 4, 1),
        hours=D("5"),
    )

    def rows(n: int) -> list[dict]:
        out = []
        for i in range(n):
            day = datetime(2026, 3, 1 + i % 28)
            out.append(job(start_date=day, initials=f"A{chr(65 + i % 26)}."))
            out.append(job_of("K-EXIST001", start_date=day, hours_per_week=20 + i))
            out.append(
                activity(reference="KW-A-1", municipality="Katwijk", hours=i + 1, start_date=day)
            )
        return out

    def queries(n: int) -> int:
        data = xlsx(rows(n))
        user = type(world.contractor_a_user).objects.get(pk=world.contractor_a_user.pk)
        with CaptureQueriesContext(connection) as ctx:
            report = validate(user, data)
        assert not report.error_rows, report.error_rows[:1]
        assert len(report.rows) == 3 * n
        return len(ctx.captured_queries)

    assert queries(1) == queries(10)


# --- The template -------------------------------------------------------------------------------


def test_the_template_has_the_columns_lists_instructions_and_own_obligations(world, setting):
    settled = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-OLD",
        status=Obligation.Status.SETTLED,
    )
    assert settled
    wb = load_workbook(io.BytesIO(bulk_import.build_template(acting_user=world.contractor_a_user)))
    assert wb.sheetnames == ["Bijdragen", "Toelichting"]
    ws = wb["Bijdragen"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["Kenmerk opdracht", "Gemeente", "Bouwblok"]
    for title in (
        "Kandidaatcode",
        "Initialen",
        "Geboortejaar",
        "Doelgroep",
        "Uitkeringsjaren",
        "Startdatum",
        "Einddatum",
        "Uren per week",
        "Vast contract",
        "Sociale onderneming",
        "Gefactureerd bedrag excl. btw",
        "Uren",
        "Variant",
        "Geleverd door",
        "Omschrijving",
    ):
        assert title in headers
    formulas = " ".join(dv.formula1 for dv in ws.data_validations.dataValidation)
    assert "baan,werkervaringsplek,stage" in formulas
    assert '"ja,nee"' in formulas
    assert "NW-A-1" in formulas and "NW-B-1" not in formulas and "NW-A-OLD" not in formulas
    help_text = " ".join(
        str(c.value) for row in wb["Toelichting"].iter_rows() for c in row if c.value
    )
    assert "NW-A-1" in help_text
    assert "NW-B-1" not in help_text and "NW-A-OLD" not in help_text
    assert "Participatiewet" in help_text


def test_a_filled_in_template_imports(world, setting):
    wb = load_workbook(io.BytesIO(bulk_import.build_template(acting_user=world.contractor_a_user)))
    ws = wb["Bijdragen"]
    row = activity()
    for index, key in enumerate(KEYS, start=1):
        ws.cell(row=2, column=index, value=row.get(key))
    buffer = io.BytesIO()
    wb.save(buffer)
    result = bulk_import.import_workbook(
        acting_user=world.contractor_a_user, data=buffer.getvalue()
    )
    assert result.created == 1


def test_the_bijdragen_sheet_is_read_even_if_not_first(world, setting):
    def setup(wb, ws):
        wb.create_sheet("Notities", 0)

    report = validate(world.contractor_a_user, xlsx([activity()], setup=setup))
    assert report.sheet_title == "Bijdragen" and not report.error_rows


# --- Garbage ------------------------------------------------------------------------------------


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _empty_workbook() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


GARBAGE = [
    ("empty", lambda: b"", "The file is empty."),
    ("csv", lambda: b"Kenmerk opdracht;Gemeente\nNW-A-1;Noordwijk\n", "not an Excel workbook"),
    ("pdf renamed", lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "not an Excel workbook"),
    ("old xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, "old Excel file"),
    ("corrupt zip", lambda: b"PK\x03\x04" + b"\x13\x37" * 200, "damaged"),
    ("zip, not excel", lambda: zip_of({"readme.txt": b"hallo"}), "not an Excel workbook"),
    ("too large", lambda: b"PK\x03\x04" + b"0" * (5 * 1024 * 1024), "5 MB"),
    ("truncated", lambda: xlsx([activity()])[:1500], "damaged"),
    ("no sheet content", _empty_workbook, "is empty"),
    ("only headers", lambda: xlsx([]), "column titles but no contributions"),
    (
        "wrong headers",
        lambda: xlsx([{}], headers=["Naam", "BSN", "Bedrag"], keys=["a", "b", "c"]),
        "Required columns are missing: Kenmerk opdracht, Gemeente, Bouwblok, Startdatum",
    ),
    (
        "a header twice",
        lambda: xlsx(
            [activity()], keys=[*KEYS, "hours"], headers=[c.title for c in COLUMNS] + ["Uren"]
        ),
        "These columns appear more than once: Uren",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_files_get_a_clear_message_and_nothing_is_written(
    world, setting, name, make, message
):
    data = make()
    report = validate(world.contractor_a_user, data)
    assert not report.rows
    assert len(report.file_errors) == 1, report.file_errors
    assert message in report.file_errors[0], report.file_errors[0]
    with pytest.raises(ImportRejected):
        bulk_import.import_workbook(acting_user=world.contractor_a_user, data=data)
    assert counts() == (0, 0)


def test_more_than_the_row_limit_is_refused(world, setting, monkeypatch):
    monkeypatch.setattr(bulk_import, "MAX_ROWS", 3)
    report = validate(world.contractor_a_user, xlsx([activity(hours=i + 1) for i in range(4)]))
    assert "at most 5.000 contributions can be reported at once" in report.file_errors[0]
    assert not report.rows


def test_empty_rows_between_contributions_are_skipped(world, setting):
    report = validate(world.contractor_a_user, xlsx([activity(), {}, {}, job()]))
    assert [r.number for r in report.rows] == [2, 5]
    assert not report.error_rows


def test_invisible_characters_are_removed_and_control_characters_refused(world, setting):
    report = validate(
        world.contractor_a_user,
        # Excel writes U+0007 as _x0007_.
        xlsx([activity(reference="NW-\u200bA-1", description="Gast_x0007_lessen")]),
    )
    (error,) = report.rows[0].errors
    assert error.column == "Omschrijving" and "control character" in error.message
