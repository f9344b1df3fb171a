"""Reads for candidates, contributions, evidence and rulebooks, always scoped to the user.

Every queryset starts from a ``sroi.permissions.*_visible_to`` function; an object the user may
not see is a 404, so its existence is never revealed.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from sroi import permissions
from sroi.permissions import Action

from .models import Candidate, Contribution, Evidence, Rulebook

CONTRIBUTION_RELATED = (
    "obligation__contract__municipality",
    "obligation__contract__contractor",
    "candidate",
)


def contribution_list(
    *, user, qs: QuerySet | None = None, action: Action = Action.VIEW
) -> QuerySet[Contribution]:
    return permissions.contributions_visible_to(user, qs, action=action).select_related(
        *CONTRIBUTION_RELATED
    )


def contribution_get(*, user, pk: int, action: Action = Action.VIEW) -> Contribution:
    """A contribution the user may see (or act on with ``action``); 404 otherwise."""
    qs = permissions.contributions_visible_to(user, action=action).select_related(
        *CONTRIBUTION_RELATED, "obligation__rulebook", "submitted_by", "reviewed_by"
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
    """Candidates with personal data: the contractor's own, and those of contractors working
    for the adviser's municipalities."""
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
