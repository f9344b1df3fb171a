"""Candidates, contributions and their verification, tested with the personas of conftest."""

import inspect
import re
import threading
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from contracts.models import Obligation
from contracts.services import realised_amount
from placements import services, valuation
from placements.models import Candidate, Contribution, Rule
from placements.rulebooks import to_engine
from placements.services import (
    approve_contribution,
    confirm_eligibility,
    create_candidate,
    reject_contribution,
    return_contribution,
    submit_contribution,
    update_contribution,
    value_of,
)
from tests import factories as f

JOB = {
    "block": "job",
    "start_date": date(2026, 3, 1),
    "end_date": date(2027, 2, 28),
    "hours_per_week": Decimal("24"),
}


@pytest.fixture
def setup(world):
    """Contractor A works for Noordwijk under a published rulebook; B works for Katwijk."""
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        rulebook__owner=world.executing_body,
    )
    obligation_b = f.RuledObligationFactory(
        contract__municipality=world.katwijk,
        contract__contractor=world.contractor_b,
        rulebook=obligation.rulebook,
    )
    return SimpleNamespace(
        world=world,
        obligation=obligation,
        obligation_b=obligation_b,
        rulebook=obligation.rulebook,
        candidate=f.CandidateFactory(contractor=world.contractor_a, confirmed=True),
        candidate_b=f.CandidateFactory(contractor=world.contractor_b),
    )


def engine_value(obligation, candidate, **inputs):
    """The engine's own answer for the same inputs, computed independently of the service."""
    return valuation.value_contribution(
        to_engine(obligation.rulebook),
        valuation.ContributionInput(
            block=inputs["block"],
            start=inputs["start_date"],
            end=inputs.get("end_date"),
            target_group=candidate.target_group if candidate else None,
            hours_per_week=inputs.get("hours_per_week"),
            years_on_benefit=candidate.years_on_benefit if candidate else None,
            birth_year=candidate.birth_year if candidate else None,
            permanent_contract=inputs.get("permanent_contract", False),
            invoiced_amount=inputs.get("invoiced_amount"),
            hours=inputs.get("hours"),
            actual_cost=inputs.get("actual_cost"),
            variant=inputs.get("variant", ""),
        ),
        valuation.Window(obligation.window_start, obligation.deadline),
    )


def submit(setup, user=None, **overrides):
    inputs = {**JOB, "candidate": setup.candidate, **overrides}
    return submit_contribution(
        acting_user=user or setup.world.contractor_a_user,
        obligation=setup.obligation,
        **inputs,
    )


# --- Candidates ------------------------------------------------------------------------------

CANDIDATE = {
    "initials": "A.B.",
    "birth_year": 1980,
    "target_group": "participatiewet",
    "years_on_benefit": Decimal("2.5"),
}


def test_contractor_user_creates_candidate_with_pseudonymous_code(world, settings):
    settings.SROI_CANDIDATE_CODE_PREFIX = "K"
    candidate = create_candidate(
        acting_user=world.contractor_a_user, contractor=world.contractor_a, **CANDIDATE
    )
    candidate.refresh_from_db()
    assert re.fullmatch(r"K-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}", candidate.code)
    assert candidate.contractor == world.contractor_a
    assert (candidate.initials, candidate.birth_year, candidate.target_group) == (
        "A.B.",
        1980,
        "participatiewet",
    )
    assert candidate.years_on_benefit == Decimal("2.5")


def test_codes_are_unique_and_random(world):
    codes = {
        create_candidate(
            acting_user=world.contractor_a_user, contractor=world.contractor_a, **CANDIDATE
        ).code
        for _ in range(5)
    }
    assert len(codes) == 5


def test_code_collision_is_retried(world, monkeypatch):
    f.CandidateFactory(code="K-TAKEN000")
    codes = iter(["K-TAKEN000", "K-TAKEN000", "K-FREE2345"])
    monkeypatch.setattr(services, "generate_candidate_code", lambda: next(codes))
    candidate = create_candidate(
        acting_user=world.contractor_a_user, contractor=world.contractor_a, **CANDIDATE
    )
    assert candidate.code == "K-FREE2345"


def test_adviser_creates_candidate_for_contractor_working_in_scope(setup):
    w = setup.world
    candidate = create_candidate(acting_user=w.adviser, contractor=w.contractor_a, **CANDIDATE)
    assert candidate.contractor == w.contractor_a


def test_adviser_cannot_create_candidate_for_contractor_without_contract_in_scope(world):
    lisse = f.MunicipalityFactory(name="Lisse")
    elsewhere = f.ContractFactory(municipality=lisse).contractor
    with pytest.raises(PermissionDenied):
        create_candidate(acting_user=world.adviser, contractor=elsewhere, **CANDIDATE)


@pytest.mark.parametrize(
    "persona",
    ["contractor_b_user", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"],
)
def test_others_cannot_create_candidates_for_contractor_a(setup, persona):
    with pytest.raises(PermissionDenied):
        create_candidate(
            acting_user=getattr(setup.world, persona),
            contractor=setup.world.contractor_a,
            **CANDIDATE,
        )
    assert not Candidate.objects.filter(contractor=setup.world.contractor_a).exclude(
        pk=setup.candidate.pk
    )


def test_anonymous_cannot_create_candidates(world):
    with pytest.raises(PermissionDenied):
        create_candidate(acting_user=AnonymousUser(), contractor=world.contractor_a, **CANDIDATE)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"initials": ""}, "initials"),
        ({"initials": "A1"}, "initials"),
        ({"initials": "ABCDEFGHIJK"}, "initials"),
        ({"initials": "A-B"}, "initials"),
        ({"initials": "123456789"}, "initials"),
        ({"birth_year": 1899}, "birth_year"),
        ({"birth_year": "nineteen"}, "birth_year"),
        ({"target_group": "unknown"}, "target_group"),
        ({"target_group": ""}, "target_group"),
        ({"target_group": "other"}, "target_group_note"),
        ({"target_group": "other", "target_group_note": "  "}, "target_group_note"),
        (
            {"target_group": "other", "target_group_note": "BSN 123456782 staat op de lijst"},
            "target_group_note",
        ),
        ({"years_on_benefit": Decimal("-1")}, "years_on_benefit"),
        ({"years_on_benefit": Decimal("100")}, "years_on_benefit"),
        ({"years_on_benefit": 2.5}, "years_on_benefit"),
        ({"years_on_benefit": "x"}, "years_on_benefit"),
    ],
)
def test_candidate_validation(world, change, field):
    with pytest.raises(ValidationError) as excinfo:
        create_candidate(
            acting_user=world.contractor_a_user,
            contractor=world.contractor_a,
            **{**CANDIDATE, **change},
        )
    assert field in excinfo.value.message_dict
    assert not Candidate.objects.exists()


def test_birth_year_must_be_at_least_14_years_ago(world):
    latest = timezone.localdate().year - 14
    ok = create_candidate(
        acting_user=world.contractor_a_user,
        contractor=world.contractor_a,
        **{**CANDIDATE, "birth_year": latest},
    )
    assert ok.birth_year == latest
    with pytest.raises(ValidationError) as excinfo:
        create_candidate(
            acting_user=world.contractor_a_user,
            contractor=world.contractor_a,
            **{**CANDIDATE, "birth_year": latest + 1},
        )
    assert "birth_year" in excinfo.value.message_dict


def test_boundaries_accepted_and_note_kept_only_for_other(world):
    other = create_candidate(
        acting_user=world.contractor_a_user,
        contractor=world.contractor_a,
        initials="J. v. D.",
        birth_year=1900,
        target_group="other",
        years_on_benefit=Decimal("99.9"),
        target_group_note="Langdurig werkzoekend",
    )
    assert other.target_group_note == "Langdurig werkzoekend"
    ww = create_candidate(
        acting_user=world.contractor_a_user,
        contractor=world.contractor_a,
        initials="É.",
        birth_year=1990,
        target_group="ww",
        years_on_benefit=0,
        target_group_note="not needed",
    )
    assert ww.target_group_note == ""
    assert ww.years_on_benefit == Decimal("0")


def test_a_candidate_never_has_a_bsn():
    names = {field.name.lower() for field in Candidate._meta.get_fields()}
    assert not {n for n in names if "bsn" in n or "burgerservice" in n or "name" in n}
    assert "bsn" not in inspect.signature(create_candidate).parameters


def test_create_candidate_refuses_a_bsn_argument(world):
    with pytest.raises(TypeError):
        create_candidate(  # type: ignore[call-arg]
            acting_user=world.contractor_a_user,
            contractor=world.contractor_a,
            bsn="123456782",
            **CANDIDATE,
        )


# --- Submitting ------------------------------------------------------------------------------


def test_contractor_submits_and_stored_value_equals_engine_value(setup):
    contribution = submit(setup, permanent_contract=True, description="Hovenier")
    contribution.refresh_from_db()
    expected = engine_value(setup.obligation, setup.candidate, **JOB, permanent_contract=True)
    assert contribution.value == expected.value == Decimal("36666.67")
    assert contribution.rule_code == expected.rule_code == "job-pw"
    assert contribution.value_explanation == list(expected.explanation)
    assert contribution.status == Contribution.Status.SUBMITTED
    assert contribution.submitted_by == setup.world.contractor_a_user
    assert contribution.description == "Hovenier"


def test_preview_equals_stored_value(setup):
    preview = value_of(obligation=setup.obligation, candidate=setup.candidate, **JOB)
    stored = submit(setup)
    assert preview.value == stored.value == Decimal("26666.67")
    assert list(preview.explanation) == stored.value_explanation


def test_adviser_may_report_on_behalf_of_contractor(setup):
    contribution = submit(setup, user=setup.world.adviser)
    assert contribution.submitted_by == setup.world.adviser


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_b_user",
        "officer_noordwijk",
        "officer_katwijk",
        "council_noordwijk",
        "functional_admin",
        "outsider",
    ],
)
def test_others_cannot_submit(setup, persona):
    with pytest.raises(PermissionDenied):
        submit(setup, user=getattr(setup.world, persona))
    assert not Contribution.objects.exists()


def test_anonymous_cannot_submit(setup):
    with pytest.raises(PermissionDenied):
        submit(setup, user=AnonymousUser())


def test_candidate_of_another_contractor_is_refused_without_leaking_it(setup):
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, candidate=setup.candidate_b)
    assert "candidate" in excinfo.value.message_dict
    assert setup.candidate_b.code not in str(excinfo.value)
    assert not Contribution.objects.exists()


def test_anonymised_candidate_is_refused(setup):
    setup.candidate.anonymised_at = timezone.now()
    setup.candidate.save()
    with pytest.raises(ValidationError) as excinfo:
        submit(setup)
    assert "candidate" in excinfo.value.message_dict


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"candidate": None}, "candidate"),
        ({"hours_per_week": None}, "hours_per_week"),
        ({"start_date": None}, "start_date"),
        ({"end_date": date(2026, 2, 1)}, "end_date"),
        ({"hours_per_week": 24.0}, "hours_per_week"),
        ({"hours_per_week": Decimal("200")}, "hours_per_week"),
        ({"block": "flying"}, "block"),
    ],
)
def test_missing_or_bad_inputs_are_refused_and_nothing_is_saved(setup, change, field):
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, **change)
    assert field in excinfo.value.message_dict
    assert not Contribution.objects.exists()


def test_no_matching_rule_is_a_validation_error(setup):
    ww = f.CandidateFactory(contractor=setup.world.contractor_a, target_group="ww")
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, candidate=ww)
    assert "no rule" in str(excinfo.value)
    assert not Contribution.objects.exists()


def test_unknown_input_is_a_programming_error(setup):
    with pytest.raises(TypeError):
        submit(setup, bsn="123456782")


def test_social_activity_is_valued_by_hours(setup):
    inputs = {"block": "social_activity", "start_date": date(2026, 5, 1), "hours": Decimal("12.5")}
    contribution = submit(setup, candidate=None, hours_per_week=None, end_date=None, **inputs)
    expected = engine_value(setup.obligation, None, **inputs)
    assert contribution.value == expected.value == Decimal("1250.00")
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, candidate=None, **{**inputs, "hours": None})
    assert "hours" in excinfo.value.message_dict


def test_social_purchase_needs_enterprise_and_invoice(setup):
    Rule.objects.create(
        rulebook=setup.rulebook,
        code="purchase",
        label="Inkoop",
        block="social_purchase",
        kind="percentage",
        percent=Decimal("100"),
        fte_hours=None,
    )
    inputs = {
        "block": "social_purchase",
        "start_date": date(2026, 6, 1),
        "invoiced_amount": Decimal("1234.56"),
        "social_enterprise": "Sociaal Werkbedrijf",
    }
    base = {"candidate": None, "hours_per_week": None, "end_date": None}
    contribution = submit(setup, **base, **inputs)
    assert contribution.value == Decimal("1234.56")
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, **base, **{**inputs, "social_enterprise": ""})
    assert "social_enterprise" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, **base, **{**inputs, "invoiced_amount": None})
    assert "invoiced_amount" in excinfo.value.message_dict


def test_contribution_outside_window_is_zero_with_reason(setup):
    contribution = submit(setup, start_date=date(2028, 1, 1), end_date=date(2028, 6, 30))
    assert contribution.value == Decimal("0.00")
    # Stored explanations are Dutch records.
    assert any("Waarde is € 0,00; reden:" in line for line in contribution.value_explanation)


def test_obligation_without_rulebook_gives_clear_error(setup):
    Obligation.objects.filter(pk=setup.obligation.pk).update(rulebook=None)
    setup.obligation.refresh_from_db()
    with pytest.raises(ValidationError) as excinfo:
        value_of(obligation=setup.obligation, candidate=setup.candidate, **JOB)
    assert excinfo.value.code == "no_rulebook"
    with pytest.raises(ValidationError):
        submit(setup)
    assert not Contribution.objects.exists()


def test_settled_obligation_takes_no_contributions(setup):
    Obligation.objects.filter(pk=setup.obligation.pk).update(status=Obligation.Status.SETTLED)
    with pytest.raises(ValidationError):
        submit(setup)


# --- Updating --------------------------------------------------------------------------------


def test_update_revalues(setup):
    contribution = submit(setup)
    updated = update_contribution(
        acting_user=setup.world.contractor_a_user,
        contribution=contribution,
        hours_per_week=Decimal("36"),
    )
    expected = engine_value(setup.obligation, setup.candidate, **{**JOB, "hours_per_week": 36})
    assert updated.value == expected.value == Decimal("40000.00")
    assert Contribution.objects.get(pk=contribution.pk).hours_per_week == Decimal("36")


def test_returned_contribution_goes_back_to_submitted_on_update(setup):
    contribution = submit(setup)
    return_contribution(
        acting_user=setup.world.adviser, contribution=contribution, reason="Contract ontbreekt"
    )
    updated = update_contribution(
        acting_user=setup.world.contractor_a_user, contribution=contribution, description="Nu met"
    )
    assert updated.status == Contribution.Status.SUBMITTED
    assert updated.status_reason == "Contract ontbreekt"


@pytest.mark.parametrize("review", ["approve", "reject"])
def test_reviewed_contributions_are_locked(setup, review):
    contribution = submit(setup)
    if review == "approve":
        approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    else:
        reject_contribution(acting_user=setup.world.adviser, contribution=contribution, reason="x")
    with pytest.raises(ValidationError):
        update_contribution(
            acting_user=setup.world.contractor_a_user,
            contribution=contribution,
            hours_per_week=Decimal("36"),
        )
    assert Contribution.objects.get(pk=contribution.pk).hours_per_week == Decimal("24")


def test_update_refuses_other_contractor_and_their_candidate(setup):
    contribution = submit(setup)
    with pytest.raises(PermissionDenied):
        update_contribution(
            acting_user=setup.world.contractor_b_user,
            contribution=contribution,
            hours_per_week=Decimal("36"),
        )
    with pytest.raises(ValidationError) as excinfo:
        update_contribution(
            acting_user=setup.world.contractor_a_user,
            contribution=contribution,
            candidate=setup.candidate_b,
        )
    assert "candidate" in excinfo.value.message_dict
    assert Contribution.objects.get(pk=contribution.pk).candidate == setup.candidate


# --- Reviewing -------------------------------------------------------------------------------


def test_adviser_approves_and_value_counts_as_realised(setup):
    contribution = submit(setup)
    assert realised_amount(setup.obligation) == Decimal("0.00")
    approved = approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert approved.status == Contribution.Status.APPROVED
    assert approved.reviewed_by == setup.world.adviser
    assert approved.reviewed_at is not None
    assert realised_amount(setup.obligation) == contribution.value


def test_approving_twice_counts_once(setup):
    contribution = submit(setup)
    approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    with pytest.raises(ValidationError):
        approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert realised_amount(setup.obligation) == Decimal("26666.67")


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_a_user",
        "contractor_b_user",
        "officer_noordwijk",
        "council_noordwijk",
        "officer_katwijk",
        "functional_admin",
        "outsider",
    ],
)
def test_only_the_adviser_reviews(setup, persona):
    contribution = submit(setup)
    user = getattr(setup.world, persona)
    with pytest.raises(PermissionDenied):
        approve_contribution(acting_user=user, contribution=contribution)
    with pytest.raises(PermissionDenied):
        reject_contribution(acting_user=user, contribution=contribution, reason="nee")
    with pytest.raises(PermissionDenied):
        return_contribution(acting_user=user, contribution=contribution, reason="nee")
    with pytest.raises(PermissionDenied):
        approve_contribution(acting_user=AnonymousUser(), contribution=contribution)
    assert Contribution.objects.get(pk=contribution.pk).status == Contribution.Status.SUBMITTED


@pytest.mark.parametrize("review", [reject_contribution, return_contribution])
def test_reject_and_return_need_a_reason(setup, review):
    contribution = submit(setup)
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as excinfo:
            review(acting_user=setup.world.adviser, contribution=contribution, reason=reason)
        assert "reason" in excinfo.value.message_dict
    done = review(
        acting_user=setup.world.adviser, contribution=contribution, reason=" Geen bewijs "
    )
    assert done.status_reason == "Geen bewijs"
    assert done.reviewed_by == setup.world.adviser
    assert realised_amount(setup.obligation) == Decimal("0.00")


def test_only_submitted_contributions_can_be_reviewed(setup):
    contribution = submit(setup)
    reject_contribution(acting_user=setup.world.adviser, contribution=contribution, reason="nee")
    with pytest.raises(ValidationError):
        approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert realised_amount(setup.obligation) == Decimal("0.00")


def test_no_review_after_settlement(setup):
    contribution = submit(setup)
    Obligation.objects.filter(pk=setup.obligation.pk).update(status=Obligation.Status.SETTLED)
    with pytest.raises(ValidationError):
        approve_contribution(acting_user=setup.world.adviser, contribution=contribution)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_approvals_count_once(setup):
    """Two advisers approve the same item at the same moment (PostgreSQL row locks)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks; SQLite serialises writers instead")
    contribution = submit(setup)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve():
        try:
            barrier.wait()
            approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
            outcomes.append("approved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "refused"]
    assert realised_amount(setup.obligation) == contribution.value


# --- Eligibility: confirmed by the municipality's side before a placement counts ------------


def test_person_blocks_are_the_placements():
    assert services.PERSON_BLOCKS == {"job", "work_experience", "internship", "bbl"}


def test_placement_of_an_unconfirmed_candidate_cannot_be_approved(setup):
    unconfirmed = f.CandidateFactory(contractor=setup.world.contractor_a)
    contribution = submit(setup, candidate=unconfirmed)
    with pytest.raises(ValidationError) as excinfo:
        approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert excinfo.value.error_dict["candidate"][0].code == "eligibility_not_confirmed"
    assert "has not been confirmed" in str(excinfo.value)
    assert unconfirmed.code not in str(excinfo.value)
    assert Contribution.objects.get(pk=contribution.pk).status == Contribution.Status.SUBMITTED
    assert realised_amount(setup.obligation) == Decimal("0.00")
    # Rejecting or returning it needs no confirmation.
    return_contribution(
        acting_user=setup.world.adviser, contribution=contribution, reason="Graag bewijs"
    )


def test_confirmed_eligibility_lets_the_placement_be_approved(setup):
    unconfirmed = f.CandidateFactory(contractor=setup.world.contractor_a)
    contribution = submit(setup, candidate=unconfirmed)
    confirmed = confirm_eligibility(acting_user=setup.world.adviser, candidate=unconfirmed)
    confirmed.refresh_from_db()
    assert confirmed.eligibility_confirmed_at is not None
    assert confirmed.eligibility_confirmed_by == setup.world.adviser
    assert confirmed.target_group == "participatiewet"
    approved = approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert approved.status == Contribution.Status.APPROVED
    assert realised_amount(setup.obligation) == contribution.value


def test_a_contribution_without_a_person_needs_no_confirmation(setup):
    contribution = submit(
        setup,
        candidate=None,
        block="social_activity",
        start_date=date(2026, 5, 1),
        end_date=None,
        hours_per_week=None,
        hours=Decimal("10"),
    )
    approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert realised_amount(setup.obligation) == Decimal("1000.00")


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_a_user",  # the contractor reports, the municipality's side confirms
        "contractor_b_user",
        "officer_noordwijk",
        "council_noordwijk",
        "functional_admin",
        "outsider",
    ],
)
def test_only_the_adviser_confirms_eligibility(setup, persona):
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    f.ContributionFactory(obligation=setup.obligation, candidate=candidate)
    with pytest.raises(PermissionDenied):
        confirm_eligibility(acting_user=getattr(setup.world, persona), candidate=candidate)
    with pytest.raises(PermissionDenied):
        confirm_eligibility(acting_user=AnonymousUser(), candidate=candidate)
    assert Candidate.objects.get(pk=candidate.pk).eligibility_confirmed_at is None


def test_adviser_cannot_confirm_a_candidate_without_contributions_in_scope(setup):
    # The adviser sees a candidate through its contributions (sroi.permissions), not through
    # the contractor merely working in their municipalities.
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    with pytest.raises(PermissionDenied):
        confirm_eligibility(acting_user=setup.world.adviser, candidate=candidate)
    f.ContributionFactory(obligation=setup.obligation, candidate=candidate)
    assert confirm_eligibility(acting_user=setup.world.adviser, candidate=candidate)


def test_adviser_of_another_region_cannot_confirm(setup):
    lisse = f.MunicipalityFactory(name="Lisse")
    lisse_adviser = f.UserFactory(email="adviseur.lisse@example.nl")
    f.MembershipFactory(user=lisse_adviser, organisation=lisse, role="adviser")
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    f.ContributionFactory(obligation=setup.obligation, candidate=candidate)
    with pytest.raises(PermissionDenied):
        confirm_eligibility(acting_user=lisse_adviser, candidate=candidate)


def test_adviser_corrects_the_target_group_and_open_contributions_are_revalued(setup):
    Rule.objects.create(
        rulebook=setup.rulebook,
        code="job-ww",
        label="Baan WW",
        block="job",
        kind="annual",
        rate=Decimal("20000"),
        target_groups=["ww"],
        min_hours_per_week=Decimal("12"),
    )
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    contribution = submit(setup, candidate=candidate)
    assert contribution.value == Decimal("26666.67")  # as reported: Participatiewet

    corrected = confirm_eligibility(
        acting_user=setup.world.adviser, candidate=candidate, target_group="ww"
    )
    assert corrected.target_group == "ww"
    contribution.refresh_from_db()
    expected = engine_value(setup.obligation, corrected, **JOB)
    assert contribution.value == expected.value == Decimal("13333.33")
    assert contribution.rule_code == "job-ww"
    assert contribution.value_explanation == list(expected.explanation)
    approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    assert realised_amount(setup.obligation) == Decimal("13333.33")


def test_a_correction_no_rule_values_is_refused_and_nothing_changes(setup):
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    contribution = submit(setup, candidate=candidate)
    with pytest.raises(ValidationError) as excinfo:
        confirm_eligibility(acting_user=setup.world.adviser, candidate=candidate, target_group="ww")
    assert "target_group" in excinfo.value.message_dict
    candidate.refresh_from_db()
    assert (candidate.target_group, candidate.eligibility_confirmed_at) == ("participatiewet", None)
    assert Contribution.objects.get(pk=contribution.pk).value == contribution.value


def test_no_correction_after_an_approval_with_the_old_target_group(setup):
    contribution = submit(setup)  # setup.candidate is confirmed
    approve_contribution(acting_user=setup.world.adviser, contribution=contribution)
    with pytest.raises(ValidationError) as excinfo:
        confirm_eligibility(
            acting_user=setup.world.adviser, candidate=setup.candidate, target_group="wajong"
        )
    assert "target_group" in excinfo.value.message_dict
    assert Candidate.objects.get(pk=setup.candidate.pk).target_group == "participatiewet"
    # Confirming it as it is stays possible.
    again = confirm_eligibility(acting_user=setup.world.adviser, candidate=setup.candidate)
    assert again.target_group == "participatiewet"


@pytest.mark.parametrize(
    ("target_group", "note", "field"),
    [
        ("mayor", "", "target_group"),
        ("other", "", "target_group_note"),
        ("other", "Zie BSN 1234.56.782", "target_group_note"),
    ],
)
def test_confirmation_validates_the_correction(setup, target_group, note, field):
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    submit(setup, candidate=candidate)
    with pytest.raises(ValidationError) as excinfo:
        confirm_eligibility(
            acting_user=setup.world.adviser,
            candidate=candidate,
            target_group=target_group,
            note=note,
        )
    assert field in excinfo.value.message_dict
    assert "1234" not in str(excinfo.value)
    assert Candidate.objects.get(pk=candidate.pk).eligibility_confirmed_at is None


def test_confirmation_as_other_keeps_the_justification(setup):
    candidate = f.CandidateFactory(contractor=setup.world.contractor_a)
    # A rejected contribution is not valued again (only submitted or returned ones are).
    f.ContributionFactory(obligation=setup.obligation, candidate=candidate, rejected=True)
    confirmed = confirm_eligibility(
        acting_user=setup.world.adviser,
        candidate=candidate,
        target_group="other",
        note="  Langdurig   werkzoekend ",
    )
    assert (confirmed.target_group, confirmed.target_group_note) == (
        "other",
        "Langdurig werkzoekend",
    )


def test_anonymised_candidate_cannot_be_confirmed(setup):
    candidate = f.CandidateFactory(
        contractor=setup.world.contractor_a, anonymised_at=timezone.now()
    )
    f.ContributionFactory(obligation=setup.obligation, candidate=candidate)
    with pytest.raises(ValidationError):
        confirm_eligibility(acting_user=setup.world.adviser, candidate=candidate)


# --- No BSN in free text ---------------------------------------------------------------------

BSN_LIKE = ["123456782", "1234.56.782", "123 45 6782", "1234 - 56 - 782", "12345678"]


@pytest.mark.parametrize("number", BSN_LIKE)
@pytest.mark.parametrize("field", ["description", "delivered_by", "social_enterprise"])
def test_free_text_of_a_contribution_refuses_bsn_like_numbers(setup, field, number):
    with pytest.raises(ValidationError) as excinfo:
        submit(setup, **{field: f"Plaatsing {number}"})
    assert field in excinfo.value.message_dict
    assert number not in str(excinfo.value)
    assert not Contribution.objects.exists()


def test_update_refuses_a_bsn_like_number_too(setup):
    contribution = submit(setup, description="Hovenier")
    with pytest.raises(ValidationError) as excinfo:
        update_contribution(
            acting_user=setup.world.contractor_a_user,
            contribution=contribution,
            delivered_by="Onderaannemer, BSN 1234.56.782",
        )
    assert "delivered_by" in excinfo.value.message_dict
    assert Contribution.objects.get(pk=contribution.pk).delivered_by == ""


def test_dates_and_short_numbers_in_free_text_are_fine(setup):
    contribution = submit(
        setup,
        description="Gestart 01-03-2026 (periode 2026-03-01 - 2027-02-28), 24 uur, fase 2",
        delivered_by="Groen & Zo B.V.",
    )
    assert contribution.pk


@pytest.mark.parametrize("review", [reject_contribution, return_contribution])
@pytest.mark.parametrize("number", BSN_LIKE)
def test_review_reasons_refuse_bsn_like_numbers(setup, review, number):
    contribution = submit(setup)
    with pytest.raises(ValidationError) as excinfo:
        review(
            acting_user=setup.world.adviser,
            contribution=contribution,
            reason=f"Contract van {number} ontbreekt",
        )
    assert "reason" in excinfo.value.message_dict
    assert Contribution.objects.get(pk=contribution.pk).status == Contribution.Status.SUBMITTED
