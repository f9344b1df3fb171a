"""Roles as groups plus membership: the data migration, grant/revoke and the hand-over."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError

from contracts.models import Contract, Obligation
from sroi import selectors, services
from sroi.models import Membership, Organisation, Role, User
from sroi.permissions import Action, contracts_visible_to, get_scope, obligations_visible_to
from sroi.roles import CONTRACTOR, GROUP_NAMES, ROLE_GROUPS, STAFF_ROLES, sync_role_groups
from tests import factories as f

pytestmark = pytest.mark.django_db


def perms_of(group: Group) -> set[tuple[str, str]]:
    return set(group.permissions.values_list("content_type__app_label", "codename"))


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def group_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


# --- The groups created by the data migration ------------------------------------------------


def test_every_role_has_its_group_with_exactly_its_permissions_after_migrate():
    assert set(Group.objects.filter(name__in=GROUP_NAMES).values_list("name", flat=True)) == {
        "SROI-adviseur",
        "Inkoper",
        "Raadsviewer",
        "Functioneel beheerder",
        "Opdrachtnemer",
    }
    for role_group in ROLE_GROUPS.values():
        group = Group.objects.get(name=role_group.group_name)
        assert perms_of(group) == role_group.permissions(), role_group.group_name


def test_group_permissions_match_the_roles():
    adviser = perms_of(Group.objects.get(name="SROI-adviseur"))
    for model in ("contract", "obligation", "settlement", "contractor", "sroipolicy"):
        assert {("contracts", f"{a}_{model}") for a in ("view", "add", "change")} <= adviser
    for model in ("candidate", "contribution", "evidence", "rulebook", "rule", "bonus"):
        assert {("placements", f"{a}_{model}") for a in ("view", "add", "change")} <= adviser
    assert ("sroi", "view_organisation") in adviser
    assert ("sroi", "change_organisation") not in adviser

    officer = perms_of(Group.objects.get(name="Inkoper"))
    assert ("contracts", "add_contract") in officer
    assert ("contracts", "change_contractor") in officer
    assert ("contracts", "view_obligation") in officer
    assert ("contracts", "change_obligation") not in officer
    assert not any(app == "placements" for app, _ in officer)

    council = perms_of(Group.objects.get(name="Raadsviewer"))
    assert all(codename.startswith("view_") for _, codename in council)
    assert {("contracts", "view_contract"), ("contracts", "view_settlement")} <= council

    admin = perms_of(Group.objects.get(name="Functioneel beheerder"))
    for app, model in (
        ("sroi", "user"),
        ("sroi", "organisation"),
        ("sroi", "membership"),
        ("contracts", "sroipolicy"),
        ("contracts", "contractoruser"),
    ):
        assert {(app, f"{a}_{model}") for a in ("view", "add", "change")} <= admin
    assert ("contracts", "view_contract") not in admin

    assert perms_of(Group.objects.get(name="Opdrachtnemer")) == set()
    # Nobody deletes through a group: deletes are for superusers only.
    assert not Permission.objects.filter(
        group__name__in=GROUP_NAMES, codename__startswith="delete_"
    ).exists()


def test_sync_role_groups_is_idempotent_and_repairs_drift():
    group = Group.objects.get(name="Raadsviewer")
    group.permissions.add(Permission.objects.get(codename="delete_contract"))
    group.permissions.remove(Permission.objects.get(codename="view_contract"))
    Group.objects.filter(name="Opdrachtnemer").delete()

    assert sync_role_groups() == {}
    assert sync_role_groups() == {}

    assert (
        perms_of(Group.objects.get(name="Raadsviewer"))
        == ROLE_GROUPS[Role.COUNCIL_VIEWER].permissions()
    )
    assert Group.objects.filter(name="Opdrachtnemer").exists()
    assert Group.objects.filter(name__in=GROUP_NAMES).count() == len(ROLE_GROUPS)


def test_staff_roles_are_all_roles_but_the_contractor():
    assert STAFF_ROLES == set(Role.values)
    assert CONTRACTOR not in STAFF_ROLES


# --- grant_role / revoke_role ----------------------------------------------------------------


def test_functional_admin_grants_a_role(world):
    user = f.UserFactory(email="nieuw@example.nl")
    membership = services.grant_role(
        acting_user=world.functional_admin,
        user=user,
        organisation=world.katwijk,
        role=Role.PROCUREMENT_OFFICER,
    )
    user = fresh(user)
    assert membership.is_active
    assert user.is_staff
    assert group_names(user) == {"Inkoper"}
    assert get_scope(user).municipalities_for(Action.CREATE_CONTRACT) == {world.katwijk.pk}

    again = services.grant_role(
        acting_user=world.functional_admin,
        user=user,
        organisation=world.katwijk,
        role=Role.PROCUREMENT_OFFICER,
    )
    assert again.pk == membership.pk
    assert Membership.objects.filter(user=user).count() == 1


def test_grant_reactivates_a_revoked_membership(world):
    user = f.UserFactory()
    kwargs = {"user": user, "organisation": world.noordwijk, "role": Role.COUNCIL_VIEWER}
    first = services.grant_role(acting_user=world.functional_admin, **kwargs)
    services.revoke_role(acting_user=world.functional_admin, **kwargs)
    second = services.grant_role(acting_user=world.functional_admin, **kwargs)
    assert second.pk == first.pk and second.is_active
    assert fresh(user).is_staff


@pytest.mark.parametrize("persona", ["adviser", "officer_noordwijk", "council_noordwijk"])
def test_only_a_functional_admin_may_grant(world, persona):
    with pytest.raises(PermissionDenied):
        services.grant_role(
            acting_user=getattr(world, persona),
            user=f.UserFactory(),
            organisation=world.noordwijk,
            role=Role.ADVISER,
        )


def test_functional_admin_cannot_grant_outside_their_municipalities(world):
    lisse = f.MunicipalityFactory(name="Lisse")
    other_body = f.ServiceBodyFactory(name="Ander team", serves=[lisse])
    for org in (lisse, other_body):
        with pytest.raises(PermissionDenied):
            services.grant_role(
                acting_user=world.functional_admin,
                user=f.UserFactory(),
                organisation=org,
                role=Role.ADVISER,
            )


def test_superuser_may_grant_anywhere(world):
    root = User.objects.create_superuser("root@example.nl", "x" * 12)
    lisse = f.MunicipalityFactory(name="Lisse")
    user = f.UserFactory()
    services.grant_role(acting_user=root, user=user, organisation=lisse, role=Role.ADVISER)
    assert group_names(fresh(user)) == {"SROI-adviseur"}


def test_contractor_user_cannot_get_a_staff_role(world):
    with pytest.raises(ValidationError):
        services.grant_role(
            acting_user=world.functional_admin,
            user=world.contractor_a_user,
            organisation=world.noordwijk,
            role=Role.COUNCIL_VIEWER,
        )
    assert not fresh(world.contractor_a_user).is_staff


def test_unknown_role_and_inactive_organisation_are_refused(world):
    with pytest.raises(ValidationError):
        services.grant_role(
            acting_user=world.functional_admin,
            user=f.UserFactory(),
            organisation=world.noordwijk,
            role="mayor",
        )
    Organisation.objects.filter(pk=world.katwijk.pk).update(is_active=False)
    world.katwijk.refresh_from_db()
    with pytest.raises((ValidationError, PermissionDenied)):
        services.grant_role(
            acting_user=world.functional_admin,
            user=f.UserFactory(),
            organisation=world.katwijk,
            role=Role.COUNCIL_VIEWER,
        )


def test_revoke_removes_group_and_admin_access_but_keeps_other_roles(world):
    user = f.UserFactory()
    admin = world.functional_admin
    services.grant_role(
        acting_user=admin, user=user, organisation=world.noordwijk, role=Role.COUNCIL_VIEWER
    )
    services.grant_role(
        acting_user=admin, user=user, organisation=world.katwijk, role=Role.PROCUREMENT_OFFICER
    )
    assert group_names(fresh(user)) == {"Raadsviewer", "Inkoper"}

    revoked = services.revoke_role(
        acting_user=admin, user=user, organisation=world.katwijk, role=Role.PROCUREMENT_OFFICER
    )
    assert revoked is not None and not revoked.is_active
    user = fresh(user)
    assert group_names(user) == {"Raadsviewer"}
    assert user.is_staff

    services.revoke_role(
        acting_user=admin, user=user, organisation=world.noordwijk, role=Role.COUNCIL_VIEWER
    )
    user = fresh(user)
    assert group_names(user) == set()
    assert not user.is_staff
    assert get_scope(user).is_empty
    # The memberships stay, deactivated, for the audit trail.
    assert Membership.objects.filter(user=user, is_active=False).count() == 2


def test_revoking_a_role_never_held_is_a_no_op(world):
    assert (
        services.revoke_role(
            acting_user=world.functional_admin,
            user=world.officer_noordwijk,
            organisation=world.katwijk,
            role=Role.ADVISER,
        )
        is None
    )


def test_superuser_keeps_admin_access_after_revoke(world):
    root = User.objects.create_superuser("root@example.nl", "x" * 12)
    operator = User.objects.create_superuser("operator@example.nl", "x" * 12)
    services.grant_role(
        acting_user=operator, user=root, organisation=world.noordwijk, role=Role.COUNCIL_VIEWER
    )
    services.revoke_role(
        acting_user=operator, user=root, organisation=world.noordwijk, role=Role.COUNCIL_VIEWER
    )
    assert fresh(root).is_staff


def test_contractor_link_puts_the_user_in_the_contractor_group(world):
    services.sync_user_access(world.contractor_a_user)
    user = fresh(world.contractor_a_user)
    assert group_names(user) == {"Opdrachtnemer"}
    assert not user.is_staff


# --- Hand-over to Servicepunt Werk -----------------------------------------------------------


def _obligations_in(municipality, n=2):
    return [
        f.ObligationFactory(contract=f.ContractFactory(municipality=municipality)) for _ in range(n)
    ]


def _snapshot():
    return (
        sorted(Contract.objects.values_list("pk", "municipality_id", "contractor_id")),
        sorted(Obligation.objects.values_list("pk", "amount", "deadline", "status")),
    )


def test_hand_over_moves_advisers_and_municipalities_and_no_data(world):
    _obligations_in(world.noordwijk)
    _obligations_in(world.katwijk)
    lisse = f.MunicipalityFactory(name="Lisse")
    _obligations_in(lisse, 1)  # not served: never visible to the adviser
    servicepunt = Organisation.objects.create(
        name="Servicepunt Werk", kind=Organisation.Kind.EXECUTING_BODY
    )
    before_visible = set(obligations_visible_to(fresh(world.adviser)).values_list("pk", flat=True))
    before_contracts = set(contracts_visible_to(fresh(world.adviser)).values_list("pk", flat=True))
    before_data = _snapshot()
    assert len(before_visible) == 4

    result = services.hand_over_coordination(
        acting_user=world.functional_admin, from_body=world.executing_body, to_body=servicepunt
    )

    adviser = fresh(world.adviser)
    assert set(obligations_visible_to(adviser).values_list("pk", flat=True)) == before_visible
    assert set(contracts_visible_to(adviser).values_list("pk", flat=True)) == before_contracts
    assert _snapshot() == before_data
    assert set(result.municipalities) == {world.noordwijk, world.katwijk}
    assert list(result.advisers) == [world.adviser]
    assert set(servicepunt.serves.all()) == {world.noordwijk, world.katwijk}
    assert not world.executing_body.serves.exists()
    assert Membership.objects.get(
        user=adviser, organisation=servicepunt, role=Role.ADVISER
    ).is_active
    assert not Membership.objects.get(
        user=adviser, organisation=world.executing_body, role=Role.ADVISER
    ).is_active
    assert group_names(adviser) == {"SROI-adviseur"}
    assert adviser.is_staff
    # The adviser can still act on the same obligations.
    assert get_scope(adviser).municipalities_for(Action.SETTLE_OBLIGATION) == {
        world.noordwijk.pk,
        world.katwijk.pk,
    }


def test_hand_over_is_refused_for_non_admins_and_for_municipalities(world):
    servicepunt = Organisation.objects.create(
        name="Servicepunt Werk", kind=Organisation.Kind.EXECUTING_BODY
    )
    with pytest.raises(PermissionDenied):
        services.hand_over_coordination(
            acting_user=world.adviser, from_body=world.executing_body, to_body=servicepunt
        )
    with pytest.raises(ValidationError):
        services.hand_over_coordination(
            acting_user=world.functional_admin,
            from_body=world.executing_body,
            to_body=world.katwijk,
        )
    with pytest.raises(ValidationError):
        services.hand_over_coordination(
            acting_user=world.functional_admin,
            from_body=world.executing_body,
            to_body=world.executing_body,
        )
    assert set(world.executing_body.serves.all()) == {world.noordwijk, world.katwijk}


# --- Selectors -------------------------------------------------------------------------------


def test_user_list_for_a_functional_admin(world):
    """Staff of the organisations they manage, portal users of contractors with a contract in
    their municipalities, new accounts; never superusers or anybody else (more in
    tests/sroi/test_user_scope.py)."""
    root = User.objects.create_superuser("root@example.nl", "x" * 12)
    other = f.UserFactory(email="ander@example.nl")
    lisse_body = f.ServiceBodyFactory(name="Ander team", serves=[f.MunicipalityFactory()])
    f.MembershipFactory(user=other, organisation=lisse_body, role=Role.ADVISER)
    unassigned = f.UserFactory(email="nog-geen-rol@example.nl")
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    # contractor_b has no contract anywhere yet: its portal user is nobody's to manage.

    visible = set(selectors.user_list(user=world.functional_admin))
    assert {
        world.functional_admin,
        world.adviser,
        world.officer_noordwijk,
        world.officer_katwijk,
        world.council_noordwijk,
        world.contractor_a_user,
        unassigned,
    } <= visible
    assert root not in visible
    assert other not in visible
    assert world.contractor_b_user not in visible


def test_user_list_for_other_roles_is_only_themselves(world):
    for persona in ("adviser", "officer_katwijk", "council_noordwijk", "contractor_a_user"):
        user = getattr(world, persona)
        assert list(selectors.user_list(user=user)) == [user]


def test_organisation_list_is_scoped(world):
    lisse = f.MunicipalityFactory(name="Lisse")
    assert set(selectors.organisation_list(user=world.officer_katwijk)) == {world.katwijk}
    assert set(selectors.organisation_list(user=world.adviser)) == {
        world.noordwijk,
        world.katwijk,
        world.executing_body,
    }
    assert lisse not in selectors.organisation_list(user=world.functional_admin)
    assert not selectors.organisation_list(user=world.contractor_a_user).exists()
    assert not selectors.organisation_list(user=world.outsider).exists()


def test_a_new_executing_body_is_manageable_until_it_serves_someone_else(world):
    servicepunt = Organisation.objects.create(
        name="Servicepunt Werk", kind=Organisation.Kind.EXECUTING_BODY
    )
    assert servicepunt in selectors.manageable_organisations(user=world.functional_admin)
    servicepunt.serves.add(f.MunicipalityFactory(name="Lisse"))
    assert servicepunt not in selectors.manageable_organisations(user=world.functional_admin)
