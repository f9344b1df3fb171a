"""Council reports on screen and as downloads. Thin: the form validates, selectors read,
services log. Every view answers only for the municipalities the user may export."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from contracts.models import Settlement

from . import exports, selectors, services
from .definitions import DEFINITIONS
from .forms import ReportForm
from .models import ExportLog

PAGE_SIZE = 25


def _form(request) -> ReportForm:
    municipalities = list(selectors.reportable_municipalities(request.user))
    if not municipalities:
        raise PermissionDenied
    return ReportForm(request.GET, municipalities=municipalities, today=timezone.localdate())


def _report(request, form: ReportForm) -> selectors.Report:
    scope = selectors.ReportScope(
        actor=request.user,
        municipalities=(
            (form.selected_municipality,)
            if form.selected_municipality is not None
            else tuple(form.municipalities.values())
        ),
        all_visible=form.selected_municipality is None,
    )
    return selectors.build_report(
        scope=scope, period=form.cleaned_data["report_period"], as_of=form.cleaned_data["as_of"]
    )


def _report_or_error(request) -> selectors.Report:
    """For downloads: a municipality the user may not export is a 404 (whatever the value:
    another municipality's id, garbage); any other invalid parameter is a 400."""
    form = _form(request)
    if not form.is_valid():
        if "municipality" in form.errors:
            raise Http404
        raise BadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors))
    return _report(request, form)


def _query(form: ReportForm) -> str:
    """The validated parameters (as of included) for the download and pagination links, so
    a download always equals the report on screen."""
    query = QueryDict(mutable=True)
    for name in form.fields:
        value = form.cleaned_data.get(name)
        if value not in (None, ""):
            query[name] = value.isoformat() if isinstance(value, date) else str(value)
    return query.urlencode()


class ReportView(LoginRequiredMixin, View):
    """The report on screen: the same figures as the downloads, printable."""

    template_name = "reporting/report.html"

    def get(self, request):
        form = _form(request)
        context = {"form": form, "definitions": DEFINITIONS}
        if form.is_valid():
            report = _report(request, form)
            services.log_export(report=report, kind=ExportLog.Kind.SCREEN, user=request.user)
            page = Paginator(selectors.contract_rows(report), PAGE_SIZE).get_page(
                request.GET.get("page")
            )
            context.update(
                report=report,
                page_obj=page,
                lines=[selectors.contract_line(c) for c in page.object_list],
                decision_labels=dict(Settlement.Decision.choices),
                period_description=exports.period_description(report),
                query=_query(form),
                csv_tables=list(exports.CSV_TABLES),
                show_total=len(report.municipalities) > 1,
            )
        return render(request, self.template_name, context)


@login_required
def export_xlsx(request):
    report = _report_or_error(request)
    services.log_export(report=report, kind=ExportLog.Kind.XLSX, user=request.user)
    return FileResponse(
        exports.workbook_file(report),
        as_attachment=True,
        filename=exports.xlsx_filename(report),
        content_type=exports.XLSX_CONTENT_TYPE,
    )


@login_required
def export_csv(request):
    table = request.GET.get("table") or "contracts"
    if table not in exports.CSV_TABLES:
        raise Http404
    report = _report_or_error(request)
    services.log_export(report=report, kind=ExportLog.Kind.CSV, user=request.user, table=table)
    response = StreamingHttpResponse(
        exports.csv_stream(report, table), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{exports.csv_filename(report, table)}"'
    )
    return response
