"""The pure obligation computation (contracts/obligation_calc.py): no database.

Every expected number is worked out by hand in a comment next to it. The policy used throughout
is the one of the personas: threshold 100,000, 5%, reduced 2%, 90 grace days, PSO trede 2 → 20%.
"""

import string
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contracts import obligation_calc
from contracts.obligation_calc import (
    ContractTerms,
    Deviation,
    ObligationInputError,
    PolicyTerms,
    compute_obligation,
    euro,
    euro_en,
    pct,
    pct_en,
)

D = Decimal

POLICY = PolicyTerms(
    valid_from=date(2020, 1, 1),
    threshold=D("100000.00"),
    default_percentage=D("5.00"),
    base="contract_value",
    grace_days=90,
    reduced_percentage=D("2.00"),
    pso_discounts={"trede_2": D("20")},
)
LABOUR_POLICY = replace(POLICY, base="labour_cost")

CONTRACT = ContractTerms(
    value_excl_vat=D("500000.00"),
    labour_cost=None,
    award_date=date(2026, 1, 15),
    start_date=date(2026, 2, 1),
    end_date=date(2027, 1, 31),
)


def contract(**changes) -> ContractTerms:
    return replace(CONTRACT, **changes)


# --- Threshold -------------------------------------------------------------------------------


def test_exactly_at_threshold_applies():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("100000.00")))
    # 100,000.00 × 5% = 5,000.00
    assert comp.applies is True
    assert comp.amount == D("5000.00")
    assert comp.percentage == D("5.00")


def test_one_cent_below_threshold_does_not_apply():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("99999.99")))
    assert comp.applies is False
    assert comp.amount == D("0.00")
    assert comp.percentage == D("0")
    assert "onder de drempel" in comp.explanation[-1]
    assert "€ 99.999,99" in comp.explanation[-1]
    assert "€ 100.000,00" in comp.explanation[-1]


def test_above_threshold():
    comp = compute_obligation(POLICY, CONTRACT)
    # 500,000.00 × 5% = 25,000.00
    assert comp.applies is True
    assert comp.amount == D("25000.00")
    assert comp.base == "contract_value"
    assert comp.base_amount == D("500000.00")


def test_one_cent_above_threshold_rounds_to_cents():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("100000.01")))
    # 100,000.01 × 5% = 5,000.0005 → 5,000.00
    assert comp.applies is True
    assert comp.amount == D("5000.00")


def test_zero_threshold_makes_every_contract_liable():
    comp = compute_obligation(replace(POLICY, threshold=D("0")), contract(value_excl_vat=D("10")))
    # 10 × 5% = 0.50
    assert comp.applies is True
    assert comp.amount == D("0.50")


def test_negative_contract_value_is_refused():
    with pytest.raises(ObligationInputError):
        compute_obligation(POLICY, contract(value_excl_vat=D("-1")))


# --- Rounding ---------------------------------------------------------------------------------


def test_half_cent_rounds_half_up_not_half_even():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("100000.10")))
    # 100,000.10 × 5% = 5,000.005 exactly: HALF_UP → 5,000.01 (HALF_EVEN would give 5,000.00)
    assert comp.amount == D("5000.01")
    assert D("5000.005").quantize(D("0.01"), ROUND_HALF_EVEN) == D("5000.00")  # the contrast


def test_rounded_once_at_the_end_with_pso_discount():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("100000.10"), pso_level="trede_2"))
    # 100,000.10 × 5% × (1 − 20%) = 5,000.005 × 0.8 = 4,000.004 → 4,000.00.
    # Rounding the intermediate 5,000.005 first would give 5,000.01 × 0.8 = 4,000.008 → 4,000.01.
    assert comp.amount == D("4000.00")


def test_amount_has_exactly_two_decimals():
    comp = compute_obligation(
        replace(POLICY, default_percentage=D("3.33")), contract(value_excl_vat=D("123456.78"))
    )
    # 123,456.78 × 3.33% = 4,111.1107740 → 4,111.11
    assert comp.amount == D("4111.11")
    assert comp.amount.as_tuple().exponent == -2


# --- Base: labour cost ------------------------------------------------------------------------


def test_labour_cost_base_uses_the_labour_cost():
    comp = compute_obligation(LABOUR_POLICY, contract(labour_cost=D("200000.00")))
    # threshold compared with the contract value (500,000 ≥ 100,000);
    # amount over the labour cost: 200,000.00 × 5% = 10,000.00
    assert comp.applies is True
    assert comp.base == "labour_cost"
    assert comp.base_amount == D("200000.00")
    assert comp.amount == D("10000.00")
    assert any("loonsom € 200.000,00" in line for line in comp.explanation)


def test_labour_cost_base_threshold_is_on_contract_value_not_labour_cost():
    comp = compute_obligation(LABOUR_POLICY, contract(labour_cost=D("50000.00")))
    # labour cost 50,000 is below 100,000 but the contract value 500,000 is not:
    # 50,000.00 × 5% = 2,500.00
    assert comp.applies is True
    assert comp.amount == D("2500.00")


def test_labour_cost_base_without_labour_cost_is_an_error():
    with pytest.raises(ObligationInputError, match="labour cost"):
        compute_obligation(LABOUR_POLICY, contract(labour_cost=None))


def test_labour_cost_base_below_threshold_needs_no_labour_cost():
    comp = compute_obligation(
        LABOUR_POLICY, contract(value_excl_vat=D("50000.00"), labour_cost=None)
    )
    assert comp.applies is False
    assert comp.amount == D("0.00")


# --- PSO --------------------------------------------------------------------------------------


def test_pso_discount_applied_for_a_level_in_the_policy():
    comp = compute_obligation(POLICY, contract(pso_level="trede_2"))
    # 500,000.00 × 5% × (1 − 20%) = 25,000 × 0.8 = 20,000.00
    assert comp.pso_level == "trede_2"
    assert comp.pso_discount == D("20")
    assert comp.amount == D("20000.00")
    assert any("PSO-korting 20%" in line for line in comp.explanation)


def test_pso_level_not_in_policy_gives_no_discount():
    comp = compute_obligation(POLICY, contract(pso_level="trede_3"))
    # the policy only knows trede_2: 500,000 × 5% = 25,000.00
    assert comp.pso_level == ""
    assert comp.pso_discount == D("0")
    assert comp.amount == D("25000.00")
    assert any("geen korting" in line for line in comp.explanation)


def test_no_pso_level_gives_no_discount():
    comp = compute_obligation(POLICY, contract(pso_level=""))
    assert comp.pso_discount == D("0")
    assert comp.amount == D("25000.00")
    assert not any("PSO" in line for line in comp.explanation)


def test_full_pso_discount_gives_zero():
    comp = compute_obligation(
        replace(POLICY, pso_discounts={"30_plus": D("100")}), contract(pso_level="30_plus")
    )
    # 25,000 × (1 − 100%) = 0.00
    assert comp.applies is True
    assert comp.amount == D("0.00")


# --- Deviations -------------------------------------------------------------------------------


def test_reduced_percentage_with_reason():
    reason = "Loonaandeel 20%, minder dan 30% van de opdracht."
    comp = compute_obligation(
        POLICY, CONTRACT, Deviation(kind="reduced_percentage", reason=f"  {reason}  ")
    )
    # 500,000.00 × 2% = 10,000.00
    assert comp.percentage == D("2.00")
    assert comp.amount == D("10000.00")
    assert comp.deviation == "reduced_percentage"
    assert comp.deviation_reason == reason  # stripped
    assert any("Verlaagd percentage 2%" in line and reason in line for line in comp.explanation)


def test_reduced_percentage_without_one_in_the_policy_is_refused():
    with pytest.raises(ObligationInputError, match="no reduced percentage"):
        compute_obligation(
            replace(POLICY, reduced_percentage=None),
            CONTRACT,
            Deviation(kind="reduced_percentage", reason="Laag loonaandeel"),
        )


def test_reduced_percentage_combines_with_pso_discount():
    comp = compute_obligation(
        POLICY,
        contract(pso_level="trede_2"),
        Deviation(kind="reduced_percentage", reason="Laag loonaandeel"),
    )
    # 500,000 × 2% × 0.8 = 8,000.00
    assert comp.amount == D("8000.00")


@pytest.mark.parametrize(
    ("percentage", "expected"),
    [
        (D("0"), D("0.00")),  # lower bound: 500,000 × 0% = 0
        (D("3.5"), D("17500.00")),  # 500,000 × 3.5% = 17,500
        (D("100"), D("500000.00")),  # upper bound: 500,000 × 100% = 500,000
    ],
)
def test_custom_percentage_within_bounds(percentage, expected):
    comp = compute_obligation(
        POLICY, CONTRACT, Deviation("custom_percentage", percentage, "Afspraak in gunning")
    )
    assert comp.percentage == percentage
    assert comp.amount == expected
    assert comp.deviation == "custom_percentage"


@pytest.mark.parametrize("percentage", [D("-0.01"), D("100.01"), None])
def test_custom_percentage_out_of_bounds_is_refused(percentage):
    with pytest.raises(ObligationInputError, match="between 0 and 100"):
        compute_obligation(POLICY, CONTRACT, Deviation("custom_percentage", percentage, "Afspraak"))


def test_exemption_gives_zero_with_reason():
    comp = compute_obligation(
        POLICY, CONTRACT, Deviation(kind="exemption", reason="Spoedopdracht na storm")
    )
    assert comp.applies is True
    assert comp.amount == D("0.00")
    assert comp.percentage == D("0")
    assert comp.deviation == "exemption"
    assert comp.deviation_reason == "Spoedopdracht na storm"
    assert any(
        "Vrijstelling" in line and "Spoedopdracht na storm" in line for line in comp.explanation
    )


@pytest.mark.parametrize(
    "kind", ["reduced_percentage", "custom_percentage", "exemption", "unknown_kind"]
)
@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_deviation_without_reason_is_refused(kind, reason):
    with pytest.raises(ObligationInputError, match="reason"):
        compute_obligation(POLICY, CONTRACT, Deviation(kind=kind, percentage=D("1"), reason=reason))


def test_unknown_deviation_is_refused():
    with pytest.raises(ObligationInputError, match="Unknown deviation"):
        compute_obligation(POLICY, CONTRACT, Deviation(kind="discount", reason="Waarom niet"))


def test_no_deviation_equals_empty_deviation():
    assert compute_obligation(POLICY, CONTRACT) == compute_obligation(POLICY, CONTRACT, Deviation())


# --- Deadline and window ---------------------------------------------------------------------


def test_deadline_is_end_date_plus_grace_days():
    comp = compute_obligation(POLICY, CONTRACT)
    # 31-01-2027 + 90 days: Feb 28 (+28), Mar 31 (+59), Apr 30 (+89) → 01-05-2027
    assert comp.deadline == date(2027, 5, 1)
    assert comp.window_start == date(2026, 1, 15)  # the award date


def test_deadline_with_other_grace_period_and_leap_year():
    comp = compute_obligation(replace(POLICY, grace_days=30), contract(end_date=date(2028, 2, 15)))
    # 15-02-2028 + 30 days; 2028 is a leap year: Feb 29 (+14), Mar 16 (+30)
    assert comp.deadline == date(2028, 3, 16)


def test_zero_grace_days_deadline_is_end_date():
    comp = compute_obligation(replace(POLICY, grace_days=0), CONTRACT)
    assert comp.deadline == CONTRACT.end_date


def test_below_threshold_still_reports_the_deadline():
    comp = compute_obligation(POLICY, contract(value_excl_vat=D("1000")))
    assert comp.deadline == date(2027, 5, 1)


# --- Explanation ------------------------------------------------------------------------------


def test_explanation_mentions_policy_date_threshold_percentage_and_result():
    text = "\n".join(compute_obligation(POLICY, CONTRACT).explanation)
    assert "01-01-2020" in text  # policy valid from
    assert "15-01-2026" in text  # award date
    assert "€ 100.000,00" in text  # threshold
    assert "€ 500.000,00" in text  # base
    assert "5%" in text  # percentage
    assert "€ 25.000,00" in text  # result
    assert "01-05-2027" in text  # deadline
    assert "90 dagen" in text
    # the formula line states the whole computation
    assert "Verplichting = € 500.000,00 × 5% = € 25.000,00" in text


def test_explanation_formula_includes_pso():
    text = "\n".join(compute_obligation(POLICY, contract(pso_level="trede_2")).explanation)
    assert "€ 500.000,00 × 5% × (1 − 20%) = € 20.000,00" in text


def test_explanation_is_dutch_by_default_and_in_full():
    # The explanation as stored on the obligation.
    comp = compute_obligation(POLICY, contract(pso_level="trede_2"))
    assert comp == compute_obligation(POLICY, contract(pso_level="trede_2"), lang="nl")
    assert comp.explanation == (
        "Beleid geldig vanaf 01-01-2020 (van kracht op de gunningsdatum 15-01-2026).",
        "Opdrachtwaarde € 500.000,00 ligt op of boven de drempel van € 100.000,00.",
        "Grondslag: opdrachtwaarde excl. btw € 500.000,00.",
        "Percentage volgens beleid: 5%.",
        "PSO-korting 20% (PSO trede 2, gecertificeerd voor de hele looptijd).",
        "Verplichting = € 500.000,00 × 5% × (1 − 20%) = € 20.000,00 (afgerond op centen).",
        "Telperiode van 15-01-2026 tot de deadline 01-05-2027 (einddatum 31-01-2027 + 90 dagen).",
    )


# --- English explanation ------------------------------------------------------------------


def test_explanation_in_english():
    comp = compute_obligation(POLICY, contract(pso_level="trede_2"), lang="en")
    # 500,000.00 × 5% × (1 − 20%) = 20,000.00: the same numbers as in Dutch.
    assert comp.amount == D("20000.00")
    assert comp.explanation == (
        "Policy valid from 2020-01-01 (in force on the award date 2026-01-15).",
        "Contract value €500,000.00 is at or above the threshold of €100,000.00.",
        "Base: contract value excl. VAT €500,000.00.",
        "Percentage according to the policy: 5%.",
        "PSO discount 20% (PSO trede 2, certified for the whole contract period).",
        "Obligation = €500,000.00 × 5% × (1 − 20%) = €20,000.00 (rounded to cents).",
        "Counting window from 2026-01-15 to the deadline 2027-05-01 "
        "(end date 2027-01-31 + 90 days).",
    )


def test_english_below_threshold_labour_cost_and_deviations():
    below = compute_obligation(POLICY, contract(value_excl_vat=D("99999.99")), lang="en")
    assert below.explanation[-1] == (
        "Contract value €99,999.99 is below the threshold of €100,000.00: no SROI obligation."
    )
    labour = compute_obligation(LABOUR_POLICY, contract(labour_cost=D("200000.00")), lang="en")
    # 200,000.00 × 5% = 10,000.00
    assert labour.amount == D("10000.00")
    assert "Base: labour cost €200,000.00." in labour.explanation
    reduced = compute_obligation(
        POLICY, CONTRACT, Deviation("reduced_percentage", None, " Laag loonaandeel "), lang="en"
    )
    assert "Reduced percentage 2% instead of 5%. Reason: Laag loonaandeel" in reduced.explanation
    custom = compute_obligation(
        POLICY, CONTRACT, Deviation("custom_percentage", D("2.5"), "Afspraak"), lang="en"
    )
    # 500,000 × 2.5% = 12,500.00
    assert custom.amount == D("12500.00")
    assert "Custom percentage 2.5% instead of 5%. Reason: Afspraak" in custom.explanation
    exempt = compute_obligation(POLICY, CONTRACT, Deviation("exemption", None, "Spoed"), lang="en")
    assert "Exemption granted. Reason: Spoed" in exempt.explanation
    no_pso = compute_obligation(POLICY, contract(pso_level="trede_3"), lang="en")
    assert "PSO level PSO trede 3: the policy gives no discount for it." in no_pso.explanation


def test_dutch_custom_percentage_uses_a_decimal_comma():
    custom = compute_obligation(POLICY, CONTRACT, Deviation("custom_percentage", D("2.5"), "X"))
    assert "Afwijkend percentage 2,5% in plaats van 5%. Reden: X" in custom.explanation


@pytest.mark.parametrize("lang", ["de", "EN", "", None])
def test_unknown_language_is_a_value_error(lang):
    with pytest.raises(ValueError, match="lang: expected one of nl, en") as caught:
        compute_obligation(POLICY, CONTRACT, lang=lang)
    assert not isinstance(caught.value, ObligationInputError)  # a programming error


def test_the_positional_call_of_the_services_still_works():
    # contracts/services.py calls compute_obligation(policy, contract, deviation).
    assert compute_obligation(POLICY, CONTRACT, Deviation()).explanation[0].startswith("Beleid")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("key", sorted(obligation_calc.MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key):
    templates = obligation_calc.MESSAGES[key]
    assert set(templates) == set(obligation_calc.LANGUAGES) == {"nl", "en"}
    assert all(template.strip() for template in templates.values())
    assert placeholders(templates["nl"]) == placeholders(templates["en"])
    assert all(name.isidentifier() for name in placeholders(templates["nl"]))  # named only


# --- euro() and pct() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (D("0"), "€ 0,00"),
        (D("0.5"), "€ 0,50"),
        (D("5"), "€ 5,00"),
        (D("999.99"), "€ 999,99"),
        (D("1000"), "€ 1.000,00"),
        (D("25000"), "€ 25.000,00"),
        (D("1234.56"), "€ 1.234,56"),
        (D("1234567.89"), "€ 1.234.567,89"),
        (D("1000000000"), "€ 1.000.000.000,00"),
        (D("1.005"), "€ 1,01"),  # half up
        (D("999.995"), "€ 1.000,00"),  # rounding carries into the thousands
        (D("-1234.56"), "-€ 1.234,56"),
        (D("-0.50"), "-€ 0,50"),
        (D("-2500000"), "-€ 2.500.000,00"),
    ],
)
def test_euro_dutch_notation(amount, expected):
    assert euro(amount) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("5.00"), "5%"), (D("2.50"), "2,5%"), (D("0"), "0%"), (D("100.00"), "100%")],
)
def test_pct(value, expected):
    assert pct(value) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (D("0"), "€0.00"),
        (D("1234.56"), "€1,234.56"),
        (D("1.005"), "€1.01"),  # half up
        (D("999.995"), "€1,000.00"),
        (D("-2500000"), "-€2,500,000.00"),
    ],
)
def test_euro_en(amount, expected):
    assert euro_en(amount) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("5.00"), "5%"), (D("2.50"), "2.5%"), (D("0"), "0%"), (D("100.00"), "100%")],
)
def test_pct_en(value, expected):
    assert pct_en(value) == expected


# --- Properties -------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False)
percent = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)


@st.composite
def policies(draw):
    return PolicyTerms(
        valid_from=date(2020, 1, 1),
        threshold=draw(st.decimals(min_value=0, max_value=10**6, places=2)),
        default_percentage=draw(percent),
        base=draw(st.sampled_from(["contract_value", "labour_cost"])),
        grace_days=draw(st.integers(min_value=0, max_value=730)),
        reduced_percentage=draw(percent),
        pso_discounts={"trede_2": draw(percent)},
    )


@st.composite
def contracts(draw):
    value = draw(money)
    labour = draw(st.decimals(min_value=0, max_value=value, places=2))
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)))
    return ContractTerms(
        value_excl_vat=value,
        labour_cost=labour,
        award_date=start - timedelta(days=draw(st.integers(0, 60))),
        start_date=start,
        end_date=start + timedelta(days=draw(st.integers(0, 3000))),
        pso_level=draw(st.sampled_from(["", "trede_2", "trede_3"])),
    )


deviations = st.one_of(
    st.just(Deviation()),
    st.just(Deviation("reduced_percentage", None, "Laag loonaandeel")),
    st.just(Deviation("exemption", None, "Spoed")),
    percent.map(lambda p: Deviation("custom_percentage", p, "Afspraak")),
)


@given(policies(), contracts(), deviations)
def test_property_amount_between_zero_and_base(policy, terms, deviation):
    comp = compute_obligation(policy, terms, deviation)
    assert comp.amount >= 0
    assert comp.amount <= comp.base_amount
    assert comp.amount.as_tuple().exponent == -2
    assert comp.deadline >= comp.window_start
    if not comp.applies:
        assert comp.amount == 0


@given(policies(), contracts(), deviations)
def test_property_amount_within_half_a_cent_of_the_exact_value(policy, terms, deviation):
    comp = compute_obligation(policy, terms, deviation)
    assume(comp.applies)
    exact = comp.base_amount * comp.percentage / 100 * (1 - comp.pso_discount / 100)
    assert abs(comp.amount - exact) <= D("0.005")


@given(policies(), contracts(), money, money, deviations)
def test_property_amount_monotone_in_contract_value(policy, terms, v1, v2, deviation):
    low, high = sorted([v1, v2])
    # keep the labour cost fixed and valid for both values
    labour = min(terms.labour_cost, low)
    a_low = compute_obligation(
        policy, replace(terms, value_excl_vat=low, labour_cost=labour), deviation
    )
    a_high = compute_obligation(
        policy, replace(terms, value_excl_vat=high, labour_cost=labour), deviation
    )
    assert a_low.amount <= a_high.amount
    assert a_low.applies <= a_high.applies  # crossing the threshold only switches it on


@given(contracts(), percent, percent)
def test_property_amount_monotone_in_percentage(terms, p1, p2):
    low, high = sorted([p1, p2])
    a_low = compute_obligation(replace(POLICY, default_percentage=low), terms)
    a_high = compute_obligation(replace(POLICY, default_percentage=high), terms)
    assert a_low.amount <= a_high.amount


@given(contracts())
def test_property_pso_discount_never_increases_the_amount(terms):
    with_pso = compute_obligation(POLICY, replace(terms, pso_level="trede_2"))
    without = compute_obligation(POLICY, replace(terms, pso_level=""))
    assert with_pso.amount <= without.amount


@given(policies(), contracts(), deviations)
def test_property_the_language_changes_only_the_explanation(policy, terms, deviation):
    dutch = compute_obligation(policy, terms, deviation, lang="nl")
    english = compute_obligation(policy, terms, deviation, lang="en")
    assert replace(dutch, explanation=()) == replace(english, explanation=())
    assert len(dutch.explanation) == len(english.explanation)
