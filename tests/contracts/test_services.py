"""contracts.services against the database, with the personas of ``world``.

World policy (both municipalities, valid from 01-01-2020): threshold 100,000, 5%, reduced 2%,
90 grace days, PSO trede 2 → 20%. The default contract below: 500,000 excl. VAT, awarded
15-01-2026, running 01-02-2026 .. 31-01-2027, so the obligation is 500,000 × 5% = 25,000.00 and
the deadline 31-01-2027 + 90 days = 01-05-2027.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from contracts import selectors, services
from contracts.models import (
    Contract,
    Contractor,
    Obligation,
    ObligationChange,
    PolicyBase,
    Settlement,
)
from contracts.obligation_calc import Deviation
from placements.models import Contribution
from tests import factories as f

D = Decimal
Kind = ObligationChange.Kind
Decision = Settlement.Decision
# The default contract's deadline (31-01-2027 + 90 days): fines, buy-outs and waivers are
# decided on or after it.
AT_DEADLINE = date(2027, 5, 1)


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


def create(world, user=None, **overrides):
    return services.create_contract(
        acting_user=user or world.officer_noordwijk, **fields(world, **overrides)
    )


def counts() -> tuple[int, int, int]:
    return Contract.objects.count(), Obligation.objects.count(), ObligationChange.objects.count()


def approve(obligation, value, **kwargs):
    return f.ContributionFactory(obligation=obligation, value=D(value), approved=True, **kwargs)


# --- create_contract -------------------------------------------------------------------------


def test_officer_creates_contract_with_obligation(world):
    contract, obligation = create(world)

    assert contract.pk and contract.municipality == world.noordwijk
    obligation.refresh_from_db()
    # 500,000.00 × 5% = 25,000.00; deadline 31-01-2027 + 90 days = 01-05-2027
    assert obligation.amount == D("25000.00")
    assert obligation.percentage == D("5.00")
    assert obligation.base == PolicyBase.CONTRACT_VALUE
    assert obligation.base_amount == D("500000.00")
    assert obligation.deadline == date(2027, 5, 1)
    assert obligation.window_start == date(2026, 1, 15)
    assert obligation.status == Obligation.Status.OPEN
    assert obligation.policy.municipality == world.noordwijk
    assert obligation.explanation and "€ 25.000,00" in obligation.explanation[-2]

    changes = list(obligation.changes.all())
    assert [c.kind for c in changes] == [Kind.CREATED]
    created = changes[0]
    assert created.old_amount is None
    assert created.new_amount == D("25000.00")
    assert created.new_deadline == date(2027, 5, 1)
    assert created.changed_by == world.officer_noordwijk
    assert created.details["explanation"] == obligation.explanation


def test_contract_at_threshold_gets_obligation(world):
    _, obligation = create(world, value_excl_vat=D("100000.00"))
    # 100,000.00 × 5% = 5,000.00
    assert obligation.amount == D("5000.00")


def test_contract_below_threshold_gets_no_obligation(world):
    contract, obligation = create(world, value_excl_vat=D("99999.99"))
    assert obligation is None
    assert contract.pk is not None
    assert not Obligation.objects.filter(contract=contract).exists()
    assert ObligationChange.objects.count() == 0


def test_adviser_may_create_contracts_in_served_municipalities(world):
    _, obligation = create(world, user=world.adviser, municipality=world.katwijk)
    assert obligation.contract.municipality == world.katwijk
    assert obligation.policy.municipality == world.katwijk


def test_officer_of_other_municipality_cannot_create_and_nothing_is_written(world):
    before = counts()
    with pytest.raises(PermissionDenied):
        create(world, user=world.officer_katwijk)
    assert counts() == before == (0, 0, 0)


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_a_user",
        "council_noordwijk",
        "council_katwijk",
        "functional_admin",
        "outsider",
        "anonymous",
    ],
)
def test_others_cannot_create_contracts(world, persona):
    user = AnonymousUser() if persona == "anonymous" else getattr(world, persona)
    with pytest.raises(PermissionDenied):
        create(world, user=user)
    assert counts() == (0, 0, 0)


def test_inactive_officer_cannot_create(world):
    world.officer_noordwijk.is_active = False
    world.officer_noordwijk.save()
    with pytest.raises(PermissionDenied):
        create(world)


def test_unknown_field_is_refused(world):
    with pytest.raises(TypeError):
        services.create_contract(acting_user=world.officer_noordwijk, colour="red", **fields(world))


def test_duplicate_reference_in_same_municipality_refused(world):
    create(world)
    with pytest.raises(ValidationError):
        create(world, title="Iets anders")
    assert Contract.objects.filter(reference="NW-2026-001").count() == 1


def test_same_reference_in_other_municipality_allowed(world):
    create(world)
    contract, obligation = create(world, user=world.officer_katwijk, municipality=world.katwijk)
    assert contract.municipality == world.katwijk
    assert obligation is not None
    assert Contract.objects.filter(reference="NW-2026-001").count() == 2


def test_end_before_start_refused(world):
    with pytest.raises(ValidationError) as exc:
        create(world, start_date=date(2026, 6, 1), end_date=date(2026, 5, 31))
    assert "end_date" in exc.value.message_dict
    assert counts() == (0, 0, 0)


def test_labour_cost_above_value_refused(world):
    with pytest.raises(ValidationError) as exc:
        create(world, labour_cost=D("500000.01"))
    assert "labour_cost" in exc.value.message_dict


def test_no_policy_in_force_refused_and_nothing_written(world):
    # World policies start 01-01-2020: an award in 2019 has no policy in force.
    with pytest.raises(ValidationError):
        create(
            world,
            award_date=date(2019, 12, 31),
            start_date=date(2020, 1, 1),
            end_date=date(2020, 12, 31),
        )
    assert counts() == (0, 0, 0)


def test_deviation_without_reason_at_creation_refused_and_nothing_written(world):
    with pytest.raises(ValidationError):
        services.create_contract(
            acting_user=world.adviser,
            deviation=Deviation(kind="exemption", reason=" "),
            **fields(world),
        )
    assert counts() == (0, 0, 0)


def test_adviser_creates_with_reasoned_deviation(world):
    _, obligation = services.create_contract(
        acting_user=world.adviser,
        deviation=Deviation(kind="reduced_percentage", reason="Loonaandeel 20%"),
        **fields(world, labour_cost=D("100000.00")),
    )
    # labour share 100,000 / 500,000 = 20% < 30%, so the reduced 2% may apply:
    # 500,000 × 2% = 10,000.00
    assert obligation.amount == D("10000.00")
    assert obligation.deviation == Obligation.Deviation.REDUCED_PERCENTAGE
    assert obligation.changes.get().reason == "Loonaandeel 20%"


def test_procurement_officer_cannot_grant_a_deviation_at_creation(world):
    with pytest.raises((PermissionDenied, ValidationError)):
        services.create_contract(
            acting_user=world.officer_noordwijk,
            deviation=Deviation(kind="exemption", reason="Geen zin in SROI"),
            **fields(world),
        )
    assert Obligation.objects.filter(deviation="exemption").count() == 0


def test_below_threshold_contract_in_labour_cost_municipality_needs_no_labour_cost(world):
    policy = world.noordwijk.sroi_policies.get()
    policy.base = PolicyBase.LABOUR_COST
    policy.save()
    contract, obligation = create(world, value_excl_vat=D("50000.00"), labour_cost=None)
    assert contract.pk is not None
    assert obligation is None


def test_labour_cost_municipality_uses_labour_cost(world):
    policy = world.noordwijk.sroi_policies.get()
    policy.base = PolicyBase.LABOUR_COST
    policy.save()
    _, obligation = create(world, labour_cost=D("200000.00"))
    # 200,000 × 5% = 10,000.00
    assert obligation.base == PolicyBase.LABOUR_COST
    assert obligation.amount == D("10000.00")
    with pytest.raises(ValidationError):
        create(world, reference="NW-2026-002", labour_cost=None)


# --- Contractors ------------------------------------------------------------------------------


@pytest.mark.parametrize("kvk", ["1234567", "123456789", "1234567A", "ABCDEFGH", "1234 567", ""])
def test_create_contractor_refuses_invalid_kvk(world, kvk):
    with pytest.raises(ValidationError) as exc:
        services.create_contractor(
            acting_user=world.officer_noordwijk, name="Nieuw B.V.", kvk_number=kvk
        )
    assert "kvk_number" in exc.value.message_dict
    assert not Contractor.objects.filter(name="Nieuw B.V.").exists()


def test_create_contractor_refuses_non_ascii_digits(world):
    with pytest.raises(ValidationError):
        services.create_contractor(
            acting_user=world.officer_noordwijk, name="Nieuw B.V.", kvk_number="１２３４５６７８"
        )


def test_create_contractor_valid_with_contacts(world):
    contractor = services.create_contractor(
        acting_user=world.officer_noordwijk,
        name="Nieuw B.V.",
        kvk_number="87654321",
        contacts=[{"name": "J. Jansen", "email": "j.jansen@example.nl"}],
    )
    assert contractor.kvk_number == "87654321"
    assert list(contractor.contacts.values_list("name", flat=True)) == ["J. Jansen"]


def test_create_contractor_duplicate_kvk_refused(world):
    with pytest.raises(ValidationError):
        services.create_contractor(
            acting_user=world.officer_noordwijk,
            name="Kopie",
            kvk_number=world.contractor_a.kvk_number,
        )


@pytest.mark.parametrize("persona", ["contractor_a_user", "council_noordwijk", "outsider"])
def test_create_contractor_needs_create_contract_right(world, persona):
    with pytest.raises(PermissionDenied):
        services.create_contractor(
            acting_user=getattr(world, persona), name="Nieuw B.V.", kvk_number="87654321"
        )


# --- Policy in force --------------------------------------------------------------------------


@pytest.fixture
def second_policy(world):
    """Noordwijk's policy from 01-01-2026: threshold 200,000, 6%, 180 grace days."""
    return f.PolicyFactory(
        municipality=world.noordwijk,
        valid_from=date(2026, 1, 1),
        threshold=D("200000.00"),
        default_percentage=D("6.00"),
        grace_days=180,
        discounts={},
    )


def test_policy_in_force_picks_latest_version_on_or_before_date(world, second_policy):
    old = world.noordwijk.sroi_policies.get(valid_from=date(2020, 1, 1))
    on = services.policy_in_force
    assert on(municipality_id=world.noordwijk.pk, on_date=date(2025, 12, 31)) == old
    assert on(municipality_id=world.noordwijk.pk, on_date=date(2026, 1, 1)) == second_policy
    assert on(municipality_id=world.noordwijk.pk, on_date=date(2019, 12, 31)) is None
    # Katwijk is not affected by Noordwijk's new version
    assert on(municipality_id=world.katwijk.pk, on_date=date(2026, 6, 1)).valid_from == date(
        2020, 1, 1
    )


def test_award_before_new_policy_uses_old_policy(world, second_policy):
    _, obligation = create(
        world,
        value_excl_vat=D("150000.00"),
        award_date=date(2025, 12, 31),
        start_date=date(2026, 1, 5),
        end_date=date(2026, 12, 31),
    )
    # old policy: 150,000 ≥ 100,000 → 150,000 × 5% = 7,500.00; 31-12-2026 + 90 = 31-03-2027
    assert obligation.policy.valid_from == date(2020, 1, 1)
    assert obligation.amount == D("7500.00")
    assert obligation.deadline == date(2027, 3, 31)


def test_award_on_new_policy_date_uses_new_policy(world, second_policy):
    _, none = create(
        world,
        value_excl_vat=D("150000.00"),
        award_date=date(2026, 1, 1),
        start_date=date(2026, 1, 5),
        end_date=date(2026, 12, 31),
    )
    # new policy: 150,000 < 200,000 → no obligation
    assert none is None
    _, obligation = create(
        world,
        reference="NW-2026-002",
        value_excl_vat=D("300000.00"),
        award_date=date(2026, 1, 1),
        start_date=date(2026, 1, 5),
        end_date=date(2026, 12, 31),
    )
    # 300,000 × 6% = 18,000.00; 31-12-2026 + 180 days = 29-06-2027
    # (Jan 31, Feb 28 → 59, Mar 31 → 90, Apr 30 → 120, May 31 → 151, Jun 29 → 180)
    assert obligation.policy == second_policy
    assert obligation.amount == D("18000.00")
    assert obligation.deadline == date(2027, 6, 29)


def test_preview_obligation_reports_missing_policy(world):
    contract = Contract(**fields(world, award_date=date(2019, 1, 1)))
    preview = services.preview_obligation(contract)
    assert preview.policy is None and preview.computation is None
    assert "01-01-2019" in preview.error


# --- PSO --------------------------------------------------------------------------------------


def certify(contractor, valid_from, valid_until, level="trede_2"):
    contractor.pso_level = level
    contractor.pso_valid_from = valid_from
    contractor.pso_valid_until = valid_until
    contractor.full_clean()
    contractor.save()


def test_pso_discount_when_certified_for_whole_contract(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31))
    _, obligation = create(world)
    # 500,000 × 5% × (1 − 20%) = 20,000.00
    assert obligation.pso_level == "trede_2"
    assert obligation.pso_discount == D("20.00")
    assert obligation.amount == D("20000.00")


def test_pso_discount_when_certificate_exactly_covers_contract(world):
    certify(world.contractor_a, date(2026, 2, 1), date(2027, 1, 31))
    _, obligation = create(world)
    assert obligation.amount == D("20000.00")


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [
        (date(2020, 1, 1), date(2027, 1, 30)),  # ends one day before the contract end
        (date(2026, 2, 2), date(2030, 12, 31)),  # starts one day after the contract start
    ],
)
def test_no_pso_discount_when_not_certified_for_whole_contract(world, valid_from, valid_until):
    certify(world.contractor_a, valid_from, valid_until)
    _, obligation = create(world)
    # no discount: 500,000 × 5% = 25,000.00
    assert obligation.pso_level == ""
    assert obligation.pso_discount == D("0")
    assert obligation.amount == D("25000.00")


def test_no_pso_discount_for_level_without_discount_in_policy(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31), level="trede_3")
    _, obligation = create(world)
    assert obligation.pso_discount == D("0")
    assert obligation.amount == D("25000.00")


# --- update_contract --------------------------------------------------------------------------


def test_value_change_recomputes_with_old_and_new_amount(world):
    contract, obligation = create(world)
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        value_excl_vat=D("600000.00"),
        reason="Meerwerk riolering",
    )
    obligation.refresh_from_db()
    # 600,000 × 5% = 30,000.00
    assert obligation.amount == D("30000.00")
    assert obligation.base_amount == D("600000.00")
    change = obligation.changes.get(kind=Kind.RECOMPUTED)
    assert change.old_amount == D("25000.00")
    assert change.new_amount == D("30000.00")
    assert change.reason == "Meerwerk riolering"
    assert change.changed_by == world.officer_noordwijk
    assert change.details["changed_fields"] == {"value_excl_vat": ["500000.00", "600000.00"]}
    assert [c.kind for c in obligation.changes.all()] == [Kind.CREATED, Kind.RECOMPUTED]


def test_end_date_change_recomputes_deadline(world):
    contract, obligation = create(world)
    services.update_contract(
        acting_user=world.adviser, contract=contract, end_date=date(2027, 6, 30), reason="Verlengd"
    )
    obligation.refresh_from_db()
    # 30-06-2027 + 90 days: Jul 31 (+31), Aug 31 (+62), Sep 28 (+90)
    assert obligation.deadline == date(2027, 9, 28)
    change = obligation.changes.get(kind=Kind.RECOMPUTED)
    assert (change.old_deadline, change.new_deadline) == (date(2027, 5, 1), date(2027, 9, 28))
    assert change.old_amount == change.new_amount == D("25000.00")


def test_title_change_does_not_recompute(world):
    contract, obligation = create(world)
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, title="Nieuwe titel"
    )
    contract.refresh_from_db()
    assert contract.title == "Nieuwe titel"
    assert [c.kind for c in obligation.changes.all()] == [Kind.CREATED]


def test_same_value_in_other_notation_does_not_recompute(world):
    contract, obligation = create(world)
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, value_excl_vat=D("500000")
    )
    assert obligation.changes.count() == 1


def test_recompute_keeps_agreed_deviation(world):
    # labour 100,000 of 500,000 (20%), later of 600,000 (16.7%): below the 30% limit
    contract, obligation = create(world, labour_cost=D("100000.00"))
    services.agree_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        deviation=Deviation(kind="reduced_percentage", reason="Laag loonaandeel"),
    )
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, value_excl_vat=D("600000.00")
    )
    obligation.refresh_from_db()
    # the reduced 2% stands: 600,000 × 2% = 12,000.00
    assert obligation.amount == D("12000.00")
    assert obligation.deviation == Obligation.Deviation.REDUCED_PERCENTAGE


def test_contract_rising_above_threshold_gets_obligation(world):
    contract, none = create(world, value_excl_vat=D("50000.00"))
    assert none is None
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        value_excl_vat=D("150000.00"),
        reason="Uitbreiding",
    )
    obligation = Obligation.objects.get(contract=contract)
    # 150,000 × 5% = 7,500.00
    assert obligation.amount == D("7500.00")
    assert obligation.changes.get().kind == Kind.CREATED


def test_contract_falling_below_threshold_keeps_zero_obligation_on_record(world):
    contract, obligation = create(world, value_excl_vat=D("150000.00"))
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        value_excl_vat=D("80000.00"),
        reason="Minderwerk",
    )
    obligation.refresh_from_db()
    assert obligation.amount == D("0.00")
    change = obligation.changes.get(kind=Kind.RECOMPUTED)
    assert (change.old_amount, change.new_amount) == (D("7500.00"), D("0.00"))


def test_settled_obligation_cannot_be_recomputed(world):
    contract, obligation = create(world)
    approve(obligation, "25000.00")
    services.settle_obligation(
        acting_user=world.adviser, obligation=obligation, decision=Decision.FULFILLED, reason="Ok"
    )
    with pytest.raises(ValidationError):
        services.update_contract(
            acting_user=world.adviser, contract=contract, value_excl_vat=D("900000.00")
        )
    contract.refresh_from_db()
    obligation.refresh_from_db()
    assert contract.value_excl_vat == D("500000.00")
    assert obligation.amount == D("25000.00")
    assert not obligation.changes.filter(kind=Kind.RECOMPUTED).exists()


@pytest.mark.parametrize("persona", ["officer_katwijk", "council_noordwijk", "contractor_a_user"])
def test_update_contract_needs_change_right(world, persona):
    contract, _ = create(world)
    with pytest.raises(PermissionDenied):
        services.update_contract(
            acting_user=getattr(world, persona), contract=contract, value_excl_vat=D("1")
        )
    contract.refresh_from_db()
    assert contract.value_excl_vat == D("500000.00")


def test_officer_cannot_move_contract_to_other_municipality(world):
    contract, _ = create(world)
    with pytest.raises(PermissionDenied):
        services.update_contract(
            acting_user=world.officer_noordwijk, contract=contract, municipality=world.katwijk
        )
    contract.refresh_from_db()
    assert contract.municipality == world.noordwijk


def test_moving_contract_to_other_municipality_uses_that_municipalitys_policy(world):
    f.PolicyFactory(
        municipality=world.katwijk,
        valid_from=date(2025, 1, 1),
        default_percentage=D("10.00"),
        discounts={},
    )
    contract, obligation = create(world)
    try:
        services.update_contract(
            acting_user=world.adviser,
            contract=contract,
            municipality=world.katwijk,
            reason="Verkeerde gemeente ingevoerd",
        )
    except ValidationError:
        return  # refusing the move is an acceptable fix as well
    obligation.refresh_from_db()
    assert obligation.policy.municipality_id == world.katwijk.pk
    # Katwijk's policy in force on 15-01-2026: 500,000 × 10% = 50,000.00
    assert obligation.amount == D("50000.00")


# --- agree_obligation -------------------------------------------------------------------------


def test_agree_without_deviation(world):
    _, obligation = create(world)
    agreed = services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    assert agreed.agreed_by == world.adviser
    assert agreed.agreed_at is not None
    assert agreed.amount == D("25000.00")
    change = agreed.changes.get(kind=Kind.AGREED)
    assert change.old_amount == change.new_amount == D("25000.00")


@pytest.mark.parametrize("reason", ["", "   "])
def test_agree_with_deviation_without_reason_refused(world, reason):
    _, obligation = create(world)
    with pytest.raises(ValidationError):
        services.agree_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            deviation=Deviation(kind="exemption", reason=reason),
        )
    obligation.refresh_from_db()
    assert obligation.amount == D("25000.00")
    assert obligation.deviation == ""
    assert obligation.agreed_at is None
    assert obligation.changes.count() == 1


def test_agree_with_reasoned_deviation_changes_amount(world):
    _, obligation = create(world)
    services.agree_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        deviation=Deviation(kind="custom_percentage", percentage=D("3.00"), reason="Marktconform"),
    )
    obligation.refresh_from_db()
    # 500,000 × 3% = 15,000.00; the deadline is not touched
    assert obligation.amount == D("15000.00")
    assert obligation.percentage == D("3.00")
    assert obligation.deviation == Obligation.Deviation.CUSTOM_PERCENTAGE
    assert obligation.deviation_reason == "Marktconform"
    assert obligation.deadline == date(2027, 5, 1)
    change = obligation.changes.get(kind=Kind.DEVIATION)
    assert (change.old_amount, change.new_amount) == (D("25000.00"), D("15000.00"))
    assert change.reason == "Marktconform"
    assert change.changed_by == world.adviser


def test_agree_exemption(world):
    _, obligation = create(world)
    services.agree_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        deviation=Deviation(kind="exemption", reason="Spoedopdracht"),
    )
    obligation.refresh_from_db()
    assert obligation.amount == D("0.00")
    assert obligation.deviation == "exemption"


@pytest.mark.parametrize(
    "persona",
    ["officer_noordwijk", "council_noordwijk", "functional_admin", "contractor_a_user", "outsider"],
)
def test_only_adviser_may_agree(world, persona):
    _, obligation = create(world)
    with pytest.raises(PermissionDenied):
        services.agree_obligation(
            acting_user=getattr(world, persona),
            obligation=obligation,
            deviation=Deviation(kind="exemption", reason="Waarom niet"),
        )
    obligation.refresh_from_db()
    assert obligation.amount == D("25000.00")
    assert obligation.agreed_by is None


def test_adviser_of_other_body_may_not_agree(world):
    other = f.MunicipalityFactory(name="Hillegom")
    body = f.ServiceBodyFactory(name="HLTSamen", serves=[other])
    adviser = f.UserFactory(email="adviseur.hlt@example.nl")
    f.MembershipFactory(user=adviser, organisation=body, role="adviser")
    _, obligation = create(world)
    with pytest.raises(PermissionDenied):
        services.agree_obligation(acting_user=adviser, obligation=obligation)


def test_settled_obligation_cannot_be_agreed(world):
    _, obligation = create(world)
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.WAIVER,
        reason="Inzet",
        today=AT_DEADLINE,
    )
    with pytest.raises(ValidationError):
        services.agree_obligation(acting_user=world.adviser, obligation=obligation)


# --- Settlement -------------------------------------------------------------------------------


def test_realised_amount_counts_approved_only(world):
    _, obligation = create(world)
    approve(obligation, "2000.00")
    approve(obligation, "3000.50")
    f.ContributionFactory(obligation=obligation, value=D("1000.00"))  # submitted
    f.ContributionFactory(obligation=obligation, value=D("700.00"), rejected=True)
    f.ContributionFactory(
        obligation=obligation,
        value=D("400.00"),
        status=Contribution.Status.RETURNED,
        status_reason="Contract ontbreekt",
    )
    # approved only: 2,000.00 + 3,000.50 = 5,000.50
    assert services.realised_amount(obligation) == D("5000.50")
    other = f.ObligationFactory(contract=f.ContractFactory(municipality=world.noordwijk))
    assert services.realised_amount(other) == D("0.00")


def test_fulfilled_refused_when_shortfall(world):
    _, obligation = create(world)
    approve(obligation, "24999.99")
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.FULFILLED,
            reason="Klaar",
        )
    assert "decision" in exc.value.message_dict
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.OPEN
    assert not Settlement.objects.exists()


def test_fulfilled_when_realised_covers_amount(world):
    _, obligation = create(world)
    approve(obligation, "20000.00")
    approve(obligation, "6000.00")
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FULFILLED,
        reason="Ruim gehaald",
    )
    # realised 26,000 ≥ 25,000: shortfall 0 (never negative)
    assert settlement.realised_amount == D("26000.00")
    assert settlement.shortfall == D("0.00")
    assert settlement.amount == D("0.00")
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.SETTLED
    assert obligation.changes.filter(kind=Kind.SETTLED).count() == 1


def test_fine_defaults_to_shortfall(world):
    _, obligation = create(world)
    approve(obligation, "10000.00")
    f.ContributionFactory(obligation=obligation, value=D("5000.00"))  # submitted, not counted
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FINE,
        reason="Tekort na deadline",
        today=AT_DEADLINE,
    )
    # required 25,000 − realised 10,000 = shortfall 15,000 = fine
    assert settlement.required_amount == D("25000.00")
    assert settlement.realised_amount == D("10000.00")
    assert settlement.shortfall == D("15000.00")
    assert settlement.amount == D("15000.00")
    assert settlement.decided_by == world.adviser
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.SETTLED


def test_fine_with_explicit_amount(world):
    _, obligation = create(world)
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FINE,
        reason="Gedeeltelijke boete",
        amount=D("5000.00"),
        today=AT_DEADLINE,
    )
    assert settlement.shortfall == D("25000.00")
    assert settlement.amount == D("5000.00")


def test_negative_fine_refused(world):
    _, obligation = create(world)
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.FINE,
            reason="x",
            amount=D("-1"),
            today=AT_DEADLINE,
        )
    assert "amount" in exc.value.message_dict


@pytest.mark.parametrize("reason", ["", "  "])
def test_settlement_needs_reason(world, reason):
    _, obligation = create(world)
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.WAIVER,
            reason=reason,
            today=AT_DEADLINE,
        )
    assert "reason" in exc.value.message_dict


def test_unknown_decision_refused(world):
    _, obligation = create(world)
    with pytest.raises(ValidationError):
        services.settle_obligation(
            acting_user=world.adviser, obligation=obligation, decision="forgive", reason="x"
        )


@pytest.mark.parametrize(
    "new_deadline",
    [None, date(2027, 5, 1), date(2027, 4, 30)],  # missing, equal to, before the deadline
)
def test_extension_needs_later_deadline(world, new_deadline):
    _, obligation = create(world)
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.EXTENSION,
            reason="Hersteltermijn",
            new_deadline=new_deadline,
        )
    assert "new_deadline" in exc.value.message_dict
    obligation.refresh_from_db()
    assert obligation.deadline == date(2027, 5, 1)


def test_extension_moves_deadline_and_keeps_obligation_open(world):
    _, obligation = create(world)
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.EXTENSION,
        reason="Hersteltermijn drie maanden",
        new_deadline=date(2027, 8, 1),
    )
    assert settlement.new_deadline == date(2027, 8, 1)
    obligation.refresh_from_db()
    assert obligation.deadline == date(2027, 8, 1)
    assert obligation.status == Obligation.Status.OPEN
    change = obligation.changes.get(kind=Kind.DEADLINE_EXTENDED)
    assert (change.old_deadline, change.new_deadline) == (date(2027, 5, 1), date(2027, 8, 1))
    assert change.reason == "Hersteltermijn drie maanden"

    # a final decision at the extended deadline is still possible
    final = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.WAIVER,
        reason="Inzet",
        today=date(2027, 8, 1),
    )
    assert final.decision == Decision.WAIVER
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.SETTLED


def test_contract_change_after_extension_keeps_extended_deadline(world):
    contract, obligation = create(world)
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.EXTENSION,
        reason="Hersteltermijn",
        new_deadline=date(2027, 8, 1),
    )
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        value_excl_vat=D("600000.00"),
        reason="Meerwerk",
    )
    obligation.refresh_from_db()
    # amount recomputed (600,000 × 5% = 30,000.00), extended deadline stands
    assert obligation.amount == D("30000.00")
    assert obligation.deadline == date(2027, 8, 1)
    change = obligation.changes.get(kind=Kind.RECOMPUTED)
    assert change.old_deadline == change.new_deadline == date(2027, 8, 1)


def test_prolonging_contract_after_extension_never_shortens_the_natural_deadline(world):
    contract, obligation = create(world)
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.EXTENSION,
        reason="Hersteltermijn",
        new_deadline=date(2027, 8, 1),
    )
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        end_date=date(2028, 1, 31),
        reason="Contract met een jaar verlengd",
    )
    obligation.refresh_from_db()
    # 31-01-2028 + 90 days (2028 is a leap year): Feb 29 (+29), Mar 31 (+60), Apr 30 (+90)
    assert obligation.deadline >= date(2028, 4, 30)


def test_second_final_settlement_refused(world):
    _, obligation = create(world)
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FINE,
        reason="Boete",
        today=AT_DEADLINE,
    )
    with pytest.raises(ValidationError, match="already been settled"):
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.WAIVER,
            reason="Toch kwijtschelden",
            today=AT_DEADLINE,
        )
    assert Settlement.objects.filter(obligation=obligation).count() == 1


def test_extension_after_final_settlement_refused(world):
    _, obligation = create(world)
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.BUY_OUT,
        reason="Afkoop",
        today=AT_DEADLINE,
    )
    with pytest.raises(ValidationError):
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.EXTENSION,
            reason="Alsnog",
            new_deadline=date(2028, 1, 1),
        )


@pytest.mark.parametrize(
    "persona",
    ["officer_noordwijk", "council_noordwijk", "functional_admin", "contractor_a_user", "outsider"],
)
def test_only_adviser_may_settle(world, persona):
    _, obligation = create(world)
    with pytest.raises(PermissionDenied):
        services.settle_obligation(
            acting_user=getattr(world, persona),
            obligation=obligation,
            decision=Decision.WAIVER,
            reason="Inzet",
            today=AT_DEADLINE,
        )
    assert not Settlement.objects.exists()
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.OPEN


# --- Missing obligations (a finding) ---------------------------------------------------------


def test_missing_obligation_is_found_and_created(world):
    missing = f.ContractFactory(
        municipality=world.noordwijk, contractor=world.contractor_a, value_excl_vat=D("500000.00")
    )
    below = f.ContractFactory(
        municipality=world.noordwijk, contractor=world.contractor_a, below_threshold=True
    )
    at_threshold = f.ContractFactory(
        municipality=world.katwijk, contractor=world.contractor_b, value_excl_vat=D("100000.00")
    )
    with_obligation, _ = create(world)

    found = set(selectors.contracts_above_threshold_without_obligation(user=world.adviser))
    assert found == {missing, at_threshold}
    assert below not in found and with_obligation not in found

    # scoped: the Katwijk officer only sees Katwijk's finding
    assert set(
        selectors.contracts_above_threshold_without_obligation(user=world.officer_katwijk)
    ) == {at_threshold}
    assert not selectors.contracts_above_threshold_without_obligation(user=world.outsider).exists()

    obligation = services.create_missing_obligation(acting_user=world.adviser, contract=missing)
    # 500,000 × 5% = 25,000.00
    assert obligation.amount == D("25000.00")
    assert obligation.changes.get().kind == Kind.CREATED
    assert set(selectors.contracts_above_threshold_without_obligation(user=world.adviser)) == {
        at_threshold
    }

    with pytest.raises(ValidationError):
        services.create_missing_obligation(acting_user=world.adviser, contract=missing)


def test_missing_obligation_selector_uses_threshold_of_policy_in_force(world, second_policy):
    # awarded under the 200,000 threshold (from 01-01-2026): 150,000 is no finding
    under_new = f.ContractFactory(
        municipality=world.noordwijk, value_excl_vat=D("150000.00"), award_date=date(2026, 3, 1)
    )
    # awarded under the old 100,000 threshold: 150,000 is a finding
    under_old = f.ContractFactory(
        municipality=world.noordwijk,
        value_excl_vat=D("150000.00"),
        award_date=date(2025, 3, 1),
        start_date=date(2025, 4, 1),
        end_date=date(2026, 3, 31),
    )
    found = set(selectors.contracts_above_threshold_without_obligation(user=world.adviser))
    assert found == {under_old}
    assert under_new not in found


@pytest.mark.parametrize("persona", ["officer_noordwijk", "council_noordwijk", "contractor_a_user"])
def test_only_adviser_may_create_missing_obligation(world, persona):
    missing = f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    with pytest.raises(PermissionDenied):
        services.create_missing_obligation(acting_user=getattr(world, persona), contract=missing)
    assert not Obligation.objects.filter(contract=missing).exists()


def test_reduced_percentage_refused_when_labour_share_not_below_policy_limit(world):
    # 150,000 / 500,000 = 30%: not below the policy's 30% limit.
    with pytest.raises(ValidationError, match="below 30"):
        services.create_contract(
            acting_user=world.adviser,
            deviation=Deviation(kind="reduced_percentage", reason="Weinig arbeid"),
            **fields(world, labour_cost=D("150000.00")),
        )
    assert counts() == (0, 0, 0)


def test_reduced_percentage_refused_without_labour_cost(world):
    with pytest.raises(ValidationError, match="labour cost"):
        services.create_contract(
            acting_user=world.adviser,
            deviation=Deviation(kind="reduced_percentage", reason="Weinig arbeid"),
            **fields(world),
        )
    assert counts() == (0, 0, 0)


# --- Recompute with the facts of the award ---------------------------------------------------


def test_recompute_keeps_the_policy_of_the_award_despite_a_backdated_version(world):
    contract, obligation = create(world)
    award_policy = obligation.policy
    # Entered later, but valid from before the award date: 10%, 30 grace days.
    f.PolicyFactory(
        municipality=world.noordwijk,
        valid_from=date(2025, 1, 1),
        default_percentage=D("10.00"),
        grace_days=30,
        discounts={},
    )
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, value_excl_vat=D("600000.00")
    )
    obligation.refresh_from_db()
    # still the award's policy: 600,000 × 5% = 30,000.00; deadline 31-01-2027 + 90 = 01-05-2027
    assert obligation.policy == award_policy
    assert obligation.amount == D("30000.00")
    assert obligation.deadline == date(2027, 5, 1)
    change = obligation.changes.get(kind=Kind.RECOMPUTED)
    assert change.details["policy"]["valid_from"] == "2020-01-01"
    assert change.details["policy_changed"] is False


def test_award_date_change_uses_the_policy_in_force_on_the_new_award_date(world, second_policy):
    contract, obligation = create(world, award_date=date(2025, 12, 31), start_date=date(2026, 1, 5))
    assert obligation.policy.valid_from == date(2020, 1, 1)
    services.update_contract(
        acting_user=world.adviser,
        contract=contract,
        award_date=date(2026, 1, 2),
        reason="Gunningsdatum gecorrigeerd",
    )
    obligation.refresh_from_db()
    # new policy: 500,000 × 6% = 30,000.00; 31-01-2027 + 180 days = 30-07-2027
    assert obligation.policy == second_policy
    assert obligation.amount == D("30000.00")
    assert obligation.deadline == date(2027, 7, 30)
    assert obligation.window_start == date(2026, 1, 2)
    assert obligation.changes.get(kind=Kind.RECOMPUTED).details["policy_changed"] is True


def test_award_date_change_without_policy_in_force_is_refused(world):
    contract, obligation = create(world)
    with pytest.raises(ValidationError, match="No SROI policy"):
        services.update_contract(
            acting_user=world.adviser,
            contract=contract,
            award_date=date(2019, 12, 1),
            start_date=date(2019, 12, 15),
        )
    obligation.refresh_from_db()
    assert obligation.window_start == date(2026, 1, 15)


def test_pso_certificate_at_award_is_recorded(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31))
    _, obligation = create(world)
    obligation.refresh_from_db()
    assert obligation.pso_certificate_level == "trede_2"
    assert (obligation.pso_valid_from, obligation.pso_valid_until) == (
        date(2020, 1, 1),
        date(2030, 12, 31),
    )


def test_recompute_uses_the_certificate_recorded_at_award(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31))
    contract, obligation = create(world)
    assert obligation.amount == D("20000.00")
    # The certificate lapses in the contractor's record after the award.
    world.contractor_a.pso_level = ""
    world.contractor_a.pso_valid_from = world.contractor_a.pso_valid_until = None
    world.contractor_a.save()
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, value_excl_vat=D("600000.00")
    )
    obligation.refresh_from_db()
    # the award's certificate still covers the contract: 600,000 × 5% × (1 − 20%) = 24,000.00
    assert obligation.pso_level == "trede_2"
    assert obligation.amount == D("24000.00")


def test_recorded_certificate_must_cover_the_changed_contract_period(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2027, 6, 30))
    contract, obligation = create(world)
    assert obligation.amount == D("20000.00")
    # A renewed certificate entered later does not count for this obligation.
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31))
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, end_date=date(2027, 12, 31)
    )
    obligation.refresh_from_db()
    # the award's certificate ends 30-06-2027, before the new end: 500,000 × 5% = 25,000.00
    assert obligation.pso_level == ""
    assert obligation.pso_discount == D("0")
    assert obligation.amount == D("25000.00")
    assert obligation.pso_valid_until == date(2027, 6, 30)


def test_certificate_not_covering_at_award_counts_when_the_period_shrinks_into_it(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2026, 12, 31))
    contract, obligation = create(world)
    # ends 31-01-2027, after the certificate: no discount
    assert obligation.amount == D("25000.00")
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, end_date=date(2026, 12, 31)
    )
    obligation.refresh_from_db()
    # now covered by the award's certificate: 500,000 × 5% × (1 − 20%) = 20,000.00
    assert obligation.amount == D("20000.00")


def test_contractor_change_takes_the_new_contractors_certificate(world):
    certify(world.contractor_b, date(2020, 1, 1), date(2030, 12, 31))
    contract, obligation = create(world)
    assert obligation.amount == D("25000.00")
    services.update_contract(
        acting_user=world.adviser, contract=contract, contractor=world.contractor_b
    )
    obligation.refresh_from_db()
    assert obligation.pso_certificate_level == "trede_2"
    assert obligation.amount == D("20000.00")


def test_amount_change_withdraws_the_agreement(world):
    contract, obligation = create(world)
    services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    services.update_contract(
        acting_user=world.officer_noordwijk,
        contract=contract,
        value_excl_vat=D("600000.00"),
        reason="Meerwerk",
    )
    obligation.refresh_from_db()
    assert obligation.amount == D("30000.00")
    assert obligation.agreed_at is None and obligation.agreed_by is None
    withdrawn = obligation.changes.get(kind=Kind.RECOMPUTED).details["agreement_withdrawn"]
    assert withdrawn["agreed_by"] == world.adviser.pk
    assert withdrawn["agreed_at"]
    # the adviser agrees the new amount
    services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    obligation.refresh_from_db()
    assert obligation.agreed_by == world.adviser


def test_change_that_keeps_the_amount_keeps_the_agreement(world):
    contract, obligation = create(world)
    services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    services.update_contract(
        acting_user=world.officer_noordwijk, contract=contract, end_date=date(2027, 6, 30)
    )
    obligation.refresh_from_db()
    assert obligation.amount == D("25000.00")
    assert obligation.agreed_by == world.adviser
    assert "agreement_withdrawn" not in obligation.changes.get(kind=Kind.RECOMPUTED).details


def test_agreed_deviation_uses_the_certificate_recorded_at_award(world):
    certify(world.contractor_a, date(2020, 1, 1), date(2030, 12, 31))
    _, obligation = create(world)
    world.contractor_a.pso_level = ""
    world.contractor_a.pso_valid_from = world.contractor_a.pso_valid_until = None
    world.contractor_a.save()
    services.agree_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        deviation=Deviation(kind="custom_percentage", percentage=D("3.00"), reason="Marktconform"),
    )
    obligation.refresh_from_db()
    # 500,000 × 3% × (1 − 20%) = 12,000.00
    assert obligation.amount == D("12000.00")


# --- Rulebook assignment ---------------------------------------------------------------------


def test_obligation_created_before_any_rulebook_gets_one_assigned(world):
    _, obligation = create(world)
    assert obligation.rulebook is None
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk])
    services.assign_rulebook(
        acting_user=world.adviser, obligation=obligation, reason="Gepubliceerd"
    )
    obligation.refresh_from_db()
    assert obligation.rulebook == rulebook
    change = obligation.changes.get(kind=Kind.RULEBOOK_ASSIGNED)
    assert change.changed_by == world.adviser
    assert change.reason == "Gepubliceerd"
    assert change.details == {
        "old_rulebook": None,
        "new_rulebook": {"id": rulebook.pk, "name": rulebook.name, "version": rulebook.version},
    }
    # contributions can be valued now: 24 h/week, 01-03-2026 .. 28-02-2027 (365 days):
    # 40,000 × 24/36 × 365/365 = 26,666.67
    from placements import services as placement_services

    candidate = f.CandidateFactory(contractor=world.contractor_a)
    contribution = placement_services.submit_contribution(
        acting_user=world.adviser,
        obligation=obligation,
        block="job",
        candidate=candidate,
        start_date=date(2026, 3, 1),
        end_date=date(2027, 2, 28),
        hours_per_week=D("24"),
    )
    assert contribution.value == D("26666.67")


def test_assign_explicit_rulebook_published_after_the_award(world):
    _, obligation = create(world)
    later = f.RulebookFactory(municipalities=[world.noordwijk], valid_from=date(2026, 6, 1))
    with pytest.raises(ValidationError, match="No published rulebook"):
        services.assign_rulebook(acting_user=world.adviser, obligation=obligation)
    services.assign_rulebook(acting_user=world.adviser, obligation=obligation, rulebook=later)
    obligation.refresh_from_db()
    assert obligation.rulebook == later


def test_assign_refuses_draft_or_other_municipalitys_rulebook(world):
    _, obligation = create(world)
    draft = f.RulebookFactory(municipalities=[world.noordwijk], status="draft")
    katwijks = f.RulebookFactory(municipalities=[world.katwijk])
    for rulebook in (draft, katwijks):
        with pytest.raises(ValidationError) as exc:
            services.assign_rulebook(
                acting_user=world.adviser, obligation=obligation, rulebook=rulebook
            )
        assert "rulebook" in exc.value.message_dict
    obligation.refresh_from_db()
    assert obligation.rulebook is None
    assert not obligation.changes.filter(kind=Kind.RULEBOOK_ASSIGNED).exists()


def test_assign_refused_once_contributions_exist_or_when_settled(world):
    _, obligation = create(world)
    _, other = create(world, reference="NW-2026-002")
    services.settle_obligation(
        acting_user=world.adviser,
        obligation=other,
        decision=Decision.WAIVER,
        reason="Inzet",
        today=AT_DEADLINE,
    )
    f.RulebookFactory(municipalities=[world.noordwijk])
    f.ContributionFactory(obligation=obligation)
    with pytest.raises(ValidationError, match="Contributions have been reported"):
        services.assign_rulebook(acting_user=world.adviser, obligation=obligation)
    with pytest.raises(ValidationError, match="settled"):
        services.assign_rulebook(acting_user=world.adviser, obligation=other)
    assert not Obligation.objects.filter(rulebook__isnull=False).exists()
    assert not ObligationChange.objects.filter(kind=Kind.RULEBOOK_ASSIGNED).exists()


def test_assigning_the_same_rulebook_again_is_refused(world):
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk])
    _, obligation = create(world)
    assert obligation.rulebook == rulebook
    with pytest.raises(ValidationError):
        services.assign_rulebook(acting_user=world.adviser, obligation=obligation)


@pytest.mark.parametrize(
    "persona",
    ["officer_noordwijk", "council_noordwijk", "functional_admin", "contractor_a_user", "outsider"],
)
def test_only_adviser_may_assign_a_rulebook(world, persona):
    _, obligation = create(world)
    f.RulebookFactory(municipalities=[world.noordwijk])
    with pytest.raises(PermissionDenied):
        services.assign_rulebook(acting_user=getattr(world, persona), obligation=obligation)
    obligation.refresh_from_db()
    assert obligation.rulebook is None


def test_agree_assigns_the_rulebook_in_force_when_missing(world):
    _, obligation = create(world)
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk])
    services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    obligation.refresh_from_db()
    assert obligation.rulebook == rulebook
    assert list(obligation.changes.values_list("kind", flat=True)) == [
        Kind.CREATED,
        Kind.AGREED,
        Kind.RULEBOOK_ASSIGNED,
    ]


def test_agree_without_rulebook_in_force_still_agrees(world):
    _, obligation = create(world)
    services.agree_obligation(acting_user=world.adviser, obligation=obligation)
    obligation.refresh_from_db()
    assert obligation.rulebook is None
    assert obligation.agreed_by == world.adviser


# --- Settlement timing -----------------------------------------------------------------------


@pytest.mark.parametrize("decision", [Decision.FINE, Decision.BUY_OUT, Decision.WAIVER])
def test_final_shortfall_decisions_refused_before_the_deadline(world, decision):
    _, obligation = create(world)
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=decision,
            reason="Te vroeg",
            today=date(2027, 4, 30),
        )
    assert "decision" in exc.value.message_dict
    assert "01-05-2027" in exc.value.message_dict["decision"][0]
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.OPEN
    assert not Settlement.objects.exists()


@pytest.mark.parametrize("today", [date(2027, 5, 1), date(2027, 9, 1)])
@pytest.mark.parametrize("decision", [Decision.FINE, Decision.BUY_OUT, Decision.WAIVER])
def test_final_shortfall_decisions_allowed_on_and_after_the_deadline(world, decision, today):
    _, obligation = create(world)
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=decision,
        reason="Tekort",
        today=today,
    )
    assert settlement.decision == decision
    obligation.refresh_from_db()
    assert obligation.status == Obligation.Status.SETTLED


def test_settlement_timing_defaults_to_the_local_date(world, monkeypatch):
    from django.utils import timezone

    _, obligation = create(world)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2027, 4, 30))
    with pytest.raises(ValidationError):
        services.settle_obligation(
            acting_user=world.adviser, obligation=obligation, decision=Decision.FINE, reason="x"
        )
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: date(2027, 5, 1))
    settlement = services.settle_obligation(
        acting_user=world.adviser, obligation=obligation, decision=Decision.FINE, reason="x"
    )
    assert settlement.amount == D("25000.00")


def test_fulfilled_may_come_early_only_when_covered(world):
    _, obligation = create(world)
    approve(obligation, "24999.99")
    with pytest.raises(ValidationError) as exc:
        services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Decision.FULFILLED,
            reason="Klaar",
            today=date(2026, 6, 1),
        )
    assert "decision" in exc.value.message_dict
    approve(obligation, "0.01")
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.FULFILLED,
        reason="Klaar",
        today=date(2026, 6, 1),
    )
    assert settlement.realised_amount == D("25000.00")
    assert settlement.shortfall == D("0.00")


def test_extension_allowed_long_before_the_deadline(world):
    _, obligation = create(world)
    settlement = services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Decision.EXTENSION,
        reason="Vertraging",
        new_deadline=date(2027, 8, 1),
        today=date(2026, 3, 1),
    )
    assert settlement.new_deadline == date(2027, 8, 1)
