"""The policy screens and ``contracts.policy_services``, with the personas of ``world``.

World policy (Noordwijk and Katwijk, valid from 01-01-2020): threshold 100,000, 5%, reduced 2%
below 30% labour, 90 grace days, PSO trede 2: 20%.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts import policy_services
from contracts.models import Obligation, PsoDiscount, SroiPolicy
from tests import factories as f

D = Decimal


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def nwk_policy(world):
    return SroiPolicy.objects.get(municipality=world.noordwijk)


@pytest.fixture
def kwk_policy(world):
    return SroiPolicy.objects.get(municipality=world.katwijk)


@pytest.fixture
def used(world, nwk_policy):
    """A Noordwijk obligation computed with the 2020 policy (award date 15-01-2026)."""
    contract = f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    return f.ObligationFactory(contract=contract, policy=nwk_policy)


def form_data(**overrides) -> dict:
    data = {
        "valid_from": "2027-01-01",
        "threshold": "150000.00",
        "default_percentage": "4",
        "base": "contract_value",
        "reduced_percentage": "2",
        "reduced_labour_share_below": "30",
        "grace_days": "120",
        "notes": "Raadsbesluit 2026-42",
        "pso-TOTAL_FORMS": "6",
        "pso-INITIAL_FORMS": "6",
        "pso-MIN_NUM_FORMS": "6",
        "pso-MAX_NUM_FORMS": "6",
    }
    for index, level in enumerate(policy_services.PSO_LEVELS):
        data[f"pso-{index}-level"] = level
        data[f"pso-{index}-discount_percentage"] = ""
    data["pso-3-discount_percentage"] = "25"  # trede 2
    data.update(overrides)
    return data


def get(client, user, url):
    if user is not None:
        client.force_login(user)
    return client.get(url)


def post(client, user, url, data):
    client.force_login(user)
    return client.post(url, data)


# --- Access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["adviser", "functional_admin"])
def test_list_shows_versions_to_policy_managers(client, world, persona):
    response = get(client, getattr(world, persona), reverse("contracts:policy_list"))
    assert response.status_code == 200
    assert "Noordwijk" in response.text and "Katwijk" in response.text
    assert "€ 100,000.00" in response.text or "€ 100.000,00" in response.text
    assert "Trede 2: 20.00%" in response.text


def test_list_is_scoped_to_the_managers_municipalities(client, world):
    response = get(client, world.adviser_katwijk, reverse("contracts:policy_list"))
    assert response.status_code == 200
    policies = response.context["policies"]
    assert {p.municipality.name for p in policies} == {"Katwijk"}


@pytest.mark.parametrize("persona", ["officer_noordwijk", "council_noordwijk"])
def test_list_forbidden_for_staff_without_policy_rights(client, world, persona):
    assert get(client, getattr(world, persona), reverse("contracts:policy_list")).status_code == 403


@pytest.mark.parametrize("persona", ["contractor_a_user", "outsider"])
def test_list_not_found_for_non_staff(client, world, persona):
    assert get(client, getattr(world, persona), reverse("contracts:policy_list")).status_code == 404


@pytest.mark.parametrize("name", ["contracts:policy_new_version", "contracts:policy_edit"])
def test_anonymous_redirected_to_login(client, nwk_policy, name):
    response = client.get(reverse(name, args=[nwk_policy.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    response = client.get(reverse("contracts:policy_list"))
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["contracts:policy_new_version", "contracts:policy_edit"])
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("adviser", 200),
        ("functional_admin", 200),
        ("officer_noordwijk", 403),  # sees the policy, may not change it
        ("council_noordwijk", 403),
        ("officer_katwijk", 404),  # another municipality
        ("adviser_katwijk", 404),
        ("contractor_a_user", 404),
        ("outsider", 404),
    ],
)
def test_version_pages_per_persona(client, world, nwk_policy, name, persona, status):
    response = get(client, getattr(world, persona), reverse(name, args=[nwk_policy.pk]))
    assert response.status_code == status


@pytest.mark.parametrize("persona", ["officer_noordwijk", "officer_katwijk", "contractor_a_user"])
def test_posting_a_version_without_rights_creates_nothing(client, world, nwk_policy, persona):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    response = post(client, getattr(world, persona), url, form_data())
    assert response.status_code in (403, 404)
    assert SroiPolicy.objects.filter(municipality=world.noordwijk).count() == 1


# --- New version -----------------------------------------------------------------------------


def test_new_version_form_is_prefilled_from_the_source(client, world, nwk_policy):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    response = get(client, world.adviser, url)
    form = response.context["form"]
    assert form.initial["threshold"] == D("100000.00")
    assert form.initial["grace_days"] == 90
    assert "valid_from" not in form.initial
    formset = response.context["formset"]
    initial = {row["level"]: row["discount_percentage"] for row in formset.initial}
    assert initial["trede_2"] == D("20.00")
    assert initial["aspirant"] is None
    assert "Existing obligations keep their version" in response.text


def test_new_version_is_saved_and_existing_obligations_keep_their_version(
    client, world, nwk_policy, used
):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    # The obligation's award date (15-01-2026) lies after the new version's date.
    response = post(client, world.adviser, url, form_data(valid_from="2026-01-01"))
    assert response.status_code == 302
    new = SroiPolicy.objects.get(municipality=world.noordwijk, valid_from=date(2026, 1, 1))
    assert new.threshold == D("150000.00")
    assert new.default_percentage == D("4")
    assert new.grace_days == 120
    assert new.notes == "Raadsbesluit 2026-42"
    assert {d.level: d.discount_percentage for d in new.pso_discounts.all()} == {
        "trede_2": D("25.00")
    }
    used.refresh_from_db()
    assert used.policy_id == nwk_policy.pk
    assert used.amount == D("25000.00")
    page = client.get(response.url)
    assert "1 existing obligation(s) with an award date on or after that date keep" in page.text
    # The source is untouched.
    nwk_policy.refresh_from_db()
    assert nwk_policy.threshold == D("100000.00")
    assert nwk_policy.pso_discounts.get().discount_percentage == D("20.00")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"valid_from": "2020-01-01"}, "valid_from", "already has a version with this date"),
        ({"valid_from": "2019-06-01"}, "valid_from", "after the latest version"),
        ({"valid_from": ""}, "valid_from", "This field is required"),
        ({"default_percentage": "101"}, "default_percentage", "less than or equal to 100"),
        ({"default_percentage": "-1"}, "default_percentage", "greater than or equal to 0"),
        ({"threshold": "-5"}, "threshold", "greater than or equal to 0"),
        ({"grace_days": "-1"}, "grace_days", "greater than or equal to 0"),
        ({"grace_days": "5000"}, "grace_days", "less than or equal to 3650"),
        ({"reduced_percentage": "5"}, "reduced_percentage", "lower than the default"),
        (
            {"reduced_percentage": "", "reduced_labour_share_below": "30"},
            "reduced_labour_share_below",
            "only applies to a reduced percentage",
        ),
        ({"reduced_labour_share_below": "130"}, "reduced_labour_share_below", "100"),
    ],
)
def test_new_version_validation(client, world, nwk_policy, overrides, field, message):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    response = post(client, world.adviser, url, form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert 'aria-invalid="true"' in response.text or "is-invalid" in response.text
    assert SroiPolicy.objects.filter(municipality=world.noordwijk).count() == 1


def test_pso_discount_out_of_range_is_shown_at_its_field(client, world, nwk_policy):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    response = post(client, world.adviser, url, form_data(**{"pso-0-discount_percentage": "120"}))
    assert response.status_code == 200
    assert response.context["formset"].forms[0].errors["discount_percentage"]
    assert SroiPolicy.objects.filter(municipality=world.noordwijk).count() == 1


def test_tampered_pso_levels_are_refused(client, world, nwk_policy):
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    response = post(client, world.adviser, url, form_data(**{"pso-1-level": "aspirant"}))
    assert response.status_code == 200
    assert "Every PSO level appears exactly once." in response.text
    assert SroiPolicy.objects.filter(municipality=world.noordwijk).count() == 1


def test_functional_admin_may_create_a_version(client, world, kwk_policy):
    url = reverse("contracts:policy_new_version", args=[kwk_policy.pk])
    response = post(client, world.functional_admin, url, form_data())
    assert response.status_code == 302
    assert SroiPolicy.objects.filter(municipality=world.katwijk).count() == 2


# --- Change ----------------------------------------------------------------------------------


def test_changing_a_used_version_is_refused_with_the_reason(client, world, nwk_policy, used):
    url = reverse("contracts:policy_edit", args=[nwk_policy.pk])
    response = get(client, world.adviser, url)
    assert response.status_code == 200
    assert response.context["form"] is None
    assert "This version is used by 1 obligation(s)" in response.text
    assert reverse("contracts:policy_new_version", args=[nwk_policy.pk]) in response.text
    response = post(client, world.adviser, url, form_data(valid_from="2020-01-01"))
    assert response.status_code == 409
    nwk_policy.refresh_from_db()
    assert nwk_policy.threshold == D("100000.00")


def test_list_offers_change_only_for_unused_versions(client, world, nwk_policy, kwk_policy, used):
    response = get(client, world.adviser, reverse("contracts:policy_list"))
    assert reverse("contracts:policy_edit", args=[nwk_policy.pk]) not in response.text
    assert reverse("contracts:policy_edit", args=[kwk_policy.pk]) in response.text
    assert "1 obligation" in response.text


def test_changing_an_unused_version(client, world, kwk_policy):
    url = reverse("contracts:policy_edit", args=[kwk_policy.pk])
    response = post(client, world.adviser, url, form_data(valid_from="2020-02-01"))
    assert response.status_code == 302
    kwk_policy.refresh_from_db()
    assert kwk_policy.valid_from == date(2020, 2, 1)
    assert kwk_policy.threshold == D("150000.00")
    assert list(kwk_policy.pso_discounts.values_list("level", "discount_percentage")) == [
        ("trede_2", D("25.00"))
    ]


def test_changing_a_version_keeps_the_order_of_versions(client, world, kwk_policy):
    later = f.PolicyFactory(municipality=world.katwijk, valid_from=date(2027, 1, 1))
    url = reverse("contracts:policy_edit", args=[later.pk])
    response = post(client, world.adviser, url, form_data(valid_from="2019-01-01"))
    assert response.status_code == 200
    assert "Versions keep their order" in " ".join(response.context["form"].errors["valid_from"])
    later.refresh_from_db()
    assert later.valid_from == date(2027, 1, 1)


# --- Services --------------------------------------------------------------------------------


def test_service_refuses_users_without_policy_rights(world, nwk_policy):
    for user in (world.officer_noordwijk, world.council_noordwijk, world.adviser_katwijk):
        with pytest.raises(PermissionDenied):
            policy_services.create_policy_version(
                acting_user=user, based_on=nwk_policy, valid_from=date(2027, 1, 1)
            )
        with pytest.raises(PermissionDenied):
            policy_services.update_policy(acting_user=user, policy=nwk_policy, terms={})


def test_service_copies_terms_and_discounts_by_default(world, nwk_policy):
    new = policy_services.create_policy_version(
        acting_user=world.adviser,
        based_on=nwk_policy,
        valid_from=date(2027, 1, 1),
        terms={"threshold": D("200000")},
    )
    assert new.threshold == D("200000")
    assert new.default_percentage == nwk_policy.default_percentage
    assert new.reduced_labour_share_below == D("30.00")
    assert list(new.pso_discounts.values_list("level", flat=True)) == ["trede_2"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"valid_from": date(2020, 1, 1)},
        {"valid_from": date(2019, 1, 1)},
        {"valid_from": date(2027, 1, 1), "terms": {"default_percentage": D("120")}},
        {"valid_from": date(2027, 1, 1), "terms": {"threshold": D("-1")}},
        {"valid_from": date(2027, 1, 1), "terms": {"reduced_percentage": D("6")}},
        {"valid_from": date(2027, 1, 1), "pso_discounts": {"trede_1": D("101")}},
        {"valid_from": date(2027, 1, 1), "pso_discounts": {"trede_9": D("1")}},
    ],
)
def test_service_validates_and_writes_nothing(world, nwk_policy, kwargs):
    with pytest.raises(ValidationError):
        policy_services.create_policy_version(
            acting_user=world.adviser, based_on=nwk_policy, **kwargs
        )
    assert SroiPolicy.objects.filter(municipality=world.noordwijk).count() == 1
    assert PsoDiscount.objects.filter(policy__municipality=world.noordwijk).count() == 1


def test_service_refuses_to_change_a_used_version(world, nwk_policy, used):
    with pytest.raises(ValidationError) as info:
        policy_services.update_policy(
            acting_user=world.adviser, policy=nwk_policy, terms={"threshold": D("1")}
        )
    assert info.value.code == "in_use"
    nwk_policy.refresh_from_db()
    assert nwk_policy.threshold == D("100000.00")


def test_new_contracts_get_the_new_version_old_obligations_keep_theirs(world, nwk_policy, used):
    from contracts import services

    new = policy_services.create_policy_version(
        acting_user=world.adviser,
        based_on=nwk_policy,
        valid_from=date(2026, 1, 1),
        terms={"default_percentage": D("3")},
    )
    contract, obligation = services.create_contract(
        acting_user=world.officer_noordwijk,
        municipality=world.noordwijk,
        reference="NWK-NEW",
        title="Nieuw",
        contractor=world.contractor_a,
        kind="works",
        value_excl_vat=D("500000"),
        award_date=date(2026, 2, 1),
        start_date=date(2026, 3, 1),
        end_date=date(2026, 12, 31),
    )
    assert obligation.policy == new
    assert obligation.amount == D("15000.00")
    assert Obligation.objects.get(pk=used.pk).policy == nwk_policy


# --- Query budget ----------------------------------------------------------------------------


def _versions(world, count: int) -> None:
    for n in range(count):
        f.PolicyFactory(
            municipality=world.noordwijk if n % 2 else world.katwijk,
            valid_from=date(2021 + n // 2, 1 + n % 12, 1),
        )


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(client, world):
    client.force_login(world.adviser)
    url = reverse("contracts:policy_list")
    _versions(world, 3)
    few = _count_queries(client, url)
    for n in range(27):
        f.PolicyFactory(
            municipality=world.noordwijk if n % 2 else world.katwijk,
            valid_from=date(2040 + n, 1, 1),
            discounts={"trede_1": D("10"), "trede_3": D("20")},
        )
    f.ObligationFactory(contract__municipality=world.noordwijk)
    many = _count_queries(client, url)
    assert few == many


def test_form_page_query_count_does_not_grow_with_versions(client, world, nwk_policy):
    client.force_login(world.adviser)
    url = reverse("contracts:policy_new_version", args=[nwk_policy.pk])
    few = _count_queries(client, url)
    for n in range(20):
        f.PolicyFactory(municipality=world.noordwijk, valid_from=date(2040 + n, 1, 1))
    many = _count_queries(client, url)
    assert few == many
