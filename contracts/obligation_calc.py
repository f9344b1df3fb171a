"""Computing an SROI obligation from a policy and a contract. Plain Python, no Django.

``amount = round(base * percentage * (1 - pso_discount), 2)`` with the policy in force on the
award date (domain.md). Every step is written out in ``explanation`` so the adviser, the
procurement officer and the contractor can all follow the number.

The explanation is Dutch by default (``lang="nl"``: it is stored on the obligation as a record)
or English (``lang="en"``). Its texts come from the two-language catalogue :data:`MESSAGES`,
its numbers and dates from :data:`TEXT_STYLES` (``€ 25.000,00``, ``2,5%``, ``15-01-2026`` in
Dutch; ``€25,000.00``, ``2.5%``, ``2026-01-15`` in English). Error messages stay English.

Self-contained on purpose, like ``placements/valuation.py``: importing a module of the ``sroi``
package would load Celery and Django through ``sroi/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


PSO_LABELS = {
    "aspirant": "PSO aspirant",
    "basistrede": "PSO basistrede",
    "trede_1": "PSO trede 1",
    "trede_2": "PSO trede 2",
    "trede_3": "PSO trede 3",
    "30_plus": "PSO 30+",
}


class ObligationInputError(ValueError):
    """The contract or policy lacks what the computation needs."""


@dataclass(frozen=True)
class PolicyTerms:
    valid_from: date
    threshold: Decimal
    default_percentage: Decimal
    base: str  # "contract_value" | "labour_cost"
    grace_days: int
    reduced_percentage: Decimal | None = None
    reduced_labour_share_below: Decimal | None = None  # percent of the contract value
    pso_discounts: dict[str, Decimal] = field(default_factory=dict)  # level -> percent


@dataclass(frozen=True)
class ContractTerms:
    value_excl_vat: Decimal
    labour_cost: Decimal | None
    award_date: date
    start_date: date
    end_date: date
    pso_level: str = ""  # already checked: certified for the whole contract period


@dataclass(frozen=True)
class Deviation:
    kind: str = ""  # "" | reduced_percentage | custom_percentage | exemption
    percentage: Decimal | None = None
    reason: str = ""


@dataclass(frozen=True)
class ObligationComputation:
    applies: bool  # False: the contract is below the threshold
    base: str
    base_amount: Decimal
    percentage: Decimal
    pso_level: str
    pso_discount: Decimal
    amount: Decimal
    window_start: date
    deadline: date
    deviation: str
    deviation_reason: str
    explanation: tuple[str, ...]


def euro(amount: Decimal) -> str:
    """€ 1.234,56 — the Dutch notation, used in explanations."""
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount).quantize(CENT, ROUND_HALF_UP):,.2f}".split(".")
    return f"{sign}€ {whole.replace(',', '.')},{cents}"


def pct(value: Decimal) -> str:
    """5%, 2,5% — the Dutch notation, used in explanations."""
    return f"{value.normalize():f}%".replace(".", ",")


def euro_en(amount: Decimal) -> str:
    """€1,234.56 — the English notation."""
    sign = "-" if amount < 0 else ""
    return f"{sign}€{abs(amount).quantize(CENT, ROUND_HALF_UP):,.2f}"


def pct_en(value: Decimal) -> str:
    """5%, 2.5% — the English notation."""
    return f"{value.normalize():f}%"


# --- Explanation texts -----------------------------------------------------------------------

LANGUAGES = ("nl", "en")
DEFAULT_LANG = "nl"

#: Every explanation line and part of a line: message key -> template per language, with the
#: same named ``str.format`` placeholders in every language. Values arrive already written in
#: the language's style (:data:`TEXT_STYLES`).
MESSAGES: dict[str, dict[str, str]] = {
    "policy": {
        "nl": "Beleid geldig vanaf {valid_from} (van kracht op de gunningsdatum {award_date}).",
        "en": "Policy valid from {valid_from} (in force on the award date {award_date}).",
    },
    "below_threshold": {
        "nl": "Opdrachtwaarde {value} ligt onder de drempel van {threshold}: "
        "geen SROI-verplichting.",
        "en": "Contract value {value} is below the threshold of {threshold}: no SROI obligation.",
    },
    "above_threshold": {
        "nl": "Opdrachtwaarde {value} ligt op of boven de drempel van {threshold}.",
        "en": "Contract value {value} is at or above the threshold of {threshold}.",
    },
    "base": {"nl": "Grondslag: {base} {amount}.", "en": "Base: {base} {amount}."},
    "base_labour_cost": {"nl": "loonsom", "en": "labour cost"},
    "base_contract_value": {"nl": "opdrachtwaarde excl. btw", "en": "contract value excl. VAT"},
    "exemption": {
        "nl": "Vrijstelling verleend. Reden: {reason}",
        "en": "Exemption granted. Reason: {reason}",
    },
    "reduced_percentage": {
        "nl": "Verlaagd percentage {percentage} in plaats van {default}. Reden: {reason}",
        "en": "Reduced percentage {percentage} instead of {default}. Reason: {reason}",
    },
    "custom_percentage": {
        "nl": "Afwijkend percentage {percentage} in plaats van {default}. Reden: {reason}",
        "en": "Custom percentage {percentage} instead of {default}. Reason: {reason}",
    },
    "policy_percentage": {
        "nl": "Percentage volgens beleid: {percentage}.",
        "en": "Percentage according to the policy: {percentage}.",
    },
    "pso_discount": {
        "nl": "PSO-korting {discount} ({level}, gecertificeerd voor de hele looptijd).",
        "en": "PSO discount {discount} ({level}, certified for the whole contract period).",
    },
    "pso_no_discount": {
        "nl": "PSO-niveau {level}: het beleid kent hiervoor geen korting.",
        "en": "PSO level {level}: the policy gives no discount for it.",
    },
    "formula": {"nl": "{base} × {percentage}", "en": "{base} × {percentage}"},
    "formula_pso": {"nl": " × (1 − {discount})", "en": " × (1 − {discount})"},
    "obligation": {
        "nl": "Verplichting = {formula} = {amount} (afgerond op centen).",
        "en": "Obligation = {formula} = {amount} (rounded to cents).",
    },
    "window": {
        "nl": "Telperiode van {award_date} tot de deadline {deadline} "
        "(einddatum {end_date} + {grace_days} dagen).",
        "en": "Counting window from {award_date} to the deadline {deadline} "
        "(end date {end_date} + {grace_days} days).",
    },
}


@dataclass(frozen=True)
class TextStyle:
    """How one language writes money, percentages and dates in the explanation."""

    money: Callable[[Decimal], str]
    percent: Callable[[Decimal], str]
    date: Callable[[date], str]


TEXT_STYLES: dict[str, TextStyle] = {
    "nl": TextStyle(money=euro, percent=pct, date=lambda day: f"{day:%d-%m-%Y}"),
    "en": TextStyle(money=euro_en, percent=pct_en, date=lambda day: day.isoformat()),
}


class _Text:
    """The explanation texts of one language."""

    __slots__ = ("lang", "style")

    def __init__(self, lang: str) -> None:
        if not isinstance(lang, str) or lang not in LANGUAGES:
            raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
        self.lang = lang
        self.style = TEXT_STYLES[lang]

    def __call__(self, key: str, **values: object) -> str:
        return MESSAGES[key][self.lang].format(**values)


def compute_obligation(
    policy: PolicyTerms,
    contract: ContractTerms,
    deviation: Deviation | None = None,
    *,
    lang: str = DEFAULT_LANG,
) -> ObligationComputation:
    """The obligation of ``contract`` under ``policy``; ``lang`` ("nl", the default, or "en") is
    the language of the explanation only (anything else is a ``ValueError``)."""
    text = _Text(lang)
    money, percent, day = text.style.money, text.style.percent, text.style.date
    deviation = deviation or Deviation()
    lines: list[str] = [
        text("policy", valid_from=day(policy.valid_from), award_date=day(contract.award_date)),
    ]
    value = contract.value_excl_vat
    if value < 0:
        raise ObligationInputError("The contract value cannot be negative.")
    deadline = contract.end_date + timedelta(days=policy.grace_days)

    if value < policy.threshold:
        lines.append(text("below_threshold", value=money(value), threshold=money(policy.threshold)))
        return ObligationComputation(
            applies=False,
            base=policy.base,
            base_amount=(
                (contract.labour_cost or Decimal("0.00")) if policy.base == "labour_cost" else value
            ),
            percentage=Decimal("0"),
            pso_level="",
            pso_discount=Decimal("0"),
            amount=Decimal("0.00"),
            window_start=contract.award_date,
            deadline=deadline,
            deviation="",
            deviation_reason="",
            explanation=tuple(lines),
        )
    lines.append(text("above_threshold", value=money(value), threshold=money(policy.threshold)))
    if policy.base == "labour_cost":
        if contract.labour_cost is None:
            raise ObligationInputError(
                "This municipality's policy computes SROI over the labour cost; "
                "the contract has no labour cost."
            )
        base_amount = contract.labour_cost
        base_text = text("base_labour_cost")
    else:
        base_amount = value
        base_text = text("base_contract_value")
    lines.append(text("base", base=base_text, amount=money(base_amount)))

    percentage = policy.default_percentage
    if deviation.kind and not deviation.reason.strip():
        raise ObligationInputError("A deviation from the policy needs a recorded reason.")
    if deviation.kind == "exemption":
        percentage = Decimal("0")
        lines.append(text("exemption", reason=deviation.reason.strip()))
    elif deviation.kind == "reduced_percentage":
        if policy.reduced_percentage is None:
            raise ObligationInputError("The policy has no reduced percentage.")
        if policy.reduced_labour_share_below is not None:
            if contract.labour_cost is None or value == 0:
                raise ObligationInputError(
                    "The reduced percentage applies only when the labour cost is known: "
                    "enter the contract's labour cost."
                )
            share = contract.labour_cost * HUNDRED / value
            if share >= policy.reduced_labour_share_below:
                raise ObligationInputError(
                    f"The reduced percentage applies only when labour is below "
                    f"{policy.reduced_labour_share_below}% of the contract value; "
                    f"here it is {share.quantize(CENT, ROUND_HALF_UP)}%."
                )
        percentage = policy.reduced_percentage
        lines.append(
            text(
                "reduced_percentage",
                percentage=percent(percentage),
                default=percent(policy.default_percentage),
                reason=deviation.reason.strip(),
            )
        )
    elif deviation.kind == "custom_percentage":
        if deviation.percentage is None or not (0 <= deviation.percentage <= 100):
            raise ObligationInputError("A custom percentage must lie between 0 and 100.")
        percentage = deviation.percentage
        lines.append(
            text(
                "custom_percentage",
                percentage=percent(percentage),
                default=percent(policy.default_percentage),
                reason=deviation.reason.strip(),
            )
        )
    elif deviation.kind:
        raise ObligationInputError(f"Unknown deviation {deviation.kind!r}.")
    else:
        lines.append(text("policy_percentage", percentage=percent(percentage)))

    pso_discount = Decimal("0")
    pso_level = ""
    if contract.pso_level and contract.pso_level in policy.pso_discounts:
        pso_level = contract.pso_level
        pso_discount = policy.pso_discounts[pso_level]
        level = PSO_LABELS.get(pso_level, pso_level)
        lines.append(text("pso_discount", discount=percent(pso_discount), level=level))
    elif contract.pso_level:
        level = PSO_LABELS.get(contract.pso_level, contract.pso_level)
        lines.append(text("pso_no_discount", level=level))

    raw = base_amount * percentage / HUNDRED * (1 - pso_discount / HUNDRED)
    amount = raw.quantize(CENT, rounding=ROUND_HALF_UP)
    formula = text("formula", base=money(base_amount), percentage=percent(percentage))
    if pso_discount:
        formula += text("formula_pso", discount=percent(pso_discount))
    lines.append(text("obligation", formula=formula, amount=money(amount)))
    lines.append(
        text(
            "window",
            award_date=day(contract.award_date),
            deadline=day(deadline),
            end_date=day(contract.end_date),
            grace_days=policy.grace_days,
        )
    )
    return ObligationComputation(
        applies=True,
        base=policy.base,
        base_amount=base_amount,
        percentage=percentage,
        pso_level=pso_level,
        pso_discount=pso_discount,
        amount=amount,
        window_start=contract.award_date,
        deadline=deadline,
        deviation=deviation.kind,
        deviation_reason=deviation.reason.strip(),
        explanation=tuple(lines),
    )
