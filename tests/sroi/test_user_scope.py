"""Which users a functional administrator reaches (finding 6): selectors, services and admin.

A Katwijk-only functional administrator manages Katwijk's staff, portal users of contractors
with a contract in Katwijk and new accounts; never a Noordwijk-only contractor's user, the
regional adviser, a superuser, or anybody's roles of their own.
"""

import threading
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse

from contracts.models import ContractorUser
from sroi import selectors, services
from sroi.models import Membership, Organisation, Role, User
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@dataclass
class Scene:
    world: object
    katwijk_admin: User
    noordwijk_only_contractor: object
    noordwijk_contractor_user: User
    katwijk_contractor_user: User
    new_account: User
    mixed: User  # Katwijk council viewer and, actively, Lisse adviser
    katwijk_with_old_lisse: User  # Katwijk officer, formerly (inactive) in Lisse
    former_lisse: User  # only an inactive Lisse membership
    root_in_katwijk: User  # a superuser who also holds a Katwijk role
    lisse: Organisation


@pytest.fixture
def scene(world) -> Scene:
    def member(email, org, role, *, active=True):
        user = f.UserFactory(email=email)
        f.MembershipFactory(user=user, organisation=org, role=role, is_active=active)
        return user

    lisse = f.MunicipalityFactory(name="Lisse")
    katwijk_admin = member("beheer.katwijk@example.nl", world.katwijk, Role.FUNCTIONAL_ADMIN)
    noordwijk_only = f.ContractorFactory(name="Alleen Noordwijk B.V.")
    f.ContractFactory(municipality=world.noordwijk, contractor=noordwijk_only)
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    f.ContractFactory(municipality=world.katwijk, contractor=world.contractor_b)
    mixed = member("gemengd@example.nl", world.katwijk, Role.COUNCIL_VIEWER)
    f.MembershipFactory(user=mixed, organisation=lisse, role=Role.ADVISER)
    katwijk_with_old_lisse = member(
        "inkoper2.katwijk@example.nl", world.katwijk, Role.PROCUREMENT_OFFICER
    )
    f.MembershipFactory(
        user=katwijk_with_old_lisse, organisation=lisse, role=Role.ADVISER, is_active=False
    )
    root = User.objects.create_superuser("root.katwijk@example.nl", PASSWORD)
    f.MembershipFactory(user=root, organisation=world.katwijk, role=Role.COUNCIL_VIEWER)
    scene = Scene(
        world=world,
        katwijk_admin=katwijk_admin,
        noordwijk_only_contractor=noordwijk_only,
        noordwijk_contractor_user=f.ContractorUserFactory(contractor=noordwijk_only).user,
        katwijk_contractor_user=world.contractor_b_user,
        new_account=f.UserFactory(email="nieuw.account@example.nl"),
        mixed=mixed,
        katwijk_with_old_lisse=katwijk_with_old_lisse,
        former_lisse=member("oud.lisse@example.nl", lisse, Role.ADVISER, active=False),
        root_in_katwijk=root,
        lisse=lisse,
    )
    for user in User.objects.all():
        services.sync_user_access(user)
    return scene


# --- The selector ----------------------------------------------------------------------------


def test_katwijk_admin_sees_katwijk_staff_katwijk_contractor_users_and_new_accounts(scene):
    w = scene.world
    visible = set(selectors.user_list(user=scene.katwijk_admin))
    assert {
        scene.katwijk_admin,
        w.officer_katwijk,
        w.council_katwijk,
        w.adviser_katwijk,
        scene.katwijk_with_old_lisse,
        scene.katwijk_contractor_user,
        scene.new_account,
        w.outsider,  # no role and no contractor link: a new account
    } <= visible
    # Every other visible user is a Katwijk-only staff member or a new account.
    for user in visible:
        orgs = set(
            Membership.objects.filter(user=user, is_active=True).values_list(
                "organisation_id", flat=True
            )
        )
        assert orgs <= {w.katwijk.pk}, user


def test_katwijk_admin_does_not_reach_noordwijk_the_region_lisse_or_superusers(scene):
    w = scene.world
    visible = set(selectors.user_list(user=scene.katwijk_admin))
    for user in (
        scene.noordwijk_contractor_user,  # the verified finding
        w.contractor_a_user,
        w.officer_noordwijk,
        w.council_noordwijk,
        w.adviser,  # regional body: serves Noordwijk too
        w.functional_admin,
        scene.mixed,  # active elsewhere
        w.mixed_user,  # Katwijk adviser, but also Noordwijk council viewer
        scene.former_lisse,  # only ever elsewhere
        scene.root_in_katwijk,
    ):
        assert user not in visible, user


def test_the_regional_admin_reaches_both_municipalities_but_not_lisse(scene):
    w = scene.world
    visible = set(selectors.user_list(user=w.functional_admin))
    assert {
        scene.noordwijk_contractor_user,
        scene.katwijk_contractor_user,
        w.contractor_a_user,
        scene.katwijk_admin,
        w.adviser,
        scene.new_account,
    } <= visible
    assert scene.mixed not in visible and scene.root_in_katwijk not in visible


def test_portal_users_of_a_contractor_without_contracts_are_for_superusers(scene):
    nowhere = f.ContractorUserFactory(contractor=f.ContractorFactory()).user
    assert nowhere not in selectors.user_list(user=scene.world.functional_admin)
    assert nowhere not in selectors.user_list(user=scene.katwijk_admin)
    root = User.objects.create_superuser("ops@example.nl", PASSWORD)
    assert nowhere in selectors.user_list(user=root)


def test_manageable_users_never_include_oneself(scene):
    assert scene.katwijk_admin not in selectors.manageable_users(user=scene.katwijk_admin)
    assert selectors.manageable_users(user=scene.world.adviser).count() == 0


# --- grant_role / revoke_role ----------------------------------------------------------------


def test_nobody_grants_or_revokes_their_own_roles(scene):
    w = scene.world
    with pytest.raises(PermissionDenied):
        services.grant_role(
            acting_user=scene.katwijk_admin,
            user=scene.katwijk_admin,
            organisation=w.katwijk,
            role=Role.ADVISER,
        )
    with pytest.raises(PermissionDenied):
        services.revoke_role(
            acting_user=scene.katwijk_admin,
            user=scene.katwijk_admin,
            organisation=w.katwijk,
            role=Role.FUNCTIONAL_ADMIN,
        )
    root = User.objects.create_superuser("ops@example.nl", PASSWORD)
    with pytest.raises(PermissionDenied):
        services.grant_role(
            acting_user=root, user=root, organisation=w.katwijk, role=Role.COUNCIL_VIEWER
        )
    assert not Membership.objects.filter(user=root).exists()
    assert Membership.objects.get(user=scene.katwijk_admin).is_active
    assert not Membership.objects.filter(user=scene.katwijk_admin, role=Role.ADVISER).exists()


@pytest.mark.parametrize("role", [Role.ADVISER, Role.FUNCTIONAL_ADMIN])
def test_elevated_roles_in_a_covered_organisation(scene, role):
    membership = services.grant_role(
        acting_user=scene.katwijk_admin,
        user=scene.new_account,
        organisation=scene.world.katwijk,
        role=role,
    )
    assert membership.is_active


@pytest.mark.parametrize("role", [Role.ADVISER, Role.FUNCTIONAL_ADMIN])
def test_elevated_roles_not_in_a_body_the_admin_does_not_cover(scene, role):
    w = scene.world
    empty_body = Organisation.objects.create(
        name="Servicepunt Werk", kind=Organisation.Kind.EXECUTING_BODY
    )
    for org in (empty_body, w.executing_body):
        with pytest.raises(PermissionDenied):
            services.grant_role(
                acting_user=scene.katwijk_admin, user=scene.new_account, organisation=org, role=role
            )
    # A body that serves nobody yet may still be staffed with the other roles.
    services.grant_role(
        acting_user=scene.katwijk_admin,
        user=scene.new_account,
        organisation=empty_body,
        role=Role.COUNCIL_VIEWER,
    )
    # The regional administrator covers the regional body.
    services.grant_role(
        acting_user=w.functional_admin,
        user=scene.new_account,
        organisation=w.executing_body,
        role=role,
    )
    # And a superuser anything.
    root = User.objects.create_superuser("ops@example.nl", PASSWORD)
    services.grant_role(
        acting_user=root, user=scene.new_account, organisation=empty_body, role=role
    )


def test_a_grant_that_loses_the_race_returns_the_other_membership(scene, monkeypatch):
    """The other administrator's insert lands between our look-up and our insert: the unique
    constraint answers, and the grant returns their membership instead of a server error."""
    w = scene.world
    theirs = Membership.objects.create(
        user=scene.new_account, organisation=w.katwijk, role=Role.COUNCIL_VIEWER
    )
    first = QuerySet.first
    missed = []

    def first_misses_once(self):
        if self.model is Membership and not missed:
            missed.append(True)
            return None  # what our look-up saw before their commit
        return first(self)

    monkeypatch.setattr(QuerySet, "first", first_misses_once)
    ours = services.grant_role(
        acting_user=scene.katwijk_admin,
        user=scene.new_account,
        organisation=w.katwijk,
        role=Role.COUNCIL_VIEWER,
    )
    assert missed and ours.pk == theirs.pk and ours.is_active
    assert Membership.objects.filter(user=scene.new_account).count() == 1
    assert scene.new_account.groups.filter(name="Raadsviewer").exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_grants_of_the_same_role(scene):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; SQLite serialises writers instead")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def grant():
        try:
            barrier.wait()
            outcomes.append(
                services.grant_role(
                    acting_user=scene.world.functional_admin,
                    user=scene.new_account,
                    organisation=scene.world.katwijk,
                    role=Role.COUNCIL_VIEWER,
                ).pk
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what is tested
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=grant) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], int), outcomes
    assert Membership.objects.filter(user=scene.new_account).count() == 1


# --- The admin -------------------------------------------------------------------------------


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def user_url(view="changelist", *args) -> str:
    return reverse(f"admin:sroi_user_{view}", args=args)


NEW_PASSWORD = {
    "usable_password": "true",
    "password1": "een-nieuw-wachtwoord-2026",
    "password2": "een-nieuw-wachtwoord-2026",
}


def test_the_user_changelist_is_the_selector(client, scene):
    client.force_login(scene.katwijk_admin)
    response = client.get(user_url())
    assert response.status_code == 200
    shown = {u.pk for u in response.context["cl"].queryset}
    assert shown == {u.pk for u in selectors.user_list(user=scene.katwijk_admin)}


def test_password_of_a_noordwijk_contractor_user_cannot_be_changed(client, scene):
    """The verified finding: /admin/sroi/user/<id>/password/ is scoped like the changelist."""
    target = scene.noordwijk_contractor_user
    client.force_login(scene.katwijk_admin)
    assert client.get(password_url(target)).status_code == 404
    assert client.post(password_url(target), NEW_PASSWORD).status_code == 404
    target.refresh_from_db()
    assert target.check_password(PASSWORD)
    assert not target.check_password(NEW_PASSWORD["password1"])
    response = client.get(user_url("change", target.pk))
    assert response.status_code == 302  # "does not exist"
    for other in (scene.world.adviser, scene.root_in_katwijk, scene.mixed):
        assert client.get(password_url(other)).status_code == 404


def test_password_of_a_katwijk_contractor_user_can_be_changed(client, scene):
    target = scene.katwijk_contractor_user
    client.force_login(scene.katwijk_admin)
    assert client.get(password_url(target)).status_code == 200
    assert client.post(password_url(target), NEW_PASSWORD).status_code == 302
    target.refresh_from_db()
    assert target.check_password(NEW_PASSWORD["password1"])


def test_contractor_users_admin_is_scoped(client, scene):
    client.force_login(scene.katwijk_admin)
    url = reverse("admin:contracts_contractoruser_changelist")
    response = client.get(url)
    assert response.status_code == 200
    shown = {link.user_id for link in response.context["cl"].queryset}
    assert shown == {scene.katwijk_contractor_user.pk}
    link = ContractorUser.objects.get(user=scene.noordwijk_contractor_user)
    response = client.get(reverse("admin:contracts_contractoruser_change", args=[link.pk]))
    assert response.status_code == 302


def test_a_new_user_cannot_be_linked_to_a_noordwijk_only_contractor(client, scene):
    client.force_login(scene.katwijk_admin)
    add_url = reverse("admin:contracts_contractoruser_add")
    response = client.post(
        add_url,
        {
            "user": scene.new_account.pk,
            "contractor": scene.noordwijk_only_contractor.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "contractor" in response.context["adminform"].form.errors
    assert not ContractorUser.objects.filter(user=scene.new_account).exists()

    response = client.post(
        add_url,
        {
            "user": scene.new_account.pk,
            "contractor": scene.world.contractor_b.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert ContractorUser.objects.get(user=scene.new_account).contractor == scene.world.contractor_b
    assert scene.new_account.groups.filter(name="Opdrachtnemer").exists()


def test_a_user_out_of_scope_cannot_be_linked_either(client, scene):
    client.force_login(scene.katwijk_admin)
    response = client.post(
        reverse("admin:contracts_contractoruser_add"),
        {"user": scene.former_lisse.pk, "contractor": scene.world.contractor_b.pk},
    )
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors


def test_granting_oneself_a_role_in_the_admin_is_a_form_error(client, scene):
    client.force_login(scene.katwijk_admin)
    response = client.post(
        reverse("admin:sroi_membership_add"),
        {
            "user": scene.katwijk_admin.pk,
            "organisation": scene.world.katwijk.pk,
            "role": Role.ADVISER,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=scene.katwijk_admin, role=Role.ADVISER).exists()


def test_an_elevated_role_outside_the_admins_cover_is_a_form_error(client, scene):
    empty_body = Organisation.objects.create(
        name="Servicepunt Werk", kind=Organisation.Kind.EXECUTING_BODY
    )
    client.force_login(scene.katwijk_admin)
    response = client.post(
        reverse("admin:sroi_membership_add"),
        {
            "user": scene.new_account.pk,
            "organisation": empty_body.pk,
            "role": Role.ADVISER,
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # a message on the form, not a 403 or 500
    assert response.context["adminform"].form.non_field_errors()
    assert not Membership.objects.filter(user=scene.new_account).exists()


def test_own_memberships_are_read_only_in_the_admin(client, scene):
    client.force_login(scene.katwijk_admin)
    response = client.get(user_url("change", scene.katwijk_admin.pk))
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission and not inline.has_change_permission
    own = Membership.objects.get(user=scene.katwijk_admin)
    response = client.get(reverse("admin:sroi_membership_change", args=[own.pk]))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    response = client.post(
        reverse("admin:sroi_membership_change", args=[own.pk]),
        {"user": own.user_id, "organisation": own.organisation_id, "role": own.role},
    )
    assert response.status_code == 403
    assert Membership.objects.get(pk=own.pk).is_active


def test_membership_inline_shows_only_managed_organisations(client, scene):
    client.force_login(scene.katwijk_admin)
    response = client.get(user_url("change", scene.katwijk_with_old_lisse.pk))
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    shown = {form.instance.organisation_id for form in inline.formset.initial_forms}
    assert shown == {scene.world.katwijk.pk}  # not the (inactive) Lisse membership
