"""FilterSets for the contribution screens. They validate what the user asks for; the
querysets they filter always come from ``placements.selectors`` (already scoped to the user)."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sroi import permissions
from sroi.permissions import Action, get_scope

from .choices import Block, TargetGroup
from .models import Contribution

# ``?sort=`` values offered by the contribution list: (query value, model ordering).
CONTRIBUTION_SORTS = {
    "submitted": ("submitted_at", "pk"),
    "start": ("start_date", "pk"),
    "value": ("value", "pk"),
    "status": ("status", "pk"),
    "block": ("block", "pk"),
    "contract": ("obligation__contract__reference", "pk"),
    "contractor": ("obligation__contract__contractor__name", "pk"),
}
DEFAULT_CONTRIBUTION_SORT = "-submitted"


def may_see_personal_data_somewhere(user) -> bool:
    """Whether the user may see candidates' personal data of at least some contributions (the
    adviser, a contractor for their own candidates)."""
    scope = get_scope(user)
    return (
        scope.is_superuser
        or bool(scope.municipalities_for(Action.VIEW_PERSONAL_DATA))
        or scope.is_contractor
    )


def ordering_for(sort: str | None, sorts: dict, default: str) -> tuple[str, list[str]]:
    """The whitelisted ``sort`` value (or the default) and its ``order_by`` arguments."""
    value = sort if sort and sort.lstrip("-") in sorts else default
    fields = sorts[value.lstrip("-")]
    if value.startswith("-"):
        fields = tuple(f"-{name}" for name in fields)
    return value, list(fields)


def sort_headers(sort: str, sorts: dict) -> dict[str, dict]:
    """For each sortable column: the ``sort`` value its header links to (ascending first, then
    descending) and its ``aria-sort`` state."""
    headers = {}
    for key in sorts:
        if sort == key:
            headers[key] = {"next": f"-{key}", "aria": "ascending"}
        elif sort == f"-{key}":
            headers[key] = {"next": key, "aria": "descending"}
        else:
            headers[key] = {"next": key, "aria": None}
    return headers


class ContributionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Contribution.Status.choices, empty_label=_("All statuses")
    )
    block = django_filters.ChoiceFilter(
        label=_("Block"), choices=Block.choices, empty_label=_("All blocks")
    )
    target_group = django_filters.ChoiceFilter(
        label=_("Target group"),
        choices=TargetGroup.choices,
        empty_label=_("All target groups"),
        method="filter_target_group",
    )
    municipality = django_filters.ModelChoiceFilter(
        label=_("Municipality"),
        field_name="obligation__contract__municipality",
        queryset=lambda request: permissions.municipalities_visible_to(request.user).order_by(
            "name"
        ),
        empty_label=_("All municipalities"),
    )

    class Meta:
        model = Contribution
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        if not may_see_personal_data_somewhere(request.user):
            # Filtering by target group would reveal it: not offered at all.
            del self.filters["target_group"]
        scope = get_scope(request.user)
        if not scope.is_superuser and len(scope.municipalities_for(Action.VIEW)) < 2:
            # One municipality (or a contractor's own contracts): nothing to choose.
            del self.filters["municipality"]
        self.form.fields["q"].widget.attrs.update(
            {"placeholder": _("Contract, contractor, candidate code…"), "type": "search"}
        )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(obligation__contract__reference__icontains=value)
            | Q(obligation__contract__title__icontains=value)
            | Q(obligation__contract__contractor__name__icontains=value)
            | Q(candidate__code__icontains=value)
            | Q(description__icontains=value)
            | Q(delivered_by__icontains=value)
        )

    def filter_target_group(self, queryset, name, value):
        if not value:
            return queryset
        # Only among the contributions whose personal data the user may see: a user with
        # mixed roles must not learn target groups through the filter.
        return permissions.contributions_visible_to(
            self.request.user,
            queryset.filter(candidate__target_group=value),
            action=Action.VIEW_PERSONAL_DATA,
        )
