"""Report periods: a year, a quarter, a custom range or everything up to the as-of date.

Plain Python (no Django imports) so the calendar rules are easy to test and reason about.
A contract belongs to a period when its **award date** falls inside it (both ends inclusive);
see ``docs/report-definitions.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

YEAR = "year"
QUARTER = "quarter"
CUSTOM = "custom"
ALL = "all"
YEAR_TO_DATE = "year_to_date"
KINDS = (ALL, YEAR, QUARTER, CUSTOM)


@dataclass(frozen=True)
class Period:
    """Contracts awarded from ``start`` (``None``: no lower bound) up to and including ``end``."""

    kind: str
    start: date | None
    end: date

    @property
    def label(self) -> str:
        """A short, file-name-safe label: ``2026``, ``2026-Q3``, ``2026-01-01_2026-06-30``."""
        if self.kind == YEAR:
            return f"{self.end.year}"
        if self.kind == QUARTER:
            return quarter_label(self.end)
        if self.kind == YEAR_TO_DATE:
            return f"{self.end.year}-t-m-{quarter_label(self.end)[5:]}"
        if self.kind == ALL or self.start is None:
            return f"t-m-{self.end.isoformat()}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def clipped_end(self, as_of: date) -> date:
        """Nothing awarded after the as-of date is known on that date."""
        return min(self.end, as_of)


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{quarter_of(day)}"


def year_period(year: int) -> Period:
    return Period(YEAR, date(year, 1, 1), date(year, 12, 31))


def quarter_period(year: int, quarter: int) -> Period:
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1..4")
    start = date(year, 3 * quarter - 2, 1)
    next_start = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return Period(QUARTER, start, next_start - timedelta(days=1))


def custom_period(start: date, end: date) -> Period:
    if end < start:
        raise ValueError("end before start")
    return Period(CUSTOM, start, end)


def all_period(as_of: date) -> Period:
    return Period(ALL, None, as_of)


def parse_quarter_label(label: str) -> Period:
    """``"2026-Q3"`` -> the third quarter of 2026."""
    year, _, quarter = label.partition("-Q")
    return quarter_period(int(year), int(quarter))


def last_completed_quarter(today: date) -> Period:
    """The most recent quarter that ended before ``today``."""
    current = quarter_period(today.year, quarter_of(today))
    return quarter_period_containing(current.start - timedelta(days=1))


def quarter_period_containing(day: date) -> Period:
    return quarter_period(day.year, quarter_of(day))


def coverage_period(quarter: Period, coverage: str) -> Period:
    """The period a scheduled quarterly report covers for an ended ``quarter``."""
    if coverage == QUARTER:
        return quarter
    if coverage == YEAR_TO_DATE:
        return Period(YEAR_TO_DATE, date(quarter.end.year, 1, 1), quarter.end)
    if coverage == ALL:
        return Period(ALL, None, quarter.end)
    raise ValueError(f"unknown coverage {coverage!r}")
