"""The adviser's dashboard and the flag actions (acknowledge, snooze). Thin: forms validate,
``reporting.dashboard`` reads, ``reporting.flag_services`` writes."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import dashboard as selectors
from . import flag_services
from .forms_dashboard import AcknowledgeFlagForm, DashboardFilterForm, SnoozeFlagForm

PAGE_SIZE = 25


@login_required
def dashboard(request):
    """Also the home page of an adviser (``sroi.views.home`` calls this view)."""
    selectors.require_adviser(request.user)
    today = timezone.localdate()
    form = DashboardFilterForm(
        request.GET or None, municipalities=selectors.advised_municipalities(request.user)
    )
    board = selectors.build_dashboard(
        request.user,
        municipalities=form.selected,
        today=today,
        show_snoozed=form.show_snoozed,
    )
    page = Paginator(board.flags, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "reporting/dashboard.html",
        {
            "form": form,
            "board": board,
            "page_obj": page,
            "flags": page.object_list,
            "today": today,
            "snooze_min": today + timedelta(days=1),
            "snooze_max": today + flag_services.MAX_SNOOZE,
            "next_url": request.get_full_path(),
            "many_municipalities": len(form.municipalities) > 1,
        },
    )


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("reporting:dashboard")


def _flag(request, pk: int):
    """A flag the user may see (404 otherwise); handling it is for its municipality's adviser
    (403 otherwise)."""
    flag = get_object_or_404(
        selectors.flags_visible_to(request.user).select_related(
            "municipality", "contract__contractor", "obligation", "acknowledged_by"
        ),
        pk=pk,
    )
    if not selectors.may_handle_flag(request.user, flag):
        raise PermissionDenied
    return flag


def _apply_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _flag_action(request, pk: int, *, action: str):
    flag = _flag(request, pk)
    today = timezone.localdate()
    if action == "acknowledge":
        form = AcknowledgeFlagForm(request.POST or None, initial={"note": flag.acknowledge_note})
    else:
        form = SnoozeFlagForm(request.POST or None, today=today)
    if request.method == "POST" and form.is_valid():
        try:
            if action == "acknowledge":
                flag_services.acknowledge_flag(
                    flag=flag, acting_user=request.user, note=form.cleaned_data["note"]
                )
                messages.success(
                    request,
                    _("Flag acknowledged: %(flag)s, %(contract)s.")
                    % {"flag": flag.get_kind_display(), "contract": flag.contract.reference},
                )
            else:
                until = form.cleaned_data["until"]
                flag_services.snooze_flag(
                    flag=flag, acting_user=request.user, until=until, today=today
                )
                messages.success(
                    request,
                    _("Flag snoozed until %(date)s: %(flag)s, %(contract)s.")
                    % {
                        "date": until.strftime("%d-%m-%Y"),
                        "flag": flag.get_kind_display(),
                        "contract": flag.contract.reference,
                    },
                )
            return redirect(_next_url(request))
        except ValidationError as error:
            _apply_errors(form, error)
    return render(
        request,
        "reporting/dashboard_flag_action.html",
        {"flag": flag, "form": form, "action": action, "next_url": _next_url(request)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def flag_acknowledge(request, pk: int):
    return _flag_action(request, pk, action="acknowledge")


@login_required
@require_http_methods(["GET", "POST"])
def flag_snooze(request, pk: int):
    return _flag_action(request, pk, action="snooze")
