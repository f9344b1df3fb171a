"""FilterSets for the contract and obligation lists.

They validate what the user asks for; the querysets they filter always come from
``contracts.selectors`` (already scoped to the user), and every choice they offer
(municipalities, contractors, years) is scoped to the user too.

Statuses are derived from the obligation's fields and today's date, in SQL, so filtering,
sorting and pagination stay in the database:

contract status
    ``obligation``: an open obligation whose deadline has not passed; ``overdue``: an open
    obligation past its deadline; ``settled``: a settled obligation; ``below_threshold``: no
    obligation, value below the threshold of the policy in force on the award date (or no
    policy at all); ``missing``: no obligation although the value is at or above that
    threshold (a finding for the adviser).
obligation status
    ``settled``: settled; ``overdue``: open with the deadline before today (a settlement
    decision is due, whatever was realised); ``fulfilled``: open, deadline not passed, realised
    at least the required amount; ``behind``: open, deadline not passed, and the realised share
    of the required amount trails the elapsed share of the counting window (award date to
    deadline) by more than :data:`BEHIND_MARGIN_POINTS` percentage points; else ``open`` (on
    track). The ``open`` filter shows every open obligation, whatever its state.
"""

from __future__ import annotations

from datetime import date

import django_filters
from django import forms
from django.db.models import (
    Case,
    CharField,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sroi import permissions

from . import selectors
from .models import Obligation, SroiPolicy

PAGE_SIZE = 25


# --- Sorting ---------------------------------------------------------------------------------

# ``?sort=`` values (optionally prefixed with "-"): query value -> model ordering.
CONTRACT_SORTS = {
    "reference": ("reference",),
    "award_date": ("award_date",),
    "value": ("value_excl_vat",),
    "contractor": ("contractor__name",),
}
DEFAULT_CONTRACT_SORT = "-award_date"

OBLIGATION_SORTS = {
    "deadline": ("deadline",),
    "required": ("amount",),
    "realised": ("realised",),
    "progress": ("progress",),
}
DEFAULT_OBLIGATION_SORT = "deadline"


def ordering_for(sort: str | None, sorts: dict, default: str) -> tuple[str, list[str]]:
    """The whitelisted ``sort`` value (or ``default``) and its ``order_by`` arguments, with the
    primary key last so pagination is stable."""
    value = sort if sort and sort.lstrip("-") in sorts else default
    fields = list(sorts[value.lstrip("-")])
    if value.startswith("-"):
        fields = [f"-{name}" for name in fields]
    return value, [*fields, "-pk" if value.startswith("-") else "pk"]


# --- Derived values --------------------------------------------------------------------------


class DaysBetween(Func):
    """Calendar days from ``start`` to ``end`` (``end - start``) as an integer, in SQL."""

    arity = 2
    output_field = IntegerField()

    def __init__(self, start, end, **extra):
        super().__init__(start, end, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL (and the SQL standard): date - date is a whole number of days.
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        return f"({end} - {start})", [*end_params, *start_params]

    def as_sqlite(self, compiler, connection, **extra_context):
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        return (
            f"CAST(julianday({end}) - julianday({start}) AS INTEGER)",
            [*end_params, *start_params],
        )


def _today_value(today: date) -> Value:
    return Value(today, output_field=DateField())


def with_contract_status(qs: QuerySet, today: date | None = None) -> QuerySet:
    """Annotate contracts with ``policy_threshold`` and ``sroi_status`` (see module doc)."""
    today = today or timezone.localdate()
    threshold = (
        SroiPolicy.objects.filter(
            municipality_id=OuterRef("municipality_id"), valid_from__lte=OuterRef("award_date")
        )
        .order_by("-valid_from")
        .values("threshold")[:1]
    )
    return qs.annotate(
        policy_threshold=Subquery(threshold, output_field=DecimalField(14, 2))
    ).annotate(
        sroi_status=Case(
            When(obligation__status=Obligation.Status.SETTLED, then=Value("settled")),
            When(obligation__deadline__lt=today, then=Value("overdue")),
            When(obligation__isnull=False, then=Value("obligation")),
            When(value_excl_vat__gte=F("policy_threshold"), then=Value("missing")),
            default=Value("below_threshold"),
            output_field=CharField(),
        )
    )


# "Behind schedule": the realised share trails the elapsed share of the counting window by more
# than this many percentage points (the same margin as the demo data, sroi/demo.py).
BEHIND_MARGIN_POINTS = 10


def _with_behind_terms(qs: QuerySet) -> QuerySet:
    # realised / amount < elapsed / window - margin / 100
    #   <=>  realised * window * 100 < amount * (elapsed * 100 - margin * window)
    # (integers and decimals only: no division, the same on SQLite and PostgreSQL)
    wide = DecimalField(max_digits=30, decimal_places=6)
    return qs.annotate(
        behind_lhs=ExpressionWrapper(
            F("realised") * F("window_days") * Value(100), output_field=wide
        ),
        behind_rhs=ExpressionWrapper(
            F("amount")
            * (F("elapsed_days") * Value(100) - Value(BEHIND_MARGIN_POINTS) * F("window_days")),
            output_field=wide,
        ),
    )


def annotate_obligations(qs: QuerySet, today: date | None = None) -> QuerySet:
    """Everything the obligation list and the progress bars need, in the same query."""
    today = today or timezone.localdate()
    today_v = _today_value(today)
    window_days = DaysBetween(F("window_start"), F("deadline"))
    qs = qs.annotate(
        progress=Case(
            When(
                amount__gt=0,
                then=ExpressionWrapper(
                    F("realised") * Value(100) / F("amount"),
                    output_field=DecimalField(max_digits=20, decimal_places=6),
                ),
            ),
            default=Value(100),
            output_field=DecimalField(max_digits=20, decimal_places=6),
        ),
        window_days=window_days,
        elapsed_days=Case(
            When(window_start__gte=today, then=Value(0)),
            When(deadline__lte=today, then=window_days),
            default=DaysBetween(F("window_start"), today_v),
            output_field=IntegerField(),
        ),
    )
    qs = _with_behind_terms(qs)
    return qs.annotate(
        sroi_status=Case(
            When(status=Obligation.Status.SETTLED, then=Value("settled")),
            When(deadline__lt=today, then=Value("overdue")),
            When(realised__gte=F("amount"), then=Value("fulfilled")),
            When(behind_lhs__lt=F("behind_rhs"), then=Value("behind")),
            default=Value("open"),
            output_field=CharField(),
        )
    )


# --- FilterSets ------------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _search_widget(placeholder) -> dict:
    return {"placeholder": placeholder, "type": "search"}


class ContractFilter(django_filters.FilterSet):
    STATUS_CHOICES = (
        ("obligation", _("Open obligation")),
        ("overdue", _("Overdue")),
        ("settled", _("Settled")),
        ("below_threshold", _("Below the threshold")),
        ("missing", _("Above the threshold without obligation")),
    )

    q = django_filters.CharFilter(label=_("Search"), method="search")
    municipality = django_filters.ModelChoiceFilter(
        label=_("Municipality"), queryset=None, empty_label=_("All municipalities")
    )
    contractor = django_filters.ModelChoiceFilter(
        label=_("Contractor"), queryset=None, empty_label=_("All contractors")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=STATUS_CHOICES,
        empty_label=_("All statuses"),
        field_name="sroi_status",
    )
    award_year = django_filters.ChoiceFilter(
        label=_("Award year"),
        choices=(),
        empty_label=_("All years"),
        field_name="award_date",
        lookup_expr="year",
    )

    class Meta:
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = request.user
        self.filters["municipality"].queryset = permissions.municipalities_visible_to(
            user
        ).order_by("name")
        visible = selectors.contract_list(user=user)
        self.filters["contractor"].queryset = (
            selectors.contractor_list(user=user)
            .filter(pk__in=visible.values("contractor_id"))
            .order_by("name")
        )
        years = visible.order_by().dates("award_date", "year", order="DESC")
        self.filters["award_year"].extra["choices"] = [(d.year, str(d.year)) for d in years]
        self.form.fields["q"].widget.attrs.update(
            _search_widget(_("Reference, title or contractor…"))
        )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(reference__icontains=value)
            | Q(title__icontains=value)
            | Q(contractor__name__icontains=value)
            | Q(contractor__kvk_number__icontains=value)
        )


class ObligationFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("deadline_from"), cleaned.get("deadline_to")
        if start and end and end < start:
            self.add_error("deadline_to", _("The end of the range cannot be before its start."))
        return cleaned


class ObligationFilter(django_filters.FilterSet):
    STATUS_CHOICES = (
        ("open", _("Open")),
        ("behind", _("Behind schedule")),
        ("fulfilled", _("Fulfilled, not settled")),
        ("overdue", _("Overdue")),
        ("settled", _("Settled")),
    )

    q = django_filters.CharFilter(label=_("Search"), method="search")
    municipality = django_filters.ModelChoiceFilter(
        label=_("Municipality"),
        field_name="contract__municipality",
        queryset=None,
        empty_label=_("All municipalities"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=STATUS_CHOICES,
        empty_label=_("All statuses"),
        method="filter_status",
    )
    deadline_from = django_filters.DateFilter(
        label=_("Deadline from"), field_name="deadline", lookup_expr="gte", widget=DateInput
    )
    deadline_to = django_filters.DateFilter(
        label=_("Deadline until"), field_name="deadline", lookup_expr="lte", widget=DateInput
    )
    progress_below = django_filters.NumberFilter(
        label=_("Realised below (%)"),
        method="filter_progress_below",
        min_value=0,
        max_value=1000,
    )

    class Meta:
        fields: list[str] = []
        form = ObligationFilterForm

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.filters["municipality"].queryset = permissions.municipalities_visible_to(
            request.user
        ).order_by("name")
        self.form.fields["q"].widget.attrs.update(
            _search_widget(_("Reference, title or contractor…"))
        )
        self.form.fields["progress_below"].widget.attrs.update(
            {"step": "1", "inputmode": "numeric"}
        )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(contract__reference__icontains=value)
            | Q(contract__title__icontains=value)
            | Q(contract__contractor__name__icontains=value)
        )

    def filter_status(self, queryset, name, value):
        if not value:
            return queryset
        if value == "open":
            # Every open obligation, whether on track, behind or overdue.
            return queryset.filter(status=Obligation.Status.OPEN)
        return queryset.filter(sroi_status=value)

    def filter_progress_below(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(amount__gt=0, progress__lt=value)
