"""Writes for users, roles and organisations.

A role is held through a :class:`~sroi.models.Membership`; the matching auth group (admin
permissions) and ``is_staff`` follow from the active memberships and are never set by hand
(:func:`sync_user_access`). Every function is keyword-only, takes the ``acting_user``, checks
permission, validates with ``full_clean()`` and runs in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .models import Membership, Organisation, Role, User
from .permissions import Action, clear_scope_cache, get_scope
from .roles import CONTRACTOR, GROUP_NAMES, ROLE_GROUPS, STAFF_ROLES, sync_role_groups


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def may_manage_organisation(user, organisation: Organisation) -> bool:
    """May ``user`` hand out roles in ``organisation``?

    Superusers always. A functional administrator (Action.MANAGE_USERS) may manage a
    municipality in their scope, a body they themselves are functional administrator of, a body
    all of whose municipalities are in their scope, and a body that serves nobody yet (a new
    executing body such as Servicepunt Werk, before the hand-over).
    """
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    managed = scope.municipalities_for(Action.MANAGE_USERS)
    if not managed:
        return False
    if organisation.kind == Organisation.Kind.MUNICIPALITY:
        return organisation.pk in managed
    if Membership.objects.filter(
        user=user, organisation=organisation, role=Role.FUNCTIONAL_ADMIN, is_active=True
    ).exists():
        return True
    served = set(organisation.serves.values_list("pk", flat=True))
    return served <= managed


# Roles that see personal data or hand out roles: only for whoever covers the organisation.
ELEVATED_ROLES = frozenset({Role.ADVISER, Role.FUNCTIONAL_ADMIN})


def covers_organisation(user, organisation: Organisation) -> bool:
    """Does ``user``'s functional-administrator scope cover all of ``organisation``?

    Superusers always. Otherwise a municipality they manage, or a body that serves at least
    one (active) municipality and only municipalities they manage. Stricter than
    :func:`may_manage_organisation`: a body that serves nobody yet is not covered, so the
    ADVISER and FUNCTIONAL_ADMIN roles there are for a superuser to hand out (or arrive with
    :func:`hand_over_coordination`).
    """
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    managed = scope.municipalities_for(Action.MANAGE_USERS)
    if not managed:
        return False
    if organisation.kind == Organisation.Kind.MUNICIPALITY:
        return organisation.pk in managed
    served = set(organisation.serves.filter(is_active=True).values_list("pk", flat=True))
    return bool(served) and served <= managed


def _require_not_self(acting_user, user: User) -> None:
    """Nobody changes their own roles, superusers included: ask another administrator."""
    if acting_user is not None and acting_user.pk is not None and acting_user.pk == user.pk:
        raise PermissionDenied(_("You cannot change your own roles."))


def sync_user_access(user: User) -> None:
    """Put ``user`` in exactly the role groups of their active memberships (plus the contractor
    group for an active contractor link) and set ``is_staff`` accordingly. Superusers keep
    ``is_staff``. Called by every service that changes memberships or contractor links."""
    roles = set(
        Membership.objects.filter(
            user=user, is_active=True, organisation__is_active=True
        ).values_list("role", flat=True)
    )
    from contracts.models import ContractorUser

    if ContractorUser.objects.filter(user=user, is_active=True).exists():
        roles.add(CONTRACTOR)
    wanted_names = {ROLE_GROUPS[role].group_name for role in roles if role in ROLE_GROUPS}
    groups = {g.name: g for g in Group.objects.filter(name__in=GROUP_NAMES)}
    if not wanted_names <= set(groups):
        sync_role_groups()
        groups = {g.name: g for g in Group.objects.filter(name__in=GROUP_NAMES)}
    current = set(user.groups.filter(name__in=GROUP_NAMES).values_list("name", flat=True))
    to_remove = [groups[name] for name in current - wanted_names]
    to_add = [groups[name] for name in wanted_names - current]
    if to_remove:
        user.groups.remove(*to_remove)
    if to_add:
        user.groups.add(*to_add)
    is_staff = bool(roles & STAFF_ROLES)
    if not user.is_superuser and user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    clear_scope_cache(user)


@transaction.atomic
def grant_role(*, acting_user, user: User, organisation: Organisation, role: str) -> Membership:
    """Give ``user`` ``role`` in ``organisation`` (or reactivate it). Idempotent, also when
    two administrators grant the same role at the same moment.

    Never to oneself. The ADVISER and FUNCTIONAL_ADMIN roles need an administrator whose
    scope covers the organisation (:func:`covers_organisation`)."""
    _require_not_self(acting_user, user)
    _require(may_manage_organisation(acting_user, organisation))
    if role in ELEVATED_ROLES:
        _require(covers_organisation(acting_user, organisation))
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if not organisation.is_active:
        raise ValidationError({"organisation": _("This organisation is not active.")})
    from contracts.models import ContractorUser

    if ContractorUser.objects.filter(user=user).exists():
        raise ValidationError(
            {"user": _("A contractor's portal user cannot hold a staff role as well.")}
        )
    lookup = {"user": user, "organisation": organisation, "role": role}
    membership = Membership.objects.select_for_update().filter(**lookup).first()
    if membership is None:
        candidate = Membership(**lookup, is_active=True)
        # Uniqueness is the database's to enforce: a concurrent grant of the same role is
        # caught below and answered with the membership the other one created.
        candidate.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():  # a savepoint: a concurrent insert must not 500
                candidate.save()
        except IntegrityError:
            membership = Membership.objects.select_for_update().filter(**lookup).first()
            if membership is None:
                raise
        else:
            sync_user_access(user)
            return candidate
    if not membership.is_active:
        membership.is_active = True
        membership.full_clean()
        membership.save()
    sync_user_access(user)
    return membership


@transaction.atomic
def revoke_role(
    *, acting_user, user: User, organisation: Organisation, role: str
) -> Membership | None:
    """Deactivate ``user``'s ``role`` in ``organisation`` (kept for the audit trail). Returns
    the membership, or ``None`` when the user did not hold the role. Never one's own."""
    _require_not_self(acting_user, user)
    _require(may_manage_organisation(acting_user, organisation))
    membership = (
        Membership.objects.select_for_update()
        .filter(user=user, organisation=organisation, role=role, is_active=True)
        .first()
    )
    if membership is not None:
        membership.is_active = False
        membership.full_clean()
        membership.save()
    sync_user_access(user)
    return membership


@dataclass(frozen=True)
class HandOver:
    from_body: Organisation
    to_body: Organisation
    municipalities: tuple[Organisation, ...]
    advisers: tuple[User, ...]


@transaction.atomic
def hand_over_coordination(
    *, acting_user, from_body: Organisation, to_body: Organisation
) -> HandOver:
    """Move the coordination from one executing body to another (e.g. to Servicepunt Werk).

    The municipalities ``from_body`` serves are now served by ``to_body`` and its advisers'
    memberships move along (the old ones are deactivated, not deleted). No contract,
    obligation, contribution or rulebook changes: what an adviser sees follows from the
    municipalities, so they see exactly what they saw before.
    """
    if from_body.pk == to_body.pk:
        raise ValidationError(_("Choose two different organisations."))
    for org in (from_body, to_body):
        if org.kind == Organisation.Kind.MUNICIPALITY:
            raise ValidationError(
                _("%(org)s is a municipality, not an executing body.") % {"org": org}
            )
    if not to_body.is_active:
        raise ValidationError({"to_body": _("This organisation is not active.")})
    _require(
        may_manage_organisation(acting_user, from_body)
        and may_manage_organisation(acting_user, to_body)
    )
    # Lock both bodies so two hand-overs (or a hand-over and a grant) cannot interleave.
    list(Organisation.objects.select_for_update().filter(pk__in=[from_body.pk, to_body.pk]))
    municipalities = tuple(from_body.serves.all())
    to_body.serves.add(*municipalities)
    from_body.serves.remove(*municipalities)

    advisers: list[User] = []
    old_memberships = (
        Membership.objects.select_for_update()
        .filter(organisation=from_body, role=Role.ADVISER, is_active=True)
        .select_related("user")
    )
    for old in old_memberships:
        new = Membership.objects.filter(
            user=old.user, organisation=to_body, role=Role.ADVISER
        ).first() or Membership(user=old.user, organisation=to_body, role=Role.ADVISER)
        new.is_active = True
        new.full_clean()
        new.save()
        old.is_active = False
        old.full_clean()
        old.save()
        advisers.append(old.user)
    for user in advisers:
        sync_user_access(user)
    return HandOver(
        from_body=from_body,
        to_body=to_body,
        municipalities=municipalities,
        advisers=tuple(advisers),
    )
