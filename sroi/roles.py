"""Roles as Django groups plus organisation membership (design.md, convention 6).

A user's *scope* (which municipalities) comes from their :class:`~sroi.models.Membership`
records and is decided in :mod:`sroi.permissions`. What they may do in the Django admin comes
from one :class:`~django.contrib.auth.models.Group` per role, with the model permissions below.
The groups are created by the data migration ``sroi/0002_role_groups`` and kept in line with
memberships by :func:`sroi.services.sync_user_access` (called by ``grant_role`` and
``revoke_role``). Nobody assigns groups by hand.

The admin's model permissions only open a changelist; every queryset in the admin is still
narrowed to the user's municipalities by ``sroi.admin_scoping.ScopedAdminMixin``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Role

CONTRACTOR = "contractor"  # not a staff role: held through contracts.ContractorUser

VIEW = ("view",)
VIEW_ADD_CHANGE = ("view", "add", "change")


@dataclass(frozen=True)
class RoleGroup:
    role: str
    group_name: str
    is_staff: bool
    # (app_label, model_name, actions)
    grants: tuple[tuple[str, str, tuple[str, ...]], ...]

    def permissions(self) -> frozenset[tuple[str, str]]:
        """``(app_label, codename)`` pairs, e.g. ``("contracts", "view_contract")``."""
        return frozenset(
            (app_label, f"{action}_{model}")
            for app_label, model, actions in self.grants
            for action in actions
        )


ROLE_GROUPS: dict[str, RoleGroup] = {
    Role.ADVISER: RoleGroup(
        role=Role.ADVISER,
        group_name="SROI-adviseur",
        is_staff=True,
        grants=(
            ("contracts", "contract", VIEW_ADD_CHANGE),
            ("contracts", "obligation", VIEW_ADD_CHANGE),
            ("contracts", "obligationchange", VIEW),
            ("contracts", "settlement", VIEW_ADD_CHANGE),
            ("contracts", "contractor", VIEW_ADD_CHANGE),
            ("contracts", "contractorcontact", VIEW_ADD_CHANGE),
            ("contracts", "sroipolicy", VIEW_ADD_CHANGE),
            ("contracts", "psodiscount", VIEW_ADD_CHANGE),
            ("placements", "candidate", VIEW_ADD_CHANGE),
            ("placements", "contribution", VIEW_ADD_CHANGE),
            ("placements", "evidence", VIEW_ADD_CHANGE),
            ("placements", "rulebook", VIEW_ADD_CHANGE),
            ("placements", "rule", VIEW_ADD_CHANGE),
            ("placements", "bonus", VIEW_ADD_CHANGE),
            ("reporting", "reportschedule", VIEW_ADD_CHANGE),
            ("reporting", "reportdelivery", VIEW),
            ("reporting", "exportlog", VIEW),
            ("sroi", "organisation", VIEW),
        ),
    ),
    Role.PROCUREMENT_OFFICER: RoleGroup(
        role=Role.PROCUREMENT_OFFICER,
        group_name="Inkoper",
        is_staff=True,
        grants=(
            ("contracts", "contract", VIEW_ADD_CHANGE),
            ("contracts", "contractor", VIEW_ADD_CHANGE),
            ("contracts", "contractorcontact", VIEW_ADD_CHANGE),
            ("contracts", "obligation", VIEW),
            ("contracts", "obligationchange", VIEW),
        ),
    ),
    Role.COUNCIL_VIEWER: RoleGroup(
        role=Role.COUNCIL_VIEWER,
        group_name="Raadsviewer",
        is_staff=True,
        grants=(
            ("contracts", "contract", VIEW),
            ("contracts", "obligation", VIEW),
            ("contracts", "obligationchange", VIEW),
            ("contracts", "settlement", VIEW),
        ),
    ),
    Role.FUNCTIONAL_ADMIN: RoleGroup(
        role=Role.FUNCTIONAL_ADMIN,
        group_name="Functioneel beheerder",
        is_staff=True,
        grants=(
            ("sroi", "user", VIEW_ADD_CHANGE),
            ("sroi", "organisation", VIEW_ADD_CHANGE),
            ("sroi", "membership", VIEW_ADD_CHANGE),
            ("contracts", "sroipolicy", VIEW_ADD_CHANGE),
            ("contracts", "psodiscount", VIEW_ADD_CHANGE),
            ("contracts", "contractoruser", VIEW_ADD_CHANGE),
            # To pick the contractor of a contractor user (autocomplete needs view).
            ("contracts", "contractor", VIEW),
            ("reporting", "reportschedule", VIEW_ADD_CHANGE),
            ("reporting", "exportlog", VIEW),
        ),
    ),
    CONTRACTOR: RoleGroup(
        role=CONTRACTOR,
        group_name="Opdrachtnemer",
        is_staff=False,
        grants=(),  # contractors use the portal, never the admin
    ),
}

STAFF_ROLES = frozenset(key for key, group in ROLE_GROUPS.items() if group.is_staff)
GROUP_NAMES = frozenset(group.group_name for group in ROLE_GROUPS.values())


def group_name(role: str) -> str:
    return ROLE_GROUPS[role].group_name


def sync_role_groups(apps=None) -> dict[str, list[str]]:
    """Create the role groups and set exactly the permissions of :data:`ROLE_GROUPS`.

    ``apps`` is the historical app registry inside a migration, ``None`` for the live one.
    Idempotent. Permissions of models that do not exist (yet) in ``apps`` are skipped and
    returned per group, so a later migration can call this again once they exist.
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    wanted = {pair for group in ROLE_GROUPS.values() for pair in group.permissions()}
    app_labels = {app_label for app_label, _ in wanted}
    available = {
        (app_label, codename): pk
        for pk, app_label, codename in Permission.objects.filter(
            content_type__app_label__in=app_labels
        ).values_list("pk", "content_type__app_label", "codename")
    }
    missing: dict[str, list[str]] = {}
    for role_group in ROLE_GROUPS.values():
        group, _ = Group.objects.get_or_create(name=role_group.group_name)
        perms = role_group.permissions()
        group.permissions.set([available[pair] for pair in perms if pair in available])
        absent = sorted(f"{a}.{c}" for a, c in perms if (a, c) not in available)
        if absent:
            missing[role_group.group_name] = absent
    return missing
