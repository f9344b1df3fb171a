"""The audit trail in the Django admin.

* :class:`ReadOnlyLogEntryAdmin` replaces auditlog's ``LogEntry`` admin: nobody, superusers
  included, can add, change or delete a log entry through the application, and only
  superusers (operators) get the list of all entries.
* :class:`AuditHistoryAdminMixin` turns an admin's "History" page into the object's audit
  trail (who, when, what, old → new), for users (with their memberships, i.e. their roles and
  the role groups that follow from them), memberships and organisations. The object is looked
  up through the admin's scoped ``get_object`` (``sroi.admin_scoping``), so a functional
  administrator sees the history of exactly the users they may see.
* :class:`PersonalDataReadsAdminMixin` records staff reads of candidates' personal data on
  admin pages (``sroi.audit.log_personal_data_read``).
"""

from __future__ import annotations

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .audit import log_personal_data_read
from .history import children_filter, history_rows, own_filter

__all__ = [
    "AuditHistoryAdminMixin",
    "LogEntry",
    "PersonalDataReadsAdminMixin",
    "ReadOnlyLogEntryAdmin",
]


class ReadOnlyLogEntryAdmin(LogEntryAdmin):
    """Audit entries are read-only for everybody; the full list is for superusers only."""

    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request):
        return self.has_view_permission(request)


class AuditHistoryAdminMixin:
    """Mix into a scoped ``ModelAdmin``: its "History" page shows the audit trail.

    ``audit_children``: ``(model, foreign key)`` pairs whose entries belong to this object's
    history (e.g. a user's memberships)."""

    audit_children: tuple = ()
    audit_history_per_page = 25

    def audit_history_filter(self, obj) -> Q:
        q = own_filter(obj)
        for model, fk in self.audit_children:
            q |= children_filter(model, fk, [obj.pk])
        return q

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = (
            LogEntry.objects.filter(self.audit_history_filter(obj))
            .select_related("actor", "content_type")
            .order_by("-timestamp", "-pk")
        )
        page = Paginator(entries, self.audit_history_per_page).get_page(request.GET.get("p"))
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("History: %(object)s") % {"object": obj},
            "subtitle": None,
            "module_name": str(capfirst(opts.verbose_name_plural)),
            "object": obj,
            "opts": opts,
            "page": page,
            "rows": history_rows(page.object_list),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/sroi/audit_history.html", context)


class PersonalDataReadsAdminMixin:
    """Mix into an admin whose pages show candidates' personal data; override
    :meth:`personal_data_shown` to say which objects a page shows details of."""

    def personal_data_shown(self, request, objects, *, change_form: bool) -> list:
        return [o for o in objects if getattr(o, "anonymised_at", None) is None]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            shown = self.personal_data_shown(
                request, list(changelist.result_list), change_form=False
            )
            log_personal_data_read(request.user, shown)
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            log_personal_data_read(
                request.user, self.personal_data_shown(request, [obj], change_form=True)
            )
        return super().render_change_form(request, context, add, change, form_url, obj)
