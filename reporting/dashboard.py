"""Reads for the adviser's dashboard, always scoped to the municipalities the user advises.

Every function runs a fixed number of queries whatever the number of obligations,
contributions or flags (the dashboard's query budget is tested).

Scope: the dashboard is the adviser's. A user sees it when they hold the ADVISER role (or are a
superuser) and it covers only the municipalities they advise; another role's municipalities
(e.g. a council viewer membership elsewhere) never mix in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Count,
    DecimalField,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from contracts.models import Contract, Obligation
from contracts.selectors import REALISED_STATUSES, MoneySum, money_sum
from placements.choices import Block, TargetGroup
from placements.models import Contribution
from sroi import permissions
from sroi.models import Organisation, Role
from sroi.permissions import get_scope

from .models import Flag, FlagSeverity
from .monitoring import open_flags_visible_to

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=16, decimal_places=2)
URGENT_LIMIT = 10


# --- Who may use the dashboard ---------------------------------------------------------------


def is_adviser(user) -> bool:
    scope = get_scope(user)
    return scope.is_superuser or Role.ADVISER in scope.roles


def require_adviser(user) -> None:
    """Advisers pass; other staff get 403 (the page exists, not for them); contractor users
    and users without any role get 404 (the page does not exist for them)."""
    if is_adviser(user):
        return
    if get_scope(user).municipalities_by_role:
        raise PermissionDenied
    raise Http404


def advised_municipality_ids(user) -> frozenset[int] | None:
    """The ids of the municipalities ``user`` advises; ``None`` for a superuser (all)."""
    scope = get_scope(user)
    if scope.is_superuser:
        return None
    return scope.municipalities(Role.ADVISER)


def advised_municipalities(user) -> QuerySet[Organisation]:
    qs = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)
    ids = advised_municipality_ids(user)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.order_by("name")


def may_handle_flag(user, flag: Flag) -> bool:
    """Acknowledge / snooze: the adviser of the flag's municipality (or a superuser)."""
    ids = advised_municipality_ids(user)
    return ids is None or flag.municipality_id in ids


# --- Flags -----------------------------------------------------------------------------------


def flags_visible_to(user) -> QuerySet[Flag]:
    """Every flag (open or resolved) of the municipalities the user may view; contractors
    never see flags. For looking one up by id: not visible → 404."""
    scope = get_scope(user)
    if scope.is_superuser:
        return Flag.objects.all()
    return Flag.objects.filter(
        municipality_id__in=scope.municipalities_for(permissions.Action.VIEW)
    )


def dashboard_flags(
    user, *, municipality_ids, today: date, show_snoozed: bool = False
) -> QuerySet[Flag]:
    """The open flags the dashboard lists: in the adviser's (selected) municipalities, snoozed
    ones left out unless asked for; critical first, then the nearest deadline."""
    qs = open_flags_visible_to(user).filter(municipality_id__in=municipality_ids)
    if not show_snoozed:
        qs = qs.filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=today))
    return qs.select_related(
        "municipality", "contract__contractor", "obligation", "acknowledged_by"
    ).order_by("-severity", F("obligation__deadline").asc(nulls_last=True), "first_seen", "pk")


@dataclass
class SeverityCount:
    severity: int
    label: str
    count: int


def severity_counts(flags: QuerySet[Flag]) -> list[SeverityCount]:
    """Open flags per severity, critical first (one query); every severity listed, also 0."""
    counts = dict(flags.order_by().values_list("severity").annotate(n=Count("pk")))
    return [
        SeverityCount(value, str(label), counts.get(value, 0))
        for value, label in sorted(FlagSeverity.choices, reverse=True)
    ]


def snoozed_count(user, *, municipality_ids, today: date) -> int:
    return (
        open_flags_visible_to(user)
        .filter(municipality_id__in=municipality_ids, snoozed_until__gt=today)
        .count()
    )


def urgent_contracts(flags: QuerySet[Flag], *, limit: int = URGENT_LIMIT) -> list[Contract]:
    """The contracts needing action: those with one of ``flags``, grouped per contract (its
    obligation, if any), the most severe first, then the nearest deadline. Two queries: the
    contracts (with required and realised) and their flags."""
    flag_ids = flags.order_by().values("pk")
    realised = (
        Contribution.objects.filter(obligation=OuterRef("obligation"), status__in=REALISED_STATUSES)
        .order_by()
        .values("obligation")
        .annotate(total=Sum("value"))
        .values("total")
    )
    contracts = (
        Contract.objects.filter(flags__in=flag_ids)
        .annotate(
            max_severity=Max("flags__severity", filter=Q(flags__in=flag_ids)),
            realised=Coalesce(Subquery(realised, output_field=MONEY), Value(ZERO, MONEY)),
        )
        .select_related("municipality", "contractor", "obligation")
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=Flag.objects.filter(pk__in=flag_ids).order_by("-severity", "kind"),
                to_attr="open_flags",
            )
        )
        .order_by(
            "-max_severity", F("obligation__deadline").asc(nulls_last=True), "reference", "pk"
        )
    )
    return list(contracts[:limit])


# --- Totals ----------------------------------------------------------------------------------


def _money(value) -> Decimal:
    return (Decimal(str(value)) if value is not None else ZERO).quantize(CENT, ROUND_HALF_UP)


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal), ``None`` when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class MunicipalityTotals:
    municipality: Organisation | None
    obligations: int = 0
    required: Decimal = ZERO
    realised: Decimal = ZERO
    open_flags: int = 0

    @property
    def name(self) -> str:
        return self.municipality.name if self.municipality is not None else str(_("Total"))

    @property
    def percentage(self) -> Decimal | None:
        return share(self.realised, self.required)


def _obligations(user, municipality_ids) -> QuerySet[Obligation]:
    return permissions.obligations_visible_to(user).filter(
        contract__municipality_id__in=municipality_ids
    )


def municipality_totals(
    user, *, municipalities: list[Organisation], flags: QuerySet[Flag]
) -> tuple[list[MunicipalityTotals], MunicipalityTotals]:
    """Required, realised and percentage per municipality, plus the total. Two queries: one
    aggregate over the obligations (realised per obligation as a subquery, so an obligation's
    amount is never counted once per contribution) and one count of the listed flags."""
    ids = [m.pk for m in municipalities]
    realised = (
        Contribution.objects.filter(obligation=OuterRef("pk"), status__in=REALISED_STATUSES)
        .order_by()
        .values("obligation")
        .annotate(total=Sum("value"))
        .values("total")
    )
    rows = (
        _obligations(user, ids)
        .annotate(obligation_realised=Subquery(realised, output_field=MONEY))
        .order_by()
        .values(municipality_id=F("contract__municipality_id"))
        .annotate(
            n=Count("pk"),
            required=MoneySum(Sum("amount")),
            realised=MoneySum(Sum("obligation_realised")),
        )
    )
    by_id = {m.pk: MunicipalityTotals(municipality=m) for m in municipalities}
    for row in rows:
        totals = by_id[row["municipality_id"]]
        totals.obligations = row["n"]
        totals.required = _money(row["required"])
        totals.realised = _money(row["realised"])
    for muni_id, n in flags.order_by().values_list("municipality_id").annotate(n=Count("pk")):
        if muni_id in by_id:
            by_id[muni_id].open_flags = n
    lines = [by_id[m.pk] for m in municipalities]
    total = MunicipalityTotals(municipality=None)
    for line in lines:
        total.obligations += line.obligations
        total.required += line.required
        total.realised += line.realised
        total.open_flags += line.open_flags
    return lines, total


# --- Realised value per block and per target group -------------------------------------------


@dataclass
class ValueLine:
    key: str
    label: str
    amount: Decimal
    count: int  # approved contributions


def _realised_contributions(user, municipality_ids) -> QuerySet[Contribution]:
    return permissions.contributions_visible_to(user).filter(
        obligation__contract__municipality_id__in=municipality_ids,
        status__in=REALISED_STATUSES,
    )


def realised_per_block(user, *, municipality_ids) -> list[ValueLine]:
    """Realised (approved) value per block, in the blocks' order; blocks without value are
    left out. One query."""
    rows = {
        row["block"]: row
        for row in _realised_contributions(user, municipality_ids)
        .order_by()
        .values("block")
        .annotate(amount=money_sum("value"), n=Count("pk"))
    }
    return [
        ValueLine(value, str(label), _money(rows[value]["amount"]), rows[value]["n"])
        for value, label in Block.choices
        if value in rows
    ]


NO_CANDIDATE = "-"


def realised_per_target_group(user, *, municipality_ids) -> list[ValueLine]:
    """Realised (approved) value and number of approved contributions per target group of the
    candidate (aggregates only, no person is shown). Contributions without a candidate
    (purchases, social activities) and anonymised candidates get a line of their own. One
    query."""
    rows: dict[str, dict] = {}
    for row in (
        _realised_contributions(user, municipality_ids)
        .order_by()
        .values("candidate__target_group")
        .annotate(amount=money_sum("value"), n=Count("pk"))
    ):
        # No candidate: NULL from the outer join; an anonymised or unknown one: "".
        group = row["candidate__target_group"]
        key = NO_CANDIDATE if group is None else group
        line = rows.setdefault(key, {"amount": ZERO, "n": 0})
        line["amount"] += _money(row["amount"])
        line["n"] += row["n"]
    labels = [(value, str(label)) for value, label in TargetGroup.choices]
    labels.append(("", str(_("Unknown or anonymised"))))
    labels.append((NO_CANDIDATE, str(_("No person (purchase or activity)"))))
    return [
        ValueLine(key, label, rows[key]["amount"], rows[key]["n"])
        for key, label in labels
        if key in rows
    ]


# --- Charts (server-rendered SVG) ------------------------------------------------------------

CHART_WIDTH = 620
LABEL_WIDTH = 210
VALUE_WIDTH = 170
BAR_AREA = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH - 10
BAR_HEIGHT = 18
BAR_HEIGHT_TEXT = str(BAR_HEIGHT)
BAR_GAP = 4
GROUP_GAP = 14


def _num(value: float) -> str:
    """A number for an SVG attribute: never localised ("45.3", not "45,3")."""
    return f"{value:.1f}"


@dataclass
class Bar:
    y: str
    width: str
    text_y: str
    value_x: str
    amount: Decimal
    series: str  # "required" or "realised"
    note: str = ""


@dataclass
class BarGroup:
    label: str
    label_y: str
    bars: list[Bar] = field(default_factory=list)


@dataclass
class BarChart:
    groups: list[BarGroup]
    height: str
    label_x: str = str(LABEL_WIDTH - 8)
    width: str = str(CHART_WIDTH)
    axis_x: str = str(LABEL_WIDTH)
    series: tuple[str, ...] = ()
    bar_height: str = BAR_HEIGHT_TEXT


def bar_chart(rows: list[tuple[str, list[tuple[str, Decimal, str]]]]) -> BarChart:
    """Horizontal bars: ``rows`` = [(label, [(series, amount, note), ...]), ...], all bars on
    one scale (the largest amount fills the bar area). Coordinates as unlocalised strings."""
    largest = max((amount for _label, bars in rows for _s, amount, _n in bars), default=ZERO)
    groups, y = [], float(GROUP_GAP / 2)
    series: list[str] = []
    for label, bars in rows:
        group = BarGroup(label=label, label_y="")
        top = y
        for name, amount, note in bars:
            if name not in series:
                series.append(name)
            width = float(amount / largest * BAR_AREA) if largest else 0.0
            if amount and width < 1:
                width = 1.0
            group.bars.append(
                Bar(
                    y=_num(y),
                    width=_num(width),
                    text_y=_num(y + BAR_HEIGHT - 5),
                    value_x=_num(LABEL_WIDTH + width + 6),
                    amount=amount,
                    series=name,
                    note=note,
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        group.label_y = _num(top + (y - BAR_GAP - top) / 2 + 4)
        groups.append(group)
        y += GROUP_GAP - BAR_GAP
    return BarChart(groups=groups, height=_num(y + GROUP_GAP / 2), series=tuple(series))


def _percent_note(value: Decimal | None) -> str:
    from django.utils.formats import number_format

    return "" if value is None else f"({number_format(value, 1, use_l10n=True)}%)"


def progress_chart(lines: list[MunicipalityTotals]) -> BarChart:
    return bar_chart(
        [
            (
                line.name,
                [
                    ("required", line.required, ""),
                    ("realised", line.realised, _percent_note(line.percentage)),
                ],
            )
            for line in lines
        ]
    )


def value_chart(lines: list[ValueLine]) -> BarChart:
    return bar_chart([(line.label, [("realised", line.amount, "")]) for line in lines])


# --- Everything the page shows ---------------------------------------------------------------


@dataclass
class Dashboard:
    municipalities: list[Organisation]
    totals: list[MunicipalityTotals]
    total: MunicipalityTotals
    severities: list[SeverityCount]
    snoozed: int
    flags: QuerySet[Flag]
    urgent: list[Contract]
    per_block: list[ValueLine]
    per_target_group: list[ValueLine]
    progress_chart: BarChart
    block_chart: BarChart
    target_group_chart: BarChart

    @property
    def open_flags(self) -> int:
        return sum(s.count for s in self.severities)


def build_dashboard(
    user, *, municipalities: list[Organisation], today: date, show_snoozed: bool = False
) -> Dashboard:
    """The dashboard's figures for ``municipalities`` (already limited to those the user
    advises, see :func:`advised_municipalities`). The flag list is returned as a queryset for
    the view to paginate."""
    ids = [m.pk for m in municipalities]
    flags = dashboard_flags(user, municipality_ids=ids, today=today, show_snoozed=show_snoozed)
    totals, total = municipality_totals(user, municipalities=municipalities, flags=flags)
    per_block = realised_per_block(user, municipality_ids=ids)
    per_group = realised_per_target_group(user, municipality_ids=ids)
    return Dashboard(
        municipalities=municipalities,
        totals=totals,
        total=total,
        severities=severity_counts(flags),
        snoozed=0 if show_snoozed else snoozed_count(user, municipality_ids=ids, today=today),
        flags=flags,
        urgent=urgent_contracts(flags),
        per_block=per_block,
        per_target_group=per_group,
        progress_chart=progress_chart(totals),
        block_chart=value_chart(per_block),
        target_group_chart=value_chart(per_group),
    )
