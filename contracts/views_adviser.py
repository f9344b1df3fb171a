"""The adviser's decisions on an obligation: agree it (possibly with a deviation), review its plan
of approach (and enter one on the contractor's behalf), and settle it at the deadline.

Thin views: an obligation the user may not see is a 404 (``contracts.selectors``); one they may
see but not decide on is a 403; forms validate and the services write.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from placements import plans
from placements.forms import add_service_errors
from sroi.permissions import Action, can

from . import selectors, services
from .forms_adviser import (
    AgreeObligationForm,
    PlanItemFormSet,
    PlanReviewForm,
    SettleObligationForm,
)
from .models import Obligation, Settlement


def obligation_url(obligation: Obligation) -> str | None:
    """The obligation's own page when the back office has one."""
    try:
        return reverse("contracts:obligation_detail", args=[obligation.pk])
    except NoReverseMatch:
        return None


def _decision_obligation(request, pk: int, action: Action) -> Obligation:
    """The obligation (404 when not visible) on which the user may take ``action`` (403)."""
    obligation = selectors.obligation_get(user=request.user, pk=pk)
    if not can(request.user, action, obligation):
        raise PermissionDenied
    return obligation


def _after(request, obligation: Obligation, fallback: str):
    return redirect(obligation_url(obligation) or reverse(fallback, args=[obligation.pk]))


# --- Agree -----------------------------------------------------------------------------------


@login_required
def obligation_agree(request, pk: int):
    obligation = _decision_obligation(request, pk, Action.AGREE_OBLIGATION)
    settled = obligation.status == Obligation.Status.SETTLED
    form = AgreeObligationForm(request.POST or None, obligation=obligation)
    if request.method == "POST" and not settled and form.is_valid():
        try:
            services.agree_obligation(
                acting_user=request.user, obligation=obligation, deviation=form.to_deviation()
            )
        except ValidationError as exc:
            add_service_errors(form, exc, aliases={"deviation_reason": "reason"})
        else:
            messages.success(request, _("The obligation has been agreed."))
            return _after(request, obligation, "contracts:obligation_agree")
    return render(
        request,
        "contracts/adviser_agree.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "form": form,
            "settled": settled,
            "obligation_url": obligation_url(obligation),
        },
    )


# --- Plan of approach ------------------------------------------------------------------------


@login_required
def plan_review(request, pk: int):
    """The current plan with its items and earlier versions; the adviser approves it or returns
    it with a comment. Anyone who sees the obligation sees its plan."""
    obligation = selectors.obligation_get(user=request.user, pk=pk)
    may_review = can(request.user, Action.REVIEW_CONTRIBUTION, obligation)
    history = list(plans.plan_history(user=request.user, obligation=obligation))
    plan = history[0] if history else None
    form = PlanReviewForm(request.POST or None)
    if request.method == "POST":
        if not may_review:
            raise PermissionDenied
        if plan is None:
            form.add_error(None, _("There is no plan to review."))
        elif form.is_valid():
            try:
                if form.cleaned_data["decision"] == PlanReviewForm.APPROVE:
                    plans.approve_plan(
                        acting_user=request.user, plan=plan, comment=form.cleaned_data["comment"]
                    )
                    done = _("The plan of approach has been approved.")
                else:
                    plans.return_plan(
                        acting_user=request.user, plan=plan, comment=form.cleaned_data["comment"]
                    )
                    done = _("The plan of approach has been returned to the contractor.")
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect("contracts:plan_review", pk=obligation.pk)
    may_enter = (
        can(request.user, Action.REPORT_CONTRIBUTION, obligation)
        and obligation.status == Obligation.Status.OPEN
        and (plan is None or plan.status != plan.Status.SUBMITTED)
    )
    return render(
        request,
        "contracts/adviser_plan_review.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "plan": plan,
            "earlier": history[1:],
            "form": form,
            "may_review": may_review and plan is not None and plan.status == "submitted",
            "may_enter": may_enter and may_review,
            "obligation_url": obligation_url(obligation),
        },
    )


@login_required
def plan_enter(request, pk: int):
    """The adviser enters a plan on the contractor's behalf (e.g. agreed in the kick-off)."""
    obligation = _decision_obligation(request, pk, Action.REVIEW_CONTRIBUTION)
    latest = plans.current_plan(user=request.user, obligation=obligation)
    initial = None
    if latest is not None and request.method != "POST":
        initial = [
            {name: getattr(item, name) for name in plans.ITEM_FIELDS} for item in latest.items.all()
        ]
    formset = PlanItemFormSet(request.POST or None, initial=initial, prefix="items")
    service_errors: list[str] = []
    if request.method == "POST" and formset.is_valid():
        items = [
            {name: form.cleaned_data.get(name) for name in plans.ITEM_FIELDS}
            for form in formset
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            plans.submit_plan(acting_user=request.user, obligation=obligation, items=items)
        except ValidationError as exc:
            service_errors = exc.messages
        else:
            messages.success(
                request,
                _("The plan has been recorded on the contractor's behalf; you can now review it."),
            )
            return redirect("contracts:plan_review", pk=obligation.pk)
    return render(
        request,
        "contracts/adviser_plan_enter.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "formset": formset,
            "service_errors": service_errors,
            "latest": latest,
        },
    )


# --- Settle ----------------------------------------------------------------------------------


@login_required
def obligation_settle(request, pk: int):
    obligation = _decision_obligation(request, pk, Action.SETTLE_OBLIGATION)
    realised = services.realised_amount(obligation)
    shortfall = max(obligation.amount - realised, Decimal("0.00"))
    settled = obligation.status == Obligation.Status.SETTLED
    form = SettleObligationForm(request.POST or None, shortfall=shortfall)
    if request.method == "POST" and not settled and form.is_valid():
        data = form.cleaned_data
        try:
            services.settle_obligation(
                acting_user=request.user,
                obligation=obligation,
                decision=data["decision"],
                reason=data["reason"],
                amount=data["amount"],
                new_deadline=data["new_deadline"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if data["decision"] == Settlement.Decision.EXTENSION:
                messages.success(request, _("The deadline has been extended."))
            else:
                messages.success(request, _("The obligation has been settled."))
            return redirect("contracts:obligation_settle", pk=obligation.pk)
    settlements = list(
        selectors.settlement_list(
            user=request.user, qs=Settlement.objects.filter(obligation=obligation)
        ).order_by("decided_at", "pk")
    )
    return render(
        request,
        "contracts/adviser_settle.html",
        {
            "obligation": obligation,
            "contract": obligation.contract,
            "realised": realised,
            "shortfall": shortfall,
            "settled": settled,
            "settlements": settlements,
            "before_deadline": timezone.localdate() < obligation.deadline,
            "form": form,
            "obligation_url": obligation_url(obligation),
        },
    )
