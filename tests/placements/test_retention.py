"""The privacy retention job (``placements.retention``): who is anonymised when, what is kept,
evidence files, login records, the audit entries, idempotence, query counts, the command and
the Celery task."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import Obligation, Settlement
from contracts.services import realised_amount
from placements import retention, services
from placements.models import Candidate, Contribution, Evidence, private_storage
from placements.valuation import (
    Block,
    ContributionInput,
    TargetGroup,
    Window,
    example_rulebook,
    value_contribution,
)
from reporting import periods, selectors
from tests import factories as f

from .test_portal_forms import MINIMAL_PDF

D = Decimal
DAY = timedelta(days=1)

#: What explanations of an older engine version looked like: they named the candidate.
LEGACY_EXPLANATION = [
    "Regel job-participatiewet (Baan): geselecteerd.",
    "Invoer: blok baan, doelgroep Wajong, periode 01-03-2026 t/m 28-02-2027, "
    "uren per week 24,00, uitkeringsjaren 2,5, geboortejaar 1961.",
    "Bonus leeftijd-50 (50-plusser): +€ 1.000,00 (leeftijd 65 (2026 - geboortejaar 1961) "
    "valt in 50 jaar of ouder).",
    "Waarde: € 10.000,00 (basis € 9.000,00 + bonussen € 1.000,00).",
]


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def settle(world, now):
    """Record a final (or extension) settlement ``days_ago`` days before ``now``."""

    def settle(obligation, days_ago, decision="fulfilled"):
        settlement = Settlement.objects.create(
            obligation=obligation,
            decision=decision,
            required_amount=obligation.amount,
            realised_amount=realised_amount(obligation),
            shortfall=D("0"),
            new_deadline=obligation.deadline + timedelta(days=90)
            if decision == "extension"
            else None,
            reason="Besluit",
            decided_by=world.adviser,
        )
        Settlement.objects.filter(pk=settlement.pk).update(decided_at=now - days_ago * DAY)
        if decision != "extension":
            Obligation.objects.filter(pk=obligation.pk).update(status=Obligation.Status.SETTLED)
        return settlement

    return settle


def obligation_of(world):
    return f.ObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )


def candidate_of(world, **kwargs):
    details = {
        "initials": "Q.X.",
        "birth_year": 1961,
        "target_group": "wajong",
        "years_on_benefit": D("2.5"),
        **kwargs,
    }
    return f.CandidateFactory(contractor=world.contractor_a, **details)


def placed(obligation, candidate, **kwargs):
    fields = {
        "status": Contribution.Status.APPROVED,
        "value": D("10000.00"),
        "description": "Heftruckchauffeur",
        "value_explanation": list(LEGACY_EXPLANATION),
        **kwargs,
    }
    return f.ContributionFactory(obligation=obligation, candidate=candidate, **fields)


def run(now, **kwargs):
    return retention.apply_retention(now=now, **kwargs)


def personal(candidate) -> tuple:
    candidate.refresh_from_db()
    return (
        candidate.initials,
        candidate.birth_year,
        candidate.target_group,
        candidate.years_on_benefit,
        candidate.target_group_note,
    )


ANONYMOUS = ("", None, "", None, "")


# --- Who is anonymised when --------------------------------------------------------------------


def test_a_candidate_is_anonymised_a_retention_period_after_settlement(world, settle, now):
    obligation = obligation_of(world)
    candidate = candidate_of(world, target_group="other", target_group_note="Zorgindicatie")
    contribution = placed(obligation, candidate)
    settle(obligation, days_ago=365)
    realised_before = realised_amount(obligation)
    code, contractor_id = candidate.code, candidate.contractor_id

    result = run(now)

    assert result.candidates_anonymised == 1
    assert personal(candidate) == ANONYMOUS
    assert candidate.anonymised_at == now
    assert (candidate.code, candidate.contractor_id) == (code, contractor_id)
    contribution.refresh_from_db()
    assert contribution.candidate_id == candidate.pk
    assert (contribution.value, contribution.status) == (D("10000.00"), "approved")
    assert realised_amount(obligation) == realised_before == D("10000.00")


def test_the_period_is_at_least_the_setting(world, settle, now, settings):
    settings.SROI_CANDIDATE_RETENTION_DAYS = 30
    recent, due = obligation_of(world), obligation_of(world)
    kept, gone = candidate_of(world), candidate_of(world)
    placed(recent, kept)
    placed(due, gone)
    settle(recent, days_ago=29)
    settle(due, days_ago=30)

    assert run(now).candidates_anonymised == 1
    assert personal(kept) == ("Q.X.", 1961, "wajong", D("2.5"), "")
    assert personal(gone) == ANONYMOUS


def test_a_candidate_on_any_unsettled_obligation_is_never_touched(world, settle, now):
    old, open_ = obligation_of(world), obligation_of(world)
    extended = obligation_of(world)
    on_open = candidate_of(world)
    placed(old, on_open)
    f.ContributionFactory(obligation=open_, candidate=on_open, rejected=True)
    on_extended = candidate_of(world)
    placed(extended, on_extended)
    settle(old, days_ago=1000)
    settle(extended, days_ago=1000, decision="extension")  # an extension is not final
    # Settled in status, but no final decision recorded: no settlement date, so kept.
    undated = obligation_of(world)
    Obligation.objects.filter(pk=undated.pk).update(status=Obligation.Status.SETTLED)
    on_undated = candidate_of(world)
    placed(undated, on_undated)

    assert run(now).candidates_anonymised == 0
    for candidate in (on_open, on_extended, on_undated):
        assert personal(candidate) == ("Q.X.", 1961, "wajong", D("2.5"), "")
        assert candidate.anonymised_at is None


def test_every_obligation_of_the_candidate_must_be_past_the_period(world, settle, now):
    first, second = obligation_of(world), obligation_of(world)
    candidate = candidate_of(world)
    placed(first, candidate)
    placed(second, candidate)
    settle(first, days_ago=800)
    settle(second, days_ago=10)
    assert run(now).candidates_anonymised == 0
    assert personal(candidate)[0] == "Q.X."

    assert run(now + 400 * DAY).candidates_anonymised == 1
    assert personal(candidate) == ANONYMOUS


def test_a_candidate_never_reported_is_anonymised_a_period_after_creation(world, now):
    old, new = candidate_of(world), candidate_of(world)
    Candidate.objects.filter(pk=old.pk).update(created_at=now - 365 * DAY)
    Candidate.objects.filter(pk=new.pk).update(created_at=now - 364 * DAY)

    assert run(now).candidates_anonymised == 1
    assert personal(old) == ANONYMOUS
    assert personal(new)[0] == "Q.X."


def test_running_twice_changes_nothing_the_second_time(world, settle, now):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    placed(obligation, candidate)
    settle(obligation, days_ago=400)
    assert run(now).candidates_anonymised == 1
    entries = LogEntry.objects.count()
    candidate.refresh_from_db()
    stamp = candidate.anonymised_at

    second = run(now + DAY)

    assert second.candidates_anonymised == 0
    assert second.evidence_files_removed == 0
    assert LogEntry.objects.count() == entries
    candidate.refresh_from_db()
    assert candidate.anonymised_at == stamp


def test_a_failure_halfway_writes_nothing(world, settle, now, monkeypatch):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    placed(obligation, candidate)
    settle(obligation, days_ago=400)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention, "remove_evidence_files", broken)
    with pytest.raises(RuntimeError):
        run(now)
    assert personal(candidate)[0] == "Q.X."
    assert not LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Candidate),
        action=LogEntry.Action.UPDATE,
    ).exists()


# --- What anonymising keeps and scrubs ---------------------------------------------------------


def test_the_audit_trail_records_the_anonymisation_without_personal_data(world, settle, now):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    placed(obligation, candidate)
    settle(obligation, days_ago=400)
    run(now)

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Candidate),
        object_id=candidate.pk,
        action=LogEntry.Action.UPDATE,
    )
    assert entry.object_repr == candidate.code
    assert set(entry.changes) == {"anonymised_at"}
    assert entry.changes == {"anonymised_at": ["None", str(timezone.make_naive(now, timezone=UTC))]}
    assert entry.actor is None
    assert entry.additional_data == {"retention": "candidate anonymised"}
    text = f"{entry.changes} {entry.object_repr} {entry.additional_data}"
    assert "Q.X." not in text and "1961" not in text and "wajong" not in text


def test_contribution_text_naming_the_candidate_is_scrubbed_values_untouched(world, settle, now):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    contribution = placed(obligation, candidate)
    purchase = f.ContributionFactory(
        obligation=obligation,
        candidate=None,
        block="social_purchase",
        social_enterprise="Kringloop",
        description="Catering",
        value_explanation=["Waarde: € 500,00."],
    )
    settle(obligation, days_ago=400)
    before = Contribution.objects.filter(pk=contribution.pk).values().get()

    run(now)

    after = Contribution.objects.filter(pk=contribution.pk).values().get()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"value_explanation", "description"}
    assert after["description"] == ""
    text = " ".join(after["value_explanation"])
    assert "1961" not in text and "Wajong" not in text and "2,5" not in text
    assert "leeftijd 65" not in text
    # What explains the value without describing the person stays.
    assert after["value_explanation"][0] == LEGACY_EXPLANATION[0]
    assert after["value_explanation"][1] == (
        "Invoer: blok baan, periode 01-03-2026 t/m 28-02-2027, uren per week 24,00."
    )
    assert after["value_explanation"][3] == LEGACY_EXPLANATION[3]
    assert len(after["value_explanation"]) == len(LEGACY_EXPLANATION)
    purchase.refresh_from_db()
    assert purchase.description == "Catering"  # no candidate: nothing to anonymise


def test_explanations_of_the_current_engine_are_left_as_they_are():
    rulebook = example_rulebook()
    for lang in ("nl", "en"):
        result = value_contribution(
            rulebook,
            ContributionInput(
                block=Block.JOB,
                start=date(2026, 3, 1),
                end=date(2027, 2, 28),
                target_group=TargetGroup.WAJONG,
                hours_per_week=D("24"),
                years_on_benefit=D("2.5"),
                birth_year=1961,
                permanent_contract=True,
            ),
            window=Window(date(2026, 1, 1), date(2028, 12, 31)),
            lang=lang,
        )
        lines = list(result.explanation)
        assert retention.scrub_explanation(lines, initials="Q.X.") == lines


def test_scrubbing_an_english_legacy_explanation_and_the_initials():
    lines = [
        "Inputs: block job, target group wajong, years on benefit 2.5, birth year 1961.",
        "Bonus age-50: +1000.00 (target group wajong, age 65 (2026 - birth year 1961) in 50+).",
        "Note for Q.X.: checked.",
        "Formula: 24.00 hours x 10.00 = 240.00.",
    ]
    scrubbed = retention.scrub_explanation(lines, initials="Q.X.")
    assert scrubbed[0] == "Inputs: block job."
    assert scrubbed[1] == scrubbed[2] == "(removed when the candidate was anonymised)"
    assert scrubbed[3] == lines[3]


def test_settled_totals_and_the_council_report_do_not_move(world, settle, now):
    obligation = f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__award_date=date(2026, 2, 1),
    )
    first, second = candidate_of(world), candidate_of(world, target_group="ww")
    placed(obligation, first)
    placed(obligation, second, block="internship", value=D("2500.50"))
    settle(obligation, days_ago=400)
    scope = selectors.report_scope(user=world.adviser, municipality=None)

    def report():
        built = selectors.build_report(
            scope=scope, period=periods.year_period(2026), as_of=timezone.localdate(now)
        )
        return built.total, built.people

    total_before, people_before = report()
    realised_before = realised_amount(obligation)
    assert run(now).candidates_anonymised == 2
    total_after, people_after = report()

    assert realised_amount(obligation) == realised_before
    for name in ("required", "reported", "realised", "settled", "settled_count"):
        assert getattr(total_after, name) == getattr(total_before, name), name
    assert people_after.total == people_before.total == 2
    assert people_after.block_totals == people_before.block_totals
    # Only the breakdown by target group changes: the people are "unknown or anonymised" now.
    assert [row.target_group for row in people_after.rows] == [""]


# --- Evidence files ----------------------------------------------------------------------------


@pytest.fixture
def with_evidence(world, django_capture_on_commit_callbacks):
    def with_evidence(contribution):
        with django_capture_on_commit_callbacks(execute=True):
            return services.add_evidence(
                acting_user=world.contractor_a_user,
                contribution=contribution,
                uploaded_file=SimpleUploadedFile("contract Jan Jansen.pdf", MINIMAL_PDF),
                kind="employment_contract",
            )

    return with_evidence


def test_evidence_files_are_removed_and_the_row_stays_as_a_record(
    world, settle, now, client, with_evidence, django_capture_on_commit_callbacks
):
    obligation = obligation_of(world)
    contribution = f.ContributionFactory(obligation=obligation, candidate=candidate_of(world))
    evidence = with_evidence(contribution)
    stored = evidence.file.name
    assert private_storage.exists(stored)
    Contribution.objects.filter(pk=contribution.pk).update(status="approved")
    settle(obligation, days_ago=400)

    with django_capture_on_commit_callbacks(execute=True):
        result = run(now)

    assert result.evidence_files_removed == 1
    assert not private_storage.exists(stored)
    evidence.refresh_from_db()
    assert not evidence.file
    assert evidence.kind == "employment_contract"
    assert evidence.uploaded_by == world.contractor_a_user
    assert evidence.original_name == (
        f"file removed by retention on {timezone.localdate(now):%d-%m-%Y}"
    )
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Evidence),
        object_id=evidence.pk,
        action=LogEntry.Action.UPDATE,
    )
    assert entry.changes == {"file": [stored, ""]}
    assert "Jan" not in entry.object_repr

    client.force_login(world.adviser)
    response = client.get(reverse("placements:evidence_download", args=[evidence.pk]))
    assert response.status_code == 404
    page = client.get(
        reverse("placements:contribution_detail", args=[contribution.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "File removed" in page.content.decode()
    assert reverse("placements:evidence_download", args=[evidence.pk]) not in page.content.decode()


def test_a_rollback_keeps_the_files(
    world, settle, now, with_evidence, monkeypatch, django_capture_on_commit_callbacks
):
    obligation = obligation_of(world)
    contribution = f.ContributionFactory(obligation=obligation, candidate=candidate_of(world))
    stored = with_evidence(contribution).file.name
    settle(obligation, days_ago=400)

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(retention, "purge_login_records", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        run(now)
    assert private_storage.exists(stored)
    assert Evidence.objects.get(file=stored)


def test_the_evidence_period_is_its_own_setting(world, settle, now, settings, with_evidence):
    settings.SROI_EVIDENCE_RETENTION_DAYS = 30
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    contribution = f.ContributionFactory(obligation=obligation, candidate=candidate)
    evidence = with_evidence(contribution)
    settle(obligation, days_ago=40)

    result = run(now)

    assert (result.evidence_files_removed, result.candidates_anonymised) == (1, 0)
    evidence.refresh_from_db()
    assert not evidence.file
    assert personal(candidate)[0] == "Q.X."


def test_evidence_files_can_be_kept(world, settle, now, settings, with_evidence):
    settings.SROI_EVIDENCE_RETENTION_DAYS = None
    obligation = obligation_of(world)
    evidence = with_evidence(
        f.ContributionFactory(obligation=obligation, candidate=candidate_of(world))
    )
    settle(obligation, days_ago=4000)

    result = run(now)

    assert (result.evidence_files_removed, result.candidates_anonymised) == (0, 1)
    evidence.refresh_from_db()
    assert evidence.file and private_storage.exists(evidence.file.name)


# --- Set-based ---------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_candidates(
    world, settle, now, with_evidence, django_capture_on_commit_callbacks
):
    def scenario(n):
        obligation = obligation_of(world)
        for _ in range(n):
            contribution = placed(obligation, candidate_of(world), status="submitted")
            with_evidence(contribution)
        settle(obligation, days_ago=400)
        ContentType.objects.clear_cache()
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            result = run(now)
        assert (result.candidates_anonymised, result.evidence_files_removed) == (n, n)
        return len(queries)

    one = scenario(1)
    many = scenario(12)
    assert one == many
    assert Candidate.objects.filter(anonymised_at__isnull=True).count() == 0


# --- Login records -----------------------------------------------------------------------------


@pytest.mark.skipif(not apps.is_installed("axes"), reason="django-axes is not installed")
def test_old_login_records_are_purged(db, now, settings):
    settings.SROI_LOGIN_LOG_RETENTION_DAYS = 90
    common = {"user_agent": "Firefox", "http_accept": "*/*", "path_info": "/accounts/login/"}
    created = {}
    for name, extra in (
        ("AccessAttempt", {"get_data": "", "post_data": "", "failures_since_start": 3}),
        ("AccessFailureLog", {}),
        ("AccessLog", {}),
    ):
        model = apps.get_model("axes", name)
        old = model.objects.create(
            username="oud@example.nl", ip_address="10.0.0.1", **common, **extra
        )
        new = model.objects.create(
            username="nieuw@example.nl", ip_address="10.0.0.2", **common, **extra
        )
        model.objects.filter(pk=old.pk).update(attempt_time=now - 91 * DAY)
        model.objects.filter(pk=new.pk).update(attempt_time=now - 89 * DAY)
        created[name] = (model, old.pk, new.pk)

    assert run(now, dry_run=True).login_records_purged == 3
    assert run(now).login_records_purged == 3

    for model, old_pk, new_pk in created.values():
        assert not model.objects.filter(pk=old_pk).exists()
        assert model.objects.filter(pk=new_pk).exists()


def test_expired_sessions_are_purged(db, now):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    expired, live = SessionStore(), SessionStore()
    expired.set_expiry(-10)
    expired.create()
    live.create()
    assert run(now).sessions_purged == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_stale_uploaded_spreadsheets_are_removed(db, now):
    import os
    import time

    from contracts import importing

    stale, fresh = importing.store_pending_upload(b"old"), importing.store_pending_upload(b"new")
    two_days_ago = time.time() - 2 * 24 * 60 * 60
    os.utime(importing.PENDING_UPLOADS.path(stale), (two_days_ago, two_days_ago))

    assert run(now).stale_uploads_removed == 1
    assert not importing.PENDING_UPLOADS.path(stale).exists()
    assert importing.PENDING_UPLOADS.path(fresh).exists()


# --- Entry points ------------------------------------------------------------------------------


@pytest.fixture
def due(world, settle):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    placed(obligation, candidate)
    settle(obligation, days_ago=400)
    return SimpleNamespace(candidate=candidate, obligation=obligation)


def test_the_command_dry_run_prints_counts_only_and_changes_nothing(due):
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Candidates that would be anonymised: 1" in text
    assert "Dry run: nothing was changed." in text
    assert due.candidate.code not in text and "Q.X." not in text and "1961" not in text
    assert personal(due.candidate)[0] == "Q.X."


def test_the_command_applies_retention(due):
    out = StringIO()
    call_command("apply_retention", stdout=out)
    assert "Candidates that were anonymised: 1" in out.getvalue()
    assert personal(due.candidate) == ANONYMOUS


def test_an_erasure_request_anonymises_one_settled_candidate_ahead_of_time(world, settle, now):
    obligation, open_ = obligation_of(world), obligation_of(world)
    asked, other, blocked = candidate_of(world), candidate_of(world), candidate_of(world)
    placed(obligation, asked)
    placed(obligation, other)
    placed(open_, blocked)
    settle(obligation, days_ago=3)  # well within the retention period

    out = StringIO()
    call_command("apply_retention", "--candidate", asked.code, stdout=out)

    assert "Candidates that were anonymised: 1" in out.getvalue()
    assert personal(asked) == ANONYMOUS
    assert personal(other)[0] == "Q.X."
    with pytest.raises(CommandError, match="1 of 1 candidate"):
        call_command("apply_retention", "--candidate", blocked.code, stdout=StringIO())
    assert personal(blocked)[0] == "Q.X."


def test_the_task_is_autodiscovered_and_scheduled_daily(settings):
    from sroi.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["placements-apply-retention"]
    assert entry["schedule"] == 24 * 60 * 60
    # What the worker and run_scheduler do (it also reapplies LOGGING, so not in a caplog test).
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_the_celery_task_runs_the_job_and_logs_counts_only(due, caplog):
    from placements.tasks import apply_retention_task

    with caplog.at_level("INFO", logger="placements.tasks"):
        result = apply_retention_task.apply().get()

    assert result["candidates_anonymised"] == 1
    assert personal(due.candidate) == ANONYMOUS
    assert "1 candidate(s) anonymised" in caplog.text
    assert not re.search(r"Q\.X\.|1961|K-T\d", caplog.text)


def test_contribution_descriptions_are_removed_from_the_audit_trail_too(world, settle, now):
    obligation = obligation_of(world)
    candidate = candidate_of(world)
    contribution = placed(obligation, candidate)
    content_type = ContentType.objects.get_for_model(Contribution)
    # What auditlog wrote when the contractor reported and later changed the text.
    LogEntry.objects.log_create(
        contribution, action=LogEntry.Action.CREATE, changes={"description": ["None", "Jan J."]}
    )
    LogEntry.objects.log_create(
        contribution,
        action=LogEntry.Action.UPDATE,
        changes={"description": ["Jan J.", "Jan J., 52 jaar"], "status": ["submitted", "approved"]},
    )
    other = placed(obligation_of(world), candidate_of(world))  # not anonymised: kept as is
    LogEntry.objects.log_create(
        other, action=LogEntry.Action.UPDATE, changes={"description": ["Piet", "Piet P."]}
    )
    settle(obligation, days_ago=400)
    run(now)

    texts = [
        e.changes
        for e in LogEntry.objects.filter(content_type=content_type, object_id=contribution.pk)
        if "description" in (e.changes or {})
    ]
    assert {"description": ["None", "[removed by retention]"]} in texts
    assert {
        "description": ["[removed by retention]", "[removed by retention]"],
        "status": ["submitted", "approved"],
    } in texts
    assert "Jan" not in str(texts)
    kept = LogEntry.objects.filter(
        content_type=content_type, object_id=other.pk, action=LogEntry.Action.UPDATE
    ).get()
    assert kept.changes == {"description": ["Piet", "Piet P."]}
