"""Back-office screens for contracts and obligations: lists, detail, entering and changing.

Thin views: FilterSets and forms validate, ``contracts.selectors`` read (scoped to the user),
``contracts.services`` write. An object the user may not see is a 404; a visible object the
user may not change is a 403. These are staff screens: contractor users and users without a
role get a 404 (the contractor portal is elsewhere).
"""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from placements import selectors as placement_selectors
from sroi.audit import candidates_shown, log_personal_data_read
from sroi.permissions import Action, can, get_scope

from . import selectors, services
from .filters import (
    CONTRACT_SORTS,
    DEFAULT_CONTRACT_SORT,
    DEFAULT_OBLIGATION_SORT,
    OBLIGATION_SORTS,
    PAGE_SIZE,
    ContractFilter,
    ObligationFilter,
    annotate_obligations,
    ordering_for,
    with_contract_status,
)
from .forms import ContractForm, ContractorForm
from .models import Contract, Obligation, Settlement
from .obligation_calc import Deviation

# --- helpers ---------------------------------------------------------------------------------


def _require_staff(user) -> None:
    """Back-office screens are for staff roles; anyone else does not learn they exist."""
    scope = get_scope(user)
    if not (scope.is_superuser or scope.municipalities_by_role):
        raise Http404


def _sort_headers(current: str, sorts: dict) -> dict:
    """Per sortable column: the ``sort`` value its header links to and its ``aria-sort``."""
    headers = {}
    for key in sorts:
        if current == key:
            headers[key] = {"next": f"-{key}", "aria": "ascending"}
        elif current == f"-{key}":
            headers[key] = {"next": key, "aria": "descending"}
        else:
            headers[key] = {"next": key, "aria": ""}
    return headers


def _sees_several_municipalities(filterset) -> bool:
    """Whether a municipality column and filter help: not for an officer of one municipality."""
    return len(filterset.form.fields["municipality"].queryset) > 1


def _paginate(request, qs, count: int):
    paginator = Paginator(qs, PAGE_SIZE)
    # The count is already known from the totals query: don't ask the database again.
    paginator.__dict__["count"] = count
    return paginator.get_page(request.GET.get("page"))


def _add_service_errors(form, exc: ValidationError) -> None:
    """Map a service's ValidationError onto the form: at the field when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            if field == NON_FIELD_ERRORS:
                target = None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


# --- Contract list ---------------------------------------------------------------------------


@login_required
def contract_list(request):
    _require_staff(request.user)
    today = timezone.localdate()
    base = with_contract_status(selectors.contract_list(user=request.user), today)
    filterset = ContractFilter(request.GET or None, queryset=base, request=request)
    sort, ordering = ordering_for(request.GET.get("sort"), CONTRACT_SORTS, DEFAULT_CONTRACT_SORT)
    qs = filterset.qs.order_by(*ordering)
    totals = filterset.qs.aggregate(
        count=Count("pk"),
        value=Sum("value_excl_vat"),
        required=Sum("obligation__amount"),
        with_obligation=Count("obligation"),
    )
    page = _paginate(request, qs, totals["count"])
    return render(
        request,
        "contracts/contract_list.html",
        {
            "filter": filterset,
            "page": page,
            "contracts": page.object_list,
            "totals": totals,
            "sort": sort,
            "headers": _sort_headers(sort, CONTRACT_SORTS),
            "show_municipality": _sees_several_municipalities(filterset),
            "may_create": bool(get_scope(request.user).municipalities_for(Action.CREATE_CONTRACT))
            or get_scope(request.user).is_superuser,
        },
    )


# --- Contract detail -------------------------------------------------------------------------


@login_required
def contract_detail(request, pk: int):
    _require_staff(request.user)
    user = request.user
    today = timezone.localdate()
    # contract_list is scoped to the user: a contract they may not see is a 404.
    contract = get_object_or_404(
        with_contract_status(selectors.contract_list(user=user), today), pk=pk
    )
    obligation = (
        annotate_obligations(
            selectors.obligation_list(user=user, qs=Obligation.objects.filter(contract=contract)),
            today,
        )
        .select_related("agreed_by")
        .first()
    )
    contributions, settlements, history = [], [], []
    if obligation is not None:
        contributions = list(
            placement_selectors.contribution_list(
                user=user, qs=obligation.contributions.all()
            ).order_by("start_date", "pk")
        )
        settlements = list(
            selectors.settlement_list(
                user=user, qs=Settlement.objects.filter(obligation=obligation)
            )
        )
        history = list(selectors.obligation_history(user=user, obligation=obligation))
        # The candidates' details shown on this page are recorded in the audit trail.
        log_personal_data_read(user, candidates_shown(contributions))
    open_obligation = obligation is not None and obligation.status == Obligation.Status.OPEN
    return render(
        request,
        "contracts/contract_detail.html",
        {
            "contract": contract,
            "obligation": obligation,
            "contributions": contributions,
            "settlements": settlements,
            "history": history,
            "status_labels": dict(ContractFilter.STATUS_CHOICES),
            "may_edit": can(user, Action.CHANGE_CONTRACT, contract),
            "may_agree": open_obligation and can(user, Action.AGREE_OBLIGATION, obligation),
            "may_settle": open_obligation and can(user, Action.SETTLE_OBLIGATION, obligation),
            "contract_status": contract.sroi_status,
        },
    )


# --- Contract create / edit ------------------------------------------------------------------


def _deviation_of(obligation: Obligation | None) -> Deviation | None:
    if obligation is None or not obligation.deviation:
        return None
    return Deviation(
        kind=obligation.deviation,
        percentage=obligation.percentage,
        reason=obligation.deviation_reason,
    )


def _initial_from_post(post) -> dict:
    """What the user typed, to redisplay unbound (without errors) after adding a contractor."""
    return {key: post.get(key) for key in post if key != "csrfmiddlewaretoken"}


def _contract_form_view(request, contract: Contract | None):
    user = request.user
    # The form works on its own copy: the page header keeps showing the stored contract.
    instance = copy.copy(contract) if contract is not None else None
    obligation = None
    if contract is not None:
        obligation = Obligation.objects.filter(contract=contract).first()
    contractor_form = ContractorForm(prefix="new_contractor", user=user)
    preview = None
    if request.method == "POST":
        if "create_contractor" in request.POST:
            contractor_form = ContractorForm(request.POST, prefix="new_contractor", user=user)
            initial = _initial_from_post(request.POST)
            if contractor_form.is_valid():
                try:
                    contractor = services.create_contractor(
                        acting_user=user, **contractor_form.cleaned_data
                    )
                except ValidationError as exc:
                    _add_service_errors(contractor_form, exc)
                else:
                    messages.success(
                        request,
                        _("Contractor %(name)s added and selected.") % {"name": contractor.name},
                    )
                    initial["contractor"] = contractor.pk
                    contractor_form = ContractorForm(prefix="new_contractor", user=user)
            form = ContractForm(instance=instance, initial=initial, user=user)
        else:
            form = ContractForm(
                request.POST, instance=instance, user=user, saving="save" in request.POST
            )
            if form.is_valid():
                if "save" in request.POST:
                    saved = _save(request, form, contract)
                    if saved is not None:
                        return redirect("contracts:contract_detail", pk=saved.pk)
                else:  # "preview", or Enter pressed in a field
                    preview = services.preview_obligation(form.instance, _deviation_of(obligation))
    else:
        form = ContractForm(instance=instance, user=user)
    return render(
        request,
        "contracts/contract_form.html",
        {
            "form": form,
            "contractor_form": contractor_form,
            "contract": contract,
            "obligation": obligation,
            "preview": preview,
            "settled": obligation is not None and obligation.status == Obligation.Status.SETTLED,
        },
    )


def _save(request, form: ContractForm, contract: Contract | None) -> Contract | None:
    user = request.user
    try:
        if contract is None:
            contract, obligation = services.create_contract(
                acting_user=user, **form.contract_fields()
            )
            if obligation is None:
                messages.success(
                    request,
                    _("Contract %(reference)s saved. It is below the threshold: no obligation.")
                    % {"reference": contract.reference},
                )
            else:
                messages.success(
                    request,
                    _("Contract %(reference)s saved with an SROI obligation.")
                    % {"reference": contract.reference},
                )
        else:
            changes = form.changed_contract_fields()
            if not changes:
                messages.info(request, _("Nothing was changed."))
                return contract
            contract = services.update_contract(
                acting_user=user,
                contract=contract,
                reason=form.cleaned_data.get("change_reason", "").strip(),
                **changes,
            )
            messages.success(
                request, _("Contract %(reference)s updated.") % {"reference": contract.reference}
            )
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return None
    return contract


@login_required
def contract_create(request):
    _require_staff(request.user)
    scope = get_scope(request.user)
    if not (scope.is_superuser or scope.municipalities_for(Action.CREATE_CONTRACT)):
        raise PermissionDenied
    return _contract_form_view(request, None)


@login_required
def contract_edit(request, pk: int):
    _require_staff(request.user)
    contract = selectors.contract_get(user=request.user, pk=pk)
    if not can(request.user, Action.CHANGE_CONTRACT, contract):
        raise PermissionDenied
    return _contract_form_view(request, contract)


# --- Obligations -----------------------------------------------------------------------------


@login_required
def obligation_list(request):
    _require_staff(request.user)
    today = timezone.localdate()
    base = annotate_obligations(selectors.obligation_list(user=request.user), today)
    filterset = ObligationFilter(request.GET or None, queryset=base, request=request)
    sort, ordering = ordering_for(
        request.GET.get("sort"), OBLIGATION_SORTS, DEFAULT_OBLIGATION_SORT
    )
    qs = filterset.qs.order_by(*ordering)
    # Aliases differ from the annotations they sum: an aggregate named like an annotation
    # would replace it in the inner query.
    sums = filterset.qs.aggregate(
        n=Count("pk"),
        sum_required=Sum("amount"),
        sum_reported=Sum("reported"),
        sum_realised=Sum("realised"),
    )
    totals = {
        "count": sums["n"],
        "required": sums["sum_required"],
        "reported": sums["sum_reported"],
        "realised": sums["sum_realised"],
    }
    page = _paginate(request, qs, totals["count"])
    return render(
        request,
        "contracts/obligation_list.html",
        {
            "filter": filterset,
            "page": page,
            "obligations": page.object_list,
            "totals": totals,
            "sort": sort,
            "headers": _sort_headers(sort, OBLIGATION_SORTS),
            "show_municipality": _sees_several_municipalities(filterset),
            "status_labels": dict(ObligationFilter.STATUS_CHOICES),
        },
    )


@login_required
def obligation_detail(request, pk: int):
    """The obligation is shown on its contract's page."""
    _require_staff(request.user)
    obligation = selectors.obligation_get(user=request.user, pk=pk)
    url = reverse("contracts:contract_detail", args=[obligation.contract_id])
    return redirect(f"{url}#obligation")
