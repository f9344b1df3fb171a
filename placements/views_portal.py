"""The contractor portal: the contractor's own obligations, what is asked of them now, the plan
of approach, reporting and changing contributions with their value shown first, and evidence.

Only contractor users reach these pages (:func:`portal_view`): for anyone else, staff included,
the portal does not exist (404). Every object is read through ``placements.portal``, which
narrows the scoped selectors to the user's own contractor, so another contractor's obligation,
contribution, candidate or evidence is a 404. Writes go through the services.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts.models import Obligation

from . import plans, portal, selectors, services
from .forms import add_service_errors
from .forms_portal import ContributionForm, EvidenceForm, PortalPlanItemFormSet, initial_from
from .models import Contribution, PlanOfApproach

PAGE_SIZE = 25
S = Contribution.Status
P = PlanOfApproach.Status
#: Service error keys that belong to another field of the portal forms.
ERROR_ALIASES = {"file": "evidence_file"}
EVIDENCE_FIELDS = {"evidence_file", "evidence_kind"}


def portal_view(view):
    """Login required (anonymous: to the login page); contractor users only (others: 404)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        portal.contractor_id_of(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def _page(request, qs, count: int):
    paginator = Paginator(qs, PAGE_SIZE)
    paginator.count = count  # known from an aggregate: saves a COUNT query
    return paginator.get_page(request.GET.get("page"))


# --- Home ------------------------------------------------------------------------------------


@portal_view
def home(request):
    user = request.user
    today = timezone.localdate()
    obligations = list(portal.obligation_list(user=user))
    returned = list(portal.returned_contributions(user=user))
    rows = [
        {
            "obligation": o,
            "elapsed": portal.elapsed_share(o, today),
            "fulfilled": portal.is_fulfilled(o),
            "days_left": (o.deadline - today).days,
        }
        for o in obligations
    ]
    return render(
        request,
        "placements/portal_home.html",
        {
            "rows": rows,
            "asks": portal.asks_for(obligations, returned, today),
            "without_obligation": list(portal.contracts_without_obligation(user=user)),
            "contractor": obligations[0].contract.contractor if obligations else None,
            "deadline_near_days": portal.DEADLINE_NEAR_DAYS,
        },
    )


@portal_view
def candidates(request):
    qs = portal.candidate_overview(user=request.user)
    count = qs.count()
    page = _page(request, qs, count)
    return render(request, "placements/portal_candidates.html", {"page": page, "count": count})


# --- Obligation ------------------------------------------------------------------------------


@portal_view
def obligation_detail(request, pk: int):
    user = request.user
    obligation = portal.obligation_get(user=user, pk=pk)
    history = list(plans.plan_history(user=user, obligation=obligation))
    qs = portal.contribution_list(user=user, obligation=obligation).order_by("-start_date", "pk")
    totals = qs.order_by().aggregate(
        count=Count("pk"),
        submitted=Count("pk", filter=Q(status=S.SUBMITTED)),
        approved=Count("pk", filter=Q(status=S.APPROVED)),
        returned=Count("pk", filter=Q(status=S.RETURNED)),
        rejected=Count("pk", filter=Q(status=S.REJECTED)),
        rejected_value=Sum("value", filter=Q(status=S.REJECTED)),
    )
    page = _page(request, qs, totals["count"])
    is_open = obligation.status == Obligation.Status.OPEN
    return render(
        request,
        "placements/portal_obligation.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "plan": history[0] if history else None,
            "page": page,
            "totals": totals,
            "elapsed": portal.elapsed_share(obligation),
            "is_open": is_open,
            "may_report": is_open and obligation.rulebook_id is not None,
            "editable_statuses": portal.EDITABLE_STATUSES,
        },
    )


# --- Plan of approach ------------------------------------------------------------------------


@portal_view
def plan(request, pk: int):
    user = request.user
    obligation = portal.obligation_get(user=user, pk=pk)
    history = list(plans.plan_history(user=user, obligation=obligation))
    current = history[0] if history else None
    editable = obligation.status == Obligation.Status.OPEN and (
        current is None or current.status in (P.RETURNED, P.DRAFT)
    )
    formset = None
    service_errors: list[str] = []
    if editable:
        initial = None
        if current is not None and request.method != "POST":
            initial = [
                {name: getattr(item, name) for name in plans.ITEM_FIELDS}
                for item in current.items.all()
            ]
        formset = PortalPlanItemFormSet(
            request.POST if request.method == "POST" else None, initial=initial, prefix="items"
        )
    if request.method == "POST":
        if not editable:
            messages.error(request, _("The plan of approach cannot be changed now."))
            return redirect("placements:portal_plan", pk=obligation.pk)
        if formset.is_valid():
            items = [
                {name: form.cleaned_data.get(name) for name in plans.ITEM_FIELDS}
                for form in formset
                if form.cleaned_data and not form.cleaned_data.get("DELETE")
            ]
            try:
                plans.submit_plan(acting_user=user, obligation=obligation, items=items)
            except ValidationError as exc:
                service_errors = exc.messages
            else:
                messages.success(
                    request,
                    _("Your plan of approach has been submitted to the SROI adviser."),
                )
                return redirect("placements:portal_obligation", pk=obligation.pk)
    return render(
        request,
        "placements/portal_plan.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "plan": current,
            "earlier": history[1:],
            "editable": editable,
            "formset": formset,
            "service_errors": service_errors,
        },
    )


# --- Reporting a contribution ----------------------------------------------------------------


@portal_view
def report_start(request):
    """Choose the obligation to report on; with only one open obligation, go straight there."""
    obligations = [
        o
        for o in portal.obligation_list(user=request.user)
        if o.status == Obligation.Status.OPEN and o.rulebook_id is not None
    ]
    if len(obligations) == 1:
        return redirect("placements:portal_report", pk=obligations[0].pk)
    return render(request, "placements/portal_report_start.html", {"obligations": obligations})


def _closed_redirect(request, obligation: Obligation):
    messages.error(
        request, _("This obligation is settled; contributions can no longer be reported.")
    )
    return redirect("placements:portal_obligation", pk=obligation.pk)


def _value_and_submit(request, *, form: ContributionForm, obligation: Obligation, store):
    """Validate, value and, when the user asked to submit the value they saw, store.

    Returns ``(contribution or None, preview or None, value_changed)``. ``store(form)`` calls
    the services; their ``ValidationError`` ends up on the form."""
    if not form.is_valid():
        if set(form.errors) - EVIDENCE_FIELDS:
            return None, None, False
        # Only the evidence is wrong: still show the value, so the user can fix the file.
        store = None
    candidate = form.candidate
    details = form.new_candidate()
    if details is not None:
        candidate = portal.unsaved_candidate(
            contractor_id=obligation.contract.contractor_id, details=details
        )
    try:
        preview = portal.preview_value(
            obligation=obligation, candidate=candidate, inputs=form.inputs()
        )
    except ValidationError as exc:
        add_service_errors(form, exc, aliases=ERROR_ALIASES)
        return None, None, False
    if store is None or "submit" not in request.POST:
        return None, preview, False
    if form.cleaned_data.get("previewed_value") != preview.value:
        return None, preview, True
    try:
        contribution = store(form)
    except ValidationError as exc:
        add_service_errors(form, exc, aliases=ERROR_ALIASES)
        return None, preview, False
    return contribution, preview, False


@portal_view
def report(request, pk: int):
    user = request.user
    obligation = portal.obligation_get(user=user, pk=pk)
    if obligation.status != Obligation.Status.OPEN:
        return _closed_redirect(request, obligation)
    specs = portal.block_specs(obligation)
    block = request.GET.get("block", "")
    spec = specs.get(block)
    context = {"obligation": obligation, "contract": obligation.contract}
    if spec is None:
        return render(
            request,
            "placements/portal_report_block.html",
            {**context, "specs": specs.values(), "unknown_block": bool(block)},
        )
    form = ContributionForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        spec=spec,
        candidates=portal.candidate_list(user=user),
        with_evidence=True,
    )
    preview, value_changed = None, False
    if request.method == "POST":

        def store(form):
            return portal.report_contribution(
                acting_user=user,
                obligation=obligation,
                inputs=form.inputs(),
                candidate=form.candidate,
                new_candidate=form.new_candidate(),
                evidence_file=form.evidence_file,
                evidence_kind=form.evidence_kind,
            )

        contribution, preview, value_changed = _value_and_submit(
            request, form=form, obligation=obligation, store=store
        )
        if contribution is not None:
            done = _("Your contribution has been submitted for review.")
            if form.evidence_file is None:
                done += " " + _("Add the evidence below, so the adviser can approve it.")
            messages.success(request, done)
            return redirect("placements:portal_contribution", pk=contribution.pk)
    return render(
        request,
        "placements/portal_report.html",
        {
            **context,
            "spec": spec,
            "form": form,
            "preview": preview,
            "value_changed": value_changed,
            "action": f"{reverse('placements:portal_report', args=[obligation.pk])}"
            f"?block={spec.block}",
            "submit_label": _("Submit"),
        },
    )


# --- One contribution ------------------------------------------------------------------------


def _contribution_context(request, contribution: Contribution, evidence_form=None) -> dict:
    editable = portal.is_editable(contribution)
    if editable and evidence_form is None:
        evidence_form = EvidenceForm(initial={"kind": _default_kind(contribution)})
    evidence = selectors.evidence_list(user=request.user, contribution=contribution)
    return {
        "contribution": contribution,
        "obligation": contribution.obligation,
        "contract": contribution.obligation.contract,
        "candidate": contribution.candidate,
        "evidence_list": list(evidence),
        "editable": editable,
        "evidence_form": evidence_form if editable else None,
    }


def _default_kind(contribution: Contribution) -> str:
    return portal.EVIDENCE_KIND_BY_BLOCK.get(contribution.block, "other")


@portal_view
def contribution_detail(request, pk: int):
    contribution = portal.contribution_get(user=request.user, pk=pk)
    return render(
        request,
        "placements/portal_contribution.html",
        _contribution_context(request, contribution),
    )


def _locked_redirect(request, contribution: Contribution):
    if contribution.obligation.status != Obligation.Status.OPEN:
        messages.error(request, _("The obligation is settled; this contribution is locked."))
    else:
        messages.error(
            request,
            _("This contribution has been %(status)s and can no longer be changed.")
            % {"status": contribution.get_status_display().lower()},
        )
    return redirect("placements:portal_contribution", pk=contribution.pk)


@portal_view
def contribution_edit(request, pk: int):
    user = request.user
    contribution = portal.contribution_get(user=user, pk=pk)
    if not portal.is_editable(contribution):
        return _locked_redirect(request, contribution)
    obligation = contribution.obligation
    spec = portal.block_specs(obligation).get(contribution.block)
    if spec is None:  # the rulebook has no rule for this block (any more): nothing to value
        messages.error(request, _("This contribution cannot be valued; contact the adviser."))
        return redirect("placements:portal_contribution", pk=contribution.pk)
    form = ContributionForm(
        request.POST if request.method == "POST" else None,
        spec=spec,
        candidates=portal.candidate_list(user=user),
        initial=initial_from(contribution),
    )
    preview, value_changed = None, False
    if request.method == "POST":

        def store(form):
            return portal.change_contribution(
                acting_user=user,
                contribution=contribution,
                inputs=form.inputs(),
                candidate=form.candidate,
                new_candidate=form.new_candidate(),
            )

        changed, preview, value_changed = _value_and_submit(
            request, form=form, obligation=obligation, store=store
        )
        if changed is not None:
            messages.success(request, _("Your changes have been submitted for review."))
            return redirect("placements:portal_contribution", pk=changed.pk)
    return render(
        request,
        "placements/portal_report.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "contribution": contribution,
            "spec": spec,
            "form": form,
            "preview": preview,
            "value_changed": value_changed,
            "action": reverse("placements:portal_contribution_edit", args=[contribution.pk]),
            "submit_label": _("Submit the changes"),
        },
    )


@portal_view
@require_POST
def evidence_upload(request, pk: int):
    user = request.user
    contribution = portal.contribution_get(user=user, pk=pk)
    if not portal.is_editable(contribution):
        return _locked_redirect(request, contribution)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.add_evidence(
                acting_user=user,
                contribution=contribution,
                uploaded_file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The evidence has been added."))
            return redirect("placements:portal_contribution", pk=contribution.pk)
    return render(
        request,
        "placements/portal_contribution.html",
        _contribution_context(request, contribution, evidence_form=form),
    )
