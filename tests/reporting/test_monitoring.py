"""The monitoring job (reporting.monitoring): each flag kind at its boundaries, idempotency,
auto-resolve, first/last seen, query budget, overlapping runs, scoping and the command."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.models import Obligation
from placements.models import Contribution, PlanOfApproach
from reporting.models import Flag, FlagKind, FlagSeverity
from reporting.monitoring import open_flags_visible_to, run_monitoring
from tests import factories as f

K = FlagKind
THRESHOLDS = {
    "NO_PLAN_DAYS": 30,
    "BEHIND_TOLERANCE_PERCENT": 10,
    "BEHIND_MIN_ELAPSED_PERCENT": 25,
    "NO_REPORT_DAYS": 90,
    "DEADLINE_NEAR_DAYS": 60,
    "VERIFICATION_WAITING_DAYS": 14,
    "INTERVAL_SECONDS": 3600,
}


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.SROI_MONITORING = dict(THRESHOLDS)


def local(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def obligation(municipality, **kwargs):
    """Award 15-01-2026, start 01-02-2026, end 31-01-2027, deadline 01-05-2027, € 25,000."""
    contract_kwargs = {
        k.removeprefix("contract__"): kwargs.pop(k) for k in list(kwargs) if "contract__" in k
    }
    contract = f.ContractFactory(municipality=municipality, **contract_kwargs)
    return f.ObligationFactory(contract=contract, **kwargs)


def contribution(ob, *, submitted: date, status="submitted", value="1000.00"):
    c = f.ContributionFactory(
        obligation=ob,
        status=status,
        value=Decimal(value),
        status_reason="Geen bewijs" if status in ("rejected", "returned") else "",
    )
    Contribution.objects.filter(pk=c.pk).update(submitted_at=local(submitted))
    return c


def approve_plan(ob):
    PlanOfApproach.objects.create(obligation=ob, version=1, status="approved")


def flagged(kind, today) -> set[int]:
    run_monitoring(today=today)
    return set(
        Flag.objects.filter(kind=kind, resolved_at__isnull=True).values_list(
            "contract_id", flat=True
        )
    )


def days(d: date, n: int) -> date:
    return d + timedelta(days=n)


# --- Each kind at its boundaries ----------------------------------------------------------------


@pytest.mark.django_db
def test_no_approved_plan_from_the_nth_day_after_award(world):
    ob = obligation(world.noordwijk)
    due = days(date(2026, 1, 15), 30)
    assert flagged(K.NO_APPROVED_PLAN, days(due, -1)) == set()
    assert flagged(K.NO_APPROVED_PLAN, due) == {ob.contract_id}
    assert flagged(K.NO_APPROVED_PLAN, days(due, 1)) == {ob.contract_id}
    flag = Flag.objects.get(kind=K.NO_APPROVED_PLAN)
    assert flag.severity == FlagSeverity.WARNING
    assert flag.obligation_id == ob.pk and flag.municipality_id == world.noordwijk.pk
    assert flag.details == {"award_date": "2026-01-15", "due": "2026-02-14"}


@pytest.mark.django_db
def test_a_submitted_plan_is_not_an_approved_one(world):
    ob = obligation(world.noordwijk)
    PlanOfApproach.objects.create(obligation=ob, version=1, status="submitted")
    assert flagged(K.NO_APPROVED_PLAN, date(2026, 3, 1)) == {ob.contract_id}
    approve_plan(obligation(world.katwijk))
    assert flagged(K.NO_APPROVED_PLAN, date(2026, 3, 1)) == {ob.contract_id}


def _behind_obligation(world):
    # A 100-day window with € 10,000 required: every day is exactly 1 %.
    return obligation(
        world.noordwijk,
        contract__value_excl_vat=Decimal("200000.00"),
        amount=Decimal("10000.00"),
        window_start=date(2026, 1, 15),
        deadline=days(date(2026, 1, 15), 100),
    )


@pytest.mark.django_db
def test_behind_schedule_only_once_the_minimum_share_of_the_window_has_passed(world):
    ob = _behind_obligation(world)  # nothing realised
    start = date(2026, 1, 15)
    assert flagged(K.BEHIND_SCHEDULE, days(start, 24)) == set()
    assert flagged(K.BEHIND_SCHEDULE, days(start, 25)) == {ob.contract_id}
    assert flagged(K.BEHIND_SCHEDULE, days(start, 26)) == {ob.contract_id}
    assert Flag.objects.get(kind=K.BEHIND_SCHEDULE).details == {
        "required": "10000.00",
        "realised": "0.00",
        "realised_percent": 0,
        "elapsed_percent": 26,
        "tolerance_percent": 10,
    }


@pytest.mark.parametrize(
    "realised, behind",
    [("3999.99", True), ("4000.00", False), ("4000.01", False)],
)
@pytest.mark.django_db
def test_behind_schedule_at_the_tolerance(world, realised, behind):
    """Half the window passed, tolerance 10 points: behind below 40 % realised."""
    ob = _behind_obligation(world)
    contribution(ob, submitted=date(2026, 2, 1), status="approved", value=realised)
    contribution(ob, submitted=date(2026, 2, 1), status="submitted", value="5000.00")
    today = days(date(2026, 1, 15), 50)
    assert flagged(K.BEHIND_SCHEDULE, today) == ({ob.contract_id} if behind else set())


@pytest.mark.django_db
def test_behind_schedule_stops_after_the_deadline(world):
    ob = _behind_obligation(world)
    assert flagged(K.BEHIND_SCHEDULE, ob.deadline) == {ob.contract_id}
    assert flagged(K.BEHIND_SCHEDULE, days(ob.deadline, 1)) == set()  # overdue takes over
    assert flagged(K.OVERDUE, days(ob.deadline, 1)) == {ob.contract_id}


@pytest.mark.django_db
def test_no_recent_report_without_any_report_counts_from_the_window_start(world):
    ob = obligation(world.noordwijk)
    due = days(date(2026, 1, 15), 90)
    assert flagged(K.NO_RECENT_REPORT, days(due, -1)) == set()
    assert flagged(K.NO_RECENT_REPORT, due) == {ob.contract_id}
    assert flagged(K.NO_RECENT_REPORT, days(due, 1)) == {ob.contract_id}


@pytest.mark.django_db
def test_no_recent_report_counts_from_the_latest_report(world):
    ob = obligation(world.noordwijk)
    contribution(ob, submitted=date(2026, 3, 1), status="rejected")
    contribution(ob, submitted=date(2026, 6, 1))
    due = days(date(2026, 6, 1), 90)
    assert flagged(K.NO_RECENT_REPORT, days(due, -1)) == set()
    assert flagged(K.NO_RECENT_REPORT, due) == {ob.contract_id}
    assert Flag.objects.get(kind=K.NO_RECENT_REPORT).details == {
        "last_report": "2026-06-01",
        "since": "2026-06-01",
    }
    contribution(ob, submitted=due)  # a new report clears it
    assert flagged(K.NO_RECENT_REPORT, days(due, 1)) == set()


@pytest.mark.django_db
def test_no_recent_report_not_before_the_contract_started(world):
    obligation(world.noordwijk, contract__start_date=date(2026, 12, 1))
    assert flagged(K.NO_RECENT_REPORT, date(2026, 11, 1)) == set()


@pytest.mark.django_db
def test_deadline_near_from_n_days_before_until_the_deadline(world):
    ob = obligation(world.noordwijk)  # deadline 01-05-2027
    assert ob.deadline == date(2027, 5, 1)
    assert flagged(K.DEADLINE_NEAR, days(ob.deadline, -61)) == set()
    assert flagged(K.DEADLINE_NEAR, days(ob.deadline, -60)) == {ob.contract_id}
    assert flagged(K.DEADLINE_NEAR, days(ob.deadline, -59)) == {ob.contract_id}
    assert flagged(K.DEADLINE_NEAR, ob.deadline) == {ob.contract_id}
    assert flagged(K.DEADLINE_NEAR, days(ob.deadline, 1)) == set()


@pytest.mark.django_db
def test_deadline_near_not_when_fulfilled(world):
    ob = obligation(world.noordwijk)
    contribution(ob, submitted=date(2026, 6, 1), status="approved", value=str(ob.amount))
    assert flagged(K.DEADLINE_NEAR, days(ob.deadline, -10)) == set()


@pytest.mark.django_db
def test_overdue_from_the_day_after_the_deadline(world):
    ob = obligation(world.noordwijk)
    assert flagged(K.OVERDUE, days(ob.deadline, -1)) == set()
    assert flagged(K.OVERDUE, ob.deadline) == set()
    assert flagged(K.OVERDUE, days(ob.deadline, 1)) == {ob.contract_id}
    flag = Flag.objects.get(kind=K.OVERDUE)
    assert flag.severity == FlagSeverity.CRITICAL
    assert flag.details["deadline"] == "2027-05-01"


@pytest.mark.django_db
def test_overdue_clears_when_settled_or_fulfilled(world):
    settled = obligation(world.noordwijk)
    fulfilled = obligation(world.noordwijk)
    late = days(settled.deadline, 5)
    assert flagged(K.OVERDUE, late) == {settled.contract_id, fulfilled.contract_id}
    Obligation.objects.filter(pk=settled.pk).update(status=Obligation.Status.SETTLED)
    contribution(fulfilled, submitted=date(2026, 6, 1), status="approved", value="25000.00")
    assert flagged(K.OVERDUE, late) == set()
    assert Flag.objects.filter(kind=K.OVERDUE, resolved_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_verification_waiting_from_the_nth_day(world):
    ob = obligation(world.noordwijk)
    c = contribution(ob, submitted=date(2026, 6, 1))
    contribution(ob, submitted=date(2026, 6, 10))
    due = days(date(2026, 6, 1), 14)
    assert flagged(K.VERIFICATION_WAITING, days(due, -1)) == set()
    assert flagged(K.VERIFICATION_WAITING, due) == {ob.contract_id}
    assert flagged(K.VERIFICATION_WAITING, days(due, 1)) == {ob.contract_id}
    assert Flag.objects.get(kind=K.VERIFICATION_WAITING).details == {
        "waiting": 1,
        "oldest": "2026-06-01",
    }
    Contribution.objects.filter(pk=c.pk).update(status="approved")
    assert flagged(K.VERIFICATION_WAITING, days(due, 1)) == set()


@pytest.mark.django_db
def test_missing_obligation_at_or_above_the_threshold(world):
    at = f.ContractFactory(municipality=world.noordwijk, value_excl_vat=Decimal("100000.00"))
    f.ContractFactory(municipality=world.noordwijk, value_excl_vat=Decimal("99999.99"))
    with_obligation = obligation(world.katwijk)
    found = flagged(K.MISSING_OBLIGATION, date(2026, 3, 1))
    assert found == {at.pk}
    assert with_obligation.contract_id not in found
    flag = Flag.objects.get(kind=K.MISSING_OBLIGATION)
    assert flag.obligation_id is None and flag.severity == FlagSeverity.CRITICAL
    assert flag.details == {"value": "100000.00", "threshold": "100000.00"}
    f.ObligationFactory(contract=at)
    assert flagged(K.MISSING_OBLIGATION, date(2026, 3, 1)) == set()


@pytest.mark.django_db
def test_unexplained_deviation(world):
    reduced = Obligation.Deviation.REDUCED_PERCENTAGE
    blank = obligation(world.noordwijk, deviation="exemption", deviation_reason="   ")
    unknown = obligation(world.noordwijk, deviation=reduced, deviation_reason="Weinig arbeid")
    too_high = obligation(
        world.noordwijk,
        contract__labour_cost=Decimal("150000.00"),  # 30 % of 500,000: not below 30 %
        deviation=reduced,
        deviation_reason="Weinig arbeid",
    )
    justified = obligation(
        world.noordwijk,
        contract__labour_cost=Decimal("149999.99"),
        deviation=reduced,
        deviation_reason="Weinig arbeid",
    )
    explained = obligation(world.noordwijk, deviation="exemption", deviation_reason="Noodgeval")
    found = flagged(K.UNEXPLAINED_DEVIATION, date(2026, 3, 1))
    assert found == {blank.contract_id, unknown.contract_id, too_high.contract_id}
    assert justified.contract_id not in found and explained.contract_id not in found
    problems = dict(
        Flag.objects.filter(kind=K.UNEXPLAINED_DEVIATION).values_list(
            "contract_id", "details__problem"
        )
    )
    assert problems == {
        blank.contract_id: "no_reason",
        unknown.contract_id: "labour_share_unknown",
        too_high.contract_id: "labour_share_too_high",
    }


# --- The job as a whole -------------------------------------------------------------------------


def _snapshot():
    return {
        flag.pk: (flag.kind, flag.contract_id, flag.details, flag.first_seen, flag.resolved_at)
        for flag in Flag.objects.all()
    }


@pytest.mark.django_db
def test_running_twice_changes_nothing_but_last_seen(world):
    ob = obligation(world.noordwijk)
    contribution(ob, submitted=date(2026, 6, 1))
    f.ContractFactory(municipality=world.katwijk)
    today = days(ob.deadline, 3)
    first = run_monitoring(today=today)
    before = _snapshot()
    seen_before = dict(Flag.objects.values_list("pk", "last_seen"))
    assert first.opened == len(before) >= 3
    second = run_monitoring(today=today)
    assert _snapshot() == before
    assert second.opened == 0 and second.resolved == 0 and second.refreshed == len(before)
    assert all(
        last_seen > seen_before[pk] for pk, last_seen in Flag.objects.values_list("pk", "last_seen")
    )


@pytest.mark.django_db
def test_first_seen_is_kept_and_a_cleared_flag_is_resolved_then_reopened(world):
    ob = obligation(world.noordwijk)
    run_monitoring(today=date(2026, 3, 1))
    flag = Flag.objects.get(kind=K.NO_APPROVED_PLAN)
    run_monitoring(today=date(2026, 3, 2))
    flag.refresh_from_db()
    assert flag.resolved_at is None and flag.last_seen > flag.first_seen

    approve_plan(ob)
    result = run_monitoring(today=date(2026, 3, 3))
    assert result.kinds[K.NO_APPROVED_PLAN].resolved == 1
    flag.refresh_from_db()
    assert flag.resolved_at is not None

    PlanOfApproach.objects.filter(obligation=ob).update(status="returned", review_comment="Nee")
    run_monitoring(today=date(2026, 3, 4))
    reopened = Flag.objects.get(kind=K.NO_APPROVED_PLAN, resolved_at__isnull=True)
    assert reopened.pk != flag.pk and reopened.first_seen > flag.first_seen


@pytest.mark.django_db
def test_changed_details_are_updated_in_place(world):
    ob = _behind_obligation(world)
    run_monitoring(today=days(date(2026, 1, 15), 30))
    flag = Flag.objects.get(kind=K.BEHIND_SCHEDULE)
    contribution(ob, submitted=date(2026, 2, 1), status="approved", value="500.00")
    run_monitoring(today=days(date(2026, 1, 15), 40))
    updated = Flag.objects.get(kind=K.BEHIND_SCHEDULE)
    assert updated.pk == flag.pk and updated.first_seen == flag.first_seen
    assert updated.details["realised"] == "500.00"
    assert updated.details["elapsed_percent"] == 40


def _world_of(n, world):
    for i in range(n):
        ob = obligation(world.noordwijk if i % 2 else world.katwijk)
        contribution(ob, submitted=date(2026, 2, 1))
        contribution(ob, submitted=date(2026, 3, 1), status="approved", value="100.00")
        f.ContractFactory(municipality=world.noordwijk)  # above threshold, no obligation


def _count_queries(today):
    with CaptureQueriesContext(connection) as ctx:
        run_monitoring(today=today)
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_number_of_obligations(world):
    _world_of(3, world)
    small_first, small_again = _count_queries(date(2026, 9, 1)), _count_queries(date(2026, 9, 1))
    Flag.objects.all().delete()
    _world_of(27, world)
    large_first, large_again = _count_queries(date(2026, 9, 1)), _count_queries(date(2026, 9, 1))
    assert Flag.objects.filter(resolved_at__isnull=True).count() > 60
    assert small_first == large_first
    assert small_again == large_again


@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_leave_one_open_flag_per_contract_and_kind(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (advisory locks, concurrent writers)")
    for _ in range(20):
        ob = obligation(world.noordwijk)
        contribution(ob, submitted=date(2026, 6, 1))
    today = days(date(2027, 5, 1), 3)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            run_monitoring(today=today)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    open_flags = Flag.objects.filter(resolved_at__isnull=True)
    assert open_flags.filter(kind=K.OVERDUE).count() == 20
    assert len({(fl.contract_id, fl.kind) for fl in open_flags}) == open_flags.count()
    assert not Flag.objects.filter(resolved_at__isnull=False).exists()


# --- Scoping -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_open_flags_visible_to(world, django_user_model):
    n = obligation(world.noordwijk)
    k = obligation(world.katwijk)
    run_monitoring(today=date(2026, 3, 1))
    Flag.objects.create(
        kind=K.OVERDUE,
        severity=3,
        municipality=world.noordwijk,
        contract=n.contract,
        obligation=n,
        first_seen=timezone.now(),
        last_seen=timezone.now(),
        resolved_at=timezone.now(),
    )

    def contracts(user):
        return set(open_flags_visible_to(user).values_list("contract_id", flat=True))

    assert contracts(world.adviser) == {n.contract_id, k.contract_id}
    assert contracts(world.officer_noordwijk) == {n.contract_id}
    assert contracts(world.council_katwijk) == {k.contract_id}
    assert contracts(world.contractor_a_user) == set()
    assert contracts(world.outsider) == set()
    superuser = django_user_model.objects.create_superuser(email="root@example.nl", password="x")
    assert contracts(superuser) == {n.contract_id, k.contract_id}
    assert not open_flags_visible_to(world.adviser).filter(resolved_at__isnull=False).exists()


# --- The command ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_runs_the_job_and_prints_the_counts(world):
    obligation(world.noordwijk)
    out = StringIO()
    call_command("run_monitoring", "--today", "2026-03-01", stdout=out)
    text = out.getvalue()
    assert "Monitoring as of 2026-03-01" in text
    assert "no_approved_plan" in text and "total" in text
    assert Flag.objects.filter(kind=K.NO_APPROVED_PLAN, resolved_at__isnull=True).count() == 1
    out = StringIO()
    call_command("run_monitoring", "--today", "2026-03-01", stdout=out)
    assert Flag.objects.count() == Flag.objects.filter(resolved_at__isnull=True).count()


def test_command_rejects_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_monitoring", "--today", "26-11-2026")
