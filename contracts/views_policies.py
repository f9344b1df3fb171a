"""Policy screens: the versions per municipality, a new version from an existing one, and
changing a version that no obligation uses yet.

For the adviser and the functional administrator (``Action.MANAGE_POLICY``). Other staff get a
403 (a procurement officer or council viewer may know the policy exists, not change it);
contractor users, users without a role and versions outside the user's municipalities get a
404. Reads go through ``sroi.permissions.*_visible_to``; writes through
``contracts.policy_services``.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from placements.filters import ordering_for, sort_headers
from placements.forms import add_service_errors
from sroi import permissions
from sroi.permissions import Action, can, get_scope

from . import policy_services
from .forms_policies import PolicyFilter, PolicyForm, pso_discount_formset
from .models import Obligation, SroiPolicy

PAGE_SIZE = 25
POLICY_SORTS = {
    "municipality": ("municipality__name", "-valid_from", "pk"),
    "valid_from": ("valid_from", "municipality__name", "pk"),
    "threshold": ("threshold", "municipality__name", "pk"),
    "percentage": ("default_percentage", "municipality__name", "pk"),
    "in_use": ("in_use", "municipality__name", "pk"),
}
DEFAULT_POLICY_SORT = "municipality"


def _require_policy_manager(user) -> None:
    """Staff without MANAGE_POLICY anywhere: 403; anyone else without a staff role: 404."""
    scope = get_scope(user)
    if scope.is_superuser:
        return
    if not scope.municipalities_by_role:
        raise Http404
    if not scope.municipalities_for(Action.MANAGE_POLICY):
        raise PermissionDenied


def _policy_to_manage(user, pk: int) -> SroiPolicy:
    """A version the user may see (404 otherwise) and manage (403 otherwise)."""
    scope = get_scope(user)
    if not (scope.is_superuser or scope.municipalities_by_role):
        raise Http404
    qs = permissions.policies_visible_to(user).select_related("municipality")
    policy = get_object_or_404(qs.prefetch_related("pso_discounts"), pk=pk)
    if not can(user, Action.MANAGE_POLICY, policy):
        raise PermissionDenied
    return policy


def _with_usage(qs):
    """Each version with ``in_use`` (number of obligations computed with it) and
    ``next_valid_from`` (when the next version of its municipality takes over)."""
    following = SroiPolicy.objects.filter(
        municipality_id=OuterRef("municipality_id"), valid_from__gt=OuterRef("valid_from")
    ).order_by("valid_from")
    return qs.annotate(
        in_use=Count("obligations", distinct=True),
        next_valid_from=Subquery(following.values("valid_from")[:1]),
    )


def _annotate_periods(policies, today) -> None:
    """``valid_until`` and ``state`` (in force / future / superseded) on each version."""
    for policy in policies:
        nxt = policy.next_valid_from
        policy.valid_until = nxt - timedelta(days=1) if nxt else None
        if policy.valid_from > today:
            policy.state = "future"
        elif nxt is None or nxt > today:
            policy.state = "in_force"
        else:
            policy.state = "superseded"


# --- List ------------------------------------------------------------------------------------


@login_required
def policy_list(request):
    user = request.user
    _require_policy_manager(user)
    base = permissions.policies_visible_to(user, action=Action.MANAGE_POLICY)
    filterset = PolicyFilter(request.GET or None, queryset=base, request=request)
    sort, ordering = ordering_for(request.GET.get("sort"), POLICY_SORTS, DEFAULT_POLICY_SORT)
    used = Exists(Obligation.objects.filter(policy=OuterRef("pk")))
    totals = filterset.qs.order_by().aggregate(
        count=Count("pk"),
        municipalities=Count("municipality", distinct=True),
        in_use=Count("pk", filter=Q(used)),
    )
    qs = (
        _with_usage(filterset.qs)
        .select_related("municipality")
        .prefetch_related("pso_discounts")
        .order_by(*ordering)
    )
    paginator = Paginator(qs, PAGE_SIZE)
    paginator.count = totals["count"]  # known from the aggregate: saves a COUNT query
    page = paginator.get_page(request.GET.get("page"))
    policies = list(page.object_list)
    _annotate_periods(policies, timezone.localdate())
    return render(
        request,
        "contracts/policy_list.html",
        {
            "filter": filterset,
            "page": page,
            "policies": policies,
            "totals": totals,
            "sort": sort,
            "headers": sort_headers(sort, POLICY_SORTS),
        },
    )


# --- New version / change --------------------------------------------------------------------


def _municipality_versions(user, policy: SroiPolicy) -> list[SroiPolicy]:
    """The versions of ``policy``'s municipality, newest first, with their use."""
    versions = list(
        _with_usage(
            permissions.policies_visible_to(user, action=Action.MANAGE_POLICY).filter(
                municipality_id=policy.municipality_id
            )
        ).order_by("-valid_from")
    )
    _annotate_periods(versions, timezone.localdate())
    return versions


def _recent_awards(user, policy: SroiPolicy, after) -> dict:
    """Obligations of the municipality whose contract was awarded after ``after``: they keep
    the version they were computed with, whatever the date of a new version."""
    return (
        permissions.obligations_visible_to(user)
        .filter(contract__municipality_id=policy.municipality_id, contract__award_date__gt=after)
        .aggregate(count=Count("pk"), latest=Max("contract__award_date"))
    )


def _form_page(request, *, source, policy, form, formset, versions, status=200, refused=""):
    latest = versions[0] if versions else None
    return render(
        request,
        "contracts/policy_form.html",
        {
            "source": source,
            "policy": policy,
            "municipality": source.municipality,
            "form": form,
            "formset": formset,
            "versions": versions,
            "latest": latest,
            "recent": _recent_awards(request.user, source, latest.valid_from) if latest else None,
            "refused": refused,
            "list_url": reverse("contracts:policy_list")
            + f"?municipality={source.municipality_id}",
        },
        status=status,
    )


def _in_use_message(count: int) -> str:
    return _(
        "This version is used by %(count)s obligation(s). They were computed with its terms and "
        "keep them, so it can no longer be changed. Create a new version from it instead."
    ) % {"count": count}


@login_required
def policy_new_version(request, pk: int):
    """A new version prefilled with the terms and discounts of version ``pk``."""
    user = request.user
    source = _policy_to_manage(user, pk)
    versions = _municipality_versions(user, source)
    dates = [v.valid_from for v in versions]
    if request.method == "POST":
        form = PolicyForm(request.POST, versions=dates)
        formset = pso_discount_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                created = policy_services.create_policy_version(
                    acting_user=user,
                    based_on=source,
                    valid_from=form.cleaned_data["valid_from"],
                    terms=form.terms(),
                    pso_discounts=formset.discounts(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                _saved_message(request, user, created)
                return redirect(
                    reverse("contracts:policy_list") + f"?municipality={created.municipality_id}"
                )
    else:
        form = PolicyForm(initial=policy_services.policy_terms_of(source), versions=dates)
        formset = pso_discount_formset(policy=source)
    return _form_page(
        request, source=source, policy=None, form=form, formset=formset, versions=versions
    )


def _saved_message(request, user, policy: SroiPolicy) -> None:
    kept = (
        permissions.obligations_visible_to(user)
        .filter(
            contract__municipality_id=policy.municipality_id,
            contract__award_date__gte=policy.valid_from,
        )
        .exclude(policy=policy)
        .count()
    )
    text = _("The version of %(municipality)s from %(date)s has been saved.") % {
        "municipality": policy.municipality,
        "date": f"{policy.valid_from:%d-%m-%Y}",
    }
    if kept:
        text += " " + _(
            "%(count)s existing obligation(s) with an award date on or after that date keep the "
            "version they were computed with."
        ) % {"count": kept}
    messages.success(request, text)


@login_required
def policy_edit(request, pk: int):
    """Change version ``pk`` while no obligation uses it; otherwise say why not."""
    user = request.user
    policy = _policy_to_manage(user, pk)
    versions = _municipality_versions(user, policy)
    this = next(v for v in versions if v.pk == policy.pk)
    if this.in_use:
        return _form_page(
            request,
            source=policy,
            policy=policy,
            form=None,
            formset=None,
            versions=versions,
            status=409 if request.method == "POST" else 200,
            refused=_in_use_message(this.in_use),
        )
    dates = [v.valid_from for v in versions]
    if request.method == "POST":
        form = PolicyForm(request.POST, policy=policy, versions=dates)
        formset = pso_discount_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                policy_services.update_policy(
                    acting_user=user,
                    policy=policy,
                    valid_from=form.cleaned_data["valid_from"],
                    terms=form.terms(),
                    pso_discounts=formset.discounts(),
                )
            except ValidationError as exc:
                if getattr(exc, "code", None) == "in_use":
                    return _form_page(
                        request,
                        source=policy,
                        policy=policy,
                        form=None,
                        formset=None,
                        versions=versions,
                        status=409,
                        refused=" ".join(exc.messages),
                    )
                add_service_errors(form, exc)
            else:
                policy.refresh_from_db()
                _saved_message(request, user, policy)
                return redirect(
                    reverse("contracts:policy_list") + f"?municipality={policy.municipality_id}"
                )
    else:
        initial = {"valid_from": policy.valid_from, **policy_services.policy_terms_of(policy)}
        form = PolicyForm(initial=initial, policy=policy, versions=dates)
        formset = pso_discount_formset(policy=policy)
    return _form_page(
        request, source=policy, policy=policy, form=form, formset=formset, versions=versions
    )
