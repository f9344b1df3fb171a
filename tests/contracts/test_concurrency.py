"""Concurrency of the contracts services: two advisers settling the same obligation at the
same moment settle it once, and a settlement, an agreement, a contract change or a policy
change running at the same time leave one consistent state (no deadlock, no stale totals).

The threads start together (a ``threading.Barrier``) against a real PostgreSQL server; SQLite
serialises writers by itself, so these tests skip there (CI runs the suite on PostgreSQL too).
A hook sleeps between a service's check and its write to make overlapping likely; no test
asserts on timings.

The world policy: threshold 100,000, 5%, PSO trede 2 → 20%, 90 days' grace. The contract:
500,000 excl. VAT, 01-02-2026 .. 31-01-2027, so 25,000.00 is required by 01-05-2027.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError

from contracts import policy_services, services
from contracts.models import Contract, Obligation, ObligationChange, Settlement, SroiPolicy
from contracts.obligation_calc import Deviation
from sroi.models import Role
from tests import factories as f
from tests.concurrency import needs_postgresql, run_at_once, split, widen  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
Decision = Settlement.Decision
AT_DEADLINE = date(2027, 5, 1)


def contract_fields(world, **overrides) -> dict:
    return {
        "municipality": world.noordwijk,
        "reference": "NW-2026-001",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a,
        "kind": Contract.Kind.WORKS,
        "value_excl_vat": D("500000.00"),
        "award_date": date(2026, 1, 15),
        "start_date": date(2026, 2, 1),
        "end_date": date(2027, 1, 31),
        **overrides,
    }


@pytest.fixture
def race(world):
    """An obligation of 25,000.00 with 12,500.50 approved; five advisers serve Noordwijk."""
    contract, obligation = services.create_contract(
        acting_user=world.officer_noordwijk, **contract_fields(world)
    )
    for value in ("10000.00", "2500.50"):
        f.ContributionFactory(obligation=obligation, value=D(value), approved=True)
    f.ContributionFactory(obligation=obligation, value=D("4000.00"))  # submitted: not counted
    advisers = [world.adviser]
    for number in range(2, 6):
        user = f.UserFactory(email=f"adviseur{number}@example.nl")
        f.MembershipFactory(user=user, organisation=world.executing_body, role=Role.ADVISER)
        advisers.append(user)
    return SimpleNamespace(world=world, contract=contract, obligation=obligation, advisers=advisers)


def settle(race, user, decision=Decision.FINE, **kwargs):
    return lambda: services.settle_obligation(
        acting_user=user,
        obligation=race.obligation,
        decision=decision,
        reason=kwargs.pop("reason", f"Besluit van {user.email}"),
        today=AT_DEADLINE,
        **kwargs,
    )


def created_in_audit_trail(model) -> int:
    return LogEntry.objects.get_for_model(model).filter(action=LogEntry.Action.CREATE).count()


# --- Settling ----------------------------------------------------------------------------------


@pytest.mark.parametrize("advisers", [2, 5])
def test_simultaneous_settlements_settle_once(race, monkeypatch, advisers):
    widen(monkeypatch, services, "realised_amount")
    outcomes = run_at_once(*(settle(race, user) for user in race.advisers[:advisers]))
    settled, refused = split(outcomes, Settlement)
    assert len(settled) == 1, f"{len(settled)} settlements succeeded"
    assert len(refused) == advisers - 1
    assert all("already been settled" in " ".join(r.messages) for r in refused)
    settlement = Settlement.objects.get(obligation=race.obligation)
    assert settlement.pk == settled[0].pk
    assert settlement.decided_by == settled[0].decided_by
    # required 25,000.00 − realised 12,500.50 (approved only) = shortfall 12,499.50 = fine
    assert (settlement.required_amount, settlement.realised_amount) == (
        D("25000.00"),
        D("12500.50"),
    )
    assert (settlement.shortfall, settlement.amount) == (D("12499.50"), D("12499.50"))
    race.obligation.refresh_from_db()
    assert race.obligation.status == Obligation.Status.SETTLED
    kinds = list(race.obligation.changes.values_list("kind", flat=True))
    assert kinds.count(ObligationChange.Kind.SETTLED) == 1
    assert created_in_audit_trail(Settlement) == 1


def test_fine_and_waiver_at_once_one_decision_stands(race, monkeypatch):
    widen(monkeypatch, services, "realised_amount")
    outcomes = run_at_once(
        settle(race, race.advisers[0], Decision.FINE),
        settle(race, race.advisers[1], Decision.WAIVER),
    )
    settled, refused = split(outcomes, Settlement)
    assert len(settled) == len(refused) == 1
    settlement = Settlement.objects.get(obligation=race.obligation)
    assert settlement.decision == settled[0].decision
    expected_amount = D("12499.50") if settlement.decision == Decision.FINE else D("0.00")
    assert settlement.amount == expected_amount
    assert settlement.realised_amount == services.realised_amount(race.obligation)


def test_fine_and_extension_at_once_one_decision_stands(race, monkeypatch):
    """The extension first (the fine is then too early), or the fine first (nothing left to
    extend): exactly one decision, and the obligation shows that one."""
    widen(monkeypatch, services, "realised_amount")
    outcomes = run_at_once(
        settle(race, race.advisers[0], Decision.FINE),
        settle(race, race.advisers[1], Decision.EXTENSION, new_deadline=date(2027, 12, 31)),
    )
    settled, refused = split(outcomes, Settlement)
    assert len(settled) == len(refused) == 1
    settlement = Settlement.objects.get(obligation=race.obligation)
    race.obligation.refresh_from_db()
    if settlement.decision == Decision.EXTENSION:
        assert race.obligation.status == Obligation.Status.OPEN
        assert race.obligation.deadline == date(2027, 12, 31)
    else:
        assert settlement.decision == Decision.FINE
        assert race.obligation.status == Obligation.Status.SETTLED
        assert race.obligation.deadline == AT_DEADLINE


@pytest.mark.parametrize("settle_first", [True, False])
def test_contract_changed_while_settling_is_settled_with_one_amount(
    race, monkeypatch, settle_first
):
    """The change first (the settlement judges the new amount) or the settlement first (the
    change is refused): the settled amount is always the obligation's, and no deadlock."""
    widen(monkeypatch, services, "realised_amount")
    widen(monkeypatch, services, "_compute")
    calls = [
        settle(race, race.advisers[0]),
        lambda: services.update_contract(
            acting_user=race.world.officer_noordwijk,
            contract=race.contract,
            value_excl_vat=D("600000.00"),
            reason="Meerwerk",
        ),
    ]
    outcomes = run_at_once(*(calls if settle_first else calls[::-1]))
    settlement, change = outcomes if settle_first else outcomes[::-1]
    assert isinstance(settlement, Settlement), settlement
    race.obligation.refresh_from_db()
    race.contract.refresh_from_db()
    if isinstance(change, Contract):
        assert settlement.required_amount == D("30000.00")  # 600,000 × 5%
    else:
        assert isinstance(change, ValidationError), change
        assert race.contract.value_excl_vat == D("500000.00")
        assert settlement.required_amount == D("25000.00")
    assert race.obligation.base_amount == race.contract.value_excl_vat
    assert settlement.required_amount == race.obligation.amount
    assert race.obligation.status == Obligation.Status.SETTLED


# --- Agreeing and changing -----------------------------------------------------------------------


@pytest.mark.parametrize("agree_first", [True, False])
def test_deviation_agreed_while_the_contract_changes_uses_the_final_value(
    race, monkeypatch, agree_first
):
    """An agreed 3% and a new contract value at the same moment: the obligation ends at 3% of
    the contract's final value whichever comes first (never 3% of the old value)."""
    widen(monkeypatch, services, "_compute")
    calls = [
        lambda: services.agree_obligation(
            acting_user=race.advisers[0],
            obligation=race.obligation,
            deviation=Deviation(kind="custom_percentage", percentage=D("3.00"), reason="Markt"),
        ),
        lambda: services.update_contract(
            acting_user=race.world.officer_noordwijk,
            contract=race.contract,
            value_excl_vat=D("600000.00"),
            reason="Meerwerk",
        ),
    ]
    outcomes = run_at_once(*(calls if agree_first else calls[::-1]))
    split(outcomes, Obligation | Contract)
    assert all(not isinstance(o, ValidationError) for o in outcomes), outcomes
    race.obligation.refresh_from_db()
    race.contract.refresh_from_db()
    assert race.contract.value_excl_vat == D("600000.00")
    assert race.obligation.base_amount == D("600000.00")
    assert race.obligation.percentage == D("3.00")
    assert race.obligation.amount == D("18000.00")  # 600,000 × 3%


def test_missing_obligation_created_twice_at_once_exists_once(race, monkeypatch):
    contract = f.ContractFactory(
        municipality=race.world.noordwijk, contractor=race.world.contractor_a
    )
    widen(monkeypatch, services, "preview_obligation")
    outcomes = run_at_once(
        *(
            lambda user=user: services.create_missing_obligation(
                acting_user=user, contract=contract
            )
            for user in race.advisers[:2]
        )
    )
    created, refused = split(outcomes, Obligation)
    assert len(created) == len(refused) == 1
    assert Obligation.objects.get(contract=contract).pk == created[0].pk
    assert ObligationChange.objects.filter(obligation__contract=contract).count() == 1


def test_the_same_contract_entered_twice_at_once_exists_once(race, monkeypatch):
    """A double submission of the contract form: one contract and one obligation, and the
    second gets the duplicate-reference error instead of a server error."""
    widen(monkeypatch, services, "preview_obligation")
    users = [race.world.officer_noordwijk, race.advisers[0]]
    outcomes = run_at_once(
        *(
            lambda user=user: services.create_contract(
                acting_user=user, **contract_fields(race.world, reference="NW-2026-002")
            )
            for user in users
        )
    )
    created, refused = split(outcomes, tuple)
    assert len(created) == len(refused) == 1
    assert "reference" in " ".join(refused[0].messages).lower()
    contract = Contract.objects.get(reference="NW-2026-002")
    assert Obligation.objects.filter(contract=contract).count() == 1


def test_policy_changed_while_a_contract_is_entered_keeps_its_terms(race, monkeypatch):
    """A policy version (percentage and PSO discount) is changed while a contract is entered
    under it: the change comes first and the obligation uses the new terms, or the obligation
    comes first and the change is refused (the version is then in use). Never an obligation
    computed with terms its policy version no longer holds."""
    policy = f.PolicyFactory(
        municipality=race.world.katwijk, valid_from=date(2025, 1, 1), discounts={"trede_2": D("20")}
    )
    contractor = f.ContractorFactory(
        pso_level="trede_2", pso_valid_from=date(2020, 1, 1), pso_valid_until=date(2030, 12, 31)
    )
    widen(monkeypatch, policy_services, "_check_terms")
    widen(monkeypatch, services, "_compute")
    outcomes = run_at_once(
        lambda: policy_services.update_policy(
            acting_user=race.advisers[1],
            policy=policy,
            terms={"default_percentage": D("6.00")},
            pso_discounts={"trede_2": D("50")},
        ),
        lambda: services.create_contract(
            acting_user=race.world.officer_katwijk,
            **contract_fields(race.world, municipality=race.world.katwijk, contractor=contractor),
        ),
    )
    changed, created = outcomes
    assert isinstance(created, tuple), created
    obligation = created[1]
    obligation.refresh_from_db()
    policy.refresh_from_db()
    assert obligation.policy_id == policy.pk
    discount = policy.pso_discounts.get(level="trede_2").discount_percentage
    assert (obligation.percentage, obligation.pso_discount) == (
        policy.default_percentage,
        discount,
    )
    if isinstance(changed, SroiPolicy):
        assert obligation.amount == D("15000.00")  # 500,000 × 6% × (1 − 50%)
    else:
        assert isinstance(changed, ValidationError), changed
        assert obligation.amount == D("20000.00")  # 500,000 × 5% × (1 − 20%)
