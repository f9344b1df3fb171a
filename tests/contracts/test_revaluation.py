"""Revaluing contributions when the counting window moves (placements.revaluation), with real
engine values.

World policy: 5%, 90 grace days. The contract (500,000 excl. VAT, awarded 15-01-2026, running
01-02-2026 .. 31-01-2027) gives an obligation of 25,000.00 with the counting window
15-01-2026 .. 01-05-2027. The rulebook (``RulebookFactory``) values a Participatiewet job at
40,000 a year per 36 hours/week, counted at most 2 years: a full-time job is worth
``40,000 × days / 365``.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contracts import selectors, services
from contracts.models import Contract, ObligationChange, Settlement
from placements import services as placement_services
from placements.models import Contribution
from placements.revaluation import (
    contribution_inputs,
    revalue_contributions,
    valuation_as_of,
)
from tests import factories as f

D = Decimal
Kind = ObligationChange.Kind
Decision = Settlement.Decision


@pytest.fixture
def ruled(world):
    """Noordwijk has a published rulebook in force on the award date; the contract's obligation
    has it frozen."""
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk], owner=world.executing_body)
    contract, obligation = services.create_contract(
        acting_user=world.officer_noordwijk,
        municipality=world.noordwijk,
        reference="NW-2026-001",
        title="Herinrichting Dorpsstraat",
        contractor=world.contractor_a,
        kind=Contract.Kind.WORKS,
        value_excl_vat=D("500000.00"),
        award_date=date(2026, 1, 15),
        start_date=date(2026, 2, 1),
        end_date=date(2027, 1, 31),
    )
    assert obligation.rulebook == rulebook
    assert (obligation.window_start, obligation.deadline) == (date(2026, 1, 15), date(2027, 5, 1))
    candidate = placement_services.create_candidate(
        acting_user=world.adviser,
        contractor=world.contractor_a,
        initials="A.B.",
        birth_year=1980,
        target_group="participatiewet",
        years_on_benefit=D("3"),
    )
    return world, contract, obligation, candidate


def job(world, obligation, candidate, *, start=date(2026, 3, 1), end=None, approve=True):
    contribution = placement_services.submit_contribution(
        acting_user=world.adviser,
        obligation=obligation,
        block="job",
        candidate=candidate,
        start_date=start,
        end_date=end,
        hours_per_week=D("36"),
    )
    if approve:
        candidate.refresh_from_db()
        if candidate.eligibility_confirmed_at is None:
            # Only a placement of a confirmed candidate can be approved.
            placement_services.confirm_eligibility(acting_user=world.adviser, candidate=candidate)
        contribution = placement_services.approve_contribution(
            acting_user=world.adviser, contribution=contribution
        )
    return contribution


def progress(world, obligation):
    row = selectors.obligation_get(user=world.adviser, pk=obligation.pk)
    return row.reported, row.realised


# --- A contract change moves the window ------------------------------------------------------


def test_contract_end_moved_earlier_revalues_approved_job(ruled):
    world, contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=date(2027, 4, 30))
    # 01-03-2026 .. 30-04-2027 = 426 days: 40,000 × 426/365 = 46,684.93
    assert contribution.value == D("46684.93")
    assert services.realised_amount(obligation) == D("46684.93")

    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        end_date=date(2026, 6, 30),
        reason="Opdracht eerder afgerond",
    )

    obligation.refresh_from_db()
    # deadline 30-06-2026 + 90 days = 28-09-2026
    assert obligation.deadline == date(2026, 9, 28)
    contribution.refresh_from_db()
    # 01-03-2026 .. 28-09-2026 = 212 days: 40,000 × 212/365 = 23,232.88
    assert contribution.value == D("23232.88")
    assert contribution.rule_code == "job-pw"
    assert any("28-09-2026" in line for line in contribution.value_explanation)
    assert services.realised_amount(obligation) == D("23232.88")
    assert progress(world, obligation) == (D("23232.88"), D("23232.88"))

    kinds = list(obligation.changes.values_list("kind", flat=True))
    assert kinds == [Kind.CREATED, Kind.RECOMPUTED, Kind.REVALUED]
    revalued = obligation.changes.get(kind=Kind.REVALUED)
    assert revalued.changed_by == world.officer_noordwijk
    assert revalued.reason == "Opdracht eerder afgerond"
    assert revalued.details["window"] == ["2026-01-15", "2026-09-28"]
    assert revalued.details["realised"] == {"old": "46684.93", "new": "23232.88"}
    assert revalued.old_amount == revalued.new_amount == D("25000.00")  # unchanged
    assert revalued.details["contributions"] == [
        {
            "id": contribution.pk,
            "status": "approved",
            "old_value": "46684.93",
            "new_value": "23232.88",
        }
    ]

    # 23,232.88 < 25,000.00: the obligation is no longer fulfilled
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.FULFILLED,
            reason="Gehaald",
            today=date(2026, 9, 28),
        )
    assert "decision" in exc.value.message_dict


def test_award_date_moved_later_clips_the_start_of_the_window(ruled):
    world, contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=date(2027, 4, 30))
    policy = obligation.policy
    services.update_contract(
        acting_user=world.adviser, contract=contract, award_date=date(2026, 4, 1), reason="Typo"
    )
    obligation.refresh_from_db()
    contribution.refresh_from_db()
    assert obligation.window_start == date(2026, 4, 1)
    assert obligation.policy == policy  # the same version is in force on 01-04-2026
    # 01-04-2026 .. 30-04-2027 = 395 days: 40,000 × 395/365 = 43,287.67
    assert contribution.value == D("43287.67")
    revalued = obligation.changes.get(kind=Kind.REVALUED)
    assert revalued.details["contributions"][0]["old_value"] == "46684.93"
    assert revalued.details["contributions"][0]["new_value"] == "43287.67"


def test_value_change_without_window_change_does_not_revalue(ruled):
    world, contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=date(2027, 4, 30))
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, value_excl_vat=D("600000.00")
    )
    contribution.refresh_from_db()
    assert contribution.value == D("46684.93")
    assert not obligation.changes.filter(kind=Kind.REVALUED).exists()


def test_unchanged_values_are_not_recorded(ruled):
    world, contract, obligation, candidate = ruled
    # 01-03-2026 .. 31-08-2026 lies inside both the old and the new window
    job(world, obligation, candidate, end=date(2026, 8, 31))
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, end_date=date(2027, 6, 30)
    )
    assert obligation.changes.filter(kind=Kind.RECOMPUTED).exists()
    assert not obligation.changes.filter(kind=Kind.REVALUED).exists()


def test_rejected_contributions_are_not_revalued_submitted_and_returned_are(ruled):
    world, contract, obligation, candidate = ruled
    rejected = job(world, obligation, candidate, end=date(2027, 4, 30), approve=False)
    placement_services.reject_contribution(
        acting_user=world.adviser, contribution=rejected, reason="Geen bewijs"
    )
    submitted = job(world, obligation, candidate, end=date(2027, 4, 30), approve=False)
    returned = job(world, obligation, candidate, end=date(2027, 4, 30), approve=False)
    placement_services.return_contribution(
        acting_user=world.adviser, contribution=returned, reason="Contract ontbreekt"
    )
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, end_date=date(2026, 6, 30)
    )
    values = dict(Contribution.objects.values_list("pk", "value"))
    assert values[rejected.pk] == D("46684.93")  # untouched
    assert values[submitted.pk] == D("23232.88")
    assert values[returned.pk] == D("23232.88")
    revalued = obligation.changes.get(kind=Kind.REVALUED)
    assert [(c["id"], c["status"]) for c in revalued.details["contributions"]] == [
        (submitted.pk, "submitted"),
        (returned.pk, "returned"),
    ]
    assert revalued.details["realised"] == {"old": "0.00", "new": "0.00"}
    # reported = submitted + returned (rejected excluded), realised = nothing approved
    assert progress(world, obligation) == (D("46465.76"), D("0.00"))


def test_a_contribution_that_can_no_longer_be_valued_refuses_the_change(ruled):
    world, contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=date(2027, 4, 30))
    candidate.anonymised_at = timezone.now()
    candidate.save()
    with pytest.raises(ValidationError, match=f"Contribution {contribution.pk}"):
        services.update_contract(
            acting_user=world.officer_noordwijk, contract=contract, end_date=date(2026, 6, 30)
        )
    contract.refresh_from_db()
    contribution.refresh_from_db()
    assert contract.end_date == date(2027, 1, 31)
    assert contribution.value == D("46684.93")
    assert not obligation.changes.exclude(kind=Kind.CREATED).exists()


# --- An extension moves the window -----------------------------------------------------------


def test_extension_revalues_what_the_old_deadline_clipped(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=date(2027, 7, 31))
    # clipped at the deadline: 01-03-2026 .. 01-05-2027 = 427 days → 46,794.52
    assert contribution.value == D("46794.52")
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.EXTENSION,
        reason="Hersteltermijn",
        new_deadline=date(2027, 8, 1),
        today=date(2027, 5, 2),
    )
    assert settlement.realised_amount == D("46794.52")  # at the time of the decision
    contribution.refresh_from_db()
    # 01-03-2026 .. 31-07-2027 = 518 days: 40,000 × 518/365 = 56,767.12
    assert contribution.value == D("56767.12")
    kinds = list(obligation.changes.values_list("kind", flat=True))
    assert kinds == [Kind.CREATED, Kind.DEADLINE_EXTENDED, Kind.REVALUED]
    revalued = obligation.changes.get(kind=Kind.REVALUED)
    assert revalued.reason == "Hersteltermijn"
    assert revalued.details["as_of"] == "2027-05-02"
    assert revalued.details["contributions"][0]["new_value"] == "56767.12"


# --- Open-ended contributions ----------------------------------------------------------------


def test_open_ended_job_counts_only_up_to_the_valuation_date(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=None)
    changed = revalue_contributions(
        obligation=obligation,
        acting_user=world.adviser,
        reason="Peildatum",
        as_of=date(2026, 10, 31),
    )
    contribution.refresh_from_db()
    # 01-03-2026 .. 31-10-2026 = 245 days: 40,000 × 245/365 = 26,849.32 (not up to the deadline)
    assert contribution.value == D("26849.32")
    assert contribution.end_date is None  # the stored contribution stays open-ended
    assert [(c.pk, new) for c, _old, new in changed] == [(contribution.pk, D("26849.32"))]
    assert any(
        "Geen einddatum" in line and "31-10-2026" in line and "01-05-2027" in line
        for line in contribution.value_explanation
    )
    assert services.realised_amount(obligation) == D("26849.32")
    revalued = obligation.changes.get(kind=Kind.REVALUED)
    assert revalued.details["as_of"] == "2026-10-31"
    assert revalued.details["contributions"][0]["new_value"] == "26849.32"


def test_open_ended_job_after_the_deadline_counts_up_to_the_deadline(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=None)
    revalue_contributions(
        obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2027, 6, 1)
    )
    contribution.refresh_from_db()
    # 01-03-2026 .. 01-05-2027 (the deadline) = 427 days → 46,794.52
    assert contribution.value == D("46794.52")
    # and valuing again on the same facts changes nothing
    assert (
        revalue_contributions(
            obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2027, 6, 1)
        )
        == []
    )


def test_open_ended_job_not_started_yet_is_worth_zero(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, start=date(2027, 1, 4), end=None)
    revalue_contributions(
        obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2026, 11, 26)
    )
    contribution.refresh_from_db()
    assert contribution.value == D("0.00")
    assert contribution.rule_code == "job-pw"
    assert any("nog niet begonnen" in line for line in contribution.value_explanation)
    # once started, it counts: 04-01-2027 .. 31-01-2027 = 28 days → 40,000 × 28/365 = 3,068.49
    revalue_contributions(
        obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2027, 1, 31)
    )
    contribution.refresh_from_db()
    assert contribution.value == D("3068.49")


def test_rules_dated_by_their_start_are_valued_as_reported(ruled):
    world, _contract, obligation, candidate = ruled
    activity = placement_services.submit_contribution(
        acting_user=world.adviser,
        obligation=obligation,
        block="social_activity",
        start_date=date(2027, 1, 4),  # after the valuation date below, inside the window
        hours=D("10"),
    )
    # hourly rule: 10 hours × 100.00 = 1,000.00, whatever the valuation date
    assert activity.value == D("1000.00")
    stored_explanation = activity.value_explanation
    changed = revalue_contributions(
        obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2026, 10, 31)
    )
    assert changed == []
    activity.refresh_from_db()
    assert activity.value == D("1000.00")
    assert activity.value_explanation == stored_explanation
    assert not any("Geen einddatum" in line for line in activity.value_explanation)


def test_contribution_inputs_give_open_ended_ones_an_explicit_end(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=None, approve=False)
    inputs = contribution_inputs(contribution, as_of=date(2026, 11, 26))
    assert inputs == {
        "block": "job",
        "candidate": candidate,
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 11, 26),
        "hours_per_week": D("36.00"),
        "permanent_contract": False,
        "invoiced_amount": None,
        "hours": None,
        "actual_cost": None,
        "variant": "",
    }
    assert contribution_inputs(contribution, as_of=date(2030, 1, 1))["end_date"] == date(2027, 5, 1)
    # the same value as the preview of value_of with that end
    assert (
        valuation_as_of(contribution, as_of=date(2026, 11, 26)).value
        == placement_services.value_of(obligation=obligation, **inputs).value
        == D("29698.63")
    )
    closed = job(world, obligation, candidate, end=date(2026, 8, 31), approve=False)
    assert contribution_inputs(closed, as_of=date(2026, 4, 1))["end_date"] == date(2026, 8, 31)


def test_final_settlement_judges_open_ended_work_as_performed(ruled):
    world, _contract, obligation, candidate = ruled
    contribution = job(world, obligation, candidate, end=None)
    # Early "fulfilled" on 30-06-2026: 01-03 .. 30-06-2026 = 122 days → 13,369.86 < 25,000
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.FULFILLED,
            reason="Gehaald",
            today=date(2026, 6, 30),
        )
    assert "decision" in exc.value.message_dict
    # On 31-10-2026: 245 days → 26,849.32 ≥ 25,000
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FULFILLED,
        reason="Gehaald",
        today=date(2026, 10, 31),
    )
    assert settlement.realised_amount == D("26849.32")
    contribution.refresh_from_db()
    assert contribution.value == D("26849.32")
    assert obligation.changes.filter(kind=Kind.REVALUED).count() == 1


def test_obligation_without_rulebook_has_nothing_to_revalue(world):
    contribution = f.ContributionFactory(
        obligation=f.ObligationFactory(contract__municipality=world.noordwijk),
        value=D("1234.56"),
        approved=True,
    )
    obligation = contribution.obligation
    assert obligation.rulebook is None
    assert revalue_contributions(obligation=obligation, acting_user=world.adviser, reason="") == []
    contribution.refresh_from_db()
    assert contribution.value == D("1234.56")
    assert not obligation.changes.exists()


def test_revaluation_query_count_does_not_grow_with_contributions(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contracts.models import Obligation

    def queries_for(n: int) -> int:
        obligation = f.RuledObligationFactory(contract__municipality=world.noordwijk)
        for _ in range(n):
            f.ContributionFactory(obligation=obligation, value=D("1.00"), approved=True)
        obligation = Obligation.objects.get(pk=obligation.pk)
        with CaptureQueriesContext(connection) as ctx:
            changed = revalue_contributions(
                obligation=obligation, acting_user=world.adviser, reason="", as_of=date(2027, 1, 1)
            )
        # 24 h/week, 01-03-2026 .. 28-02-2027 (365 days): 40,000 × 24/36 = 26,666.67 each
        assert [new for _c, _old, new in changed] == [D("26666.67")] * n
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(8)
