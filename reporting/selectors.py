"""Reads for the council report, always scoped to what the user may export.

The figures are defined in ``reporting.definitions`` (and ``docs/report-definitions.md``) and
computed here only, in the database: :func:`build_report` runs a fixed number of aggregate
queries whatever the number of contracts or contributions, and the row tables
(:func:`contract_rows`, :func:`contribution_rows`) are single querysets meant to be streamed
with ``.iterator(chunk_size=...)``.

Scope: a user reports on the municipalities ``sroi.permissions`` lets them export
(``Action.EXPORT_REPORT``). The management command and the scheduled delivery run as
:data:`SYSTEM`, a superuser-like actor that exists only inside this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from contracts import selectors as contract_selectors
from contracts.models import Contract, Obligation, Settlement
from placements.choices import Block, TargetGroup
from placements.models import Contribution
from sroi import permissions
from sroi.models import Organisation
from sroi.permissions import Action, get_scope

from .models import ExportLog, ReportDelivery, ReportSchedule
from .periods import Period

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=16, decimal_places=2)
FINAL_DECISIONS = [str(d) for d in Settlement.FINAL_DECISIONS]
APPROVED = Contribution.Status.APPROVED
REJECTED = Contribution.Status.REJECTED
SUBMITTED = Contribution.Status.SUBMITTED
EXEMPTION = Obligation.Deviation.EXEMPTION
ROW_CHUNK_SIZE = 2000


class SystemActor:
    """The actor of system-level exports (``manage.py export_report``, scheduled delivery):
    sees every municipality. Never a request user; never stored."""

    pk = None
    is_authenticated = True
    is_active = True
    is_superuser = True
    email = ""

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()


def money(value) -> Decimal:
    """Sums come back unquantized from SQLite: round to cents once, half up."""
    return (Decimal(value) if value is not None else ZERO).quantize(CENT, ROUND_HALF_UP)


def fulfilment(realised: Decimal, required: Decimal) -> Decimal | None:
    """Realised as a percentage of required (one decimal), ``None`` when nothing is required."""
    if not required:
        return None
    return (Decimal(realised) * 100 / Decimal(required)).quantize(Decimal("0.1"), ROUND_HALF_UP)


# --- Scope -----------------------------------------------------------------------------------


def reportable_municipalities(user) -> QuerySet[Organisation]:
    """The municipalities this user may see and export reports of."""
    return permissions.municipalities_visible_to(user, Action.EXPORT_REPORT).order_by("name")


@dataclass(frozen=True)
class ReportScope:
    """Who reports (``actor``) on which municipalities. ``all_visible``: the user asked for
    every municipality they may see rather than one."""

    actor: object
    municipalities: tuple[Organisation, ...]
    all_visible: bool = False

    @property
    def ids(self) -> list[int]:
        return [m.pk for m in self.municipalities]

    @property
    def label(self) -> str:
        return ", ".join(m.name for m in self.municipalities)

    @property
    def slug(self) -> str:
        if len(self.municipalities) <= 3:
            return "-".join(slugify(m.name) for m in self.municipalities) or "geen"
        return f"{len(self.municipalities)}-gemeenten"


def report_scope(*, user, municipality: Organisation | None) -> ReportScope:
    """The scope for ``user``: one visible municipality, or all of them (``None``).

    No municipality to report on at all: ``PermissionDenied``. A municipality the user may not
    export: ``Http404`` (its report does not exist for them).
    """
    visible = tuple(reportable_municipalities(user))
    if not visible:
        raise PermissionDenied
    if municipality is None:
        return ReportScope(actor=user, municipalities=visible, all_visible=True)
    if municipality.pk not in {m.pk for m in visible}:
        raise Http404
    return ReportScope(actor=user, municipalities=(municipality,))


def system_scope(municipalities) -> ReportScope:
    return ReportScope(actor=SYSTEM, municipalities=tuple(municipalities))


# --- The report ------------------------------------------------------------------------------


@dataclass
class Figures:
    """The summary figures of one municipality (or the total, ``municipality=None``)."""

    municipality: Organisation | None = None
    contracts: int = 0
    with_obligation: int = 0
    exempted: int = 0
    without_obligation: int = 0
    above_threshold_without_obligation: int = 0
    required: Decimal = ZERO
    reported: Decimal = ZERO
    realised: Decimal = ZERO
    settled_count: int = 0
    settled: Decimal = ZERO
    fines_count: int = 0
    fines: Decimal = ZERO
    buy_outs_count: int = 0
    buy_outs: Decimal = ZERO
    people_placed: int = 0
    contribution_rows: int = 0

    @property
    def name(self) -> str:
        return self.municipality.name if self.municipality is not None else _("Total")

    @property
    def fulfilment(self) -> Decimal | None:
        return fulfilment(self.realised, self.required)

    ADDITIVE = (
        "contracts",
        "with_obligation",
        "exempted",
        "without_obligation",
        "above_threshold_without_obligation",
        "required",
        "reported",
        "realised",
        "settled_count",
        "settled",
        "fines_count",
        "fines",
        "buy_outs_count",
        "buy_outs",
        "contribution_rows",
    )


@dataclass
class PeopleRow:
    target_group: str
    label: str
    counts: list[int]
    total: int


@dataclass
class PeopleTable:
    """Distinct candidates with an approved contribution, per target group and block."""

    blocks: list[tuple[str, str]]
    rows: list[PeopleRow]
    block_totals: list[int]
    total: int


@dataclass
class DecisionLine:
    decision: str
    label: str
    count: int
    amount: Decimal


@dataclass
class Report:
    scope: ReportScope
    period: Period
    as_of: date
    generated_at: datetime
    municipalities: list[Figures]
    total: Figures
    people: PeopleTable
    decisions: list[DecisionLine]
    # Monitoring (flags) is not built yet: "not yet available", never a misleading zero.
    open_flags: int | None = None

    @property
    def filename_stem(self) -> str:
        return f"sroi-rapportage-{self.scope.slug}-{self.period.label}"


def end_of_day(day: date) -> datetime:
    """The first moment after ``day`` in the project's time zone (timestamps ``<`` it count)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _period_filter(period: Period, as_of: date, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}award_date__lte": period.clipped_end(as_of)})
    if period.start is not None:
        q &= Q(**{f"{prefix}award_date__gte": period.start})
    return q


def _contracts(scope: ReportScope, period: Period, as_of: date) -> QuerySet[Contract]:
    return permissions.contracts_visible_to(scope.actor, action=Action.EXPORT_REPORT).filter(
        _period_filter(period, as_of), municipality_id__in=scope.ids
    )


def _contributions(scope: ReportScope, period: Period, as_of: date) -> QuerySet[Contribution]:
    return permissions.contributions_visible_to(scope.actor, action=Action.EXPORT_REPORT).filter(
        _period_filter(period, as_of, "obligation__contract__"),
        obligation__contract__municipality_id__in=scope.ids,
        submitted_at__lt=end_of_day(as_of),
    )


def _decided_by(as_of: date, prefix: str = "") -> Q:
    """Reviewed on or before the as-of day (an approval without a review date counts from its
    submission, which is already required to be before the end of the day)."""
    return Q(**{f"{prefix}reviewed_at__lt": end_of_day(as_of)}) | Q(
        **{f"{prefix}reviewed_at__isnull": True}
    )


def realised_q(as_of: date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": APPROVED}) & _decided_by(as_of, prefix)


def reported_q(as_of: date, prefix: str = "") -> Q:
    """Submitted and not rejected (as of the day). The submission date is filtered already."""
    return ~(Q(**{f"{prefix}status": REJECTED}) & _decided_by(as_of, prefix))


def _final_settlements(as_of: date) -> QuerySet[Settlement]:
    return Settlement.objects.filter(decision__in=FINAL_DECISIONS, decided_at__lt=end_of_day(as_of))


def build_report(*, scope: ReportScope, period: Period, as_of: date) -> Report:
    """Every summary figure of the report, in a fixed number of queries."""
    by_id = {m.pk: Figures(municipality=m) for m in scope.municipalities}
    contracts = _contracts(scope, period, as_of)

    # 1. Contracts, obligations and settled obligations per municipality.
    settled = Exists(_final_settlements(as_of).filter(obligation__contract=OuterRef("pk")))
    rows = (
        contracts.annotate(is_settled=settled)
        .order_by()
        .values("municipality_id")
        .annotate(
            n=Count("pk"),
            with_obligation=Count(
                "pk", filter=Q(obligation__isnull=False) & ~Q(obligation__deviation=EXEMPTION)
            ),
            exempted=Count("pk", filter=Q(obligation__deviation=EXEMPTION)),
            without_obligation=Count("pk", filter=Q(obligation__isnull=True)),
            required=Sum("obligation__amount"),
            settled_count=Count("pk", filter=Q(is_settled=True)),
            settled=Sum("obligation__amount", filter=Q(is_settled=True)),
        )
    )
    for row in rows:
        fig = by_id[row["municipality_id"]]
        fig.contracts = row["n"]
        fig.with_obligation = row["with_obligation"]
        fig.exempted = row["exempted"]
        fig.without_obligation = row["without_obligation"]
        fig.required = money(row["required"])
        fig.settled_count = row["settled_count"]
        fig.settled = money(row["settled"])

    # 2. Findings: above the threshold without an obligation (the contracts app's definition).
    findings = (
        contract_selectors.contracts_above_threshold_without_obligation(user=scope.actor)
        .filter(_period_filter(period, as_of), municipality_id__in=scope.ids)
        .order_by()
        .values("municipality_id")
        .annotate(n=Count("pk"))
    )
    for row in findings:
        by_id[row["municipality_id"]].above_threshold_without_obligation = row["n"]

    # 3. Reported and realised value, people placed, rows of the contribution table.
    contributions = _contributions(scope, period, as_of)
    realised = realised_q(as_of)
    rows = (
        contributions.order_by()
        .values(municipality_id=F("obligation__contract__municipality_id"))
        .annotate(
            n=Count("pk"),
            reported=Sum("value", filter=reported_q(as_of)),
            realised=Sum("value", filter=realised),
            people=Count("candidate", distinct=True, filter=realised),
        )
    )
    for row in rows:
        fig = by_id[row["municipality_id"]]
        fig.contribution_rows = row["n"]
        fig.reported = money(row["reported"])
        fig.realised = money(row["realised"])
        fig.people_placed = row["people"]

    # 4. Settlement decisions (fines, buy-outs, ...) per municipality and decision.
    decisions: dict[str, DecisionLine] = {
        value: DecisionLine(value, str(label), 0, ZERO)
        for value, label in Settlement.Decision.choices
    }
    rows = (
        permissions.settlements_visible_to(scope.actor)
        .filter(
            _period_filter(period, as_of, "obligation__contract__"),
            obligation__contract__municipality_id__in=scope.ids,
            decided_at__lt=end_of_day(as_of),
        )
        .order_by()
        .values("decision", municipality_id=F("obligation__contract__municipality_id"))
        .annotate(n=Count("pk"), amount=Sum("amount"))
    )
    for row in rows:
        fig, amount = by_id[row["municipality_id"]], money(row["amount"])
        line = decisions[row["decision"]]
        line.count += row["n"]
        line.amount += amount
        if row["decision"] == Settlement.Decision.FINE:
            fig.fines_count, fig.fines = fig.fines_count + row["n"], fig.fines + amount
        elif row["decision"] == Settlement.Decision.BUY_OUT:
            fig.buy_outs_count, fig.buy_outs = fig.buy_outs_count + row["n"], fig.buy_outs + amount

    # 5. People placed per target group and block (distinct candidates; four small queries).
    people = _people_table(contributions.filter(realised, candidate__isnull=False))

    municipalities = [by_id[m.pk] for m in scope.municipalities]
    total = Figures()
    for name in Figures.ADDITIVE:
        setattr(total, name, sum((getattr(f, name) for f in municipalities), getattr(total, name)))
    total.people_placed = people.total
    return Report(
        scope=scope,
        period=period,
        as_of=as_of,
        generated_at=timezone.now(),
        municipalities=municipalities,
        total=total,
        people=people,
        decisions=list(decisions.values()),
    )


def _people_table(placed: QuerySet[Contribution]) -> PeopleTable:
    placed = placed.order_by()
    cells = {
        (row["candidate__target_group"] or "", row["block"]): row["n"]
        for row in placed.values("candidate__target_group", "block").annotate(
            n=Count("candidate", distinct=True)
        )
    }
    by_group = {
        row["candidate__target_group"] or "": row["n"]
        for row in placed.values("candidate__target_group").annotate(
            n=Count("candidate", distinct=True)
        )
    }
    by_block = {
        row["block"]: row["n"]
        for row in placed.values("block").annotate(n=Count("candidate", distinct=True))
    }
    total = placed.aggregate(n=Count("candidate", distinct=True))["n"] or 0
    blocks = [(value, str(label)) for value, label in Block.choices]
    groups = [(value, str(label)) for value, label in TargetGroup.choices]
    groups.append(("", _("Unknown or anonymised")))
    rows = [
        PeopleRow(
            target_group=value,
            label=label,
            counts=[cells.get((value, block), 0) for block, _label in blocks],
            total=by_group.get(value, 0),
        )
        for value, label in groups
        if by_group.get(value)
    ]
    return PeopleTable(
        blocks=blocks,
        rows=rows,
        block_totals=[by_block.get(block, 0) for block, _label in blocks],
        total=total,
    )


# --- Row tables (streamed) -------------------------------------------------------------------


CONTRACT_FIELDS = (
    "reference",
    "title",
    "award_date",
    "end_date",
    "value_excl_vat",
    "municipality__name",
    "contractor__name",
    "obligation__amount",
    "obligation__deviation",
    "obligation__deadline",
)


def contract_rows(report: Report) -> QuerySet[Contract]:
    """One row per contract of the report, with its obligation, reported and realised value
    and final settlement as of the report date. One query; stream it with ``.iterator()``."""
    scope, period, as_of = report.scope, report.period, report.as_of
    final = _final_settlements(as_of).filter(obligation__contract=OuterRef("pk"))
    finding = contract_selectors.contracts_above_threshold_without_obligation(
        user=scope.actor
    ).filter(pk=OuterRef("pk"))
    contribution_filter = Q(obligation__contributions__submitted_at__lt=end_of_day(as_of))
    return (
        _contracts(scope, period, as_of)
        .select_related("municipality", "contractor", "obligation")
        .only(*CONTRACT_FIELDS)
        .annotate(
            reported=Sum(
                "obligation__contributions__value",
                filter=contribution_filter & reported_q(as_of, "obligation__contributions__"),
                output_field=MONEY,
            ),
            realised=Sum(
                "obligation__contributions__value",
                filter=contribution_filter & realised_q(as_of, "obligation__contributions__"),
                output_field=MONEY,
            ),
            settlement_decision=Subquery(final.order_by("-decided_at").values("decision")[:1]),
            settlement_amount=Subquery(final.order_by("-decided_at").values("amount")[:1]),
            above_threshold_without_obligation=Exists(finding),
        )
        .order_by("municipality__name", "award_date", "reference", "pk")
    )


@dataclass
class ContractLine:
    """One row of the per-contract table, the same on screen and in the exports."""

    contract: Contract
    obligation: str  # "yes", "exempted" or "no"
    above_threshold_without_obligation: bool
    required: Decimal | None
    reported: Decimal | None
    realised: Decimal | None
    deadline: date | None
    decision: str
    decision_amount: Decimal | None

    @property
    def fulfilment(self) -> Decimal | None:
        return fulfilment(self.realised, self.required) if self.required else None


def contract_line(contract: Contract) -> ContractLine:
    """Wrap a row of :func:`contract_rows`."""
    obligation = getattr(contract, "obligation", None)
    decision = contract.settlement_decision or ""
    if obligation is None:
        return ContractLine(
            contract,
            "no",
            contract.above_threshold_without_obligation,
            None,
            None,
            None,
            None,
            decision,
            None,
        )
    return ContractLine(
        contract=contract,
        obligation="exempted" if obligation.deviation == EXEMPTION else "yes",
        above_threshold_without_obligation=False,
        required=money(obligation.amount),
        reported=money(contract.reported),
        realised=money(contract.realised),
        deadline=obligation.deadline,
        decision=decision,
        decision_amount=money(contract.settlement_amount) if decision else None,
    )


CONTRIBUTION_COLUMNS = (
    "municipality_name",
    "contract_reference",
    "contractor_name",
    "candidate_code",
    "block",
    "rule_code",
    "delivered_by",
    "start_date",
    "end_date",
    "submitted_at",
    "status_as_of",
    "value",
)


def contribution_rows(report: Report) -> QuerySet:
    """One tuple per contribution (``CONTRIBUTION_COLUMNS``), pseudonymous: the candidate's
    code only; never initials, birth year, target group, descriptions or value explanations
    (they may hold personal details). One query; stream it with ``.iterator()``."""
    as_of = report.as_of
    undecided_then = Q(status__in=[APPROVED, REJECTED, Contribution.Status.RETURNED]) & Q(
        reviewed_at__gte=end_of_day(as_of)
    )
    return (
        _contributions(report.scope, report.period, as_of)
        .annotate(
            municipality_name=F("obligation__contract__municipality__name"),
            contract_reference=F("obligation__contract__reference"),
            contractor_name=F("obligation__contract__contractor__name"),
            candidate_code=F("candidate__code"),
            status_as_of=Case(
                When(undecided_then, then=Value(SUBMITTED)),
                default=F("status"),
                output_field=CharField(),
            ),
        )
        .order_by(
            "obligation__contract__municipality__name",
            "obligation__contract__award_date",
            "obligation__contract__reference",
            "start_date",
            "pk",
        )
        .values_list(*CONTRIBUTION_COLUMNS)
    )


# --- Admin scoping ---------------------------------------------------------------------------


def schedules_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    qs = ReportSchedule.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    return qs.filter(municipality_id__in=scope.municipalities_for(action))


def deliveries_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    qs = ReportDelivery.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    return qs.filter(schedule__municipality_id__in=scope.municipalities_for(action))


def export_logs_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    """Log entries about the user's municipalities only: an entry that also covers a
    municipality outside their scope is not shown."""
    qs = ExportLog.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    ids = scope.municipalities_for(action)
    through = ExportLog.municipalities.through.objects
    return qs.filter(pk__in=through.filter(organisation_id__in=ids).values("exportlog_id")).exclude(
        pk__in=through.exclude(organisation_id__in=ids).values("exportlog_id")
    )
