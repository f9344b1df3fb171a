"""Reads for candidates, contributions, evidence and rulebooks, always scoped to the user.

Every queryset starts from a ``sroi.permissions.*_visible_to`` function; an object the user may
not see is a 404, so its existence is never revealed.
"""

from __future__ import annotations

from django.db.models import BooleanField, Exists, F, OuterRef, QuerySet, Value
from django.db.models.query import ModelIterable
from django.shortcuts import get_object_or_404

from sroi import permissions
from sroi.permissions import Action, get_scope

from .models import Candidate, Contribution, Evidence, Rulebook

CONTRIBUTION_RELATED = (
    "obligation__contract__municipality",
    "obligation__contract__contractor",
)

_CANDIDATE_FIELD = Contribution._meta.get_field("candidate")


class _WithholdCandidate(ModelIterable):
    """Yields contributions; on a row whose ``personal_data_visible`` is false the candidate
    relation is cached as ``None`` *before* the object is handed out, so ``c.candidate`` can
    neither return a loaded candidate nor lazily load one (and ``prefetch_related`` skips it)."""

    def __iter__(self):
        for contribution in super().__iter__():
            if not contribution.personal_data_visible:
                _CANDIDATE_FIELD.set_cached_value(contribution, None)
            yield contribution


def _personal_data_everywhere(user, action: Action) -> bool | None:
    """``True``: every contribution the user may reach with ``action`` shows personal data;
    ``False``: none does; ``None``: it differs per contribution (e.g. an adviser of one
    municipality who is a council viewer of another)."""
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    personal = scope.municipalities_for(Action.VIEW_PERSONAL_DATA)
    # Visible rows are those of the action's municipalities plus, for a contractor user, their
    # own contractor's rows, on which the contractor always has VIEW_PERSONAL_DATA.
    if scope.municipalities_for(action) <= personal:
        return True
    if not personal and scope.contractor_id is None:
        return False
    return None


def _with_candidate_guard(user, qs: QuerySet, action: Action) -> QuerySet:
    qs = qs.select_related(*CONTRIBUTION_RELATED).annotate(candidate_code=F("candidate__code"))
    everywhere = _personal_data_everywhere(user, action)
    if everywhere:
        return qs.select_related("candidate").annotate(
            personal_data_visible=Value(True, output_field=BooleanField())
        )
    if everywhere is None:
        allowed = permissions.contributions_visible_to(user, action=Action.VIEW_PERSONAL_DATA)
        visible = Exists(allowed.filter(pk=OuterRef("pk")))
        # Candidates are fetched (one query) only for the rows that may show them.
        qs = qs.annotate(personal_data_visible=visible).prefetch_related("candidate")
    else:
        qs = qs.annotate(personal_data_visible=Value(False, output_field=BooleanField()))
    qs._iterable_class = _WithholdCandidate
    return qs


def contribution_list(
    *, user, qs: QuerySet | None = None, action: Action = Action.VIEW
) -> QuerySet[Contribution]:
    """Contributions the user may see (or act on with ``action``).

    Candidate details are personal data: only a user with ``Action.VIEW_PERSONAL_DATA`` on a
    contribution (the adviser of its municipality, the contractor that reported it) gets its
    candidate. Every row carries:

    * ``candidate_code``: the pseudonymous code, for every role (``None`` without candidate);
    * ``personal_data_visible``: whether this user may see this row's candidate details.

    On a row without ``personal_data_visible`` the candidate relation is withheld by
    construction, not by convention: no candidate column but the code is selected for it,
    and ``contribution.candidate`` is cached as ``None`` before the object leaves the
    queryset, so reading ``contribution.candidate.birth_year`` fails instead of loading the
    candidate lazily (``candidate_id`` stays, so saving the object changes nothing). Templates
    show ``candidate_code``. A roles-wide shortcut keeps the usual cases at one query: when
    every row may show personal data (adviser, contractor) the candidate is joined; when none
    may (council viewer, procurement officer) it is not joined at all; mixed scopes fetch
    the allowed rows' candidates with one extra query.

    Model instances only: a ``values()``/``values_list()`` projection of this queryset is the
    caller's responsibility and must not name ``candidate__`` fields other than ``code``.
    """
    visible = permissions.contributions_visible_to(user, qs, action=action)
    return _with_candidate_guard(user, visible, action)


def contribution_get(*, user, pk: int, action: Action = Action.VIEW) -> Contribution:
    """A contribution the user may see (or act on with ``action``); 404 otherwise. The
    candidate is withheld as in :func:`contribution_list`."""
    qs = contribution_list(user=user, action=action).select_related(
        "obligation__rulebook", "submitted_by", "reviewed_by"
    )
    return get_object_or_404(qs, pk=pk)


def verification_queue(*, user) -> QuerySet[Contribution]:
    """Submitted contributions this user may review, the oldest submission first."""
    return (
        contribution_list(user=user, action=Action.REVIEW_CONTRIBUTION)
        .filter(status=Contribution.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
    )


def candidate_list(*, user, qs: QuerySet | None = None) -> QuerySet[Candidate]:
    """Candidates with personal data: the contractor's own, and those with a contribution in
    one of the adviser's municipalities (``permissions.candidates_visible_to``)."""
    return permissions.candidates_visible_to(user, qs).select_related("contractor")


def candidate_get(*, user, pk: int) -> Candidate:
    return get_object_or_404(candidate_list(user=user), pk=pk)


def evidence_list(*, user, contribution: Contribution | None = None) -> QuerySet[Evidence]:
    qs = permissions.evidence_visible_to(user).select_related("uploaded_by")
    if contribution is not None:
        qs = qs.filter(contribution=contribution)
    return qs


def evidence_get(*, user, pk: int) -> Evidence:
    """Evidence the user may download (the contractor's own, the adviser's); 404 otherwise."""
    qs = permissions.evidence_visible_to(user).select_related(
        "contribution__obligation__contract", "uploaded_by"
    )
    return get_object_or_404(qs, pk=pk)


def rulebook_list(*, user, action: Action = Action.VIEW) -> QuerySet[Rulebook]:
    return (
        permissions.rulebooks_visible_to(user, action=action)
        .select_related("owner", "based_on")
        .prefetch_related("municipalities")
    )


def rulebook_get(*, user, pk: int, action: Action = Action.VIEW) -> Rulebook:
    """A rulebook with its rules and bonuses (one query each)."""
    qs = rulebook_list(user=user, action=action).prefetch_related("rules", "bonuses")
    return get_object_or_404(qs, pk=pk)
