"""Unit tests of the pure valuation engine (no database).

Every expected value is computed by hand in a comment. Conventions: days are calendar days with
both ends inclusive, a year is 365 days, a month 365/12 days, one ROUND_HALF_UP to cents at the
end of the base calculation, each bonus rounded separately.

The explanation texts asserted in most tests are the English ones (``lang="en"``, through
``value()``); the Dutch ones (the default language) are tested in "Dutch explanations" below.
"""

from __future__ import annotations

import json
import string
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from placements import valuation
from placements.rulebook_format import (
    FORMAT,
    contribution_from_dict,
    contribution_to_dict,
    dumps_rulebook,
    loads_rulebook,
    rulebook_from_dict,
    rulebook_to_dict,
    window_from_dict,
)
from placements.valuation import (
    AmbiguousRule,
    Block,
    Bonus,
    ContributionInput,
    NoMatchingRule,
    Rule,
    Rulebook,
    RulebookError,
    RuleKind,
    TargetGroup,
    Valuation,
    ValuationError,
    ValuationInputError,
    Window,
    example_rulebook,
    select_rule,
    value_contribution,
)

D = Decimal
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
WIDE = Window(date(2020, 1, 1), date(2035, 12, 31))
Y2026 = Window(date(2026, 1, 1), date(2026, 12, 31))


def book(*rules: Rule, bonuses: tuple[Bonus, ...] = ()) -> Rulebook:
    return Rulebook("Test", "1", date(2026, 1, 1), rules=rules, bonuses=bonuses)


def annual(code: str = "r", rate: str = "36500", **kwargs) -> Rule:
    return Rule(code, f"rule {code}", Block.JOB, RuleKind.ANNUAL, rate=D(rate), **kwargs)


def job(start: date, end: date | None, hours: str | None = "36", **kwargs) -> ContributionInput:
    hours_per_week = None if hours is None else D(hours)
    return ContributionInput(Block.JOB, start, end, hours_per_week=hours_per_week, **kwargs)


def value(
    rulebook: Rulebook,
    contribution: ContributionInput,
    window: Window | None = WIDE,
    *,
    lang: str = "en",
) -> Valuation:
    """The engine's valuation, with English explanations unless ``lang`` says otherwise."""
    return value_contribution(rulebook, contribution, window, lang=lang)


def pw(years: str, hours: str, start: date, end: date | None, **kwargs) -> ContributionInput:
    return job(
        start,
        end,
        hours,
        target_group=TargetGroup.PARTICIPATIEWET,
        years_on_benefit=D(years),
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# The worked examples of domain.md (must hold exactly)
# --------------------------------------------------------------------------------------------


def test_worked_example_a_participatiewet_24_of_36_hours():
    # 2026-03-01 .. 2027-02-28: Mar-Dec 2026 = 306 days + Jan 31 + Feb 28 = 365 days.
    # 40000 * 24/36 * 365/365 = 26666.666... -> 26666.67
    rule = annual(rate="40000", target_groups=frozenset({TargetGroup.PARTICIPATIEWET}))
    result = value(book(rule), pw("3", "24", date(2026, 3, 1), date(2027, 2, 28)))
    assert result.value == D("26666.67")
    assert result.counted_days == 365
    assert result.capped is False
    assert "Formula: 40000.00 x 24.00/36.00 x 365/365 = 26666.67" in "\n".join(result.explanation)


def test_worked_example_a_with_the_example_rulebook():
    # 3 years on benefit -> job-pw-ge2 (40000, cap 2 years not reached); same sum as above.
    result = value(example_rulebook(), pw("3", "24", date(2026, 3, 1), date(2027, 2, 28)))
    assert (result.rule_code, result.value, result.bonus_value) == (
        "job-pw-ge2",
        D("26666.67"),
        D("0.00"),
    )


def test_worked_example_b_ww_capped_at_one_year():
    # Cap: 1 year = 365 days from 2026-01-01, i.e. up to 2026-12-31; 2027 is not counted.
    # 15000 * 36/36 * 365/365 = 15000.00
    rule = annual(rate="15000", max_years=D("1"), target_groups=frozenset({TargetGroup.WW}))
    contribution = job(date(2026, 1, 1), date(2027, 6, 30), "36", target_group=TargetGroup.WW)
    result = value(book(rule), contribution)
    assert result.value == D("15000.00")
    assert result.counted_days == 365
    assert result.capped is True
    assert any("Cap applied" in line and "2026-12-31" in line for line in result.explanation)


def test_worked_example_b_with_the_example_rulebook():
    contribution = job(
        date(2026, 1, 1),
        date(2027, 6, 30),
        "36",
        target_group=TargetGroup.WW,
        years_on_benefit=D("1.5"),
    )
    result = value(example_rulebook(), contribution)
    assert (result.rule_code, result.value) == ("job-ww-ge1", D("15000.00"))


def test_worked_example_c_below_minimum_hours_is_zero_with_reason():
    rule = annual(rate="40000", min_hours_per_week=D("12"))
    result = value(book(rule), job(date(2026, 3, 1), date(2027, 2, 28), "10"))
    assert result.value == D("0.00")
    assert result.zero_reason == "10.00 hours per week is below the minimum of 12.00"
    assert any("below the minimum of 12.00" in line for line in result.explanation)


def test_worked_example_c_with_the_example_rulebook_gets_no_bonus():
    contribution = pw(
        "1", "10", date(2026, 3, 1), date(2027, 2, 28), birth_year=1960, permanent_contract=True
    )
    result = value(example_rulebook(), contribution)
    assert (result.value, result.bonus_value, result.bonus_codes) == (D("0.00"), D("0.00"), ())


# --------------------------------------------------------------------------------------------
# Annual rate: hours, cap, window, rounding, leap years
# --------------------------------------------------------------------------------------------


def test_hours_exactly_at_the_minimum_count():
    # 40000 * 12/36 * 365/365 = 13333.333... -> 13333.33
    rule = annual(rate="40000", min_hours_per_week=D("12"))
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 12, 31), "12"))
    assert result.value == D("13333.33")
    assert result.zero_reason is None


def test_hours_above_fte_are_capped_at_fte():
    # 40 hours counts as 36: 40000 * 36/36 * 365/365 = 40000.00
    result = value(book(annual(rate="40000")), job(date(2026, 1, 1), date(2026, 12, 31), "40"))
    assert result.value == D("40000.00")
    assert any("exceeds the full-time 36.00" in line for line in result.explanation)


def test_no_hours_factor_when_fte_hours_is_none():
    # BBL-like: 20000 * 181/365 = 9917.808... -> 9917.81 (hours ignored)
    rule = annual(rate="20000", fte_hours=None)
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 6, 30), None))
    assert result.value == D("9917.81")


def test_window_clips_the_start():
    # Counted 2026-01-01..2026-06-30 = 31+28+31+30+31+30 = 181 days; 36500 * 181/365 = 18100.00
    result = value(book(annual()), job(date(2025, 7, 1), date(2026, 6, 30)), Y2026)
    assert (result.value, result.counted_days) == (D("18100.00"), 181)
    assert any("Clipped to the window start 2026-01-01" in line for line in result.explanation)


def test_window_clips_the_end():
    # Counted 2026-10-01..2026-12-31 = 31+30+31 = 92 days; 36500 * 92/365 = 9200.00
    result = value(book(annual()), job(date(2026, 10, 1), date(2027, 3, 31)), Y2026)
    assert (result.value, result.counted_days) == (D("9200.00"), 92)
    assert any("Clipped to the window end 2026-12-31" in line for line in result.explanation)


def test_window_clips_both_ends():
    # Counted: all of 2026 = 365 days -> 36500.00
    result = value(book(annual()), job(date(2025, 1, 1), date(2027, 12, 31)), Y2026)
    assert (result.value, result.counted_days) == (D("36500.00"), 365)


def test_contribution_entirely_outside_the_window_is_zero():
    result = value(book(annual()), job(date(2025, 1, 1), date(2025, 6, 30)), Y2026)
    assert (result.value, result.counted_days) == (D("0.00"), 0)
    assert "lies entirely outside the counting window" in result.zero_reason


def test_cap_and_window_together():
    # Cap 1 year from 2025-07-01 ends 2026-06-30; window starts 2026-01-01 -> 181 days -> 18100.00
    rule = annual(max_years=D("1"))
    result = value(book(rule), job(date(2025, 7, 1), date(2027, 6, 30)), Y2026)
    assert (result.value, result.counted_days, result.capped) == (D("18100.00"), 181, True)


def test_cap_ending_before_the_window_gives_zero():
    rule = annual(max_years=D("1"))
    result = value(book(rule), job(date(2024, 1, 1), date(2027, 1, 1)), Y2026)
    assert result.value == D("0.00")
    # 2024 is a leap year: 365 days from 2024-01-01 end on 2024-12-30.
    assert "capped period (2024-01-01 to 2024-12-30)" in result.zero_reason


def test_cap_not_reached_is_not_capped():
    rule = annual(max_years=D("2"))
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 12, 31)))
    assert (result.value, result.capped) == (D("36500.00"), False)


def test_fractional_cap_is_rounded_down_to_whole_days():
    # 0.5 year = 182.5 days -> 182 days: 36500 * 182/365 = 18200.00
    rule = annual(max_years=D("0.5"))
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 12, 31)))
    assert (result.value, result.counted_days) == (D("18200.00"), 182)


def test_rounding_half_up_at_half_a_cent():
    # 10.01 * 18/36 * 365/365 = 5.005 exactly -> 5.01 (ROUND_HALF_EVEN would give 5.00)
    rule = annual(rate="10.01")
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 12, 31), "18"))
    assert result.value == D("5.01")


def test_rounding_happens_once_at_the_end():
    # 40000 * 24 * 100 / (36 * 365) = 96000000/13140 = 7305.936... -> 7305.94
    # (rounding the hours factor first, 0.67, would give 7342.47)
    rule = annual(rate="40000")
    result = value(book(rule), job(date(2026, 1, 1), date(2026, 4, 10), "24"))
    assert result.counted_days == 100
    assert result.value == D("7305.94")


def test_leap_year_counts_366_days_without_cap():
    # 2028 has 29 February: 366 days. 40000 * 366/365 = 40109.589... -> 40109.59
    result = value(book(annual(rate="40000")), job(date(2028, 1, 1), date(2028, 12, 31)))
    assert (result.value, result.counted_days) == (D("40109.59"), 366)


def test_leap_year_with_one_year_cap_counts_exactly_365_days():
    # Cap: 365 days from 2028-01-01 = up to 2028-12-30 -> exactly the annual rate.
    rule = annual(rate="40000", max_years=D("1"))
    result = value(book(rule), job(date(2028, 1, 1), date(2028, 12, 31)))
    assert (result.value, result.counted_days, result.capped) == (D("40000.00"), 365, True)


def test_single_day_counts_one_day():
    # 36500 * 1/365 = 100.00
    result = value(book(annual()), job(date(2026, 5, 5), date(2026, 5, 5)))
    assert (result.value, result.counted_days) == (D("100.00"), 1)


def test_zero_hours_per_week_gives_zero_with_generic_reason():
    result = value(book(annual()), job(date(2026, 1, 1), date(2026, 12, 31), "0"))
    assert (result.value, result.zero_reason) == (D("0.00"), "the formula yields 0.00")


# --------------------------------------------------------------------------------------------
# Open-ended contributions
# --------------------------------------------------------------------------------------------


def test_open_ended_runs_to_the_window_end():
    # 2026-07-01..2026-12-31 = 31+31+30+31+30+31 = 184 days; 36500 * 184/365 = 18400.00
    result = value(book(annual()), job(date(2026, 7, 1), None), Y2026)
    assert (result.value, result.counted_days) == (D("18400.00"), 184)
    assert any("open-ended" in line and "2026-12-31" in line for line in result.explanation)


def test_open_ended_without_window_runs_to_the_cap():
    rule = annual(max_years=D("1"))
    result = value_contribution(book(rule), job(date(2026, 3, 1), None))
    assert (result.value, result.counted_days) == (D("36500.00"), 365)


def test_open_ended_without_window_or_cap_is_an_input_error():
    with pytest.raises(ValuationInputError, match=r"^end: "):
        value_contribution(book(annual()), job(date(2026, 3, 1), None))


def test_no_window_means_no_clipping():
    # 2025-01-01..2026-12-31 = 730 days; 36500 * 730/365 = 73000.00
    result = value_contribution(
        book(annual()), job(date(2025, 1, 1), date(2026, 12, 31)), lang="en"
    )
    assert result.value == D("73000.00")
    assert "No counting window: the period is not clipped." in result.explanation


# --------------------------------------------------------------------------------------------
# Monthly, fixed, percentage, hourly, actual cost
# --------------------------------------------------------------------------------------------


def monthly(rate: str = "750", **kwargs) -> Rule:
    return Rule("m", "monthly", Block.WORK_EXPERIENCE, RuleKind.MONTHLY, rate=D(rate), **kwargs)


def wep(start: date, end: date | None, hours: str | None = None) -> ContributionInput:
    hours_per_week = None if hours is None else D(hours)
    return ContributionInput(Block.WORK_EXPERIENCE, start, end, hours_per_week=hours_per_week)


def test_monthly_rate_per_365_12_days():
    # 2026-01-01..2026-03-31 = 90 days; 750 * 90 / (365/12) = 810000/365 = 2219.178... -> 2219.18
    result = value(book(monthly(fte_hours=None)), wep(date(2026, 1, 1), date(2026, 3, 31)))
    assert (result.value, result.counted_days) == (D("2219.18"), 90)
    assert any("x 90/(365/12) = 2219.18" in line for line in result.explanation)


def test_monthly_full_year_is_twelve_months():
    # 750 * 365 / (365/12) = 9000.00
    result = value(book(monthly(fte_hours=None)), wep(date(2026, 1, 1), date(2026, 12, 31)))
    assert result.value == D("9000.00")


def test_monthly_pro_rata_by_hours_and_cap():
    # fte 36, 18 h/w, cap 0.5 year = 182 days: 750 * 18/36 * 182 * 12/365 = 2243.835... -> 2243.84
    rule = monthly(max_years=D("0.5"), min_hours_per_week=D("12"))
    result = value(book(rule), wep(date(2026, 1, 1), date(2026, 12, 31), "18"))
    assert (result.value, result.counted_days, result.capped) == (D("2243.84"), 182, True)


def test_monthly_below_minimum_hours():
    rule = monthly(min_hours_per_week=D("12"))
    result = value(book(rule), wep(date(2026, 1, 1), date(2026, 12, 31), "11.99"))
    assert result.zero_reason == "11.99 hours per week is below the minimum of 12.00"


def fixed(**kwargs) -> Rule:
    return Rule("f", "internship", Block.INTERNSHIP, RuleKind.FIXED, rate=D("5000"), **kwargs)


def internship(start: date, end: date | None) -> ContributionInput:
    return ContributionInput(Block.INTERNSHIP, start, end)


def test_fixed_amount_at_exactly_the_minimum_duration():
    # 2026-02-01..2026-04-01 = 28 + 31 + 1 = 60 days >= 60
    result = value(
        book(fixed(min_duration_days=60)), internship(date(2026, 2, 1), date(2026, 4, 1))
    )
    assert (result.value, result.counted_days) == (D("5000.00"), 60)


def test_fixed_amount_below_the_minimum_duration():
    # 2026-02-01..2026-03-31 = 59 days < 60
    result = value(
        book(fixed(min_duration_days=60)), internship(date(2026, 2, 1), date(2026, 3, 31))
    )
    assert result.value == D("0.00")
    assert result.zero_reason == "59 counted days is below the minimum duration of 60 days"


def test_fixed_duration_is_clipped_by_the_window():
    # Counted 2026-11-15..2026-12-31 = 16 + 31 = 47 days < 60
    contribution = internship(date(2026, 11, 15), date(2027, 3, 1))
    result = value(book(fixed(min_duration_days=60)), contribution, Y2026)
    assert (result.value, result.counted_days) == (D("0.00"), 47)


def test_fixed_start_outside_the_window():
    result = value(book(fixed()), internship(date(2025, 12, 31), date(2026, 6, 1)), Y2026)
    assert result.value == D("0.00")
    assert result.zero_reason == (
        "the contribution date 2025-12-31 lies outside the counting window "
        "(2026-01-01 to 2026-12-31)"
    )


def test_fixed_open_ended_counts_to_the_window_end():
    # 2026-11-01..2026-12-31 = 61 days >= 60
    result = value(book(fixed(min_duration_days=60)), internship(date(2026, 11, 1), None), Y2026)
    assert (result.value, result.counted_days) == (D("5000.00"), 61)


def test_fixed_open_ended_without_window_needs_an_end_for_the_minimum_duration():
    with pytest.raises(ValuationInputError, match="^end: "):
        value_contribution(book(fixed(min_duration_days=60)), internship(date(2026, 1, 1), None))


def test_fixed_without_minimum_duration_needs_no_end():
    result = value_contribution(book(fixed()), internship(date(2026, 1, 1), None))
    assert (result.value, result.counted_days) == (D("5000.00"), None)


def purchase(amount: str | None, start: date = date(2026, 5, 1), **kwargs) -> ContributionInput:
    invoiced = None if amount is None else D(amount)
    return ContributionInput(Block.SOCIAL_PURCHASE, start, invoiced_amount=invoiced, **kwargs)


def test_percentage_rounds_half_up():
    # 12345.67 * 50/100 = 6172.835 -> 6172.84
    rule = Rule("p", "purchase", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE, percent=D("50"))
    result = value(book(rule), purchase("12345.67"))
    assert result.value == D("6172.84")
    assert "Formula: 12345.67 x 50.00/100 = 6172.84." in result.explanation


def test_percentage_with_the_example_rulebook_variants():
    rulebook = example_rulebook()
    assert value(rulebook, purchase("1000", variant="register")).value == D("1000.00")
    assert value(rulebook, purchase("1000", variant="other")).value == D("500.00")


def test_percentage_outside_the_window():
    rule = Rule("p", "purchase", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE, percent=D("100"))
    result = value(book(rule), purchase("1000", start=date(2027, 1, 1)), Y2026)
    assert result.value == D("0.00")
    assert "lies outside the counting window" in result.zero_reason


def test_percentage_requires_the_invoiced_amount():
    rule = Rule("p", "purchase", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE, percent=D("100"))
    with pytest.raises(ValuationInputError, match="^invoiced_amount: required by rule p"):
        value(book(rule), purchase(None))


def hourly_rule() -> Rule:
    return Rule("h", "activity", Block.SOCIAL_ACTIVITY, RuleKind.HOURLY, rate=D("100"))


def test_hourly():
    # 12.5 * 100 = 1250.00
    contribution = ContributionInput(Block.SOCIAL_ACTIVITY, date(2026, 5, 1), hours=D("12.5"))
    assert value(book(hourly_rule()), contribution).value == D("1250.00")


def test_hourly_outside_window_and_missing_hours():
    outside = ContributionInput(Block.SOCIAL_ACTIVITY, date(2025, 5, 1), hours=D("1"))
    assert value(book(hourly_rule()), outside, Y2026).value == D("0.00")
    with pytest.raises(ValuationInputError, match="^hours: "):
        value(book(hourly_rule()), ContributionInput(Block.SOCIAL_ACTIVITY, date(2026, 5, 1)))


def test_actual_cost_defaults_to_100_percent_and_honours_percent():
    full = Rule("a", "sw", Block.SOCIAL_PURCHASE, RuleKind.ACTUAL_COST)
    part = replace(full, code="b", variant="part", percent=D("75"))
    rulebook = book(full, part)
    cost = {"actual_cost": D("1000.00")}
    assert value(
        rulebook, ContributionInput(Block.SOCIAL_PURCHASE, date(2026, 1, 1), **cost)
    ).value == D("1000.00")
    # 1000.00 * 75/100 = 750.00
    contribution = ContributionInput(
        Block.SOCIAL_PURCHASE, date(2026, 1, 1), variant="part", **cost
    )
    assert value(rulebook, contribution).value == D("750.00")
    with pytest.raises(ValuationInputError, match="^actual_cost: "):
        value(rulebook, ContributionInput(Block.SOCIAL_PURCHASE, date(2026, 1, 1)))


def test_example_rulebook_internship_training_wep_and_bbl():
    rulebook = example_rulebook()
    intern = ContributionInput(
        Block.INTERNSHIP, date(2026, 2, 1), date(2026, 6, 30), variant="mbo1-2"
    )
    assert value(rulebook, intern).value == D("5000.00")
    training = ContributionInput(Block.TRAINING, date(2026, 2, 1), hours=D("3"))
    assert value(rulebook, training).value == D("300.00")
    # 750 per month, full year 2026 -> 9000.00
    assert value(rulebook, wep(date(2026, 1, 1), date(2026, 12, 31))).value == D("9000.00")
    # BBL 20000 per year, not pro rata by hours: half of 2026 (181 days) -> 9917.81
    bbl = ContributionInput(Block.BBL, date(2026, 1, 1), date(2026, 6, 30), hours_per_week=D("20"))
    assert value(rulebook, bbl).value == D("9917.81")


# --------------------------------------------------------------------------------------------
# Bonuses
# --------------------------------------------------------------------------------------------

FULL_2026 = (date(2026, 1, 1), date(2026, 12, 31))


def example_job(group: TargetGroup = TargetGroup.NUG, **kwargs) -> Valuation:
    # NUG job, full time, all of 2026: base 10000.00
    contribution = job(*FULL_2026, "36", target_group=group, **kwargs)
    return value(example_rulebook(), contribution)


def test_permanent_contract_bonus():
    result = example_job(permanent_contract=True)
    assert (result.base_value, result.bonus_value, result.value) == (
        D("10000.00"),
        D("10000.00"),
        D("20000.00"),
    )
    assert result.bonus_codes == ("permanent-contract",)
    assert any(line.startswith("Bonus permanent-contract") for line in result.explanation)


def test_no_permanent_contract_no_bonus():
    assert example_job().bonus_value == D("0.00")


@pytest.mark.parametrize(
    ("birth_year", "bonus"),
    [
        (1977, "0.00"),  # 2026 - 1977 = 49
        (1976, "5000.00"),  # 50
        (1972, "5000.00"),  # 54
        (1971, "7500.00"),  # 55
        (1950, "7500.00"),  # 76
    ],
)
def test_age_bonus_boundaries(birth_year: int, bonus: str):
    assert example_job(birth_year=birth_year).bonus_value == D(bonus)


def test_age_is_start_year_minus_birth_year():
    # Started 2 January 2026, born 1976: counted as 50 even if the birthday is in December.
    contribution = job(
        date(2026, 1, 2), date(2026, 12, 31), target_group=TargetGroup.NUG, birth_year=1976
    )
    result = value(example_rulebook(), contribution)
    assert result.bonus_codes == ("age-50-54",)
    assert any("age bonus 50-54 applies" in line for line in result.explanation)


def test_unknown_birth_year_is_explained():
    result = example_job()
    assert "Bonus age-55-plus not applied: birth year unknown." in result.explanation


def test_statushouder_bonus_on_jobs_only():
    # job-other 10000 + statushouder bonus 10000
    assert example_job(TargetGroup.STATUSHOUDER).value == D("20000.00")
    bbl = ContributionInput(
        Block.BBL, *FULL_2026, target_group=TargetGroup.STATUSHOUDER, permanent_contract=True
    )
    result = value(example_rulebook(), bbl)
    # BBL 20000 + permanent contract 10000; the statushouder bonus is for jobs only.
    assert (result.value, result.bonus_codes) == (D("30000.00"), ("permanent-contract",))


def test_bonuses_stack_and_are_rounded_separately():
    # base 36500.00; bonuses 0.005 -> 0.01 and 0.004 -> 0.00 (each rounded) -> 36500.01
    bonuses = (
        Bonus("x", "x", D("0.005")),
        Bonus("y", "y", D("0.004")),
    )
    result = value(book(annual(), bonuses=bonuses), job(*FULL_2026))
    assert (result.bonus_value, result.value) == (D("0.01"), D("36500.01"))


def test_bonus_target_group_condition_requires_a_target_group():
    bonus = Bonus("sh", "sh", D("100"), target_groups=frozenset({TargetGroup.STATUSHOUDER}))
    result = value(book(annual(), bonuses=(bonus,)), job(*FULL_2026))
    assert result.bonus_value == D("0.00")


def test_no_bonus_when_base_is_zero():
    bonus = Bonus("any", "any", D("1000"))
    result = value(book(annual(), bonuses=(bonus,)), job(date(2025, 1, 1), date(2025, 2, 1)), Y2026)
    assert (result.value, result.bonus_value) == (D("0.00"), D("0.00"))
    assert "Bonuses: none, because the base value is 0.00." in result.explanation


# --------------------------------------------------------------------------------------------
# Rule selection
# --------------------------------------------------------------------------------------------


def key(group: TargetGroup | None = None, years: str | None = None, **kwargs):
    years_on_benefit = None if years is None else D(years)
    return ContributionInput(
        Block.JOB,
        date(2026, 1, 1),
        target_group=group,
        years_on_benefit=years_on_benefit,
        **kwargs,
    )


PW = frozenset({TargetGroup.PARTICIPATIEWET})


def test_target_group_match_beats_wildcard():
    rulebook = book(annual("any"), annual("pw", target_groups=PW))
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET)).code == "pw"
    assert select_rule(rulebook, key(TargetGroup.NUG)).code == "any"
    assert select_rule(rulebook, key(None)).code == "any"


def test_range_match_beats_no_range():
    rulebook = book(
        annual("pw", target_groups=PW),
        annual("pw2", target_groups=PW, min_years_on_benefit=D("2")),
    )
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET, "3")).code == "pw2"
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET, "1.99")).code == "pw"
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET)).code == "pw"


def test_target_group_beats_range():
    rulebook = book(annual("any-long", min_years_on_benefit=D("2")), annual("pw", target_groups=PW))
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET, "5")).code == "pw"
    assert select_rule(rulebook, key(TargetGroup.WW, "5")).code == "any-long"


def test_years_on_benefit_upper_bound_is_exclusive():
    rulebook = example_rulebook()
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET, "1.99")).code == "job-pw-lt2"
    assert select_rule(rulebook, key(TargetGroup.PARTICIPATIEWET, "2")).code == "job-pw-ge2"
    assert select_rule(rulebook, key(TargetGroup.WW, "0.5")).code == "job-ww-lt1"
    assert select_rule(rulebook, key(TargetGroup.WW, "1")).code == "job-ww-ge1"


def test_missing_years_on_benefit_is_named():
    with pytest.raises(NoMatchingRule, match="needs years_on_benefit"):
        select_rule(example_rulebook(), key(TargetGroup.PARTICIPATIEWET))


def test_variant_must_match_exactly():
    rulebook = example_rulebook()
    mbo = ContributionInput(Block.INTERNSHIP, date(2026, 1, 1), variant="mbo3-4-hbo")
    assert select_rule(rulebook, mbo).code == "internship-mbo3-4-hbo"
    with pytest.raises(NoMatchingRule, match="variant 'mbo1-2', contribution asks for none"):
        select_rule(rulebook, ContributionInput(Block.INTERNSHIP, date(2026, 1, 1)))
    with pytest.raises(NoMatchingRule, match="asks for 'wo'"):
        select_rule(rulebook, replace(mbo, variant="wo"))


def test_explicit_rule_code_overrides_matching():
    contribution = key(TargetGroup.STUDENT, rule_code="job-nug")
    assert select_rule(example_rulebook(), contribution).code == "job-nug"
    result = value(
        example_rulebook(), replace(contribution, hours_per_week=D("36"), end=date(2026, 12, 31))
    )
    assert result.explanation[0].startswith("Rule job-nug (chosen explicitly)")


def test_explicit_rule_code_must_exist_and_fit_the_block():
    with pytest.raises(NoMatchingRule, match="no rule with code 'nope'"):
        select_rule(example_rulebook(), key(rule_code="nope"))
    with pytest.raises(NoMatchingRule, match="is for block bbl"):
        select_rule(example_rulebook(), key(rule_code="bbl"))


def test_no_matching_rule_lists_the_reasons():
    with pytest.raises(NoMatchingRule) as caught:
        select_rule(example_rulebook(), key(TargetGroup.STUDENT))
    message = str(caught.value)
    assert "target group student" in message
    assert "job-nug: target groups nug, contribution has student" in message


def test_no_rules_for_the_block():
    rulebook = book(annual())
    with pytest.raises(NoMatchingRule, match="has no rules for block training"):
        select_rule(rulebook, ContributionInput(Block.TRAINING, date(2026, 1, 1)))


def test_overlapping_rules_are_rejected_by_the_rulebook():
    with pytest.raises(RulebookError, match=r"rules\[1\]: rule 'b' overlaps rule 'a'"):
        book(annual("a", target_groups=PW), annual("b", target_groups=PW | {TargetGroup.WW}))
    with pytest.raises(RulebookError, match="overlaps"):
        book(
            annual("a", max_years_on_benefit=D("2")),
            annual("b", min_years_on_benefit=D("1")),
        )
    # Adjacent ranges and different variants do not overlap.
    book(annual("a", max_years_on_benefit=D("2")), annual("b", min_years_on_benefit=D("2")))
    book(annual("a"), annual("b", variant="x"))


def test_ambiguity_at_run_time_is_an_error():
    # A validated rulebook cannot hold overlapping rules; this defensive branch is reached by
    # building one without validation.
    rulebook = object.__new__(Rulebook)
    fields = {
        "name": "Raw",
        "version": "1",
        "valid_from": date(2026, 1, 1),
        "owner": "",
        "is_example": False,
        "rules": (annual("a"), annual("b")),
        "bonuses": (),
    }
    for name, item in fields.items():
        object.__setattr__(rulebook, name, item)
    with pytest.raises(AmbiguousRule, match="rules a, b match"):
        select_rule(rulebook, key())
    assert issubclass(AmbiguousRule, NoMatchingRule)
    assert issubclass(NoMatchingRule, ValuationError)


# --------------------------------------------------------------------------------------------
# Rulebook validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (annual(rate="-1"), r"rules\[0\]\.rate: must not be negative"),
        (
            Rule("p", "p", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE, percent=D("101")),
            r"rules\[0\]\.percent: must be between 0 and 100",
        ),
        (
            Rule("p", "p", Block.SOCIAL_PURCHASE, RuleKind.ACTUAL_COST, percent=D("-1")),
            r"rules\[0\]\.percent: must be between 0 and 100",
        ),
        (
            Rule("p", "p", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE),
            r"rules\[0\]\.percent: is required for percentage rules",
        ),
        (
            Rule("p", "p", Block.SOCIAL_PURCHASE, RuleKind.PERCENTAGE, rate=D(1), percent=D(1)),
            r"rules\[0\]\.rate: is not used by percentage rules",
        ),
        (annual(percent=D("50")), r"rules\[0\]\.percent: is only used by percentage"),
        (
            annual(min_years_on_benefit=D("2"), max_years_on_benefit=D("1")),
            r"rules\[0\]\.min_years_on_benefit: must be below max_years_on_benefit",
        ),
        (
            annual(min_years_on_benefit=D("2"), max_years_on_benefit=D("2")),
            r"rules\[0\]\.min_years_on_benefit: must be below",
        ),
        (fixed(max_years=D("1")), r"rules\[0\]\.max_years: is only used by annual and monthly"),
        (annual(min_duration_days=10), r"rules\[0\]\.min_duration_days: is only used by fixed"),
        (fixed(min_duration_days=0), r"rules\[0\]\.min_duration_days: must be at least 1"),
        (annual(fte_hours=D("0")), r"rules\[0\]\.fte_hours: must be above 0"),
        (annual(min_hours_per_week=D("40")), r"rules\[0\]\.min_hours_per_week: must not exceed"),
        (annual(max_years=D("0.001")), r"rules\[0\]\.max_years: must cover at least one day"),
        (annual(code=" "), r"rules\[0\]\.code: must not be empty"),
    ],
)
def test_invalid_rules(rule: Rule, message: str):
    with pytest.raises(RulebookError, match=message):
        book(rule)


def test_duplicate_codes_and_all_errors_collected():
    with pytest.raises(RulebookError) as caught:
        book(annual("a"), annual("a", variant="x", rate="-5"))
    assert caught.value.errors == (
        "rules[1].rate: must not be negative (got -5)",
        "rules[1].code: duplicate code 'a' (also rules[0])",
    )


def test_invalid_bonuses():
    with pytest.raises(RulebookError, match=r"bonuses\[0\]\.min_age: must not exceed max_age"):
        book(bonuses=(Bonus("b", "b", D("1"), min_age=55, max_age=50),))
    with pytest.raises(RulebookError, match=r"bonuses\[0\]\.amount: must not be negative"):
        book(bonuses=(Bonus("b", "b", D("-1")),))
    with pytest.raises(RulebookError, match=r"bonuses\[1\]\.code: duplicate code 'b'"):
        book(bonuses=(Bonus("b", "b", D("1")), Bonus("b", "c", D("2"))))


def test_types_are_checked_and_strings_coerced():
    with pytest.raises(RulebookError, match="rate: expected a Decimal, got float"):
        Rule("r", "r", Block.JOB, RuleKind.ANNUAL, rate=1.5)
    with pytest.raises(RulebookError, match="block: 'jobs' is not one of job"):
        Rule("r", "r", "jobs", RuleKind.ANNUAL)
    rule = Rule("r", "r", "job", "annual", rate=40000, target_groups=["ww"])
    assert (rule.block, rule.kind, rule.rate, rule.target_groups) == (
        Block.JOB,
        RuleKind.ANNUAL,
        D("40000"),
        frozenset({TargetGroup.WW}),
    )
    with pytest.raises(RulebookError, match="name: must be a non-empty string"):
        Rulebook("", "1", date(2026, 1, 1))
    with pytest.raises(RulebookError, match="valid_from: expected a date"):
        Rulebook("x", "1", "2026-01-01")


def test_example_rulebook_is_valid_and_marked_as_example():
    rulebook = example_rulebook()
    assert rulebook.is_example is True
    assert rulebook.name == "Voorbeeld-rekenregels (publieke waarden)"
    assert rulebook.problems() == []
    assert {rule.kind for rule in rulebook.rules} == set(RuleKind)
    assert {rule.block for rule in rulebook.rules} == set(Block)


# --------------------------------------------------------------------------------------------
# Input errors
# --------------------------------------------------------------------------------------------


def test_annual_requires_hours_per_week():
    with pytest.raises(ValuationInputError, match="^hours_per_week: required by rule r"):
        value(book(annual()), job(*FULL_2026, None))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end": date(2025, 12, 31)}, "^end: 2025-12-31 is before start 2026-01-01"),
        ({"hours_per_week": D("-1")}, "^hours_per_week: must not be negative"),
        ({"hours_per_week": D("169")}, "^hours_per_week: .* exceeds the 168 hours"),
        ({"invoiced_amount": D("-0.01")}, "^invoiced_amount: must not be negative"),
        ({"actual_cost": D("-1")}, "^actual_cost: must not be negative"),
        ({"hours": D("-1")}, "^hours: must not be negative"),
        ({"years_on_benefit": D("-1")}, "^years_on_benefit: must not be negative"),
        ({"hours_per_week": 24.0}, "^hours_per_week: expected a Decimal, got float"),
        ({"invoiced_amount": D("1e15")}, "^invoiced_amount: 1E\\+15 is too large"),
        ({"birth_year": 2030}, "^birth_year: 2030 is not between 1900 and the start year"),
        ({"target_group": "unknown"}, "^target_group: 'unknown' is not one of"),
        ({"start": "2026-01-01"}, "^start: expected a date"),
    ],
)
def test_invalid_contribution_inputs(kwargs: dict, message: str):
    fields = {"block": Block.JOB, "start": date(2026, 1, 1), **kwargs}
    with pytest.raises(ValuationInputError, match=message):
        ContributionInput(**fields)


def test_invalid_window():
    with pytest.raises(ValuationInputError, match="window.end: 2025-01-01 is before start"):
        Window(date(2026, 1, 1), date(2025, 1, 1))


# --------------------------------------------------------------------------------------------
# Dutch explanations (the default language) and the message catalogue
# --------------------------------------------------------------------------------------------

EXAMPLE_WINDOW = Window(date(2026, 1, 1), date(2028, 12, 31))  # as in contributions-example.json


def test_explanations_are_dutch_by_default():
    contribution = pw("3", "24", date(2026, 3, 1), date(2027, 2, 28))
    default = value_contribution(example_rulebook(), contribution, EXAMPLE_WINDOW)
    dutch = value(example_rulebook(), contribution, EXAMPLE_WINDOW, lang="nl")
    assert default == dutch
    assert default.explanation[0].startswith("Regel job-pw-ge2 (geselecteerd)")


def test_worked_example_a_in_dutch():
    # Same sum as in English: 40000 * 24/36 * 365/365 = 26666.67, written € 26.666,67.
    rule = annual(rate="40000", target_groups=frozenset({TargetGroup.PARTICIPATIEWET}))
    result = value(book(rule), pw("3", "24", date(2026, 3, 1), date(2027, 2, 28)), lang="nl")
    assert result.value == D("26666.67")
    text = "\n".join(result.explanation)
    assert "€ 26.666,67" in text
    assert "24,00" in text
    assert (
        "Formule: € 40.000,00 × 24,00/36,00 × 365/365 = € 26.666,67, "
        "afgerond op centen (half naar boven)." in result.explanation
    )
    assert "periode 01-03-2026 t/m 28-02-2027" in text
    assert "uren per week 24,00" in text and "uitkeringsjaren" not in text
    assert "Waarde: € 26.666,67 (basis € 26.666,67 + bonussen € 0,00)." in result.explanation


def test_worked_example_a_in_dutch_with_the_example_rulebook_in_full():
    # The explanation as stored on the contribution (also shown in docs/rulebook-format.md).
    contribution = pw("3", "24", date(2026, 3, 1), date(2027, 2, 28))
    result = value(example_rulebook(), contribution, EXAMPLE_WINDOW, lang="nl")
    assert result.value == D("26666.67")
    assert result.explanation == (
        "Regel job-pw-ge2 (geselecteerd): Baan Participatiewet, 2 jaar of langer in de uitkering; "
        "jaarbedrag € 40.000,00 per jaar voor 36,00 uur per week.",
        "Invoer: blok baan, periode 01-03-2026 t/m 28-02-2027, uren per week 24,00.",
        "Minimum uren per week: 12,00; gehaald met 24,00.",
        "Telperiode: 01-01-2026 t/m 31-12-2028.",
        "Maximum: telt ten hoogste 2,00 jaar (730 dagen, t/m 28-02-2028); niet bereikt.",
        "Getelde dagen: 365 (01-03-2026 t/m 28-02-2027).",
        "Formule: € 40.000,00 × 24,00/36,00 × 365/365 = € 26.666,67, "
        "afgerond op centen (half naar boven).",
        "Bonus age-50-54 niet toegekend: geboortejaar onbekend.",
        "Bonus age-55-plus niet toegekend: geboortejaar onbekend.",
        "Waarde: € 26.666,67 (basis € 26.666,67 + bonussen € 0,00).",
    )


def test_worked_example_a_in_english_keeps_the_english_style():
    contribution = pw("3", "24", date(2026, 3, 1), date(2027, 2, 28))
    result = value(example_rulebook(), contribution, EXAMPLE_WINDOW, lang="en")
    assert result.explanation[0] == (
        "Rule job-pw-ge2 (selected): Baan Participatiewet, 2 jaar of langer in de uitkering; "
        "annual rate 40000.00 per year per 36.00 hours/week."
    )
    assert result.explanation[-1] == "Value: 26666.67 (base 26666.67 + bonuses 0.00)."


def test_worked_example_b_in_dutch():
    # Cap 1 year from 01-01-2026 up to 31-12-2026; the 181 days of 2027 do not count.
    rule = annual(rate="15000", max_years=D("1"), target_groups=frozenset({TargetGroup.WW}))
    contribution = job(date(2026, 1, 1), date(2027, 6, 30), "36", target_group=TargetGroup.WW)
    result = value(book(rule), contribution, lang="nl")
    assert (result.value, result.counted_days, result.capped) == (D("15000.00"), 365, True)
    assert (
        "Maximum toegepast: telt ten hoogste 1,00 jaar (365 dagen vanaf 01-01-2026, "
        "t/m 31-12-2026); 181 dagen daarna tellen niet mee." in result.explanation
    )
    assert "€ 15.000,00" in result.explanation[-1]


def test_worked_example_c_in_dutch_zero_reason():
    rule = annual(rate="40000", min_hours_per_week=D("12"))
    result = value(book(rule), job(date(2026, 3, 1), date(2027, 2, 28), "10"), lang="nl")
    assert result.value == D("0.00")
    assert result.zero_reason == "10,00 uur per week ligt onder het minimum van 12,00 uur per week"
    assert "10,00" in result.zero_reason and "12,00" in result.zero_reason
    assert f"Waarde is € 0,00; reden: {result.zero_reason}." in result.explanation


@pytest.mark.parametrize(
    ("rule", "contribution", "window", "zero_reason"),
    [
        (
            fixed(min_duration_days=60),
            internship(date(2026, 2, 1), date(2026, 3, 31)),
            WIDE,
            "59 getelde dagen is minder dan de minimale duur van 60 dagen",
        ),
        (
            fixed(),
            internship(date(2025, 12, 31), date(2026, 6, 1)),
            Y2026,
            "de datum van de bijdrage, 31-12-2025, ligt buiten de telperiode "
            "(01-01-2026 t/m 31-12-2026)",
        ),
        (
            annual(max_years=D("1")),
            job(date(2024, 1, 1), date(2027, 1, 1)),
            Y2026,
            "geen getelde dagen: de periode binnen het maximum (01-01-2024 t/m 30-12-2024) "
            "ligt geheel buiten de telperiode (01-01-2026 t/m 31-12-2026)",
        ),
        (
            annual(),
            job(date(2026, 1, 1), date(2026, 12, 31), "0"),
            WIDE,
            "de formule geeft € 0,00",
        ),
    ],
)
def test_zero_reasons_in_dutch(rule, contribution, window, zero_reason):
    result = value(book(rule), contribution, window, lang="nl")
    assert (result.value, result.zero_reason) == (D("0.00"), zero_reason)


def test_dutch_lines_of_the_other_rule_kinds_and_bonuses():
    rulebook = example_rulebook()
    # 12345.67 * 50/100 = 6172.835 -> 6172.84
    other = value(rulebook, purchase("12345.67", variant="other"), lang="nl")
    assert other.value == D("6172.84")
    assert other.explanation[0].endswith("; 50,00% van het gefactureerde bedrag excl. btw.")
    assert "blok inkoop bij sociale onderneming" in other.explanation[1]
    assert "gefactureerd bedrag excl. btw € 12.345,67" in other.explanation[1]
    assert "Formule: € 12.345,67 × 50,00/100 = € 6.172,84." in other.explanation
    # 12.5 * 100 = 1250.00
    activity = ContributionInput(Block.SOCIAL_ACTIVITY, date(2026, 5, 1), hours=D("12.5"))
    hourly = value(rulebook, activity, lang="nl")
    assert "Formule: 12,50 uur × € 100,00 = € 1.250,00." in hourly.explanation
    # NUG job, full time, all of 2026: 10000.00 + permanent contract 10000 + age 50-54 5000
    contribution = job(
        *FULL_2026, "40", target_group=TargetGroup.NUG, permanent_contract=True, birth_year=1976
    )
    bonus = value(rulebook, contribution, lang="nl")
    assert bonus.value == D("25000.00")
    assert "doelgroep" not in bonus.explanation[1] and "1976" not in "\n".join(bonus.explanation)
    assert (
        "40,00 uur per week is meer dan voltijd (36,00 uur per week); geteld als 36,00."
        in bonus.explanation
    )
    assert (
        "Bonus permanent-contract (Vast contract): +€ 10.000,00 (blok baan, vast contract)."
        in bonus.explanation
    )
    assert (
        "Bonus age-50-54 (Leeftijd 50-54 jaar): +€ 5.000,00 (blok baan, "
        "leeftijdsbonus 50-54 jaar van toepassing)." in bonus.explanation
    )
    assert (
        bonus.explanation[-1] == "Waarde: € 25.000,00 (basis € 10.000,00 + bonussen € 15.000,00)."
    )


def test_dutch_names_of_blocks_and_target_groups():
    bbl = ContributionInput(
        Block.BBL, *FULL_2026, target_group=TargetGroup.EARLY_SCHOOL_LEAVER, hours_per_week=D("20")
    )
    result = value(example_rulebook(), bbl, lang="nl")
    assert "blok BBL-leerbaan, periode" in result.explanation[1]
    assert "voortijdig schoolverlater" not in "\n".join(result.explanation)
    assert valuation.BLOCK_NAMES[Block.WORK_EXPERIENCE]["nl"] == "werkervaringsplek"
    assert valuation.TARGET_GROUP_NAMES[TargetGroup.WIA]["nl"] == "WIA/WGA/WAZ/IOAW/IOAZ"


def test_open_ended_and_clipping_in_dutch():
    # 2026-07-01..2026-12-31 = 184 days; 36500 * 184/365 = 18400.00
    result = value(book(annual()), job(date(2026, 7, 1), None), Y2026, lang="nl")
    assert result.value == D("18400.00")
    assert "periode vanaf 01-07-2026, zonder einddatum" in result.explanation[1]
    assert (
        "Geen einddatum (open einde): gerekend tot het einde van de telperiode, 31-12-2026."
        in result.explanation
    )
    clipped = value(book(annual()), job(date(2025, 7, 1), date(2026, 6, 30)), Y2026, lang="nl")
    assert clipped.value == D("18100.00")
    assert (
        "Ingekort tot het begin van de telperiode, 01-01-2026: 184 dagen daarvoor tellen niet mee."
        in clipped.explanation
    )


def test_the_language_changes_only_the_texts():
    contribution = pw("3", "24", date(2026, 3, 1), None, birth_year=1970, permanent_contract=True)
    dutch = value(example_rulebook(), contribution, Y2026, lang="nl")
    english = value(example_rulebook(), contribution, Y2026, lang="en")
    assert replace(dutch, explanation=(), zero_reason=None) == replace(
        english, explanation=(), zero_reason=None
    )
    assert len(dutch.explanation) == len(english.explanation)
    assert dutch.explanation != english.explanation


@pytest.mark.parametrize("lang", ["de", "NL", "", None, "nl-NL"])
def test_unknown_language_is_a_value_error(lang):
    contribution = pw("3", "24", date(2026, 3, 1), date(2027, 2, 28))
    with pytest.raises(ValueError, match="lang: expected one of nl, en"):
        value_contribution(example_rulebook(), contribution, lang=lang)
    with pytest.raises(ValueError, match="lang: expected one of nl, en"):
        annual().describe(lang)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("key", sorted(valuation.MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key: str):
    templates = valuation.MESSAGES[key]
    assert set(templates) == set(valuation.LANGUAGES) == {"nl", "en"}
    assert all(template.strip() for template in templates.values())
    assert placeholders(templates["nl"]) == placeholders(templates["en"])
    assert all(name.isidentifier() for name in placeholders(templates["nl"]))  # named only


def test_every_block_and_target_group_has_a_name_in_both_languages():
    for names, enum in (
        (valuation.BLOCK_NAMES, Block),
        (valuation.TARGET_GROUP_NAMES, TargetGroup),
    ):
        assert set(names) == set(enum)
        for member, by_lang in names.items():
            assert set(by_lang) == set(valuation.LANGUAGES)
            assert by_lang["en"] == member.value  # English keeps the codes, as before
            assert by_lang["nl"].strip()


@pytest.mark.parametrize(
    ("lang", "money", "number", "day"),
    [
        ("nl", "€ 1.234.567,89", "24,00", "01-03-2026"),
        ("en", "1234567.89", "24.00", "2026-03-01"),
    ],
)
def test_number_styles(lang, money, number, day):
    style = valuation.NUMBER_STYLES[lang]
    assert style.money(D("1234567.885")) == money  # half up
    assert style.number(D("24")) == number
    assert style.date(date(2026, 3, 1)) == day
    assert style.money(D("0")) == ("€ 0,00" if lang == "nl" else "0.00")
    assert style.money(D("-5")) == ("-€ 5,00" if lang == "nl" else "-5.00")
    assert style.number(D("999.995")) == ("1.000,00" if lang == "nl" else "1000.00")


# --------------------------------------------------------------------------------------------
# Valuation.to_dict and JSON format
# --------------------------------------------------------------------------------------------


def test_valuation_to_dict_is_json_friendly():
    result = value(example_rulebook(), pw("3", "24", date(2026, 3, 1), date(2027, 2, 28)))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["value"] == "26666.67"
    assert data["base_value"] == "26666.67"
    assert data["bonus_value"] == "0.00"
    assert data["rule_code"] == "job-pw-ge2"
    assert data["counted_days"] == 365
    assert data["capped"] is False
    assert data["zero_reason"] is None
    assert data["explanation"] == list(result.explanation)


def test_rulebook_round_trip_is_exact():
    rulebook = example_rulebook()
    data = rulebook_to_dict(rulebook)
    assert data["format"] == FORMAT
    assert data["rules"][0]["rate"] == "30000.00"
    again = rulebook_from_dict(json.loads(json.dumps(data)))
    assert again == rulebook
    assert rulebook_to_dict(again) == data
    assert loads_rulebook(dumps_rulebook(rulebook)) == rulebook


def test_shipped_example_file_equals_the_function():
    text = (EXAMPLES / "rulebook-example.json").read_text(encoding="utf-8")
    assert json.loads(text) == rulebook_to_dict(example_rulebook())
    assert text == dumps_rulebook(example_rulebook()), (
        "regenerate: python -m placements.rulebook_format example "
        "> docs/examples/rulebook-example.json"
    )


def test_json_functions_are_re_exported_by_the_engine_module():
    assert valuation.rulebook_from_dict is rulebook_from_dict
    with pytest.raises(AttributeError):
        valuation.no_such_thing  # noqa: B018


def minimal_rulebook(**changes) -> dict:
    data = {
        "format": FORMAT,
        "name": "Mini",
        "version": "1",
        "valid_from": "2026-01-01",
        "rules": [
            {"code": "a", "label": "A", "block": "job", "kind": "annual", "rate": "10000"},
            {"code": "b", "label": "B", "block": "bbl", "kind": "annual", "rate": "20000"},
            {"code": "c", "label": "C", "block": "training", "kind": "hourly", "rate": "50"},
        ],
        "bonuses": [{"code": "x", "label": "X", "amount": "10"}],
    }
    data.update(changes)
    return data


def test_minimal_json_uses_defaults():
    rulebook = rulebook_from_dict(minimal_rulebook())
    assert rulebook.rules[0].fte_hours == D("36")
    assert rulebook.rules[0].target_groups == frozenset()
    assert rulebook.owner == "" and rulebook.is_example is False
    data = minimal_rulebook()
    data["rules"][1]["fte_hours"] = None
    assert rulebook_from_dict(data).rules[1].fte_hours is None


def with_rule_field(index: int, field: str, item) -> dict:
    data = minimal_rulebook()
    data["rules"][index][field] = item
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_rule_field(2, "rate", "abc"), r"^rules\[2\]\.rate: not a decimal: 'abc'$"),
        (with_rule_field(2, "rate", 1.5), r"^rules\[2\]\.rate: write decimals as strings"),
        (with_rule_field(2, "rate", "NaN"), r"^rules\[2\]\.rate: not a finite decimal"),
        (with_rule_field(2, "rate", None), r"^rules\[2\]\.rate: must not be null"),
        (with_rule_field(2, "rate", "1e20"), r"^rules\[2\]\.rate: 1E\+20 is too large"),
        (with_rule_field(1, "block", "jobs"), r"^rules\[1\]\.block: 'jobs' is not one of"),
        (with_rule_field(0, "kind", 3), r"^rules\[0\]\.kind: 3 is not one of"),
        (
            with_rule_field(0, "target_groups", ["ww", "xx"]),
            r"^rules\[0\]\.target_groups\[1\]: 'xx' is not one of",
        ),
        (with_rule_field(0, "target_groups", "ww"), r"^rules\[0\]\.target_groups: expected a list"),
        (with_rule_field(0, "rat", "1"), r"^rules\[0\]\.rat: unknown field"),
        (
            with_rule_field(0, "min_duration_days", "60"),
            r"^rules\[0\]\.min_duration_days: expected",
        ),
        (with_rule_field(0, "rate", "-1"), r"^rules\[0\]\.rate: must not be negative"),
        (minimal_rulebook(valid_from="01-01-2026"), r"^valid_from: expected a date as YYYY-MM-DD"),
        (minimal_rulebook(valid_from="2026-02-30"), r"^valid_from: not a valid date"),
        (minimal_rulebook(format="sroi-rulebook/2"), r"^format: unsupported format"),
        (minimal_rulebook(format=None), r"^format: missing"),
        (minimal_rulebook(rules={}), r"^rules: expected a list"),
        (minimal_rulebook(rules=[1]), r"^rules\[0\]: expected an object, got a number"),
        (minimal_rulebook(name=None), r"^name: expected a string, got null"),
        (minimal_rulebook(bonuses=[{"code": "x"}]), r"^bonuses\[0\]\.amount: is required"),
        (
            minimal_rulebook(bonuses=[{"code": "x", "amount": "1", "min_age": "50"}]),
            r"^bonuses\[0\]\.min_age: expected an integer",
        ),
        (
            minimal_rulebook(bonuses=[{"code": "x", "amount": "1", "blocks": ["jab"]}]),
            r"^bonuses\[0\]\.blocks\[0\]: 'jab' is not one of",
        ),
        ([], r"^document: expected an object, got a list"),
    ],
)
def test_json_errors_carry_the_path(data, message: str):
    with pytest.raises(RulebookError, match=message):
        rulebook_from_dict(data)


def test_loads_rulebook_reports_invalid_json_and_reads_numbers_exactly():
    with pytest.raises(RulebookError, match="not valid JSON"):
        loads_rulebook("{")
    text = json.dumps(minimal_rulebook()).replace('"10000"', "10000.50")
    assert loads_rulebook(text).rules[0].rate == D("10000.50")


def test_contribution_round_trip_and_errors():
    contribution = pw("2.5", "24", date(2026, 3, 1), None, birth_year=1970, variant="x")
    data = json.loads(json.dumps(contribution_to_dict(contribution)))
    assert data["hours_per_week"] == "24"
    assert contribution_from_dict(data) == contribution
    with pytest.raises(ValuationInputError, match=r"^\[3\]\.hours_per_week: not a decimal: 'x'"):
        contribution_from_dict({**data, "hours_per_week": "x"}, "[3]")
    with pytest.raises(ValuationInputError, match=r"^\[3\]\.end: 2026-01-01 is before start"):
        contribution_from_dict({**data, "end": "2026-01-01"}, "[3]")
    with pytest.raises(ValuationInputError, match=r"^start: is required"):
        contribution_from_dict({"block": "job"})
    with pytest.raises(ValuationInputError, match=r"^colour: unknown field"):
        contribution_from_dict({**data, "colour": "red"})


def test_window_from_dict():
    assert window_from_dict({"start": "2026-01-01", "end": "2026-12-31"}) == Y2026
    with pytest.raises(ValuationInputError, match=r"^window\.end: is required"):
        window_from_dict({"start": "2026-01-01"})
