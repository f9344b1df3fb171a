"""The adviser's verification screens: the contribution list, the verification queue, the review
of one contribution and the download of its evidence.

Thin views: the FilterSet and forms validate, ``placements.selectors`` read (scoped to the user,
404 for what the user may not see), ``placements.services`` write (403 for what the user may see
but not do).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q, Sum
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import selectors as contract_selectors
from contracts.models import Obligation
from sroi.audit import candidates_shown, log_personal_data_read
from sroi.permissions import Action, can, get_scope

from . import selectors, services
from .filters import (
    CONTRIBUTION_SORTS,
    DEFAULT_CONTRIBUTION_SORT,
    ContributionFilter,
    may_see_personal_data_somewhere,
    ordering_for,
    sort_headers,
)
from .forms import ApproveForm, ConfirmEligibilityForm, ReasonForm, add_service_errors
from .models import Contribution

PAGE_SIZE = 25
S = Contribution.Status


def _totals(qs) -> dict:
    """Counts per status and values, in one aggregate query."""
    return qs.order_by().aggregate(
        count=Count("pk"),
        total=Sum("value"),
        submitted=Count("pk", filter=Q(status=S.SUBMITTED)),
        approved=Count("pk", filter=Q(status=S.APPROVED)),
        returned=Count("pk", filter=Q(status=S.RETURNED)),
        rejected=Count("pk", filter=Q(status=S.REJECTED)),
        approved_value=Sum("value", filter=Q(status=S.APPROVED)),
        oldest=Min("submitted_at"),
    )


def _page(request, qs, count: int):
    paginator = Paginator(qs, PAGE_SIZE)
    paginator.count = count  # known from the aggregate: saves a COUNT query
    return paginator.get_page(request.GET.get("page"))


def _rows(request, page) -> list[tuple[Contribution, bool]]:
    """Each contribution with whether this user may see its candidate's personal data (the
    selectors withhold the candidate otherwise; ``candidate_code`` is always there). The
    candidates whose details are shown are recorded in the audit trail (one query)."""
    rows = [(c, bool(c.personal_data_visible)) for c in page.object_list]
    log_personal_data_read(request.user, candidates_shown(c for c, _personal in rows))
    return rows


def may_review_somewhere(user) -> bool:
    scope = get_scope(user)
    return scope.is_superuser or bool(scope.municipalities_for(Action.REVIEW_CONTRIBUTION))


@login_required
def contribution_list(request):
    user = request.user
    filterset = ContributionFilter(
        request.GET or None, queryset=selectors.contribution_list(user=user), request=request
    )
    sort, order = ordering_for(
        request.GET.get("sort"), CONTRIBUTION_SORTS, DEFAULT_CONTRIBUTION_SORT
    )
    qs = filterset.qs.order_by(*order)
    totals = _totals(qs)
    page = _page(request, qs, totals["count"])
    return render(
        request,
        "placements/contribution_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": _rows(request, page),
            "totals": totals,
            "sort": sort,
            "headers": sort_headers(sort, CONTRIBUTION_SORTS),
            "show_personal_column": may_see_personal_data_somewhere(user),
            "may_review": may_review_somewhere(user),
        },
    )


@login_required
def verification_queue(request):
    user = request.user
    if not may_review_somewhere(user):
        raise PermissionDenied
    qs = selectors.verification_queue(user=user)
    totals = _totals(qs)
    page = _page(request, qs, totals["count"])
    return render(
        request,
        "placements/verification_queue.html",
        {"page": page, "rows": _rows(request, page), "totals": totals},
    )


def _log_personal_data_read(user, *instances) -> None:
    """Reads of candidates' personal data by staff are recorded in the audit trail (who, when,
    which object; never the data itself). A contractor reading its own candidates is not."""
    log_personal_data_read(user, instances)


def _detail_context(request, contribution: Contribution, forms: dict | None = None) -> dict:
    user = request.user
    show_personal = bool(contribution.personal_data_visible)
    obligation = contract_selectors.obligation_get(user=user, pk=contribution.obligation_id)
    may_review = (
        can(user, Action.REVIEW_CONTRIBUTION, contribution)
        and contribution.status == S.SUBMITTED
        and obligation.status == Obligation.Status.OPEN
    )
    candidate = contribution.candidate
    may_confirm_eligibility = bool(
        may_review
        and candidate is not None
        and candidate.eligibility_confirmed_at is None
        and candidate.anonymised_at is None
    )
    forms = forms or {}
    next_pk = None
    if can(user, Action.REVIEW_CONTRIBUTION, contribution):
        next_pk = (
            selectors.verification_queue(user=user)
            .exclude(pk=contribution.pk)
            .values_list("pk", flat=True)
            .first()
        )
    if show_personal:
        _log_personal_data_read(user, contribution, *candidates_shown([contribution]))
    return {
        "contribution": contribution,
        "obligation": obligation,
        "show_personal": show_personal,
        "evidence_list": (
            list(selectors.evidence_list(user=user, contribution=contribution))
            if show_personal
            else []
        ),
        "may_review": may_review,
        "may_confirm_eligibility": may_confirm_eligibility,
        "approve_form": forms.get("approve") or ApproveForm(prefix="approve"),
        "return_form": forms.get("return") or ReasonForm(prefix="return"),
        "reject_form": forms.get("reject") or ReasonForm(prefix="reject"),
        "eligibility_form": forms.get("eligibility")
        or ConfirmEligibilityForm(prefix="eligibility", candidate=candidate),
        "next_pk": next_pk,
    }


@login_required
def contribution_detail(request, pk: int):
    contribution = selectors.contribution_get(user=request.user, pk=pk)
    return render(
        request, "placements/contribution_detail.html", _detail_context(request, contribution)
    )


def _review_action(request, pk: int, *, key: str, form_class, call, success: str):
    """POST of one review decision: validate the form, call the service, map its errors."""
    contribution = selectors.contribution_get(user=request.user, pk=pk)
    if not can(request.user, Action.REVIEW_CONTRIBUTION, contribution):
        raise PermissionDenied
    form = form_class(request.POST, prefix=key)
    if form.is_valid():
        try:
            call(contribution, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc, aliases={"target_group_note": "note"})
        else:
            messages.success(request, success)
            return redirect("placements:contribution_detail", pk=contribution.pk)
    contribution = selectors.contribution_get(user=request.user, pk=pk)
    context = _detail_context(request, contribution, {key: form})
    context["failed_form"] = form
    return render(request, "placements/contribution_detail.html", context)


@login_required
@require_POST
def contribution_approve(request, pk: int):
    return _review_action(
        request,
        pk,
        key="approve",
        form_class=ApproveForm,
        call=lambda c, data: services.approve_contribution(
            acting_user=request.user, contribution=c
        ),
        success=_("The contribution has been approved; its value now counts as realised."),
    )


@login_required
@require_POST
def contribution_reject(request, pk: int):
    return _review_action(
        request,
        pk,
        key="reject",
        form_class=ReasonForm,
        call=lambda c, data: services.reject_contribution(
            acting_user=request.user, contribution=c, reason=data["reason"]
        ),
        success=_("The contribution has been rejected."),
    )


@login_required
@require_POST
def contribution_return(request, pk: int):
    return _review_action(
        request,
        pk,
        key="return",
        form_class=ReasonForm,
        call=lambda c, data: services.return_contribution(
            acting_user=request.user, contribution=c, reason=data["reason"]
        ),
        success=_("The contribution has been returned to the contractor for more information."),
    )


@login_required
@require_POST
def contribution_confirm_eligibility(request, pk: int):
    def call(contribution, data):
        if contribution.candidate is None:
            raise ValidationError(_("This contribution has no candidate."))
        services.confirm_eligibility(
            acting_user=request.user,
            candidate=contribution.candidate,
            target_group=data["target_group"],
            note=data["note"],
        )

    return _review_action(
        request,
        pk,
        key="eligibility",
        form_class=ConfirmEligibilityForm,
        call=call,
        success=_("The candidate's eligibility has been confirmed."),
    )


@login_required
def evidence_download(request, pk: int):
    """Serve one evidence file to a user who may see it (404 otherwise), always as a download
    under its stored neutral name and with the type detected at upload, never sniffed, in a
    CSP sandbox and never cached (:func:`sroi.uploads.harden_download`)."""
    from sroi import uploads

    from .validators import ALLOWED_TYPES

    evidence = selectors.evidence_get(user=request.user, pk=pk)
    try:
        handle = evidence.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    _log_personal_data_read(request.user, evidence)
    allowed = {file_type.content_type for file_type in ALLOWED_TYPES}
    response = FileResponse(
        handle,
        as_attachment=True,
        # The neutral name made at upload; sanitised again in case it was changed since.
        filename=uploads.display_name(evidence.original_name, "bewijsstuk"),
        content_type=(
            evidence.content_type
            if evidence.content_type in allowed
            else "application/octet-stream"
        ),
    )
    return uploads.harden_download(response)
