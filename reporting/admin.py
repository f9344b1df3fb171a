"""Admin for report schedules, their deliveries and the export log.

Rows are scoped by ``sroi.admin_scoping.ScopedAdminMixin`` to the user's municipalities.
Deliveries and the export log are read-only history for everybody; a delivery may be deleted
by a superuser only (which lets the next run send that period again).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sroi import permissions
from sroi.admin_scoping import ReadOnlyInlineMixin, ScopedAdminMixin, ScopedInlineMixin
from sroi.permissions import Action

from . import selectors
from .models import ExportLog, ReportDelivery, ReportSchedule


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReportDeliveryInline(ScopedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = ReportDelivery
    fields = ("period", "created_at", "sent_at", "recipients", "error")
    readonly_fields = fields
    ordering = ("-created_at",)


@admin.register(ReportSchedule)
class ReportScheduleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = selectors.schedules_visible_to
    # Setting who receives a municipality's reports is municipality configuration.
    change_action = Action.MANAGE_POLICY
    list_display = (
        "municipality",
        "frequency",
        "coverage",
        "enabled",
        "last_sent_period",
        "recipients",
    )
    list_filter = ("enabled", "frequency", "coverage")
    list_select_related = ("municipality",)
    search_fields = ("municipality__name", "recipients")
    fields = ("municipality", "recipients", "frequency", "coverage", "enabled")
    readonly_fields = ("last_sent_period", "created_at", "updated_at")
    inlines = [ReportDeliveryInline]

    def get_fields(self, request, obj=None):
        return self.fields + (self.readonly_fields if obj is not None else ())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "municipality":
            kwargs["queryset"] = permissions.municipalities_visible_to(
                request.user, Action.MANAGE_POLICY
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    visible_to = selectors.deliveries_visible_to
    list_display = ("schedule", "period", "created_at", "sent_at", "has_error")
    list_filter = ("period",)
    list_select_related = ("schedule__municipality",)
    search_fields = ("schedule__municipality__name", "period")
    readonly_fields = ("schedule", "period", "recipients", "created_at", "sent_at", "error")

    @admin.display(boolean=True, description=_("error"))
    def has_error(self, obj) -> bool:
        return bool(obj.error)


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    visible_to = selectors.export_logs_visible_to
    list_display = (
        "created_at",
        "actor",
        "kind",
        "scope",
        "table",
        "period_from",
        "period_to",
        "as_of",
        "contract_rows",
        "contribution_rows",
    )
    list_filter = ("kind",)
    search_fields = ("actor", "scope")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "user",
        "actor",
        "kind",
        "municipalities",
        "scope",
        "table",
        "period_kind",
        "period_from",
        "period_to",
        "as_of",
        "contract_rows",
        "contribution_rows",
    )
    fields = readonly_fields
