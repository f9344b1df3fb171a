"""Writes for rulebooks, candidates and contributions."""

from __future__ import annotations

from datetime import date

from .models import Rulebook


def rulebook_in_force(*, municipality_id: int, on_date: date) -> Rulebook | None:
    """The published rulebook that applies to ``municipality`` on ``on_date``: the latest
    ``valid_from`` on or before that date. Frozen on the obligation at award."""
    return (
        Rulebook.objects.filter(
            municipalities=municipality_id,
            status=Rulebook.Status.PUBLISHED,
            valid_from__lte=on_date,
        )
        .order_by("-valid_from", "-created_at", "-pk")
        .first()
    )
