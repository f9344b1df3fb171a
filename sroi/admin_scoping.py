"""Scoping for the Django admin: the admin shows only what ``sroi.permissions`` allows.

Model permissions (from the role groups in ``sroi.roles``) decide *which* changelists a staff
user gets; :class:`ScopedAdminMixin` decides *which rows*: every admin queryset (changelist,
change page, autocomplete, delete) goes through the matching ``*_visible_to(user, qs)``, so an
adviser or procurement officer only ever sees the municipalities they work for. An object
outside that scope does not exist as far as the admin is concerned (the admin answers with its
"does not exist" redirect, never with data).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from .permissions import Action, get_scope

VisibleTo = Callable[..., QuerySet]


def _accepts_action(fn: VisibleTo) -> bool:
    return "action" in inspect.signature(fn).parameters


def call_visible_to(fn: VisibleTo, user, qs: QuerySet, action: Action = Action.VIEW) -> QuerySet:
    """Call a ``*_visible_to`` function, passing ``action`` only when it takes one."""
    if _accepts_action(fn):
        return fn(user, qs, action=action)
    return fn(user, qs)


def scoped_via(lookup: str, parent_visible_to: VisibleTo) -> VisibleTo:
    """A ``visible_to`` for a child model (e.g. Rule) through its parent (``rulebook``)."""

    def visible_to(user, qs: QuerySet, action: Action = Action.VIEW) -> QuerySet:
        parents = call_visible_to(parent_visible_to, user, None, action)
        return qs.filter(**{f"{lookup}__in": parents.values("pk")})

    visible_to.__name__ = f"visible_via_{lookup}"
    return visible_to


def may_see_personal_data(user) -> bool:
    scope = get_scope(user)
    return scope.is_superuser or bool(scope.municipalities_for(Action.VIEW_PERSONAL_DATA))


class ScopedAdminMixin:
    """Mix into a ``ModelAdmin`` or inline before the Django base class.

    ``visible_to``: the ``sroi.permissions`` function (or :func:`scoped_via`) for this model.
    ``change_action``: the action :func:`sroi.permissions.can` must allow to change an object
    (``None``: the model permission suffices). ``personal_data``: only roles that may see
    candidates' personal data get the model at all. Deletes are for superusers only.
    """

    visible_to: VisibleTo | None = None
    change_action: Action | None = None
    personal_data: bool = False
    superuser_delete_only: bool = True

    # -- rows ---------------------------------------------------------------------------------

    def scope_queryset(self, request, qs: QuerySet, action: Action = Action.VIEW) -> QuerySet:
        if self.visible_to is None:
            raise NotImplementedError(f"{type(self).__name__} must set visible_to")
        return call_visible_to(type(self).visible_to, request.user, qs, action)

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def in_scope(self, request, obj, action: Action) -> bool:
        if obj is None or obj.pk is None:
            return True
        qs = self.model._default_manager.filter(pk=obj.pk)
        return self.scope_queryset(request, qs, action).exists()

    def get_form(self, request, obj=None, **kwargs):
        """The form class, with the acting user attached (``form.acting_user``) so its
        ``clean()`` can validate through a service."""
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"acting_user": request.user})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Safety net: a service that refuses at save time (after the form validated, e.g. a
        concurrent change) rolls the whole save back and shows its message, never a 500."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(request.get_full_path())

    # -- permissions --------------------------------------------------------------------------

    def _personal_data_ok(self, request) -> bool:
        return not self.personal_data or may_see_personal_data(request.user)

    def has_module_permission(self, request):
        return self._personal_data_ok(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return (
            self._personal_data_ok(request)
            and super().has_view_permission(request, obj)
            and self.in_scope(request, obj, Action.VIEW)
        )

    def has_add_permission(self, request, *args):
        return self._personal_data_ok(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        if not (self._personal_data_ok(request) and super().has_change_permission(request, obj)):
            return False
        if obj is None or self.change_action is None:
            return True
        return self.in_scope(request, obj, self.change_action)

    def has_delete_permission(self, request, obj=None):
        if self.superuser_delete_only and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class ScopedInlineMixin(ScopedAdminMixin):
    """For inlines: the parent is already scoped, so rows need no extra filter by default."""

    def scope_queryset(self, request, qs, action=Action.VIEW):
        if self.visible_to is None:
            return qs
        return super().scope_queryset(request, qs, action)

    def in_scope(self, request, obj, action):
        return True


class ReadOnlyInlineMixin:
    """An inline that only shows history: no add, change or delete, for anybody."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _DryRun(Exception):
    """Raised inside a savepoint to undo a service call made only to validate a form."""


def validate_with_service(form, call: Callable[[], object]) -> None:
    """Run a service ``call`` in a savepoint that is always rolled back, and turn its
    ``ValidationError`` / ``PermissionDenied`` into form errors.

    The admin's ``save_model`` cannot report errors back to the form; by running the very same
    service during ``clean()`` the form shows exactly the errors the service would raise, and
    the real call in ``save_model`` then succeeds. No validation logic is duplicated.
    """
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return
    except PermissionDenied:
        form.add_error(None, ValidationError(_("You may not do this for this municipality.")))
    except ValidationError as exc:
        add_service_errors(form, exc)


def add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields and field != NON_FIELD_ERRORS else None
            for error in errors:
                form.add_error(target, error)
    else:
        form.add_error(None, exc)
