"""Property tests of the valuation engine (hypothesis, no database)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from placements.rulebook_format import (
    contribution_from_dict,
    contribution_to_dict,
    rulebook_from_dict,
    rulebook_to_dict,
)
from placements.valuation import (
    Block,
    Bonus,
    ContributionInput,
    Rule,
    Rulebook,
    RuleKind,
    Valuation,
    Window,
    value_contribution,
)

CENT = Decimal("0.01")
BONUSES = (
    Bonus("permanent", "permanent", Decimal("10000.00"), requires_permanent_contract=True),
    Bonus("age", "age 55+", Decimal("7500.00"), min_age=55),
    Bonus("any", "any", Decimal("0.005")),
)
MAX_BONUS = sum(bonus.amount.quantize(CENT, ROUND_HALF_UP) for bonus in BONUSES)  # 17500.01

money = st.integers(min_value=0, max_value=100_000_000).map(lambda cents: Decimal(cents) / 100)
hours_per_week = st.decimals(min_value=0, max_value=80, places=2)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31))
optional_years = st.sampled_from([None, Decimal("0.5"), Decimal("1"), Decimal("2")])


@st.composite
def rules(draw) -> Rule:
    return Rule(
        code="r",
        label="r",
        block=Block.JOB,
        kind=draw(st.sampled_from([RuleKind.ANNUAL, RuleKind.MONTHLY])),
        rate=draw(money),
        fte_hours=draw(st.sampled_from([None, Decimal("36"), Decimal("40")])),
        min_hours_per_week=draw(st.sampled_from([None, Decimal("12")])),
        max_years=draw(optional_years),
    )


@st.composite
def contributions(draw) -> ContributionInput:
    start = draw(days)
    length = draw(st.integers(min_value=0, max_value=1500))
    return ContributionInput(
        block=Block.JOB,
        start=start,
        end=start + timedelta(days=length),
        hours_per_week=draw(hours_per_week),
        birth_year=draw(st.none() | st.integers(min_value=1950, max_value=2005)),
        permanent_contract=draw(st.booleans()),
    )


@st.composite
def windows(draw) -> Window | None:
    if draw(st.booleans()):
        return None
    first, second = sorted((draw(days), draw(days)))
    return Window(first, second)


def valuate(
    rule: Rule, contribution: ContributionInput, window: Window | None, lang: str = "nl"
) -> Valuation:
    rulebook = Rulebook("P", "1", date(2024, 1, 1), rules=(rule,), bonuses=BONUSES)
    return value_contribution(rulebook, contribution, window, lang=lang)


def ceiling_cents(number: Decimal) -> Decimal:
    return number.quantize(CENT, rounding=ROUND_CEILING)


def period_days(contribution: ContributionInput) -> int:
    assert contribution.end is not None
    return (contribution.end - contribution.start).days + 1


def full_rate_bound(rule: Rule, days_counted: int) -> Decimal:
    """The base value at full time for ``days_counted`` days, rounded up to cents."""
    per_year = rule.rate if rule.kind == RuleKind.ANNUAL else rule.rate * 12
    return ceiling_cents(per_year * days_counted / 365)


@settings(deadline=None)
@given(rules(), contributions(), windows())
def test_value_is_never_negative_and_has_two_decimals(rule, contribution, window):
    result = valuate(rule, contribution, window)
    assert result.value >= 0
    for number in (result.value, result.base_value, result.bonus_value):
        assert number.as_tuple().exponent == -2
    assert result.value == result.base_value + result.bonus_value
    assert (result.value == 0) == (result.zero_reason is not None)


@settings(deadline=None)
@given(rules(), contributions(), windows())
def test_value_never_exceeds_the_capped_maximum(rule, contribution, window):
    result = valuate(rule, contribution, window)
    assert result.base_value <= full_rate_bound(rule, period_days(contribution))
    if rule.max_years is not None:
        assert result.base_value <= full_rate_bound(rule, rule.cap_days())
        # A year is 365 days, so the cap never yields more than rate * max_years per year.
        # counted_days is None when the value was zero before days were counted (min hours).
        assert (result.counted_days or 0) <= rule.max_years * 365
    assert result.bonus_value <= MAX_BONUS
    assert result.value <= full_rate_bound(rule, period_days(contribution)) + MAX_BONUS


@settings(deadline=None)
@given(rules(), contributions(), windows(), hours_per_week, hours_per_week)
def test_monotone_in_hours_per_week(rule, contribution, window, first, second):
    low, high = sorted((first, second))
    low_value = valuate(rule, replace(contribution, hours_per_week=low), window).value
    high_value = valuate(rule, replace(contribution, hours_per_week=high), window).value
    assert low_value <= high_value


@settings(deadline=None)
@given(rules(), contributions(), windows(), st.integers(0, 1500), st.integers(0, 1500))
def test_monotone_in_end_date(rule, contribution, window, first, second):
    short, long = sorted((first, second))
    start = contribution.start
    short_value = valuate(rule, replace(contribution, end=start + timedelta(short)), window)
    long_value = valuate(rule, replace(contribution, end=start + timedelta(long)), window)
    assert short_value.value <= long_value.value
    assert (short_value.counted_days or 0) <= (long_value.counted_days or 0)


@settings(deadline=None)
@given(rules(), contributions())
def test_a_window_covering_the_period_changes_nothing(rule, contribution):
    covering = Window(contribution.start, contribution.end)
    assert valuate(rule, contribution, None).value == valuate(rule, contribution, covering).value


@given(rules(), contributions())
def test_json_round_trips(rule, contribution):
    rulebook = Rulebook("P", "1", date(2024, 1, 1), rules=(rule,), bonuses=BONUSES)
    assert rulebook_from_dict(rulebook_to_dict(rulebook)) == rulebook
    assert contribution_from_dict(contribution_to_dict(contribution)) == contribution


def numbers_of(result: Valuation) -> Valuation:
    return replace(result, explanation=(), zero_reason=None)


@settings(deadline=None)
@given(rules(), contributions(), windows())
def test_the_language_changes_only_the_texts(rule, contribution, window):
    dutch = valuate(rule, contribution, window, "nl")
    english = valuate(rule, contribution, window, "en")
    assert numbers_of(dutch) == numbers_of(english)
    assert (dutch.zero_reason is None) == (english.zero_reason is None)
    assert len(dutch.explanation) == len(english.explanation)


# English words of the explanations (labels and codes of this file's rulebook avoid them),
# ISO dates and numbers written with a decimal point must not appear in Dutch explanations.
ENGLISH_WORDS = re.compile(
    r"\b(Rule|Inputs|Formula|Value|Bonuses|Cap|hours|days|block|target group|window|period|"
    r"because|rounded|applied|birth year|counted|open-ended|minimum of|not)\b"
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
POINT_DECIMAL = re.compile(r"\d\.\d{2}(?!\d)")


@settings(deadline=None)
@given(rules(), contributions(), windows())
def test_dutch_explanations_are_dutch_throughout(rule, contribution, window):
    result = valuate(rule, contribution, window, "nl")
    for line in (*result.explanation, result.zero_reason or ""):
        assert not ENGLISH_WORDS.search(line), line
        assert not ISO_DATE.search(line), line
        assert not POINT_DECIMAL.search(line), line
