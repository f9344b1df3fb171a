"""Template helpers shared by every page: money, percentages, progress."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format

register = template.Library()

CENT = Decimal("0.01")


@register.filter
def euro(value) -> str:
    """``€ 1.234,56`` in Dutch, ``€ 1,234.56`` in English (the active language's format)."""
    if value in (None, ""):
        return "–"
    try:
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return "–"
    text = number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    return f"−€ {text}" if amount < 0 else f"€ {text}"


@register.filter
def percent(value, decimals: int = 1) -> str:
    if value in (None, ""):
        return "–"
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "–"
    return f"{number_format(number, decimals, use_l10n=True)}%"


@register.simple_tag
def share(part, whole) -> Decimal:
    """``part`` as a percentage of ``whole`` (0–100, for progress bars); 0 when whole is 0."""
    try:
        part, whole = Decimal(part or 0), Decimal(whole or 0)
    except (InvalidOperation, TypeError, ValueError):
        return Decimal("0")
    if whole <= 0:
        return Decimal("0")
    return min(Decimal("100"), max(Decimal("0"), part * 100 / whole)).quantize(Decimal("0.1"))


@register.simple_tag(takes_context=True)
def url_replace(context, **kwargs) -> str:
    """The current query string with some parameters replaced (sorting, pagination)."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()
