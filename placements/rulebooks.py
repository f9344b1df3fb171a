"""Rulebooks between the database and the pure valuation engine.

``to_engine`` turns a stored rulebook into ``valuation.Rulebook``; ``import_rulebook`` stores an
engine rulebook (e.g. read from JSON) as a new draft version. The JSON format itself is owned by
the engine (``placements.valuation``) and documented in docs/rulebook-format.md.
"""

from __future__ import annotations

from sroi.audit import log_created

from . import valuation
from .models import Bonus, Rule, Rulebook


def to_engine(rulebook: Rulebook) -> valuation.Rulebook:
    """The engine's view of a stored rulebook (uses prefetched rules/bonuses when present)."""
    return valuation.Rulebook(
        name=rulebook.name,
        version=rulebook.version,
        valid_from=rulebook.valid_from,
        owner=rulebook.owner.name if rulebook.owner_id else "",
        is_example=rulebook.is_example,
        rules=tuple(
            valuation.Rule(
                code=r.code,
                label=r.label,
                block=r.block,
                kind=r.kind,
                rate=r.rate,
                target_groups=frozenset(r.target_groups or ()),
                min_years_on_benefit=r.min_years_on_benefit,
                max_years_on_benefit=r.max_years_on_benefit,
                variant=r.variant,
                fte_hours=r.fte_hours,
                min_hours_per_week=r.min_hours_per_week,
                max_years=r.max_years,
                min_duration_days=r.min_duration_days,
                percent=r.percent,
            )
            for r in rulebook.rules.all()
        ),
        bonuses=tuple(
            valuation.Bonus(
                code=b.code,
                label=b.label,
                amount=b.amount,
                blocks=frozenset(b.blocks or ()),
                target_groups=frozenset(b.target_groups or ()),
                min_age=b.min_age,
                max_age=b.max_age,
                requires_permanent_contract=b.requires_permanent_contract,
            )
            for b in rulebook.bonuses.all()
        ),
    )


def rule_fields(rule: valuation.Rule) -> dict:
    return {
        "code": rule.code,
        "label": rule.label,
        "block": str(rule.block),
        "kind": str(rule.kind),
        "rate": rule.rate,
        "target_groups": sorted(str(g) for g in rule.target_groups),
        "min_years_on_benefit": rule.min_years_on_benefit,
        "max_years_on_benefit": rule.max_years_on_benefit,
        "variant": rule.variant,
        "fte_hours": rule.fte_hours,
        "min_hours_per_week": rule.min_hours_per_week,
        "max_years": rule.max_years,
        "min_duration_days": rule.min_duration_days,
        "percent": rule.percent,
    }


def bonus_fields(bonus: valuation.Bonus) -> dict:
    return {
        "code": bonus.code,
        "label": bonus.label,
        "amount": bonus.amount,
        "blocks": sorted(str(b) for b in bonus.blocks),
        "target_groups": sorted(str(g) for g in bonus.target_groups),
        "min_age": bonus.min_age,
        "max_age": bonus.max_age,
        "requires_permanent_contract": bonus.requires_permanent_contract,
    }


def store_engine_rulebook(
    engine_rulebook: valuation.Rulebook, *, owner, municipalities, status=Rulebook.Status.DRAFT
) -> Rulebook:
    """Persist an engine rulebook as a new version (caller holds the transaction)."""
    engine_rulebook.validate()
    rulebook = Rulebook(
        name=engine_rulebook.name,
        version=engine_rulebook.version,
        owner=owner,
        valid_from=engine_rulebook.valid_from,
        is_example=engine_rulebook.is_example,
        status=status,
    )
    rulebook.full_clean()
    rulebook.save()
    rulebook.municipalities.set(municipalities)
    rules = [Rule(rulebook=rulebook, **rule_fields(r)) for r in engine_rulebook.rules]
    bonuses = [Bonus(rulebook=rulebook, **bonus_fields(b)) for b in engine_rulebook.bonuses]
    for item in [*rules, *bonuses]:
        item.full_clean(exclude=["rulebook"])
    Rule.objects.bulk_create(rules)
    Bonus.objects.bulk_create(bonuses)
    log_created([*rules, *bonuses])
    return rulebook
