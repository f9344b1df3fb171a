"""Revaluing contributions when what their value depends on changes.

A contribution's value depends on the obligation's frozen rulebook, its counting window (award
date up to the deadline) and, for an open-ended contribution, on the date it is valued on.
When the contract changes (award date, end date) or the adviser extends the deadline, the
window moves and every stored value must follow, or a settlement would judge the obligation by
values the engine no longer gives. :func:`revalue_contributions` does that and records every
changed value in the obligation's change history.

**Open-ended contributions** (no end date, e.g. a running job) count only the period actually
performed: they are valued up to the *valuation date* ``min(as_of, deadline)``, never up to the
deadline in advance. :func:`contribution_inputs` builds the engine inputs that way and
:func:`valuation_as_of` adds the explanation (and values a contribution that has not started
yet at zero). Their stored value therefore grows only when they are valued again: on a change
of the counting window, at a settlement decision (as of the decision date), and when the
placements services value them through :func:`valuation_as_of` (submission, change).

Every value still comes from ``placements.services.value_of`` (the engine glue), never from a
second implementation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Obligation, ObligationChange
from sroi.audit import log_updated, snapshot

from . import valuation
from .models import Contribution
from .services import VALUATION_INPUTS, value_of

__all__ = ["contribution_inputs", "revalue_contributions", "valuation_as_of", "valuation_end"]

ZERO = Decimal("0.00")
#: Rule kinds whose value depends on the contribution's period (its end date).
PERIOD_KINDS = frozenset(
    {valuation.RuleKind.ANNUAL, valuation.RuleKind.MONTHLY, valuation.RuleKind.FIXED}
)
LANG = valuation.DEFAULT_LANG  # stored explanations are Dutch records, like the engine's

#: The lines this module adds to an engine explanation, in the engine's two languages.
MESSAGES: dict[str, dict[str, str]] = {
    "open_ended": {
        "nl": "Geen einddatum (lopend): alleen de uitgevoerde periode telt, tot en met {end} "
        "(peildatum {as_of}, uiterlijk de deadline {deadline}).",
        "en": "No end date (ongoing): only the period performed counts, up to {end} "
        "(valuation date {as_of}, at the latest the deadline {deadline}).",
    },
    "not_started": {
        "nl": "Geen einddatum en op de peildatum {as_of} nog niet begonnen (start {start}): "
        "er is nog niets uitgevoerd.",
        "en": "No end date and not started on the valuation date {as_of} (start {start}): "
        "nothing has been performed yet.",
    },
    "zero_not_started": {
        "nl": "de bijdrage is op de peildatum nog niet begonnen",
        "en": "the contribution has not started on the valuation date",
    },
}


def _text(key: str, **values: object) -> str:
    return MESSAGES[key][LANG].format(**values)


def _day(day: date) -> str:
    return valuation.NUMBER_STYLES[LANG].date(day)


def valuation_end(*, deadline: date, as_of: date) -> date:
    """The last day an open-ended contribution is valued up to: ``min(as_of, deadline)``."""
    return min(as_of, deadline)


def contribution_inputs(contribution: Contribution, *, as_of: date) -> dict:
    """The inputs of :func:`placements.services.value_of` for ``contribution`` (stored or about
    to be stored; ``contribution.obligation`` must be set), valued as of ``as_of``.

    A contribution with an end date is passed as it is. An open-ended one (``end_date`` None)
    is passed with the explicit end ``min(as_of, deadline)``, so unperformed future work never
    counts as realised; when it starts after that day, the end is its start day (the engine
    needs end ≥ start) and :func:`valuation_as_of` sets its value to zero. The end only matters
    to rules that count a period (annual, monthly, fixed with a minimum duration); percentage,
    hourly and actual-cost rules are dated by the start alone.
    """
    inputs = {name: getattr(contribution, name) for name in VALUATION_INPUTS}
    start = contribution.start_date
    if contribution.end_date is None and start is not None:
        end = valuation_end(deadline=contribution.obligation.deadline, as_of=as_of)
        inputs["end_date"] = max(start, end)
    return inputs


def _counts_a_period(obligation: Obligation, rule_code: str | None) -> bool:
    """Whether the rule ``rule_code`` of the obligation's rulebook values a period (so an
    open-ended contribution needs a valuation date). Uses prefetched rules when present."""
    kinds = {rule.code: rule.kind for rule in obligation.rulebook.rules.all()}
    return kinds.get(rule_code) in PERIOD_KINDS


def valuation_as_of(contribution: Contribution, *, as_of: date) -> valuation.Valuation:
    """The value of ``contribution`` by its obligation's frozen rulebook and counting window,
    as of ``as_of``: use this for every stored value (``value_of`` is the preview of inputs).

    An open-ended contribution valued by a rule that counts a period (annual, monthly, fixed)
    counts only up to ``min(as_of, deadline)`` (see :func:`contribution_inputs`); its
    explanation says so, and one that starts inside the window but after ``as_of`` is worth
    zero, with that reason. Other rules (percentage, hourly, actual cost) are valued exactly as
    reported. Raises ``ValidationError`` like ``value_of``.
    """
    obligation = contribution.obligation
    inputs = contribution_inputs(contribution, as_of=as_of)
    result = value_of(obligation=obligation, **inputs)
    if contribution.end_date is not None or contribution.start_date is None:
        return result
    if not _counts_a_period(obligation, result.rule_code):
        # Dated by its start only: value (and explain) it as reported, without an end.
        return value_of(obligation=obligation, **{**inputs, "end_date": None})
    start = contribution.start_date
    end = valuation_end(deadline=obligation.deadline, as_of=as_of)
    if end < start <= obligation.deadline:
        reason = _text("zero_not_started")
        money = valuation.NUMBER_STYLES[LANG].money
        zero_line = valuation.MESSAGES["value_zero"][LANG].format(zero=money(ZERO), reason=reason)
        value_line = valuation.MESSAGES["value"][LANG].format(
            value=money(ZERO), base=money(ZERO), bonuses=money(ZERO)
        )
        return replace(
            result,
            value=ZERO,
            base_value=ZERO,
            bonus_value=ZERO,
            bonus_codes=(),
            counted_days=0,
            capped=False,
            zero_reason=reason,
            explanation=(
                *result.explanation[:1],
                _text("not_started", as_of=_day(as_of), start=_day(start)),
                zero_line,
                value_line,
            ),
        )
    line = _text("open_ended", end=_day(end), as_of=_day(as_of), deadline=_day(obligation.deadline))
    # The engine's explanation starts with the rule line and the inputs line.
    explanation = (*result.explanation[:2], line, *result.explanation[2:])
    return replace(result, explanation=explanation)


def revalue_contributions(
    *,
    obligation: Obligation,
    acting_user,
    reason: str,
    as_of: date | None = None,
) -> list[tuple[Contribution, Decimal, Decimal]]:
    """Value every contribution of ``obligation`` that is not rejected again, with its frozen
    rulebook and its current counting window, as of ``as_of`` (default: today).

    Runs inside the caller's transaction, after the caller has locked ``obligation`` and
    checked the permission (``acting_user`` is recorded, not checked). The contributions are
    locked, ``value``/``rule_code``/``value_explanation`` are written with one ``bulk_update``
    and every changed value is recorded in one ``ObligationChange`` of kind ``revalued`` whose
    ``details["contributions"]`` lists id, status, old and new value (``details["realised"]``:
    the approved total before and after; ``as_of`` and ``window`` the facts used).

    Open-ended contributions count only up to ``min(as_of, deadline)`` (see
    :func:`contribution_inputs`). An obligation without a rulebook has nothing to value by
    (contributions cannot be reported on it), so nothing happens. A contribution the engine
    can no longer value raises ``ValidationError`` naming it, which rolls the caller back.

    Returns ``(contribution, old value, new value)`` for every contribution whose value
    changed, in id order.
    """
    if obligation.rulebook_id is None:
        return []
    as_of = as_of or timezone.localdate()
    # One load of the rulebook for all contributions (``to_engine`` uses the prefetch).
    prefetch_related_objects(
        [obligation], "rulebook__owner", "rulebook__rules", "rulebook__bonuses"
    )
    contributions = list(
        Contribution.objects.select_for_update(of=("self",))
        .select_related("candidate")
        .filter(obligation=obligation)
        .exclude(status=Contribution.Status.REJECTED)
        .order_by("pk")
    )
    now = timezone.now()
    to_update: list[Contribution] = []
    before: list[Contribution] = []  # for the audit trail (bulk_update sends no signals)
    changed: list[tuple[Contribution, Decimal, Decimal]] = []
    realised_old = realised_new = ZERO
    for contribution in contributions:
        contribution.obligation = obligation  # the locked row, with its new window
        try:
            result = valuation_as_of(contribution, as_of=as_of)
        except ValidationError as exc:
            raise ValidationError(
                _("Contribution %(id)s can no longer be valued: %(error)s")
                % {"id": contribution.pk, "error": " ".join(exc.messages)},
                code="revaluation",
            ) from exc
        old_value = contribution.value
        if contribution.status == Contribution.Status.APPROVED:
            realised_old += old_value
            realised_new += result.value
        rule_code = result.rule_code or ""
        explanation = list(result.explanation)
        if (old_value, contribution.rule_code, contribution.value_explanation) == (
            result.value,
            rule_code,
            explanation,
        ):
            continue
        before.append(snapshot(contribution))
        contribution.value = result.value
        contribution.rule_code = rule_code
        contribution.value_explanation = explanation
        contribution.updated_at = now
        to_update.append(contribution)
        if old_value != result.value:
            changed.append((contribution, old_value, result.value))
    if to_update:
        Contribution.objects.bulk_update(
            to_update, ["value", "rule_code", "value_explanation", "updated_at"]
        )
        log_updated(zip(before, to_update, strict=True))
    if changed:
        ObligationChange.objects.create(
            obligation=obligation,
            kind=ObligationChange.Kind.REVALUED,
            # The obligation's amount and deadline are not changed by this; shown for context.
            old_amount=obligation.amount,
            new_amount=obligation.amount,
            new_deadline=obligation.deadline,
            reason=(reason or "").strip(),
            details={
                "as_of": as_of.isoformat(),
                "window": [obligation.window_start.isoformat(), obligation.deadline.isoformat()],
                "realised": {"old": str(realised_old), "new": str(realised_new)},
                "contributions": [
                    {
                        "id": contribution.pk,
                        "status": contribution.status,
                        "old_value": str(old),
                        "new_value": str(new),
                    }
                    for contribution, old, new in changed
                ],
            },
            changed_by=acting_user,
        )
    return changed
