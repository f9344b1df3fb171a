"""contracts.services.create_contracts: many contracts at once (the spreadsheet import's write
path). It must store what :func:`services.create_contract` stores, row by row, refuse what it
refuses (with the same messages, naming the row), and write nothing when any row fails.

World policy (both municipalities, valid from 01-01-2020): threshold 100,000, 5%, reduced 2%,
90 grace days, PSO trede 2 → 20%.
"""

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from contracts import services
from contracts.models import Contract, Contractor, Obligation, ObligationChange, PolicyBase
from tests import factories as f

D = Decimal

#: What the obligation computation decides; compared between the two write paths.
OBLIGATION_FIELDS = (
    "policy_id",
    "rulebook_id",
    "base",
    "base_amount",
    "percentage",
    "pso_level",
    "pso_discount",
    "pso_certificate_level",
    "pso_valid_from",
    "pso_valid_until",
    "amount",
    "deviation",
    "deviation_reason",
    "explanation",
    "window_start",
    "deadline",
    "status",
)


def fields(world, **overrides) -> dict:
    values = {
        "municipality": world.noordwijk,
        "reference": "NW-2026-001",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a,
        "kind": Contract.Kind.WORKS,
        "value_excl_vat": D("500000.00"),
        "award_date": date(2026, 1, 15),
        "start_date": date(2026, 2, 1),
        "end_date": date(2027, 1, 31),
    }
    values.update(overrides)
    return values


def counts() -> tuple[int, ...]:
    return (
        Contract.objects.count(),
        Obligation.objects.count(),
        ObligationChange.objects.count(),
        Contractor.objects.count(),
        LogEntry.objects.count(),
    )


def refused(user, rows) -> services.BulkRowError:
    before = counts()
    with pytest.raises(services.BulkRowError) as caught:
        services.create_contracts(acting_user=user, rows=rows)
    assert counts() == before, "a refused batch wrote something"
    return caught.value


def test_the_same_obligations_as_create_contract(world):
    """Policy versions by award date, a PSO certificate, a labour-cost policy, below the
    threshold, a rulebook: each case through both paths gives the same obligation."""
    f.RulebookFactory(municipalities=[world.noordwijk, world.katwijk], valid_from=date(2024, 1, 1))
    f.PolicyFactory(
        municipality=world.noordwijk,
        valid_from=date(2026, 1, 1),
        threshold=D("200000.00"),
        default_percentage=D("6.00"),
        grace_days=180,
        discounts={},
    )
    katwijk_policy = world.katwijk.sroi_policies.get()
    katwijk_policy.base = PolicyBase.LABOUR_COST
    katwijk_policy.save()
    certified = f.ContractorFactory(
        pso_level="trede_2", pso_valid_from=date(2020, 1, 1), pso_valid_until=date(2030, 12, 31)
    )
    cases = [
        {},  # the 2026 version: 6%, 180 days
        {"award_date": date(2025, 6, 1)},  # the 2020 version: 5%, 90 days
        {"award_date": date(2023, 6, 1)},  # before the rulebook
        {"value_excl_vat": D("150000.00")},  # below the 2026 threshold
        {"contractor": certified, "award_date": date(2025, 6, 1)},  # PSO discount
        {"municipality": world.katwijk, "labour_cost": D("200000.00")},
        {"procurement_officer": world.officer_noordwijk, "description": "Fase 2"},
    ]
    user = world.adviser
    single = [
        services.create_contract(acting_user=user, **fields(world, reference=f"S-{i}", **case))
        for i, case in enumerate(cases)
    ]
    rows = [(i, fields(world, reference=f"B-{i}", **case)) for i, case in enumerate(cases)]
    bulk = services.create_contracts(acting_user=user, rows=rows)

    assert [c.reference for c, _o in bulk] == [f"B-{i}" for i in range(len(cases))]
    assert sum(o is None for _c, o in bulk) == 1
    for (one, one_obligation), (many, many_obligation) in zip(single, bulk, strict=True):
        many.refresh_from_db()
        for name in services.CONTRACT_FIELDS:
            if name != "reference":
                assert getattr(many, name) == getattr(one, name), name
        if one_obligation is None:
            assert many_obligation is None
            assert not Obligation.objects.filter(contract=many).exists()
            continue
        stored = Obligation.objects.get(contract=many)
        for name in OBLIGATION_FIELDS:
            assert getattr(stored, name) == getattr(one_obligation, name), name
        one_change = one_obligation.changes.get()
        many_change = stored.changes.get()
        for name in ("kind", "new_amount", "new_deadline", "reason", "details", "changed_by"):
            assert getattr(many_change, name) == getattr(one_change, name), name
    # The audit trail: one "created" entry per contract and per obligation, as on save.
    for contract, obligation in bulk:
        for obj in (contract, obligation) if obligation else (contract,):
            (entry,) = LogEntry.objects.get_for_object(obj)
            assert entry.action == LogEntry.Action.CREATE
            assert entry.object_repr == str(obj)


def test_a_new_contractor_is_created_once_for_all_its_rows(world):
    new = Contractor(name="Nieuw Bouwbedrijf B.V.", kvk_number="87654321")
    rows = [(i, fields(world, reference=f"N-{i}", contractor=new)) for i in range(3)]
    created = services.create_contracts(acting_user=world.officer_noordwijk, rows=rows)
    stored = Contractor.objects.get(kvk_number="87654321")
    assert {c.contractor_id for c, _o in created} == {stored.pk}
    (entry,) = LogEntry.objects.get_for_object(stored)
    assert entry.action == LogEntry.Action.CREATE


def test_a_reference_already_in_the_database_names_the_row(world):
    services.create_contract(acting_user=world.officer_noordwijk, **fields(world))
    with pytest.raises(ValidationError) as single:
        services.create_contract(acting_user=world.officer_noordwijk, **fields(world))
    rows = [(2, fields(world, reference="OK-1")), (3, fields(world))]
    error = refused(world.officer_noordwijk, rows)
    assert error.key == 3
    assert error.error.message_dict == single.value.message_dict


def test_a_reference_twice_in_the_rows_names_the_second(world):
    rows = [(2, fields(world)), (3, fields(world, title="Ander"))]
    error = refused(world.officer_noordwijk, rows)
    assert error.key == 3
    assert error.error.messages == [
        "Contract with this Commissioning municipality and Reference already exists."
    ]


def test_a_contract_entered_meanwhile_is_found_after_the_insert_fails(world, monkeypatch):
    """Another user commits the same reference between the check and the INSERT: the
    database refuses the INSERT and the row is named with full_clean()'s message."""
    real_check = services._check_references_unique
    calls = []

    def late(keys, contracts):
        calls.append(len(contracts))
        if len(calls) == 1:
            # After the check passed: the other user's contract arrives.
            f.ContractFactory(municipality=world.noordwijk, reference="NW-2026-001")
            return None
        return real_check(keys, contracts)

    monkeypatch.setattr(services, "_check_references_unique", late)
    with pytest.raises(services.BulkRowError) as caught:
        services.create_contracts(
            acting_user=world.officer_noordwijk,
            rows=[(2, fields(world, reference="OK-1")), (3, fields(world))],
        )
    assert calls == [2, 2]
    assert caught.value.key == 3
    assert "already exists" in caught.value.error.messages[0]
    # Nothing is left: the batch is rolled back (here with the "other user's" contract,
    # which shares its transaction).
    assert not Contract.objects.filter(reference="OK-1").exists()


def test_a_kvk_number_taken_meanwhile_is_refused(world):
    new = Contractor(name="Kopie B.V.", kvk_number=world.contractor_a.kvk_number)
    with pytest.raises(ValidationError) as single:
        services.create_contractor(
            acting_user=world.officer_noordwijk, name="Kopie B.V.", kvk_number=new.kvk_number
        )
    error = refused(world.officer_noordwijk, [(7, fields(world, contractor=new))])
    assert error.key == 7
    assert error.error.message_dict == single.value.message_dict


def test_a_municipality_the_user_may_not_enter_contracts_for(world):
    rows = [(2, fields(world, municipality=world.katwijk)), (3, fields(world))]
    error = refused(world.officer_katwijk, rows)
    assert error.key == 3
    assert isinstance(error.error, PermissionDenied)


def test_no_policy_in_force_rolls_back_contractors_and_contracts(world):
    """The obligation is computed after the contractors and contracts were inserted: its
    failure rolls them back too."""
    new = Contractor(name="Nieuw B.V.", kvk_number="87654321")
    rows = [
        (2, fields(world, reference="A-1", contractor=new)),
        (3, fields(world, reference="A-2", award_date=date(2019, 6, 1))),
    ]
    error = refused(world.officer_noordwijk, rows)
    assert error.key == 3
    assert error.error.messages == ["No SROI policy of Noordwijk is in force on 01-06-2019."]
    assert not Contractor.objects.filter(kvk_number="87654321").exists()


def test_invalid_fields_are_refused_as_full_clean_refuses_them(world):
    bad = fields(world, reference="X-1", end_date=date(2025, 1, 1), kind="bridges")
    with pytest.raises(ValidationError) as single:
        services.create_contract(acting_user=world.officer_noordwijk, **bad)
    error = refused(world.officer_noordwijk, [(4, bad)])
    assert error.key == 4
    assert error.error.message_dict == single.value.message_dict


def test_no_rows_write_nothing(world):
    assert services.create_contracts(acting_user=world.officer_noordwijk, rows=[]) == []
