"""Reads for users, organisations and memberships, always scoped to the reading user.

* Superusers see everything.
* A functional administrator sees the organisations they may manage (see
  :func:`sroi.services.may_manage_organisation`), the users holding a role there, every
  contractor's portal user (staff see all contractors) and users without any role yet (just
  created, still to be given one).
* Other staff see the municipalities in their scope and their own organisations, and only
  themselves among users.
* Contractor users and users without a role see no organisations and only themselves.
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


def user_list(*, user) -> QuerySet[User]:
    from contracts.models import ContractorUser

    scope = get_scope(user)
    if scope.is_superuser:
        return User.objects.all()
    if not getattr(user, "is_authenticated", False):
        return User.objects.none()
    q = Q(pk=user.pk)
    if scope.municipalities_for(Action.MANAGE_USERS):
        orgs = manageable_organisations(user=user).values("pk")
        members = Membership.objects.filter(organisation__in=orgs).values("user_id")
        q |= Q(pk__in=members)
        linked = ContractorUser.objects.values("user_id")
        q |= Q(pk__in=linked)
        q |= (
            ~Q(pk__in=Membership.objects.values("user_id"))
            & ~Q(pk__in=linked)
            & Q(is_superuser=False)
        )
    return User.objects.filter(q)


def membership_list(*, user) -> QuerySet[Membership]:
    scope = get_scope(user)
    if scope.is_superuser:
        return Membership.objects.all()
    q = Q(user_id=user.pk) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    if scope.municipalities_for(Action.MANAGE_USERS):
        q |= Q(organisation__in=manageable_organisations(user=user).values("pk"))
    return Membership.objects.filter(q)
