"""sroi.permissions: scopes, ``can()`` per persona and action, hand-over, caching, query count."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts.models import Contract, Obligation
from sroi import permissions
from sroi.models import Membership, Organisation, Role, User
from sroi.permissions import Action, can, can_in_municipality, get_scope
from tests import factories as f

A = Action


def fresh(user) -> User:
    """A new instance of the user, as the next request would load it (no cached scope)."""
    return User.objects.get(pk=user.pk)


def member(email, organisation, role):
    user = f.UserFactory(email=email)
    f.MembershipFactory(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def hlt(db):
    """HLTSamen: a shared-service body serving Hillegom, Lisse and Teylingen."""
    munis = [f.MunicipalityFactory(name=n) for n in ("Hillegom", "Lisse", "Teylingen")]
    body = f.ServiceBodyFactory(
        name="HLTSamen", kind=Organisation.Kind.SHARED_SERVICE, serves=munis
    )
    return body, munis


@pytest.fixture
def nw_contract(world):
    """A Noordwijk contract of contractor A, with its obligation and one contribution."""
    contract = f.ContractFactory(
        municipality=world.noordwijk,
        contractor=world.contractor_a,
        procurement_officer=world.officer_noordwijk,
    )
    obligation = f.ObligationFactory(contract=contract)
    contribution = f.ContributionFactory(obligation=obligation)
    return contract, obligation, contribution


# --- Scope computation -----------------------------------------------------------------------


def test_adviser_via_executing_body_covers_served_municipalities(world):
    scope = get_scope(fresh(world.adviser))
    assert scope.roles == {Role.ADVISER}
    assert scope.municipalities(Role.ADVISER) == {world.noordwijk.pk, world.katwijk.pk}
    assert scope.municipalities_for(A.SETTLE_OBLIGATION) == {world.noordwijk.pk, world.katwijk.pk}
    # the executing body itself is not a municipality in scope
    assert world.executing_body.pk not in scope.municipalities()
    assert scope.contractor_id is None and not scope.is_superuser


def test_municipal_officer_covers_own_municipality_only(world):
    scope = get_scope(fresh(world.officer_noordwijk))
    assert scope.municipalities() == {world.noordwijk.pk}
    assert scope.municipalities_for(A.CREATE_CONTRACT) == {world.noordwijk.pk}
    assert scope.municipalities_for(A.AGREE_OBLIGATION) == frozenset()


def test_shared_service_body_covers_its_municipalities(world, hlt):
    body, munis = hlt
    officer = member("inkoper@hltsamen.nl", body, Role.PROCUREMENT_OFFICER)
    scope = get_scope(officer)
    assert scope.municipalities() == {m.pk for m in munis}
    for m in munis:
        assert can_in_municipality(officer, A.CREATE_CONTRACT, m.pk)
    assert not can_in_municipality(officer, A.CREATE_CONTRACT, world.noordwijk.pk)
    assert not can_in_municipality(officer, A.VIEW, world.katwijk.pk)


def test_shared_service_officer_sees_contracts_of_all_served_municipalities(world, hlt):
    body, (hillegom, lisse, teylingen) = hlt
    officer = member("inkoper@hltsamen.nl", body, Role.PROCUREMENT_OFFICER)
    in_scope = {f.ContractFactory(municipality=m) for m in (hillegom, lisse, teylingen)}
    f.ContractFactory(municipality=world.noordwijk)
    assert set(permissions.contracts_visible_to(officer)) == in_scope


def test_inactive_membership_gives_nothing(world):
    Membership.objects.filter(user=world.adviser).update(is_active=False)
    scope = get_scope(fresh(world.adviser))
    assert scope.is_empty
    assert scope.municipalities() == frozenset()


def test_inactive_executing_body_gives_nothing(world):
    Organisation.objects.filter(pk=world.executing_body.pk).update(is_active=False)
    assert get_scope(fresh(world.adviser)).is_empty


def test_inactive_municipality_gives_nothing_to_its_staff(world):
    Organisation.objects.filter(pk=world.noordwijk.pk).update(is_active=False)
    assert get_scope(fresh(world.officer_noordwijk)).is_empty
    # and it drops out of the executing body's coverage
    assert get_scope(fresh(world.adviser)).municipalities() == {world.katwijk.pk}


def test_inactive_user_gives_nothing(world):
    world.adviser.is_active = False
    world.adviser.save()
    assert get_scope(fresh(world.adviser)) is permissions.EMPTY_SCOPE


def test_anonymous_and_none_give_nothing(db):
    assert get_scope(AnonymousUser()) is permissions.EMPTY_SCOPE
    assert get_scope(None) is permissions.EMPTY_SCOPE


def test_body_serving_nothing_gives_nothing(world):
    empty_body = f.ServiceBodyFactory(name="Lege dienst")
    user = member("niemand@example.nl", empty_body, Role.ADVISER)
    assert get_scope(user).municipalities() == frozenset()


def test_roles_do_not_mix(world):
    user = f.UserFactory(email="dubbel@example.nl")
    f.MembershipFactory(user=user, organisation=world.katwijk, role=Role.COUNCIL_VIEWER)
    f.MembershipFactory(user=user, organisation=world.noordwijk, role=Role.PROCUREMENT_OFFICER)
    scope = get_scope(user)
    assert scope.municipalities_for(A.CREATE_CONTRACT) == {world.noordwijk.pk}
    assert scope.municipalities_for(A.CHANGE_CONTRACT) == {world.noordwijk.pk}
    assert scope.municipalities_for(A.VIEW) == {world.noordwijk.pk, world.katwijk.pk}
    assert can_in_municipality(user, A.CREATE_CONTRACT, world.noordwijk.pk)
    assert not can_in_municipality(user, A.CREATE_CONTRACT, world.katwijk.pk)

    katwijk_contract = f.ContractFactory(municipality=world.katwijk)
    noordwijk_contract = f.ContractFactory(municipality=world.noordwijk)
    assert can(user, A.VIEW, katwijk_contract)
    assert not can(user, A.CHANGE_CONTRACT, katwijk_contract)
    assert can(user, A.CHANGE_CONTRACT, noordwijk_contract)
    assert set(permissions.contracts_visible_to(user, action=A.CHANGE_CONTRACT)) == {
        noordwijk_contract
    }


# --- can(): every action for every persona ----------------------------------------------------

ALL = frozenset(Action)
EXPECTED_ON_NOORDWIJK = {
    "adviser": ALL - {A.MANAGE_USERS},
    "officer_noordwijk": {A.VIEW, A.CREATE_CONTRACT, A.CHANGE_CONTRACT, A.EXPORT_REPORT},
    "officer_katwijk": set(),
    "council_noordwijk": {A.VIEW, A.EXPORT_REPORT},
    "council_katwijk": set(),
    "functional_admin": {A.VIEW, A.MANAGE_POLICY, A.MANAGE_USERS},
    # the contract is contractor A's
    "contractor_a_user": {A.VIEW, A.REPORT_CONTRIBUTION, A.VIEW_PERSONAL_DATA},
    "contractor_b_user": set(),
    "outsider": set(),
    "anonymous": set(),
    "superuser": ALL,
}


def persona(world, name):
    if name == "anonymous":
        return AnonymousUser()
    if name == "superuser":
        return User.objects.create_superuser("root@example.nl", "x")
    return fresh(getattr(world, name))


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_NOORDWIJK))
@pytest.mark.parametrize("kind", ["contract", "obligation", "contribution"])
def test_can_table(world, nw_contract, name, kind):
    contract, obligation, contribution = nw_contract
    obj = {"contract": contract, "obligation": obligation, "contribution": contribution}[kind]
    user = persona(world, name)
    got = {action: can(user, action, obj) for action in Action}
    expected = {action: action in EXPECTED_ON_NOORDWIJK[name] for action in Action}
    assert got == expected


def test_can_on_reloaded_obligation(world, nw_contract):
    """``can`` follows obligation → contract even when the contract is not loaded yet."""
    _, obligation, _ = nw_contract
    reloaded = Obligation.objects.get(pk=obligation.pk)
    assert can(fresh(world.council_noordwijk), A.VIEW, reloaded)
    assert not can(fresh(world.council_katwijk), A.VIEW, reloaded)


def test_can_on_unknown_object_type_raises(world):
    with pytest.raises(TypeError):
        can(fresh(world.adviser), A.VIEW, object())


# --- Contractor users, superuser --------------------------------------------------------------


def test_contractor_user_sees_only_own_contractors_contracts(world):
    a1 = f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    a2 = f.ContractFactory(municipality=world.katwijk, contractor=world.contractor_a)
    b1 = f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_b)
    assert set(permissions.contracts_visible_to(fresh(world.contractor_a_user))) == {a1, a2}
    assert set(permissions.contracts_visible_to(fresh(world.contractor_b_user))) == {b1}
    # but not for staff actions
    assert not permissions.contracts_visible_to(
        fresh(world.contractor_a_user), action=A.CHANGE_CONTRACT
    ).exists()
    assert set(permissions.contractors_visible_to(fresh(world.contractor_a_user))) == {
        world.contractor_a
    }


def test_deactivated_contractor_user_sees_nothing(world):
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    link = world.contractor_a_user.contractor_link
    link.is_active = False
    link.save()
    user = fresh(world.contractor_a_user)
    assert get_scope(user).is_empty
    assert not permissions.contracts_visible_to(user).exists()
    assert not permissions.contractors_visible_to(user).exists()


def test_superuser_sees_everything(world):
    elsewhere = f.MunicipalityFactory(name="Leiden")
    contracts = {
        f.ContractFactory(municipality=m) for m in (world.noordwijk, world.katwijk, elsewhere)
    }
    root = User.objects.create_superuser("root@example.nl", "x")
    assert set(permissions.contracts_visible_to(root)) == contracts
    assert can_in_municipality(root, A.MANAGE_USERS, elsewhere.pk)


def test_outsider_sees_nothing(world, nw_contract):
    outsider = fresh(world.outsider)
    assert get_scope(outsider).is_empty
    assert not permissions.contracts_visible_to(outsider).exists()
    assert not permissions.obligations_visible_to(outsider).exists()
    assert not permissions.contractors_visible_to(outsider).exists()
    assert not permissions.municipalities_visible_to(outsider).exists()


# --- Hand-over to Servicepunt Werk -------------------------------------------------------------


def test_handover_to_servicepunt_werk_keeps_exactly_the_same_obligations(world):
    elsewhere = f.MunicipalityFactory(name="Leiden")
    for m in (world.noordwijk, world.katwijk, world.noordwijk, elsewhere):
        f.ObligationFactory(contract=f.ContractFactory(municipality=m))

    def snapshot():
        return sorted(
            Obligation.objects.values_list(
                "pk", "contract_id", "contract__municipality_id", "amount"
            )
        ), sorted(Contract.objects.values_list("pk", "municipality_id", "contractor_id"))

    data_before = snapshot()
    visible_before = set(permissions.obligations_visible_to(fresh(world.adviser)))
    assert len(visible_before) == 3  # Noordwijk ×2, Katwijk ×1; not Leiden

    # The hand-over: a new body serving the same municipalities; the adviser's membership moves.
    spw = f.ServiceBodyFactory(name="Servicepunt Werk", serves=[world.noordwijk, world.katwijk])
    Membership.objects.filter(user=world.adviser, organisation=world.executing_body).update(
        is_active=False
    )
    f.MembershipFactory(user=world.adviser, organisation=spw, role=Role.ADVISER)
    world.executing_body.is_active = False
    world.executing_body.save()

    adviser = fresh(world.adviser)
    assert set(permissions.obligations_visible_to(adviser)) == visible_before
    assert get_scope(adviser).municipalities(Role.ADVISER) == {world.noordwijk.pk, world.katwijk.pk}
    for obligation in visible_before:
        assert can(adviser, A.SETTLE_OBLIGATION, obligation)
    assert snapshot() == data_before  # no data moved

    # a colleague joining Servicepunt Werk later sees the same
    colleague = member("collega@servicepuntwerk.nl", spw, Role.ADVISER)
    assert set(permissions.obligations_visible_to(colleague)) == visible_before


# --- Caching ----------------------------------------------------------------------------------


def test_scope_cache_does_not_leak_between_users(world):
    adviser, outsider, officer = (
        fresh(world.adviser),
        fresh(world.outsider),
        fresh(world.officer_katwijk),
    )
    assert get_scope(adviser).municipalities() == {world.noordwijk.pk, world.katwijk.pk}
    assert get_scope(outsider).is_empty
    assert get_scope(officer).municipalities() == {world.katwijk.pk}
    assert get_scope(AnonymousUser()) is permissions.EMPTY_SCOPE
    # and in reverse order on new instances
    assert get_scope(fresh(world.officer_katwijk)).municipalities() == {world.katwijk.pk}
    assert get_scope(fresh(world.adviser)).municipalities() == {
        world.noordwijk.pk,
        world.katwijk.pk,
    }


def test_scope_is_cached_per_user_object_and_can_be_cleared(world, django_assert_num_queries):
    user = fresh(world.officer_noordwijk)
    first = get_scope(user)
    with django_assert_num_queries(0):
        assert get_scope(user) is first

    Membership.objects.filter(user=user).update(is_active=False)
    assert get_scope(user) is first  # same request: the cached scope
    assert get_scope(fresh(user)).is_empty  # next request: recomputed
    permissions.clear_scope_cache(user)
    assert get_scope(user).is_empty


def scope_queries(user) -> int:
    with CaptureQueriesContext(connection) as ctx:
        get_scope(user)
    return len(ctx.captured_queries)


def test_get_scope_query_count_is_constant(world, hlt, django_assert_num_queries):
    baseline = scope_queries(fresh(world.adviser))  # one body serving two municipalities
    assert baseline <= 3  # memberships, served municipalities, contractor link

    body, munis = hlt
    extra = [f.MunicipalityFactory(name=f"Gemeente X{i}") for i in range(8)]
    big_body = f.ServiceBodyFactory(name="Regio", serves=extra + munis)
    busy = f.UserFactory(email="druk@example.nl")
    for org, role in [
        (world.executing_body, Role.ADVISER),
        (body, Role.ADVISER),
        (big_body, Role.COUNCIL_VIEWER),
        (world.noordwijk, Role.PROCUREMENT_OFFICER),
        (world.katwijk, Role.COUNCIL_VIEWER),
        (big_body, Role.FUNCTIONAL_ADMIN),
    ]:
        f.MembershipFactory(user=busy, organisation=org, role=role)

    busy = fresh(busy)
    with django_assert_num_queries(baseline):
        scope = get_scope(busy)
    assert len(scope.municipalities()) == 2 + 3 + 8

    # a municipal-only user needs no query for served municipalities; never more than baseline
    assert scope_queries(fresh(world.officer_noordwijk)) <= baseline
    assert scope_queries(fresh(world.contractor_a_user)) <= baseline
    root = User.objects.create_superuser("root@example.nl", "x")
    with django_assert_num_queries(0):
        assert get_scope(root).is_superuser


# --- Querysets built on the scope ------------------------------------------------------------


def test_policies_and_municipalities_visible_to(world):
    elsewhere = f.MunicipalityFactory(name="Leiden")
    f.PolicyFactory(municipality=elsewhere, valid_from=date(2021, 1, 1), threshold=Decimal("1"))
    adviser = fresh(world.adviser)
    assert set(permissions.municipalities_visible_to(adviser)) == {world.noordwijk, world.katwijk}
    assert {p.municipality for p in permissions.policies_visible_to(adviser)} == {
        world.noordwijk,
        world.katwijk,
    }
    officer = fresh(world.officer_noordwijk)
    assert not permissions.policies_visible_to(officer, action=A.MANAGE_POLICY).exists()
    admin = fresh(world.functional_admin)
    assert permissions.policies_visible_to(admin, action=A.MANAGE_POLICY).count() == 2
