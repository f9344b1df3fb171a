"""Screens of the spreadsheet import: template, upload, preview, confirm, result.

The views are thin: :mod:`contracts.importing` reads, validates and imports. Between the
preview and the confirmation the uploaded file is kept in private storage under a random token;
the session remembers which tokens (and which file hashes) belong to this user. Both are
handled by :mod:`sroi.uploads`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sroi import uploads
from sroi.permissions import Action

from . import importing, selectors
from .forms_import import ContractImportConfirmForm, ContractImportForm
from .services import can_in_any_municipality

PENDING_KEY = "contract_imports"
RESULTS_KEY = "contract_import_results"
MAX_PENDING = 5
MAX_RESULTS = 5
ROWS_SHOWN = 500
ERRORS_SHOWN = 1000

UPLOADS = uploads.UploadSession(
    pending_key=PENDING_KEY,
    results_key=RESULTS_KEY,
    files=importing.PENDING_UPLOADS,
    max_pending=MAX_PENDING,
    max_results=MAX_RESULTS,
)


def _require_importer(user) -> None:
    if not can_in_any_municipality(user, Action.CREATE_CONTRACT):
        raise PermissionDenied


@login_required
@require_GET
def import_template(request):
    _require_importer(request.user)
    content = importing.build_template(acting_user=request.user)
    response = HttpResponse(content, content_type=importing.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="sroi-import-opdrachten.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_contracts(request):
    """Upload: a file that cannot be used is refused on the form; a file with row errors shows
    its errors; a valid file is kept and the user is sent to the preview to confirm."""
    _require_importer(request.user)
    if request.method == "POST":
        form = ContractImportForm(request.POST, request.FILES)
    else:
        form = ContractImportForm()
    if form.is_bound and form.is_valid():
        data = form.file_bytes
        report = importing.validate_workbook(acting_user=request.user, data=data)
        filename = uploads.display_name(form.cleaned_data["file"].name, "import.xlsx")
        if report.file_errors:
            for error in report.file_errors:
                form.add_error("file", error)
        elif not report.can_import:
            # Row errors (or nothing new): nothing is kept; the user fixes the file.
            return _render_preview(request, report, filename=filename, token=None)
        else:
            token = UPLOADS.keep(request, data, report.sha256, filename)
            return redirect("contracts:import_preview", token=token)
    return render(
        request,
        "contracts/import_upload.html",
        {"form": form, "max_rows": importing.MAX_ROWS, "columns": importing.COLUMNS},
    )


@login_required
@require_GET
def import_preview(request, token: str):
    _require_importer(request.user)
    pending = UPLOADS.pending(request, token)
    if pending is None:
        return _expired(request)
    data = importing.load_pending_upload(token)
    if data is None:
        UPLOADS.forget_pending(request, token)
        return _expired(request)
    # Validated again: the database may have changed since the upload.
    report = importing.validate_workbook(acting_user=request.user, data=data)
    return _render_preview(request, report, filename=pending["filename"], token=token)


@login_required
@require_POST
def import_confirm(request, token: str):
    _require_importer(request.user)
    pending = UPLOADS.pending(request, token)
    if pending is None:
        return _expired(request)
    form = ContractImportConfirmForm(request.POST)
    if not form.is_valid() or form.cleaned_data["sha256"] != pending["sha256"]:
        messages.error(request, _("This is not the file that was checked; upload it again."))
        return redirect("contracts:import_contracts")
    data = importing.load_pending_upload(token)
    if data is None:
        UPLOADS.forget_pending(request, token)
        return _expired(request)
    try:
        result = importing.import_workbook(
            acting_user=request.user, data=data, expected_sha256=pending["sha256"]
        )
    except importing.ImportRejected as exc:
        messages.error(
            request,
            _("Something changed since the check: %(reason)s Nothing was imported.")
            % {"reason": exc.message},
        )
        return _render_preview(request, exc.report, filename=pending["filename"], token=token)
    except importing.ImportFailed as exc:
        report = importing.validate_workbook(acting_user=request.user, data=data)
        return _render_preview(
            request,
            report,
            filename=pending["filename"],
            token=token,
            failure=exc,
        )
    importing.discard_pending_upload(token)
    UPLOADS.forget_pending(request, token)
    _remember_result(request, token, result, pending["filename"])
    messages.success(request, summary_message(result))
    return redirect("contracts:import_result", token=token)


@login_required
@require_GET
def import_result(request, token: str):
    _require_importer(request.user)
    result = UPLOADS.result(request, token)
    if result is None:
        raise Http404
    contracts = (
        selectors.contract_list(user=request.user)
        .filter(pk__in=result["ids"])
        .order_by("municipality__name", "reference")
    )
    page = Paginator(contracts, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/import_result.html",
        {"result": result, "page": page, "contracts": page.object_list},
    )


def summary_message(result: importing.ImportResult) -> str:
    return _("%(contracts)s, %(obligations)s, %(skipped)s.") % {
        "contracts": ngettext("%(n)s contract imported", "%(n)s contracts imported", result.created)
        % {"n": result.created},
        "obligations": ngettext(
            "%(n)s obligation created", "%(n)s obligations created", result.obligations
        )
        % {"n": result.obligations},
        "skipped": ngettext(
            "%(n)s already imported and skipped",
            "%(n)s already imported and skipped",
            result.skipped,
        )
        % {"n": result.skipped},
    }


# --- Helpers ---------------------------------------------------------------------------------


def _render_preview(request, report, *, filename: str, token: str | None, failure=None):
    error_lines = [(row, error) for row in report.error_rows for error in row.errors]
    ok_rows = report.ok_rows
    context = {
        "report": report,
        "filename": filename,
        "token": token,
        "failure": failure,
        "error_lines": error_lines[:ERRORS_SHOWN],
        "errors_hidden": max(0, len(error_lines) - ERRORS_SHOWN),
        "ok_rows": ok_rows[:ROWS_SHOWN],
        "rows_hidden": max(0, len(ok_rows) - ROWS_SHOWN),
        "can_confirm": token is not None and report.can_import and failure is None,
        "confirm_form": ContractImportConfirmForm(initial={"sha256": report.sha256}),
        "form": ContractImportForm(),
        "columns": importing.COLUMNS,
    }
    return render(request, "contracts/import_preview.html", context)


def _remember_result(request, token: str, result: importing.ImportResult, filename: str) -> None:
    values = {
        "created": result.created,
        "obligations": result.obligations,
        "skipped": result.skipped,
        "contractors_created": result.contractors_created,
        "ids": list(result.contract_ids),
    }
    UPLOADS.remember_result(request, token, values, filename)


def _expired(request):
    messages.warning(
        request,
        _(
            "This import is no longer available (already imported or expired). "
            "Upload the file again."
        ),
    )
    return redirect("contracts:import_contracts")
