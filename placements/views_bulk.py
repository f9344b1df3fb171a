"""Bulk reporting by spreadsheet in the contractor portal: template, upload, preview, confirm,
result.

Thin views: :mod:`placements.bulk_import` reads, validates, values and imports. Only contractor
users reach these pages (``views_portal.portal_view``: anyone else gets a 404). Between the
preview and the confirmation the uploaded file is kept in private storage under a random token
(:func:`contracts.importing.store_pending_upload`); the session remembers which tokens (and
which file hashes) belong to this user, through :class:`sroi.uploads.UploadSession`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contracts import importing
from sroi import uploads

from . import bulk_import, portal
from .forms_bulk import BulkConfirmForm, BulkUploadForm
from .views_portal import portal_view

PENDING_KEY = "contribution_bulk_uploads"
RESULTS_KEY = "contribution_bulk_results"
MAX_PENDING = 5
MAX_RESULTS = 5
ROWS_SHOWN = 500
ERRORS_SHOWN = 1000
PAGE_SIZE = 25

UPLOADS = uploads.UploadSession(
    pending_key=PENDING_KEY,
    results_key=RESULTS_KEY,
    files=importing.PENDING_UPLOADS,
    max_pending=MAX_PENDING,
    max_results=MAX_RESULTS,
)


@portal_view
@require_GET
def bulk_template(request):
    content = bulk_import.build_template(acting_user=request.user)
    response = HttpResponse(content, content_type=bulk_import.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="sroi-bijdragen.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


@portal_view
@require_http_methods(["GET", "POST"])
def bulk_upload(request):
    """Upload: a file that cannot be used is refused on the form; a file with row errors shows
    its errors (nothing is kept); a valid file is kept and the user goes to the preview."""
    form = BulkUploadForm(request.POST, request.FILES) if request.method == "POST" else None
    if form is not None and form.is_valid():
        data = form.file_bytes
        report = bulk_import.validate_workbook(acting_user=request.user, data=data)
        filename = uploads.display_name(form.cleaned_data["file"].name, "bijdragen.xlsx")
        if report.file_errors:
            for error in report.file_errors:
                form.add_error("file", error)
        elif not report.can_import:
            return _render_preview(request, report, filename=filename, token=None)
        else:
            token = UPLOADS.keep(request, data, report.sha256, filename)
            return redirect("placements:portal_bulk_preview", token=token)
    return render(
        request,
        "placements/bulk_upload.html",
        {
            "form": form or BulkUploadForm(),
            "columns": bulk_import.COLUMNS,
            "contracts": bulk_import.open_obligation_contracts(request.user),
        },
    )


@portal_view
@require_GET
def bulk_preview(request, token: str):
    pending = UPLOADS.pending(request, token)
    data = importing.load_pending_upload(token) if pending else None
    if data is None:
        return _expired(request, token)
    # Validated again: the database may have changed since the upload.
    report = bulk_import.validate_workbook(acting_user=request.user, data=data)
    return _render_preview(request, report, filename=pending["filename"], token=token)


@portal_view
@require_POST
def bulk_confirm(request, token: str):
    pending = UPLOADS.pending(request, token)
    if pending is None:
        return _expired(request, token)
    form = BulkConfirmForm(request.POST)
    if not form.is_valid() or form.cleaned_data["sha256"] != pending["sha256"]:
        messages.error(request, _("This is not the file that was checked; upload it again."))
        return redirect("placements:portal_bulk_upload")
    data = importing.load_pending_upload(token)
    if data is None:
        return _expired(request, token)
    try:
        result = bulk_import.import_workbook(
            acting_user=request.user, data=data, expected_sha256=pending["sha256"]
        )
    except bulk_import.ImportRejected as exc:
        messages.error(
            request,
            _("Something changed since the check: %(reason)s Nothing was reported.")
            % {"reason": exc.message},
        )
        return _render_preview(request, exc.report, filename=pending["filename"], token=token)
    except bulk_import.ImportFailed as exc:
        report = bulk_import.validate_workbook(acting_user=request.user, data=data)
        return _render_preview(
            request, report, filename=pending["filename"], token=token, failure=exc
        )
    importing.discard_pending_upload(token)
    UPLOADS.forget_pending(request, token)
    _remember_result(request, token, result, pending["filename"])
    messages.success(request, summary_message(result))
    return redirect("placements:portal_bulk_result", token=token)


@portal_view
@require_GET
def bulk_result(request, token: str):
    result = UPLOADS.result(request, token)
    if result is None:
        raise Http404
    contributions = (
        portal.contribution_list(user=request.user)
        .filter(pk__in=result["ids"])
        .order_by("obligation__contract__reference", "start_date", "pk")
    )
    paginator = Paginator(contributions, PAGE_SIZE)
    paginator.count = len(result["ids"])  # known: saves a COUNT query
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "placements/bulk_result.html", {"result": result, "page": page})


def summary_message(result: bulk_import.BulkResult) -> str:
    return _("%(created)s, %(skipped)s.") % {
        "created": ngettext(
            "%(n)s contribution submitted for review",
            "%(n)s contributions submitted for review",
            result.created,
        )
        % {"n": result.created},
        "skipped": ngettext(
            "%(n)s already reported and skipped",
            "%(n)s already reported and skipped",
            result.skipped,
        )
        % {"n": result.skipped},
    }


# --- Helpers ---------------------------------------------------------------------------------


def _render_preview(request, report, *, filename: str, token: str | None, failure=None):
    error_lines = [(row, error) for row in report.error_rows for error in row.errors]
    ok_rows = report.ok_rows
    return render(
        request,
        "placements/bulk_preview.html",
        {
            "report": report,
            "filename": filename,
            "token": token,
            "failure": failure,
            "error_lines": error_lines[:ERRORS_SHOWN],
            "errors_hidden": max(0, len(error_lines) - ERRORS_SHOWN),
            "ok_rows": ok_rows[:ROWS_SHOWN],
            "rows_hidden": max(0, len(ok_rows) - ROWS_SHOWN),
            "can_confirm": token is not None and report.can_import and failure is None,
            "confirm_form": BulkConfirmForm(initial={"sha256": report.sha256}),
            "form": BulkUploadForm(),
        },
    )


def _remember_result(request, token: str, result: bulk_import.BulkResult, filename: str) -> None:
    values = {
        "created": result.created,
        "skipped": result.skipped,
        "candidates_created": result.candidates_created,
        "total_value": str(result.total_value),
        "ids": list(result.contribution_ids),
    }
    UPLOADS.remember_result(request, token, values, filename)


def _expired(request, token: str):
    UPLOADS.forget_pending(request, token)
    messages.warning(
        request,
        _(
            "This upload is no longer available (already reported or expired). "
            "Upload the file again."
        ),
    )
    return redirect("placements:portal_bulk_upload")
