"""Reads for contracts and obligations, always scoped to what the user may see."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.shortcuts import get_object_or_404

from sroi import permissions
from sroi.permissions import Action

from .models import Contract, Contractor, Obligation, Settlement, SroiPolicy

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)
CENT = Decimal("0.01")

#: Contribution statuses that count as *reported*: everything the contractor reported that the
#: adviser has not rejected (submitted, returned for more information, approved).
REPORTED_STATUSES = ("submitted", "returned", "approved")
#: Contribution statuses that count as *realised*: approved only. A subset of the reported
#: ones, so realised ≤ reported always holds (what the progress bar needs).
REALISED_STATUSES = ("approved",)


class MoneySum(Round):
    """``SUM`` of a money expression (``None`` → 0.00), in exact cents on every database.

    Rounded to cents in SQL (so filters and ordering see cents) and quantized to exponent −2
    in Python: on SQLite ``ROUND`` returns a float, which Django turns into e.g.
    ``Decimal('46684.9300000000')``; on PostgreSQL the numeric already has two decimals.
    """

    def __init__(self, expression):
        super().__init__(Coalesce(expression, ZERO, output_field=MONEY), 2, output_field=MONEY)

    def convert_value(self, value, expression, connection):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_sum(field: str, *, condition: Q | None = None) -> MoneySum:
    """The sum of the money column ``field`` (of the rows matching ``condition``), exact to the
    cent."""
    return MoneySum(Sum(field, filter=condition))


def with_progress(qs: QuerySet[Obligation]) -> QuerySet[Obligation]:
    """Annotate obligations with ``reported`` and ``realised`` amounts, in one query.

    * ``reported``: the value of every contribution reported and not rejected, i.e. with
      status submitted, returned (for more information) or approved (:data:`REPORTED_STATUSES`).
      This deliberately includes the approved ones, so ``realised ⊆ reported``: the progress bar
      shows realised inside reported. (domain.md's "reported = submitted" names where a figure
      comes from; the part not yet judged is ``reported - realised``.)
    * ``realised``: the value of the approved contributions (:data:`REALISED_STATUSES`), the
      same figure as ``contracts.services.realised_amount``.

    Both are ``Decimal`` with exactly two decimals (exponent −2) on SQLite and PostgreSQL, and
    0.00 (never ``None``) without contributions.
    """
    return qs.annotate(
        reported=money_sum(
            "contributions__value", condition=Q(contributions__status__in=REPORTED_STATUSES)
        ),
        realised=money_sum(
            "contributions__value", condition=Q(contributions__status__in=REALISED_STATUSES)
        ),
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
