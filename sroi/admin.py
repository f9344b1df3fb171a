"""Admin for users, organisations and memberships.

Roles are handed out as memberships, always through ``sroi.services.grant_role`` /
``revoke_role`` (also from the membership inline), so the role group and ``is_staff`` follow
automatically. Groups, ``is_staff`` and ``is_superuser`` are read-only for everybody but
superusers: a functional administrator cannot raise anybody's (or their own) rights by hand,
and their own memberships are read-only to them.

A functional administrator reaches only the users of ``sroi.selectors.user_list`` (their own
municipalities' staff, portal users of contractors working there, and new accounts): the
changelist, the change page and the password change page (``/admin/sroi/user/<id>/password/``)
all look the user up through the scoped ``get_queryset``, so anybody else "does not exist".
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from . import selectors, services
from .admin_audit import AuditHistoryAdminMixin, LogEntry, ReadOnlyLogEntryAdmin
from .admin_scoping import ScopedAdminMixin, ScopedInlineMixin, validate_with_service
from .admin_two_factor import TwoFactorUserAdminMixin, unregister_device_admins
from .models import Membership, Organisation, User
from .permissions import Action, get_scope

# --- Memberships -----------------------------------------------------------------------------


class MembershipForm(forms.ModelForm):
    """An existing membership's user, organisation and role are fixed (deactivate it and add
    a new one instead), so history stays truthful. ``clean()`` runs ``grant_role`` /
    ``revoke_role`` in a rolled-back savepoint, so the service's refusals (one's own roles, an
    ADVISER or FUNCTIONAL_ADMIN role outside one's scope) show on the form."""

    acting_user = None

    class Meta:
        model = Membership
        fields = ("user", "organisation", "role", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in ("user", "organisation", "role"):
                if name in self.fields:
                    self.fields[name].disabled = True
            # The fixed values must stay valid choices even when the (scoped) choices no
            # longer hold them, e.g. an inactive organisation.
            for name in ("user", "organisation"):
                field = self.fields.get(name)
                if field is not None and hasattr(field, "queryset"):
                    model = field.queryset.model
                    keep = getattr(self.instance, f"{name}_id")
                    field.queryset = field.queryset | model.objects.filter(pk=keep)

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        if user is not None and not self.instance.pk and _is_contractor_user(user):
            raise forms.ValidationError(
                _("A contractor's portal user cannot hold a staff role as well.")
            )
        acting_user = self.acting_user
        if acting_user is None or user is None or self.errors or not self.has_changed():
            return cleaned
        if user.pk == acting_user.pk:
            raise forms.ValidationError(
                _("You cannot change your own roles; ask another administrator.")
            )
        organisation = cleaned.get("organisation") or getattr(self.instance, "organisation", None)
        role = cleaned.get("role") or self.instance.role
        if organisation is None or not role:
            return cleaned
        # A fresh copy: the dry run must not touch the user object the admin saves later.
        target = type(user).objects.get(pk=user.pk) if user.pk else user
        validate_with_service(
            self,
            lambda: _apply_membership(
                acting_user,
                user=target,
                organisation=organisation,
                role=role,
                is_active=cleaned.get("is_active", True),
            ),
        )
        return cleaned


def _is_contractor_user(user) -> bool:
    from contracts.models import ContractorUser

    return user.pk is not None and ContractorUser.objects.filter(user=user).exists()


def _apply_membership(acting_user, *, user, organisation, role, is_active) -> Membership | None:
    if is_active:
        return services.grant_role(
            acting_user=acting_user, user=user, organisation=organisation, role=role
        )
    return services.revoke_role(
        acting_user=acting_user, user=user, organisation=organisation, role=role
    )


def memberships_managed_by(user, qs):
    """Membership rows of a user's page: superusers see all, a functional administrator only
    those in organisations they manage (not the user's roles elsewhere)."""
    if get_scope(user).is_superuser:
        return qs
    return qs.filter(organisation__in=selectors.manageable_organisations(user=user).values("pk"))


def _limit_organisations(request, formfield):
    if formfield is not None:
        formfield.queryset = selectors.manageable_organisations(user=request.user).filter(
            is_active=True
        )
    return formfield


class MembershipInline(ScopedInlineMixin, admin.TabularInline):
    model = Membership
    form = MembershipForm
    fields = ("organisation", "role", "is_active", "created_at")
    readonly_fields = ("created_at",)
    extra = 0
    visible_to = memberships_managed_by

    @staticmethod
    def _is_own_page(request, obj) -> bool:
        return obj is not None and obj.pk is not None and obj.pk == request.user.pk

    def has_add_permission(self, request, obj=None):
        # Nobody changes their own roles: on one's own page the memberships are read-only.
        return not self._is_own_page(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._is_own_page(request, obj) and super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "organisation":
            return _limit_organisations(request, formfield)
        return formfield

    def get_formset(self, request, obj=None, **kwargs):
        form = kwargs.get("form", self.form)
        kwargs["form"] = type(form.__name__, (form,), {"acting_user": request.user})
        formset = super().get_formset(request, obj, **kwargs)
        parent = obj

        class ContractorCheckFormSet(formset):
            def clean(self):
                super().clean()
                adding = any(f.has_changed() and not f.instance.pk for f in self.forms)
                if adding and parent is not None and _is_contractor_user(parent):
                    raise forms.ValidationError(
                        _("A contractor's portal user cannot hold a staff role as well.")
                    )

        return ContractorCheckFormSet


# --- Users -----------------------------------------------------------------------------------


class SroiUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class SroiUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


SUPERUSER_ONLY_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(TwoFactorUserAdminMixin, AuditHistoryAdminMixin, ScopedAdminMixin, DjangoUserAdmin):
    audit_children = ((Membership, "user"),)  # History: the user, their roles and groups
    form = SroiUserChangeForm
    add_form = SroiUserCreationForm
    inlines = [MembershipInline]
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "is_superuser", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    filter_horizontal = ("groups", "user_permissions")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (
            _("Permissions"),
            {
                "fields": ("is_active", *SUPERUSER_ONLY_FIELDS),
                "description": _(
                    "Roles are given as memberships below; the matching group and admin access "
                    "follow automatically."
                ),
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )

    def scope_queryset(self, request, qs, action=Action.VIEW):
        return qs.filter(pk__in=selectors.user_list(user=request.user).values("pk"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in SUPERUSER_ONLY_FIELDS if f not in fields]
        return fields

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        user = form.instance
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            instance = inline_form.instance
            _apply_membership(
                request.user,
                user=user,
                organisation=instance.organisation if instance.pk else data["organisation"],
                role=instance.role if instance.pk else data["role"],
                is_active=data.get("is_active", True),
            )
        for deleted in formset.deleted_forms:  # superusers only (has_delete_permission)
            if deleted.instance.pk:
                deleted.instance.delete()
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            services.sync_user_access(form.instance)


@admin.register(Membership)
class MembershipAdmin(AuditHistoryAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "organisation", "role", "is_active", "created_at")
    list_filter = ("role", "is_active", "organisation__kind")
    search_fields = ("user__email", "user__full_name", "organisation__name")
    autocomplete_fields = ("user",)
    list_select_related = ("user", "organisation")
    readonly_fields = ("created_at",)
    change_action = Action.MANAGE_USERS

    def scope_queryset(self, request, qs, action=Action.VIEW):
        return qs.filter(pk__in=selectors.membership_list(user=request.user).values("pk"))

    def in_scope(self, request, obj, action):
        if obj is None or obj.pk is None:
            return True
        if action != Action.VIEW and obj.user_id == request.user.pk:
            return False  # one's own roles are read-only, superusers included
        if request.user.is_superuser:
            return True
        if action == Action.VIEW:
            return self.get_queryset(request).filter(pk=obj.pk).exists()
        return services.may_manage_organisation(request.user, obj.organisation)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "organisation":
            return _limit_organisations(request, formfield)
        if db_field.name == "user" and formfield is not None:
            formfield.queryset = selectors.manageable_users(user=request.user)
        return formfield

    def save_model(self, request, obj, form, change):
        # The form limits users and organisations to those the acting user manages and
        # rejects contractor users, so the service's checks pass here.
        membership = _apply_membership(
            request.user,
            user=obj.user,
            organisation=obj.organisation,
            role=obj.role,
            is_active=obj.is_active,
        )
        if membership is not None:
            obj.pk = membership.pk
            obj.created_at = membership.created_at
            obj._state.adding = False


# --- Organisations ---------------------------------------------------------------------------


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ("name", "kind", "serves", "is_active")


@admin.register(Organisation)
class OrganisationAdmin(AuditHistoryAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = OrganisationForm
    list_display = ("name", "kind", "served_municipalities", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("serves",)
    change_action = Action.MANAGE_USERS

    def scope_queryset(self, request, qs, action=Action.VIEW):
        if action == Action.MANAGE_USERS:
            visible = selectors.manageable_organisations(user=request.user)
        else:
            visible = selectors.organisation_list(user=request.user)
        return qs.filter(pk__in=visible.values("pk"))

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("serves")

    @admin.display(description=_("serves municipalities"))
    def served_municipalities(self, obj) -> str:
        return ", ".join(m.name for m in obj.serves.all()) or "–"

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "serves" and formfield is not None and not request.user.is_superuser:
            # Nobody can widen their own scope: only municipalities they already manage.
            managed = get_scope(request.user).municipalities_for(Action.MANAGE_USERS)
            formfield.queryset = formfield.queryset.filter(pk__in=managed)
        return formfield


# --- Audit trail: read-only for everybody (sroi.admin_audit) ---------------------------------

if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)
admin.site.register(LogEntry, ReadOnlyLogEntryAdmin)


# --- Two-factor devices: no admin pages of their own (sroi.admin_two_factor) ------------------

unregister_device_admins()
