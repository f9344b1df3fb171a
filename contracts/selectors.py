"""Reads for contracts and obligations, always scoped to what the user may see."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.shortcuts import get_object_or_404

from sroi import permissions
from sroi.permissions import Action

from .models import Contract, Contractor, Obligation, Settlement, SroiPolicy

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)


def _sum_contributions(status_filter: Q) -> Round:
    # Round: SQLite returns decimal sums unquantized; amounts are always whole cents.
    return Round(
        Coalesce(
            Sum("contributions__value", filter=status_filter),
            ZERO,
            output_field=MONEY,
        ),
        2,
        output_field=MONEY,
    )


def with_progress(qs: QuerySet[Obligation]) -> QuerySet[Obligation]:
    """Annotate obligations with ``reported`` (submitted, not yet judged, plus approved) and
    ``realised`` (approved) amounts, in one query."""
    return qs.annotate(
        reported=_sum_contributions(
            Q(contributions__status__in=["submitted", "approved", "returned"])
        ),
        realised=_sum_contributions(Q(contributions__status="approved")),
    )


def contract_list(*, user, qs: QuerySet | None = None) -> QuerySet[Contract]:
    return permissions.contracts_visible_to(user, qs).select_related(
        "municipality", "contractor", "obligation", "procurement_officer"
    )


def contract_get(*, user, pk: int, action: Action = Action.VIEW) -> Contract:
    """A contract the user may see (404 otherwise, so existence is not revealed)."""
    qs = permissions.contracts_visible_to(user, action=action).select_related(
        "municipality", "contractor", "procurement_officer"
    )
    return get_object_or_404(qs, pk=pk)


def obligation_list(*, user, qs: QuerySet | None = None) -> QuerySet[Obligation]:
    return with_progress(
        permissions.obligations_visible_to(user, qs).select_related(
            "contract__municipality", "contract__contractor", "policy", "rulebook"
        )
    )


def obligation_get(*, user, pk: int, action: Action = Action.VIEW) -> Obligation:
    qs = with_progress(
        permissions.obligations_visible_to(user, action=action).select_related(
            "contract__municipality", "contract__contractor", "policy", "rulebook"
        )
    )
    return get_object_or_404(qs, pk=pk)


def obligation_history(*, user, obligation: Obligation):
    if not permissions.can(user, Action.VIEW, obligation):
        return obligation.changes.none()
    return obligation.changes.select_related("changed_by").order_by("changed_at", "pk")


def settlement_list(*, user, qs: QuerySet | None = None) -> QuerySet[Settlement]:
    return permissions.settlements_visible_to(user, qs).select_related(
        "obligation__contract", "decided_by"
    )


def contractor_list(*, user) -> QuerySet[Contractor]:
    return permissions.contractors_visible_to(user)


def policy_list(*, user) -> QuerySet[SroiPolicy]:
    return permissions.policies_visible_to(user).select_related("municipality")


def contracts_above_threshold_without_obligation(*, user) -> QuerySet[Contract]:
    """A finding: contracts at or above their policy's threshold that have no obligation.

    Uses the threshold of the latest policy valid on the award date, in one query.
    """
    from django.db.models import OuterRef, Subquery

    threshold = (
        SroiPolicy.objects.filter(
            municipality_id=OuterRef("municipality_id"), valid_from__lte=OuterRef("award_date")
        )
        .order_by("-valid_from")
        .values("threshold")[:1]
    )
    return (
        contract_list(user=user)
        .annotate(policy_threshold=Subquery(threshold))
        .filter(obligation__isnull=True, value_excl_vat__gte=F("policy_threshold"))
    )
