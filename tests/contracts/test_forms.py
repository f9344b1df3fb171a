"""contracts.forms: every mistake a user can make when entering a contract is caught at the
field, with a message that says what to do.

World policy (both municipalities, valid from 01-01-2020): threshold 100,000, 5%.
"""

from datetime import date
from decimal import Decimal

import pytest

from contracts import services
from contracts.forms import ContractForm, ContractorForm
from contracts.models import Contract
from tests import factories as f

D = Decimal


def data(world, **overrides) -> dict:
    values = {
        "municipality": world.noordwijk.pk,
        "reference": "NW-2026-001",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a.pk,
        "kind": Contract.Kind.WORKS,
        "value_excl_vat": "500000.00",
        "labour_cost": "",
        "award_date": "2026-01-15",
        "start_date": "2026-02-01",
        "end_date": "2027-01-31",
        "procurement_officer": world.officer_noordwijk.pk,
        "description": "",
    }
    values.update(overrides)
    return values


def form_for(world, user=None, instance=None, **overrides) -> ContractForm:
    return ContractForm(
        data(world, **overrides), instance=instance, user=user or world.officer_noordwijk
    )


def errors(form, field) -> list[str]:
    return [e.code for e in form.errors.as_data().get(field, [])]


def test_valid_contract(world):
    form = form_for(world)
    assert form.is_valid(), form.errors
    assert form.contract_fields()["value_excl_vat"] == D("500000.00")
    assert form.contract_fields()["municipality"] == world.noordwijk


def test_required_fields(world):
    form = form_for(world, reference="", title="", value_excl_vat="", award_date="", contractor="")
    assert not form.is_valid()
    for field in ("reference", "title", "value_excl_vat", "award_date", "contractor"):
        assert field in form.errors


def test_end_before_start(world):
    form = form_for(world, start_date="2026-03-01", end_date="2026-02-01")
    assert not form.is_valid()
    assert "The end date cannot be before the start date." in form.errors["end_date"]


def test_start_before_award(world):
    form = form_for(world, award_date="2026-03-01", start_date="2026-02-01", end_date="2027-01-31")
    assert not form.is_valid()
    assert "The start date cannot be before the award date." in form.errors["start_date"]


def test_award_before_start_is_normal(world):
    assert form_for(world, award_date="2025-06-01").is_valid()


def test_same_day_award_start_end_allowed(world):
    form = form_for(world, award_date="2026-02-01", start_date="2026-02-01", end_date="2026-02-01")
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("field", ["award_date", "start_date", "end_date"])
@pytest.mark.parametrize("value", ["1999-12-31", "2100-01-01", "0202-01-15"])
def test_absurd_dates(world, field, value):
    form = form_for(world, **{field: value})
    assert not form.is_valid()
    assert "out_of_range" in errors(form, field) or field in form.errors


def test_unparseable_date(world):
    form = form_for(world, end_date="31-02-2027")
    assert not form.is_valid()
    assert "end_date" in form.errors


def test_negative_value(world):
    form = form_for(world, value_excl_vat="-1")
    assert not form.is_valid()
    assert "negative" in errors(form, "value_excl_vat")


@pytest.mark.parametrize("value", ["1000000000000", "99999999999999", "1e15"])
def test_absurdly_large_value(world, value):
    form = form_for(world, value_excl_vat=value)
    assert not form.is_valid()
    assert "too_large" in errors(form, "value_excl_vat")


def test_largest_plausible_value_accepted(world):
    assert form_for(world, value_excl_vat="999999999999.99").is_valid()


def test_value_in_whole_cents(world):
    form = form_for(world, value_excl_vat="100000.005")
    assert not form.is_valid()
    assert "cents" in errors(form, "value_excl_vat")


@pytest.mark.parametrize("value", ["abc", "1.000.000,00", "NaN", "Infinity"])
def test_value_not_a_number(world, value):
    form = form_for(world, value_excl_vat=value)
    assert not form.is_valid()
    assert "value_excl_vat" in form.errors


def test_labour_cost_above_value(world):
    form = form_for(world, value_excl_vat="100000", labour_cost="100000.01")
    assert not form.is_valid()
    assert "The labour cost cannot exceed the contract value." in form.errors["labour_cost"]


def test_labour_cost_negative_or_huge(world):
    assert "negative" in errors(form_for(world, labour_cost="-5"), "labour_cost")
    assert "too_large" in errors(form_for(world, labour_cost="1000000000000"), "labour_cost")


def test_reference_unique_per_municipality(world):
    f.ContractFactory(municipality=world.noordwijk, reference="NW-2026-001")
    form = form_for(world)
    assert not form.is_valid()
    assert "duplicate_reference" in errors(form, "reference")
    message = "Noordwijk already has a contract with reference NW-2026-001."
    assert message in form.errors["reference"]
    assert not form.non_field_errors()


def test_reference_unique_ignores_case_and_spaces(world):
    f.ContractFactory(municipality=world.noordwijk, reference="NW-2026-001")
    form = form_for(world, reference="  nw-2026-001 ")
    assert not form.is_valid()
    assert "duplicate_reference" in errors(form, "reference")


def test_same_reference_in_another_municipality_allowed(world):
    f.ContractFactory(municipality=world.katwijk, reference="NW-2026-001")
    assert form_for(world).is_valid()


def test_editing_keeps_own_reference(world):
    contract = _existing(world)
    form = form_for(world, instance=contract)
    assert form.is_valid(), form.errors


def test_municipality_limited_to_create_scope(world):
    form = ContractForm(user=world.officer_noordwijk)
    assert list(form.fields["municipality"].queryset) == [world.noordwijk]
    assert form.fields["municipality"].initial == world.noordwijk.pk
    adviser_form = ContractForm(user=world.adviser)
    assert set(adviser_form.fields["municipality"].queryset) == {world.noordwijk, world.katwijk}


def test_officer_cannot_pick_other_municipality(world):
    form = form_for(world, municipality=world.katwijk.pk)
    assert not form.is_valid()
    assert "invalid_choice" in errors(form, "municipality")


def test_council_viewer_has_no_municipality_to_choose(world):
    form = form_for(world, user=world.council_noordwijk)
    assert not form.is_valid()
    assert list(form.fields["municipality"].queryset) == []


def test_procurement_officer_defaults_to_user(world):
    form = ContractForm(user=world.officer_noordwijk)
    assert form.fields["procurement_officer"].initial == world.officer_noordwijk.pk
    choices = set(form.fields["procurement_officer"].queryset)
    assert world.officer_noordwijk in choices
    assert world.officer_katwijk not in choices
    assert world.council_noordwijk not in choices


def test_procurement_officer_from_other_municipality_refused(world):
    form = form_for(world, procurement_officer=world.officer_katwijk.pk)
    assert not form.is_valid()
    assert "procurement_officer" in form.errors


def test_unknown_contractor_refused(world):
    form = form_for(world, contractor=999999)
    assert not form.is_valid()
    assert "contractor" in form.errors


def test_create_form_has_no_reason_field(world):
    assert "change_reason" not in ContractForm(user=world.officer_noordwijk).fields


def _existing(world):
    contract, _ = services.create_contract(
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
        procurement_officer=world.officer_noordwijk,
    )
    return contract


@pytest.mark.parametrize(
    "change",
    [
        {"value_excl_vat": "600000.00"},
        {"end_date": "2027-06-30"},
        {"award_date": "2026-01-20"},
        {"labour_cost": "100000"},
        {"contractor": "B"},
    ],
)
def test_edit_that_recomputes_needs_reason(world, change):
    contract = _existing(world)
    if change.get("contractor") == "B":
        change = {"contractor": world.contractor_b.pk}
    form = form_for(world, instance=contract, **change)
    assert not form.is_valid()
    assert "reason_required" in errors(form, "change_reason")
    form = form_for(world, instance=contract, change_reason="Meerwerk fase 2", **change)
    assert form.is_valid(), form.errors


def test_edit_of_title_needs_no_reason(world):
    contract = _existing(world)
    form = form_for(world, instance=contract, title="Herinrichting Dorpsstraat (fase 1)")
    assert form.is_valid(), form.errors
    assert form.changed_contract_fields() == {"title": "Herinrichting Dorpsstraat (fase 1)"}


def test_blank_reason_is_no_reason(world):
    contract = _existing(world)
    form = form_for(world, instance=contract, value_excl_vat="600000", change_reason="   ")
    assert not form.is_valid()


# --- ContractorForm ---------------------------------------------------------------------------


def contractor_form(world, **overrides):
    values = {"name": "Nieuwbouw C B.V.", "kvk_number": "87654321", "city": "Katwijk"}
    values.update(overrides)
    return ContractorForm(values, user=world.officer_noordwijk)


def test_contractor_valid(world):
    form = contractor_form(world)
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "name": "Nieuwbouw C B.V.",
        "kvk_number": "87654321",
        "city": "Katwijk",
    }


@pytest.mark.parametrize("typed", ["8765 4321", "87.65.43.21", " 87654321 ", "8765-4321"])
def test_contractor_kvk_normalised(world, typed):
    form = contractor_form(world, kvk_number=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["kvk_number"] == "87654321"


@pytest.mark.parametrize("kvk", ["1234567", "123456789", "1234567a", "abcdefgh", ""])
def test_contractor_kvk_must_be_8_digits(world, kvk):
    form = contractor_form(world, kvk_number=kvk)
    assert not form.is_valid()
    assert "kvk_number" in form.errors


def test_contractor_kvk_already_registered(world):
    form = contractor_form(world, kvk_number=world.contractor_a.kvk_number)
    assert not form.is_valid()
    assert "duplicate_kvk" in errors(form, "kvk_number")
    assert world.contractor_a.name in form.errors["kvk_number"][0]


def test_contractor_name_required(world):
    form = contractor_form(world, name="   ")
    assert not form.is_valid()
    assert "name" in form.errors


def test_contractor_city_optional(world):
    assert contractor_form(world, city="").is_valid()


def test_preview_of_an_edit_does_not_ask_for_the_reason_yet(world):
    contract = _existing(world)
    form = ContractForm(
        data(world, value_excl_vat="600000.00"),
        instance=contract,
        user=world.officer_noordwijk,
        saving=False,
    )
    assert form.is_valid(), form.errors
