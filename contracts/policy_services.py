"""Writes for SROI policy versions: a new version from an existing one, and changing a version
that no obligation uses yet.

A policy is versioned by the date it takes effect (``valid_from``, unique per municipality).
An obligation keeps the version it was computed with (``Obligation.policy``): a new version
never changes an existing obligation, not even one whose award date lies on or after the new
version's ``valid_from``. Only a change of a contract's award date or municipality looks up
the version in force again (``contracts.services.update_contract``). So a version that
obligations use is frozen: changing it would make their recorded computation unexplainable.

Versions keep their order: a new version takes effect after the latest existing one, and a
change of an unused version's date keeps it between its neighbours.

Like ``contracts.services``: keyword-only, ``acting_user`` checked with
``sroi.permissions.can_in_municipality(..., Action.MANAGE_POLICY, ...)`` (the adviser and the
functional administrator), ``full_clean()`` before saving, one transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sroi.audit import log_created
from sroi.permissions import Action, can_in_municipality

from .models import PsoDiscount, PsoLevel, SroiPolicy

#: The terms of a version that a user sets (besides ``valid_from``).
POLICY_TERMS = (
    "threshold",
    "default_percentage",
    "base",
    "reduced_percentage",
    "reduced_labour_share_below",
    "grace_days",
    "notes",
)
#: PSO levels that can carry a discount, in ladder order.
PSO_LEVELS = tuple(value for value, _label in PsoLevel.choices if value)
#: A grace period beyond ten years is a typing error, not a policy.
MAX_GRACE_DAYS = 3650

__all__ = [
    "MAX_GRACE_DAYS",
    "POLICY_TERMS",
    "PSO_LEVELS",
    "create_policy_version",
    "policy_term_errors",
    "policy_terms_of",
    "update_policy",
]


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def policy_terms_of(policy: SroiPolicy) -> dict:
    """The terms of ``policy`` (for prefilling a new version)."""
    return {name: getattr(policy, name) for name in POLICY_TERMS}


def policy_term_errors(terms: dict) -> dict[str, str]:
    """Problems between the terms that no single field shows, keyed by field. Shared by the
    form (so the user sees them at the field) and the services (so nothing else gets past)."""
    errors: dict[str, str] = {}
    default = terms.get("default_percentage")
    reduced = terms.get("reduced_percentage")
    share = terms.get("reduced_labour_share_below")
    grace = terms.get("grace_days")
    if reduced is not None and default is not None and reduced >= default:
        errors["reduced_percentage"] = _(
            "The reduced percentage must be lower than the default percentage."
        )
    if share is not None and reduced is None:
        errors["reduced_labour_share_below"] = _(
            "A labour-share limit only applies to a reduced percentage: enter the reduced "
            "percentage too, or leave this empty."
        )
    if grace is not None and grace > MAX_GRACE_DAYS:
        errors["grace_days"] = _("The grace period can be at most %(max)s days.") % {
            "max": MAX_GRACE_DAYS
        }
    return errors


def _check_terms(terms: dict) -> None:
    unknown = set(terms) - set(POLICY_TERMS)
    if unknown:
        raise TypeError(f"Unknown policy terms: {sorted(unknown)}")
    errors = policy_term_errors(terms)
    if errors:
        raise ValidationError(errors)


def _clean_discounts(pso_discounts: dict) -> dict[str, Decimal]:
    """``{level: percentage}``; ``None`` or a missing level means no discount for it."""
    unknown = set(pso_discounts) - set(PSO_LEVELS)
    if unknown:
        raise ValidationError(
            {"pso_discounts": _("Unknown PSO level: %(levels)s.") % {"levels": sorted(unknown)}}
        )
    return {level: pct for level, pct in pso_discounts.items() if pct is not None}


def _store_discounts(policy: SroiPolicy, discounts: dict[str, Decimal]) -> None:
    PsoDiscount.objects.filter(policy=policy).delete()
    rows = []
    errors: dict[str, list] = {}
    for level in PSO_LEVELS:
        if level not in discounts:
            continue
        row = PsoDiscount(policy=policy, level=level, discount_percentage=discounts[level])
        try:
            row.full_clean()
        except ValidationError as exc:
            errors.setdefault("pso_discounts", []).extend(
                f"{row.get_level_display()}: {message}" for message in exc.messages
            )
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    log_created(PsoDiscount.objects.bulk_create(rows))


def _versions(municipality_id: int, *, lock: bool) -> list[SroiPolicy]:
    """The municipality's versions, oldest first; locked so two advisers adding or moving a
    version at the same moment cannot both decide on the same order."""
    qs = SroiPolicy.objects.filter(municipality_id=municipality_id).order_by("valid_from")
    if lock:
        qs = qs.select_for_update()
    return list(qs)


def _fmt(day: date) -> str:
    return f"{day:%d-%m-%Y}"


def _save(policy: SroiPolicy) -> None:
    policy.full_clean()
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:  # a concurrent version with the same date
        raise ValidationError(
            {"valid_from": _("This municipality already has a version with this date.")}
        ) from exc


@transaction.atomic
def create_policy_version(
    *,
    acting_user,
    based_on: SroiPolicy,
    valid_from: date,
    terms: dict | None = None,
    pso_discounts: dict | None = None,
) -> SroiPolicy:
    """A new version of ``based_on``'s municipality, taking effect on ``valid_from``.

    ``terms`` override ``based_on``'s terms (anything left out is copied), ``pso_discounts``
    (``{level: percentage}``) replace its discounts (``None``: copied). ``valid_from`` must lie
    after the latest existing version of the municipality. Existing obligations keep the
    version they were computed with.
    """
    municipality_id = based_on.municipality_id
    _require(can_in_municipality(acting_user, Action.MANAGE_POLICY, municipality_id))
    terms = {**policy_terms_of(based_on), **(terms or {})}
    _check_terms(terms)
    if pso_discounts is None:
        pso_discounts = {d.level: d.discount_percentage for d in based_on.pso_discounts.all()}
    discounts = _clean_discounts(pso_discounts)
    if valid_from is None:
        raise ValidationError({"valid_from": _("Enter the date the new version takes effect.")})
    versions = _versions(municipality_id, lock=True)
    if versions and valid_from <= versions[-1].valid_from:
        raise ValidationError(
            {
                "valid_from": _(
                    "A new version must take effect after the latest version, which takes "
                    "effect on %(date)s."
                )
                % {"date": _fmt(versions[-1].valid_from)}
            }
        )
    policy = SroiPolicy(municipality_id=municipality_id, valid_from=valid_from, **terms)
    _save(policy)
    _store_discounts(policy, discounts)
    return policy


@transaction.atomic
def update_policy(
    *,
    acting_user,
    policy: SroiPolicy,
    valid_from: date | None = None,
    terms: dict | None = None,
    pso_discounts: dict | None = None,
) -> SroiPolicy:
    """Change a version that no obligation uses yet (refused otherwise: obligations were
    computed with its terms; create a new version instead). ``None`` leaves the date, the
    terms or the discounts as they are; a new date must stay between the neighbouring
    versions' dates."""
    policy = SroiPolicy.objects.select_for_update().get(pk=policy.pk)
    _require(can_in_municipality(acting_user, Action.MANAGE_POLICY, policy.municipality_id))
    in_use = policy.obligations.count()
    if in_use:
        raise ValidationError(
            _(
                "This version is used by %(count)s obligation(s), which were computed with its "
                "terms and keep them. Create a new version instead."
            )
            % {"count": in_use},
            code="in_use",
        )
    terms = {**policy_terms_of(policy), **(terms or {})}
    _check_terms(terms)
    discounts = None if pso_discounts is None else _clean_discounts(pso_discounts)
    if valid_from is not None and valid_from != policy.valid_from:
        others = [v for v in _versions(policy.municipality_id, lock=True) if v.pk != policy.pk]
        before = [v.valid_from for v in others if v.valid_from < policy.valid_from]
        after = [v.valid_from for v in others if v.valid_from > policy.valid_from]
        if any(v.valid_from == valid_from for v in others):
            raise ValidationError(
                {"valid_from": _("This municipality already has a version with this date.")}
            )
        if (before and valid_from <= max(before)) or (after and valid_from >= min(after)):
            raise ValidationError(
                {
                    "valid_from": _(
                        "Versions keep their order: the date must lie between the previous "
                        "version (%(previous)s) and the next one (%(next)s)."
                    )
                    % {
                        "previous": _fmt(max(before)) if before else "–",
                        "next": _fmt(min(after)) if after else "–",
                    }
                }
            )
        policy.valid_from = valid_from
    for name, value in terms.items():
        setattr(policy, name, value)
    _save(policy)
    if discounts is not None:
        _store_discounts(policy, discounts)
    return policy
