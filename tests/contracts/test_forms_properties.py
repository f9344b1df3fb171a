"""Property tests of the back-office and adviser forms (hypothesis): huge, negative, localised
and malformed numbers, odd unicode, very long text and far or malformed dates. Each form
either refuses the input with a message on the right field, or accepts it and the real service
stores it as given (or refuses it with a ValidationError the view shows); no exception escapes.
A few inputs also go through the views: never a 500, nothing half-written.

Every example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import services
from contracts.forms import ContractForm, ContractorForm
from contracts.forms_adviser import AgreeObligationForm, PlanItemFormSet, SettleObligationForm
from contracts.models import Contract, Contractor, Obligation, Settlement
from placements import plans
from placements.models import PlanItem, PlanOfApproach
from tests import factories as f
from tests.contracts.test_import_properties import ODD_CHARS, rolled_back

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Numbers as a user could type them (or a script could post them).
number_input = st.one_of(
    st.sampled_from(
        [
            "1e20",
            "1e9999",
            "-1e9999",
            "1E-9999",
            "NaN",
            "nan",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "1.234.567,89",
            "1,234,567.89",
            "€ 5.000",
            "1,5e3",
            "-0",
            "0",
            "-0.01",
            "0.001",
            "99999999999999999999999999999999",
            "1" + "0" * 5000,
            "0." + "0" * 3000 + "1",
            "١٢٣",
            "１２３",
            " 12 ",
            "",
            "1_000",
            "0x10",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)
#: Text as a browser can post it (a browser cannot send lone surrogates: Django decodes
#: invalid UTF-8 with replacement characters, see test_invalid_utf8_is_replaced_not_a_500).
text_input = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(ODD_CHARS + "\x00\x01\x08\x1b\x7f\u0085\u2028"),
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
        ),
        max_size=60,
    ),
    st.integers(min_value=0, max_value=11_000).map(lambda n: "ẞ" * n),
)
date_input = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-13-01",
            "26-11-2026",
            "11/26/2026",
            "2026-11-26T25:00",
            "+10000-01-01",
            "-2026-01-01",
            "2026-1-1",
            "",
            "0",
        ]
    ),
)


def _errors_are_messages(form) -> None:
    assert form.errors
    for field, messages in form.errors.items():
        assert field == "__all__" or field in form.fields, field
        assert all(isinstance(m, str) and m.strip() for m in messages)


def _contract_counts() -> tuple[int, ...]:
    return (
        Contract.objects.count(),
        Obligation.objects.count(),
        Contractor.objects.count(),
        Settlement.objects.count(),
        PlanOfApproach.objects.count(),
        LogEntry.objects.count(),
    )


def contract_data(world, **overrides) -> dict:
    values = {
        "municipality": world.noordwijk.pk,
        "reference": "NW-PROP-1",
        "title": "Herinrichting Dorpsstraat",
        "contractor": world.contractor_a.pk,
        "kind": "works",
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


# --- The contract form -------------------------------------------------------------------------


def _save_contract(world, data: dict):
    user = world.officer_noordwijk
    form = ContractForm(data, user=user)
    before = _contract_counts()
    if not form.is_valid():
        _errors_are_messages(form)
        return None
    try:
        contract, _obligation = services.create_contract(acting_user=user, **form.contract_fields())
    except ValidationError as exc:
        assert exc.messages
        assert _contract_counts() == before
        return None
    contract.refresh_from_db()
    for name in ("reference", "title", "description", "value_excl_vat", "labour_cost"):
        assert getattr(contract, name) == form.cleaned_data[name], name
    for name in ("award_date", "start_date", "end_date"):
        assert getattr(contract, name) == form.cleaned_data[name], name
    return contract


@PROPERTY_SETTINGS
@given(field=st.sampled_from(["value_excl_vat", "labour_cost"]), value=number_input)
def test_contract_amounts(world, field, value):
    with rolled_back():
        contract = _save_contract(world, contract_data(world, **{field: value}))
    if contract is not None:
        amount = getattr(contract, field)
        if amount is None:  # the labour cost is optional: an empty input stays empty
            assert field == "labour_cost" and not str(value).strip()
        else:
            assert Decimal(0) <= amount < Decimal("1e12")


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(["reference", "title", "description"]),
    value=text_input,
)
def test_contract_text(world, field, value):
    with rolled_back():
        contract = _save_contract(world, contract_data(world, **{field: value}))
    if contract is not None:
        assert "\x00" not in getattr(contract, field)


@PROPERTY_SETTINGS
@given(field=st.sampled_from(["award_date", "start_date", "end_date"]), value=date_input)
def test_contract_dates(world, field, value):
    with rolled_back():
        _save_contract(world, contract_data(world, **{field: value}))


@PROPERTY_SETTINGS
@given(name=text_input, kvk=st.one_of(text_input, number_input), city=text_input)
def test_contractor_form(world, name, kvk, city):
    user = world.officer_noordwijk
    with rolled_back():
        form = ContractorForm({"name": name, "kvk_number": kvk, "city": city}, user=user)
        if not form.is_valid():
            _errors_are_messages(form)
            return
        try:
            contractor = services.create_contractor(acting_user=user, **form.cleaned_data)
        except ValidationError as exc:
            assert exc.messages
            return
        contractor.refresh_from_db()
        assert (contractor.name, contractor.kvk_number, contractor.city) == (
            form.cleaned_data["name"],
            form.cleaned_data["kvk_number"],
            form.cleaned_data["city"],
        )


# --- The adviser's decisions ---------------------------------------------------------------------


@pytest.fixture
def overdue(world):
    return f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__overdue=True,
    )


@PROPERTY_SETTINGS
@given(
    decision=st.sampled_from(["fulfilled", "extension", "fine", "buy_out", "waiver", "x"]),
    amount=number_input,
    reason=text_input,
    new_deadline=date_input,
)
def test_settle_form(world, overdue, decision, amount, reason, new_deadline):
    data = {"decision": decision, "amount": amount, "reason": reason, "new_deadline": new_deadline}
    with rolled_back():
        before = _contract_counts()
        form = SettleObligationForm(data, shortfall=overdue.amount)
        if not form.is_valid():
            _errors_are_messages(form)
            return
        cleaned = form.cleaned_data
        try:
            settlement = services.settle_obligation(
                acting_user=world.adviser,
                obligation=overdue,
                decision=cleaned["decision"],
                reason=cleaned["reason"],
                amount=cleaned["amount"],
                new_deadline=cleaned["new_deadline"],
            )
        except ValidationError as exc:
            assert exc.messages
            assert _contract_counts() == before
            return
        settlement.refresh_from_db()
        assert settlement.reason == cleaned["reason"]
        if cleaned["amount"] is not None:
            assert settlement.amount == cleaned["amount"]
        assert settlement.new_deadline == cleaned["new_deadline"]


@PROPERTY_SETTINGS
@given(
    deviation=st.sampled_from(["", "custom_percentage", "reduced_percentage", "exemption", "?"]),
    percentage=number_input,
    reason=text_input,
)
def test_agree_form(world, deviation, percentage, reason):
    with rolled_back():
        obligation = f.ObligationFactory(
            contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
        )
        form = AgreeObligationForm(
            {"deviation": deviation, "percentage": percentage, "reason": reason},
            obligation=obligation,
        )
        if not form.is_valid():
            _errors_are_messages(form)
            return
        try:
            agreed = services.agree_obligation(
                acting_user=world.adviser, obligation=obligation, deviation=form.to_deviation()
            )
        except ValidationError as exc:
            assert exc.messages
            return
        agreed.refresh_from_db()
        if deviation == "custom_percentage":
            assert agreed.percentage == form.cleaned_data["percentage"]
        if deviation:
            assert agreed.deviation_reason == form.cleaned_data["reason"]


def plan_data(**item) -> dict:
    row = {
        "block": "job",
        "planned_count": "3",
        "planned_amount": "",
        "planned_start": "2026-03-01",
        "planned_end": "2026-12-31",
        "description": "Grondwerkers",
        **item,
    }
    data = {"items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0"}
    data.update({f"items-0-{k}": v for k, v in row.items()})
    return data


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(["planned_count", "planned_amount", "planned_start", "description"]),
    value=st.one_of(number_input, text_input, date_input),
)
def test_plan_item_form(world, field, value):
    with rolled_back():
        obligation = f.ObligationFactory(
            contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
        )
        before = _contract_counts()
        formset = PlanItemFormSet(plan_data(**{field: value}), prefix="items")
        if not formset.is_valid():
            assert formset.errors or formset.non_form_errors()
            return
        items = [
            {name: form.cleaned_data.get(name) for name in plans.ITEM_FIELDS}
            for form in formset
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            plan = plans.submit_plan(acting_user=world.adviser, obligation=obligation, items=items)
        except ValidationError as exc:
            assert exc.messages
            assert _contract_counts() == before
            return
        (item,) = PlanItem.objects.filter(plan=plan)
        for name, value in items[0].items():
            assert getattr(item, name) == (
                value if value is not None or name != "description" else ""
            )


def test_a_huge_planned_count_is_refused_on_the_form(world):
    """Minimal failing input of the properties: 10**30 people passed the form (no maximum)
    and only the model's range check (or the database) stopped it."""
    formset = PlanItemFormSet(plan_data(planned_count=str(10**30)), prefix="items")
    assert not formset.is_valid()
    assert formset.forms[0].errors["planned_count"] == [
        "Ensure this value is less than or equal to 100000."
    ]


# --- Through the views: no 500, nothing half-written ------------------------------------------

VIEW_INPUTS = [
    {"value_excl_vat": "1e9999"},
    {"value_excl_vat": "NaN"},
    {"value_excl_vat": "-Infinity"},
    {"labour_cost": "99999999999999999999999"},
    {"title": "Dorps\x00straat"},
    {"title": "x" * 10_000},
    {"reference": "\u202eNW-1"},
    {"description": "\U0001f600" * 5000},
    {"award_date": "9999-12-31", "start_date": "9999-12-31", "end_date": "9999-12-31"},
    {"award_date": "0001-01-01"},
    {"municipality": "99999999999999999999"},
    {"contractor": "-1"},
]


@pytest.mark.parametrize("overrides", VIEW_INPUTS)
def test_contract_create_view(client, world, overrides):
    client.force_login(world.officer_noordwijk)
    before = _contract_counts()
    data = contract_data(world, **overrides)
    data["save"] = "1"
    response = client.post(reverse("contracts:contract_create"), data)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert response.context["form"].errors
        assert _contract_counts() == before
    else:  # accepted: stored exactly as typed
        contract = Contract.objects.get()
        for name in ("reference", "description"):
            if name in overrides:
                assert getattr(contract, name) == overrides[name]


def test_invalid_utf8_is_replaced_not_a_500(client, world):
    """Lone surrogates cannot arrive through HTTP: Django decodes invalid UTF-8 (here the
    UTF-8 form of U+D800) with replacement characters."""
    client.force_login(world.officer_noordwijk)
    body = "&".join(f"{k}={v}" for k, v in contract_data(world, title="").items())
    body += "&title=%ED%A0%80&save=1"
    response = client.post(
        reverse("contracts:contract_create"),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302
    assert Contract.objects.get().title == "\ufffd\ufffd\ufffd"


SETTLE_INPUTS = [
    {"decision": "fine", "amount": "1e9999", "reason": "Te laat"},
    {"decision": "fine", "amount": "NaN", "reason": "Te laat"},
    {"decision": "fine", "amount": "-5", "reason": "Te laat"},
    {"decision": "extension", "new_deadline": "9999-12-31", "reason": "Nog even"},
    {"decision": "extension", "new_deadline": "2026-02-30", "reason": "Nog even"},
    {"decision": "waiver", "reason": "\x00"},
    {"decision": "waiver", "reason": "x" * 5000},
]


@pytest.mark.parametrize("data", SETTLE_INPUTS)
def test_settle_view(client, world, overdue, data):
    client.force_login(world.adviser)
    before = _contract_counts()
    response = client.post(reverse("contracts:obligation_settle", args=[overdue.pk]), data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["form"].errors
        assert _contract_counts() == before


@pytest.mark.parametrize(
    "item",
    [
        {"planned_count": str(10**30)},
        {"planned_count": "-1"},
        {"planned_amount": "1e9999"},
        {"planned_start": "9999-12-31", "planned_end": "0001-01-01"},
        {"description": "\x00"},
    ],
)
def test_plan_enter_view(client, world, item):
    obligation = f.ObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    client.force_login(world.adviser)
    before = _contract_counts()
    response = client.post(reverse("contracts:plan_enter", args=[obligation.pk]), plan_data(**item))
    assert response.status_code == 200
    assert _contract_counts() == before


def test_far_dates_stay_dates(world):
    """A deadline far in the future is stored (the date column holds it); the form keeps
    dates as dates."""
    form = SettleObligationForm(
        {"decision": "extension", "new_deadline": "9999-12-31", "reason": "x"},
        shortfall=Decimal("1"),
    )
    assert form.is_valid()
    assert form.cleaned_data["new_deadline"] == date(9999, 12, 31)
