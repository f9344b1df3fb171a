"""Concurrency of the placements services: the same action by two (or five) users at the same
moment never counts twice, and two different actions leave one consistent state.

Each test starts its threads together (a ``threading.Barrier``) against a real PostgreSQL
server, so the row locks in the services are what keeps the outcome right. SQLite serialises
writers by itself, so these tests skip there (CI runs the suite on PostgreSQL as well).

Where the window between the service's check and its write is narrow, a hook sleeps inside it to
make overlapping likely; no test asserts on timings. The meta-test at the end removes the locks
and shows that the same checks then fail: the race is real, not hypothetical.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts.models import Obligation, Settlement
from contracts.services import realised_amount, settle_obligation
from placements import plans, services
from placements.models import Contribution, Evidence, PlanOfApproach, Rule
from placements.services import (
    add_evidence,
    approve_contribution,
    confirm_eligibility,
    reject_contribution,
    return_contribution,
    submit_contribution,
    update_contribution,
    value_of,
)
from sroi.models import Role
from tests import factories as f
from tests.concurrency import JOIN_TIMEOUT, needs_postgresql, run_at_once, split, widen  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

JOB = {
    "block": "job",
    "start_date": date(2026, 3, 1),
    "end_date": date(2027, 2, 28),
    "hours_per_week": Decimal("24"),
}
# 24/36 FTE × 40,000/year for one year (01-03-2026 .. 28-02-2027).
JOB_VALUE = Decimal("26666.67")
# The obligation's deadline is 01-05-2027: a fine is decided on or after it.
AT_DEADLINE = date(2027, 5, 1)
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def codes(refusals) -> set:
    """The codes of the refusals' errors (of every field when keyed by field)."""
    found = set()
    for refusal in refusals:
        if hasattr(refusal, "error_dict"):
            errors = [error for field in refusal.error_dict.values() for error in field]
        else:
            errors = refusal.error_list
        found |= {error.code for error in errors}
    return found


def status_changes(obj, to_status: str) -> int:
    """Audit-trail entries of updates that moved ``obj`` to ``to_status``."""
    return sum(
        1
        for entry in LogEntry.objects.get_for_object(obj).filter(action=LogEntry.Action.UPDATE)
        if (entry.changes or {}).get("status", [None, None])[1] == to_status
    )


@pytest.fixture
def race(world):
    """Contractor A works for Noordwijk under a published rulebook; five advisers serve it."""
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        rulebook__owner=world.executing_body,
    )
    advisers = [world.adviser]
    for number in range(2, 6):
        user = f.UserFactory(email=f"adviseur{number}@example.nl")
        f.MembershipFactory(user=user, organisation=world.executing_body, role=Role.ADVISER)
        advisers.append(user)
    second_user = f.ContractorUserFactory(contractor=world.contractor_a).user
    return SimpleNamespace(
        world=world,
        obligation=obligation,
        advisers=advisers,
        contractor_users=[world.contractor_a_user, second_user],
        candidate=f.CandidateFactory(contractor=world.contractor_a, confirmed=True),
    )


def submit(race, **overrides):
    return submit_contribution(
        acting_user=race.world.contractor_a_user,
        obligation=race.obligation,
        notify=False,
        **{**JOB, "candidate": race.candidate, **overrides},
    )


def assert_approved_once(race, contribution, outcomes):
    """Exactly one approval succeeded, every other one was refused as no longer submitted, and
    the contribution counts once: in the realised amount and in the audit trail."""
    approved, refused = split(outcomes, Contribution)
    assert len(approved) == 1, f"{len(approved)} approvals succeeded"
    assert len(refused) == len(outcomes) - 1
    assert codes(refused) == {"not_submitted"}
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.APPROVED
    assert contribution.reviewed_by == approved[0].reviewed_by
    assert realised_amount(race.obligation) == contribution.value == JOB_VALUE
    assert status_changes(contribution, Contribution.Status.APPROVED) == 1


# --- Approving ---------------------------------------------------------------------------------


@pytest.mark.parametrize("advisers", [2, 5])
def test_simultaneous_approvals_of_one_contribution_count_once(race, monkeypatch, advisers):
    contribution = submit(race)
    widen(monkeypatch, services, "_require_confirmed_eligibility")
    outcomes = run_at_once(
        *(
            lambda user=user: approve_contribution(acting_user=user, contribution=contribution)
            for user in race.advisers[:advisers]
        )
    )
    assert_approved_once(race, contribution, outcomes)


@pytest.mark.parametrize("approve_first", [True, False])
def test_approve_and_reject_at_once_one_decision_wins(race, monkeypatch, approve_first):
    contribution = submit(race)
    widen(monkeypatch, services, "_require_confirmed_eligibility")
    calls = [
        lambda: approve_contribution(acting_user=race.advisers[0], contribution=contribution),
        lambda: reject_contribution(
            acting_user=race.advisers[1], contribution=contribution, reason="Geen bewijs"
        ),
    ]
    outcomes = run_at_once(*(calls if approve_first else calls[::-1]))
    decided, refused = split(outcomes, Contribution)
    assert len(decided) == len(refused) == 1
    assert codes(refused) == {"not_submitted"}
    contribution.refresh_from_db()
    winner = decided[0]
    assert contribution.status == winner.status
    assert contribution.reviewed_by == winner.reviewed_by
    expected = JOB_VALUE if winner.status == Contribution.Status.APPROVED else Decimal("0.00")
    assert realised_amount(race.obligation) == expected
    reviewed = status_changes(contribution, Contribution.Status.APPROVED) + status_changes(
        contribution, Contribution.Status.REJECTED
    )
    assert reviewed == 1


@pytest.mark.parametrize("approve_first", [True, False])
def test_settling_while_a_contribution_is_approved_never_leaves_it_out(
    race, monkeypatch, approve_first
):
    """The settlement includes the approval, or the approval is refused: never a settled
    obligation whose totals miss an approval that lands afterwards."""
    contribution = submit(race)
    widen(monkeypatch, services, "_require_confirmed_eligibility")
    calls = [
        lambda: approve_contribution(acting_user=race.advisers[0], contribution=contribution),
        lambda: settle_obligation(
            acting_user=race.advisers[1],
            obligation=race.obligation,
            decision=Settlement.Decision.FINE,
            reason="Tekort na de deadline",
            today=AT_DEADLINE,
        ),
    ]
    if not approve_first:
        calls.reverse()
    outcomes = run_at_once(*calls)
    approval, settlement = outcomes if approve_first else outcomes[::-1]
    assert isinstance(settlement, Settlement), settlement
    contribution.refresh_from_db()
    race.obligation.refresh_from_db()
    assert race.obligation.status == Obligation.Status.SETTLED
    if isinstance(approval, Contribution):
        assert contribution.status == Contribution.Status.APPROVED
        assert settlement.realised_amount == JOB_VALUE
    else:
        assert isinstance(approval, ValidationError), approval
        assert codes([approval]) == {"settled"}
        assert contribution.status == Contribution.Status.SUBMITTED
        assert settlement.realised_amount == Decimal("0.00")
    assert settlement.realised_amount == realised_amount(race.obligation)
    assert settlement.shortfall == max(
        race.obligation.amount - settlement.realised_amount, Decimal("0.00")
    )
    assert Settlement.objects.filter(obligation=race.obligation).count() == 1


def test_evidence_added_while_approving_waits_its_turn(race, monkeypatch, settings, tmp_path):
    """Both lock the obligation before the contribution (no deadlock): the evidence comes
    first and the approval after it, or the approval first and the evidence is refused."""
    contribution = submit(race)
    # Each holds its first lock a while: in opposite lock orders they would deadlock.
    widen(monkeypatch, services, "_lock_obligation", after=True)
    widen(monkeypatch, services, "_lock_contribution", after=True)
    outcomes = run_at_once(
        lambda: approve_contribution(acting_user=race.advisers[0], contribution=contribution),
        lambda: add_evidence(
            acting_user=race.world.contractor_a_user,
            contribution=contribution,
            uploaded_file=SimpleUploadedFile("x.pdf", MINIMAL_PDF, "application/pdf"),
            kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
        ),
    )
    approval, evidence = outcomes
    assert isinstance(approval, Contribution), approval
    if isinstance(evidence, Evidence):
        assert Evidence.objects.filter(contribution=contribution).count() == 1
    else:
        assert isinstance(evidence, ValidationError), evidence
        assert codes([evidence]) == {"locked"}
        assert not Evidence.objects.filter(contribution=contribution).exists()
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.APPROVED
    assert realised_amount(race.obligation) == JOB_VALUE


def test_target_group_corrected_while_approving_values_by_one_group(race, monkeypatch):
    """The approval sees the corrected group (and its value), or the correction sees the
    approval and is refused; never an approved value of a group the candidate no longer has,
    and never a deadlock."""
    Rule.objects.create(
        rulebook=race.obligation.rulebook,
        code="job-ww",
        label="Baan WW",
        block="job",
        kind="annual",
        rate=Decimal("30000"),
        target_groups=["ww"],
        min_hours_per_week=Decimal("12"),
        max_years=Decimal("2"),
    )
    contribution = submit(race)
    # The approval holds the obligation a while before it takes the contribution; the
    # correction takes the contributions and revalues them (which needs the obligation).
    widen(monkeypatch, services, "_lock_obligation", after=True)
    widen(monkeypatch, services, "_revalue_open_contributions")
    outcomes = run_at_once(
        lambda: approve_contribution(acting_user=race.advisers[0], contribution=contribution),
        lambda: confirm_eligibility(
            acting_user=race.advisers[1], candidate=race.candidate, target_group="ww"
        ),
    )
    approval, correction = outcomes
    assert isinstance(approval, Contribution), approval
    if not isinstance(correction, ValidationError):
        assert correction.target_group == "ww", correction
    else:
        assert "target_group" in correction.message_dict, correction
    contribution.refresh_from_db()
    race.candidate.refresh_from_db()
    expected = value_of(
        obligation=race.obligation,
        candidate=race.candidate,
        **JOB,
    )
    assert contribution.status == Contribution.Status.APPROVED
    assert (contribution.value, contribution.rule_code) == (expected.value, expected.rule_code)
    assert realised_amount(race.obligation) == expected.value


# --- Submitting --------------------------------------------------------------------------------


def test_two_portal_sessions_submitting_at_once_both_land_once(race):
    """Two users of the contractor report at the same moment: both reports are stored, each
    once and fully valued, and nothing counts before the adviser approves."""
    outcomes = run_at_once(
        *(
            lambda user=user, hours=hours: submit_contribution(
                acting_user=user,
                obligation=race.obligation,
                notify=False,
                **{**JOB, "candidate": race.candidate, "hours_per_week": hours},
            )
            for user, hours in zip(
                race.contractor_users, (Decimal("24"), Decimal("36")), strict=True
            )
        )
    )
    submitted, refused = split(outcomes, Contribution)
    assert not refused
    stored = list(Contribution.objects.filter(obligation=race.obligation).order_by("pk"))
    assert [c.pk for c in stored] == sorted(c.pk for c in submitted)
    assert sorted(c.value for c in stored) == [JOB_VALUE, Decimal("40000.00")]
    assert {c.submitted_by for c in stored} == set(race.contractor_users)
    assert realised_amount(race.obligation) == Decimal("0.00")


def test_a_returned_contribution_resubmitted_from_two_sessions_goes_back_once(race, monkeypatch):
    contribution = submit(race)
    return_contribution(
        acting_user=race.advisers[0], contribution=contribution, reason="Contract ontbreekt"
    )
    widen(monkeypatch, services, "check_reporting_inputs")
    outcomes = run_at_once(
        *(
            lambda user=user: update_contribution(
                acting_user=user, contribution=contribution, description="Contract bijgevoegd"
            )
            for user in race.contractor_users
        )
    )
    updated, refused = split(outcomes, Contribution)
    assert len(updated) == 2 and not refused
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.SUBMITTED
    assert contribution.value == JOB_VALUE
    # Returned → submitted once; the second save found it submitted already.
    assert status_changes(contribution, Contribution.Status.SUBMITTED) == 1


# --- Plans of approach -------------------------------------------------------------------------

PLAN_ITEM = {
    "block": "job",
    "planned_count": 2,
    "planned_amount": Decimal("40000.00"),
    "planned_start": date(2026, 3, 1),
    "planned_end": date(2026, 12, 31),
    "description": "Twee banen",
}


def submit_plan(race, user=None):
    return plans.submit_plan(
        acting_user=user or race.world.contractor_a_user,
        obligation=race.obligation,
        items=[PLAN_ITEM],
    )


@pytest.mark.parametrize("advisers", [2, 5])
def test_simultaneous_plan_approvals_decide_once(race, monkeypatch, advisers):
    plan = submit_plan(race)
    widen(monkeypatch, plans, "_latest")
    outcomes = run_at_once(
        *(
            lambda user=user: plans.approve_plan(acting_user=user, plan=plan)
            for user in race.advisers[:advisers]
        )
    )
    approved, refused = split(outcomes, PlanOfApproach)
    assert len(approved) == 1
    assert len(refused) == advisers - 1
    assert codes(refused) == {"not_submitted"}
    plan.refresh_from_db()
    assert plan.status == PlanOfApproach.Status.APPROVED
    assert plan.reviewed_by == approved[0].reviewed_by
    assert status_changes(plan, PlanOfApproach.Status.APPROVED) == 1


def test_plan_approved_and_returned_at_once_one_decision_wins(race, monkeypatch):
    plan = submit_plan(race)
    widen(monkeypatch, plans, "_latest")
    outcomes = run_at_once(
        lambda: plans.approve_plan(acting_user=race.advisers[0], plan=plan),
        lambda: plans.return_plan(acting_user=race.advisers[1], plan=plan, comment="Meer banen"),
    )
    decided, refused = split(outcomes, PlanOfApproach)
    assert len(decided) == len(refused) == 1
    plan.refresh_from_db()
    assert plan.status == decided[0].status
    assert plan.reviewed_by == decided[0].reviewed_by


def test_a_plan_submitted_from_two_sessions_at_once_is_one_version(race, monkeypatch):
    widen(monkeypatch, plans, "_build_items")
    outcomes = run_at_once(
        *(lambda user=user: submit_plan(race, user) for user in race.contractor_users)
    )
    submitted, refused = split(outcomes, PlanOfApproach)
    assert len(submitted) == len(refused) == 1
    assert codes(refused) == {"pending"}
    stored = PlanOfApproach.objects.get(obligation=race.obligation)
    assert (stored.pk, stored.version) == (submitted[0].pk, 1)
    assert stored.items.count() == 1


# --- Meta-check: without the locks, the checks above catch the double approval ----------------


def test_without_row_locks_a_double_approval_is_caught(race, monkeypatch):
    """Replace the service's locking reads with plain reads and hold both threads between the
    status check and the write until both have checked: both approvals then succeed and
    :func:`assert_approved_once` fails. Proves the tests above detect a missing lock."""
    contribution = submit(race)

    def read_obligation(obligation_id):
        return Obligation.objects.select_related("contract", "rulebook").get(pk=obligation_id)

    def read_contribution(contribution):
        return Contribution.objects.select_related("obligation__contract", "candidate").get(
            pk=contribution.pk
        )

    both_checked = threading.Barrier(2)
    original = services._require_confirmed_eligibility

    def after_check(contribution):
        both_checked.wait(timeout=JOIN_TIMEOUT)
        return original(contribution)

    monkeypatch.setattr(services, "_lock_obligation", read_obligation)
    monkeypatch.setattr(services, "_lock_contribution", read_contribution)
    monkeypatch.setattr(services, "_require_confirmed_eligibility", after_check)
    outcomes = run_at_once(
        *(
            lambda user=user: approve_contribution(acting_user=user, contribution=contribution)
            for user in race.advisers[:2]
        )
    )
    assert all(isinstance(o, Contribution) for o in outcomes), outcomes
    with pytest.raises(AssertionError):
        assert_approved_once(race, contribution, outcomes)
