"""Reads for users, organisations and memberships, always scoped to the reading user.

* Superusers see everything.
* A functional administrator sees the organisations they may manage (see
  :func:`sroi.services.may_manage_organisation`) and the users they may manage
  (:func:`manageable_users`).
* Other staff see the municipalities in their scope and their own organisations, and only
  themselves among users.
* Contractor users and users without a role see no organisations and only themselves.

Which users a functional administrator manages
----------------------------------------------
Managing a user means changing their details and password and linking them to a contractor,
so it must never reach beyond the administrator's own municipalities (whoever controls an
account's password controls everything that account may see). A functional administrator
manages, besides themselves:

* staff users with at least one membership in an organisation they manage and *no active*
  membership anywhere else (the regional adviser of an executing body that also serves other
  municipalities belongs to whoever manages all of them);
* portal users of a contractor that has a contract in a municipality they manage (and of no
  other contractor);
* new accounts: no membership and no contractor link at all, so that a user created in the
  admin can be given a role or linked to a contractor.

Superusers are never managed by anybody but superusers. A new account is visible to every
functional administrator until it gets a role or a contractor link: give it one right away
(and let the person choose their own password through the password reset).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Membership, Organisation, Role, User
from .permissions import Action, get_scope


def manageable_organisations(*, user) -> QuerySet[Organisation]:
    """Organisations in which ``user`` may hand out roles."""
    scope = get_scope(user)
    if scope.is_superuser:
        return Organisation.objects.all()
    managed = scope.municipalities_for(Action.MANAGE_USERS)
    if not managed:
        return Organisation.objects.none()
    bodies_within_scope = (
        Organisation.objects.exclude(kind=Organisation.Kind.MUNICIPALITY)
        .exclude(serves__in=Organisation.objects.exclude(pk__in=managed))
        .values("pk")
    )
    own_bodies = Membership.objects.filter(
        user=user, role=Role.FUNCTIONAL_ADMIN, is_active=True
    ).values("organisation_id")
    return Organisation.objects.filter(
        Q(pk__in=managed) | Q(pk__in=bodies_within_scope) | Q(pk__in=own_bodies)
    )


def organisation_list(*, user) -> QuerySet[Organisation]:
    scope = get_scope(user)
    if scope.is_superuser:
        return Organisation.objects.all()
    if not scope.municipalities_by_role:
        return Organisation.objects.none()
    own = Membership.objects.filter(user=user, is_active=True).values("organisation_id")
    q = Q(pk__in=scope.municipalities()) | Q(pk__in=own)
    if scope.municipalities_for(Action.MANAGE_USERS):
        q |= Q(pk__in=manageable_organisations(user=user).values("pk"))
    return Organisation.objects.filter(q)


def manageable_contractors(*, user):
    """Contractors whose portal users ``user`` may manage: those with a contract in a
    municipality where ``user`` is functional administrator (superusers: all)."""
    from contracts.models import Contractor

    scope = get_scope(user)
    if scope.is_superuser:
        return Contractor.objects.all()
    managed = scope.municipalities_for(Action.MANAGE_USERS)
    if not managed:
        return Contractor.objects.none()
    return Contractor.objects.filter(
        pk__in=Contractor.objects.filter(contracts__municipality_id__in=managed).values("pk")
    )


def manageable_users(*, user) -> QuerySet[User]:
    """Users ``user`` may manage (details, password, roles, contractor link), not counting
    themselves; see the module docstring. Empty for anybody but functional administrators."""
    from contracts.models import ContractorUser

    scope = get_scope(user)
    if scope.is_superuser:
        return User.objects.exclude(pk=user.pk)
    if not scope.municipalities_for(Action.MANAGE_USERS):
        return User.objects.none()
    orgs = manageable_organisations(user=user).values("pk")
    contractors = manageable_contractors(user=user).values("pk")
    member_in_scope = Membership.objects.filter(organisation__in=orgs).values("user_id")
    active_elsewhere = (
        Membership.objects.filter(is_active=True).exclude(organisation__in=orgs).values("user_id")
    )
    linked = ContractorUser.objects.values("user_id")
    linked_in_scope = ContractorUser.objects.filter(contractor__in=contractors).values("user_id")
    linked_elsewhere = ContractorUser.objects.exclude(contractor__in=contractors).values("user_id")
    new_account = ~Q(pk__in=Membership.objects.values("user_id")) & ~Q(pk__in=linked)
    return User.objects.filter(
        Q(pk__in=member_in_scope) | Q(pk__in=linked_in_scope) | new_account,
        is_superuser=False,
    ).exclude(Q(pk=user.pk) | Q(pk__in=active_elsewhere) | Q(pk__in=linked_elsewhere))


def user_list(*, user) -> QuerySet[User]:
    """The users ``user`` may see: themselves, plus :func:`manageable_users`."""
    scope = get_scope(user)
    if scope.is_superuser:
        return User.objects.all()
    if not getattr(user, "is_authenticated", False):
        return User.objects.none()
    q = Q(pk=user.pk)
    if scope.municipalities_for(Action.MANAGE_USERS):
        q |= Q(pk__in=manageable_users(user=user).values("pk"))
    return User.objects.filter(q)


def membership_list(*, user) -> QuerySet[Membership]:
    scope = get_scope(user)
    if scope.is_superuser:
        return Membership.objects.all()
    q = Q(user_id=user.pk) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    if scope.municipalities_for(Action.MANAGE_USERS):
        q |= Q(organisation__in=manageable_organisations(user=user).values("pk"))
    return Membership.objects.filter(q)
