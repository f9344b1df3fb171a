"""Computing an SROI obligation from a policy and a contract. Plain Python, no Django.

``amount = round(base * percentage * (1 - pso_discount), 2)`` with the policy in force on the
award date (domain.md). Every step is written out in ``explanation`` so the adviser, the
procurement officer and the contractor can all follow the number.
"""

from __future__ import annotations

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
    return f"{value.normalize():f}%".replace(".", ",")


def compute_obligation(
    policy: PolicyTerms, contract: ContractTerms, deviation: Deviation | None = None
) -> ObligationComputation:
    deviation = deviation or Deviation()
    lines: list[str] = [
        f"Beleid geldig vanaf {policy.valid_from:%d-%m-%Y} (van kracht op de gunningsdatum "
        f"{contract.award_date:%d-%m-%Y}).",
    ]
    value = contract.value_excl_vat
    if value < 0:
        raise ObligationInputError("The contract value cannot be negative.")
    deadline = contract.end_date + timedelta(days=policy.grace_days)

    if value < policy.threshold:
        lines.append(
            f"Opdrachtwaarde {euro(value)} ligt onder de drempel van {euro(policy.threshold)}: "
            "geen SROI-verplichting."
        )
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
    lines.append(
        f"Opdrachtwaarde {euro(value)} ligt op of boven de drempel van {euro(policy.threshold)}."
    )
    if policy.base == "labour_cost":
        if contract.labour_cost is None:
            raise ObligationInputError(
                "This municipality's policy computes SROI over the labour cost; "
                "the contract has no labour cost."
            )
        base_amount = contract.labour_cost
        base_text = "loonsom"
    else:
        base_amount = value
        base_text = "opdrachtwaarde excl. btw"
    lines.append(f"Grondslag: {base_text} {euro(base_amount)}.")

    percentage = policy.default_percentage
    if deviation.kind and not deviation.reason.strip():
        raise ObligationInputError("A deviation from the policy needs a recorded reason.")
    if deviation.kind == "exemption":
        percentage = Decimal("0")
        lines.append(f"Vrijstelling verleend. Reden: {deviation.reason.strip()}")
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
            f"Verlaagd percentage {pct(percentage)} in plaats van "
            f"{pct(policy.default_percentage)}. Reden: {deviation.reason.strip()}"
        )
    elif deviation.kind == "custom_percentage":
        if deviation.percentage is None or not (0 <= deviation.percentage <= 100):
            raise ObligationInputError("A custom percentage must lie between 0 and 100.")
        percentage = deviation.percentage
        lines.append(
            f"Afwijkend percentage {pct(percentage)} in plaats van "
            f"{pct(policy.default_percentage)}. Reden: {deviation.reason.strip()}"
        )
    elif deviation.kind:
        raise ObligationInputError(f"Unknown deviation {deviation.kind!r}.")
    else:
        lines.append(f"Percentage volgens beleid: {pct(percentage)}.")

    pso_discount = Decimal("0")
    pso_level = ""
    if contract.pso_level and contract.pso_level in policy.pso_discounts:
        pso_level = contract.pso_level
        pso_discount = policy.pso_discounts[pso_level]
        lines.append(
            f"PSO-korting {pct(pso_discount)} ({PSO_LABELS.get(pso_level, pso_level)}, "
            "gecertificeerd voor de hele looptijd)."
        )
    elif contract.pso_level:
        lines.append(
            f"PSO-niveau {PSO_LABELS.get(contract.pso_level, contract.pso_level)}: "
            "het beleid kent hiervoor geen korting."
        )

    raw = base_amount * percentage / HUNDRED * (1 - pso_discount / HUNDRED)
    amount = raw.quantize(CENT, rounding=ROUND_HALF_UP)
    formula = f"{euro(base_amount)} × {pct(percentage)}"
    if pso_discount:
        formula += f" × (1 − {pct(pso_discount)})"
    lines.append(f"Verplichting = {formula} = {euro(amount)} (afgerond op centen).")
    lines.append(
        f"Telperiode van {contract.award_date:%d-%m-%Y} tot de deadline {deadline:%d-%m-%Y} "
        f"(einddatum {contract.end_date:%d-%m-%Y} + {policy.grace_days} dagen)."
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
