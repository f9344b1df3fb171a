"""The monitoring job: flags lagging, overdue and irregular obligations and contracts.

``run_monitoring`` is set-based: per flag kind ONE query selects every contract/obligation that
currently meets the condition (annotations and subqueries, no Python loop over obligations),
one query reads that kind's open flags, then

* the missing flags are created with one ``bulk_create``,
* flags whose condition has cleared are resolved (``resolved_at``) with one ``update``,
* every flag still met gets ``last_seen`` in one ``update`` (and, only where they changed, new
  details/municipality in a batched ``bulk_update``).

``first_seen`` is never touched. Running it twice the same day changes nothing but
``last_seen``. The database allows at most one open flag per (contract, kind); two overlapping
runs are serialised per kind by a PostgreSQL advisory transaction lock (SQLite serialises
writers itself), and a unique-constraint clash is retried once.

Thresholds: ``settings.SROI_MONITORING`` (README, "Monitoring"). A threshold of N days means the
flag appears ON the N-th day (e.g. ``NO_PLAN_DAYS=30`` and award 1 March: flagged from 31 March).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Trim
from django.utils import timezone

from contracts.models import Contract, Obligation, SroiPolicy
from placements.models import Contribution, PlanOfApproach
from sroi.permissions import Action, get_scope

from .models import Flag, FlagKind, FlagSeverity

logger = logging.getLogger(__name__)

MONEY = DecimalField(max_digits=14, decimal_places=2)
BIG = DecimalField(max_digits=30, decimal_places=4)
UPDATE_BATCH = 500

#: Severity of each kind (fixed: the dashboard orders by it).
SEVERITY: dict[str, int] = {
    FlagKind.NO_APPROVED_PLAN: FlagSeverity.WARNING,
    FlagKind.BEHIND_SCHEDULE: FlagSeverity.WARNING,
    FlagKind.NO_RECENT_REPORT: FlagSeverity.INFO,
    FlagKind.DEADLINE_NEAR: FlagSeverity.WARNING,
    FlagKind.OVERDUE: FlagSeverity.CRITICAL,
    FlagKind.VERIFICATION_WAITING: FlagSeverity.INFO,
    FlagKind.MISSING_OBLIGATION: FlagSeverity.CRITICAL,
    FlagKind.UNEXPLAINED_DEVIATION: FlagSeverity.WARNING,
}

DEFAULTS = {
    "NO_PLAN_DAYS": 30,
    "BEHIND_TOLERANCE_PERCENT": 10,
    "BEHIND_MIN_ELAPSED_PERCENT": 25,
    "NO_REPORT_DAYS": 90,
    "DEADLINE_NEAR_DAYS": 60,
    "VERIFICATION_WAITING_DAYS": 14,
}


def config() -> dict:
    return {**DEFAULTS, **getattr(settings, "SROI_MONITORING", {})}


# --- Result ----------------------------------------------------------------------------------


@dataclass
class KindCounts:
    open: int = 0  # conditions met now (= open flags of the kind after the run)
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0


@dataclass
class MonitoringResult:
    today: date
    kinds: dict[str, KindCounts] = field(default_factory=dict)

    @property
    def opened(self) -> int:
        return sum(c.opened for c in self.kinds.values())

    @property
    def refreshed(self) -> int:
        return sum(c.refreshed for c in self.kinds.values())

    @property
    def resolved(self) -> int:
        return sum(c.resolved for c in self.kinds.values())

    @property
    def open(self) -> int:
        return sum(c.open for c in self.kinds.values())


# --- SQL helpers -----------------------------------------------------------------------------


class DaysBetween(Func):
    """Whole calendar days from ``start`` to ``end`` (``end - start``) as an integer."""

    output_field = IntegerField()

    def __init__(self, end, start):
        super().__init__(end, start)

    def as_sql(self, compiler, connection, **extra):
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"({end} - {start})", [*end_params, *start_params]

    def as_sqlite(self, compiler, connection, **extra):
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return (
            f"CAST(ROUND(julianday({end}) - julianday({start})) AS INTEGER)",
            [*end_params, *start_params],
        )


def _date(value: date):
    return Cast(Value(value), output_field=DateField())


def _realised():
    """The approved value of the obligation (OuterRef ``pk``), 0 without any."""
    approved = (
        Contribution.objects.filter(obligation=OuterRef("pk"), status="approved")
        .order_by()
        .values("obligation")
        .annotate(total=Sum("value"))
        .values("total")
    )
    return Coalesce(Subquery(approved, output_field=MONEY), Value(Decimal("0")), output_field=MONEY)


def _start_of_day_after(day: date) -> datetime:
    """The first instant after the local ``day`` (``submitted_at < this`` ⇔ date ≤ day)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _open_obligations() -> QuerySet[Obligation]:
    return Obligation.objects.filter(status=Obligation.Status.OPEN)


ROW = ("contract_id", "obligation_id", "municipality_id")


def _obligation_rows(qs: QuerySet[Obligation], *detail_fields: str) -> QuerySet:
    return qs.annotate(
        obligation_id=F("pk"), municipality_id=F("contract__municipality_id")
    ).values(*ROW, *detail_fields)


# --- The conditions: one query each ----------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def no_approved_plan(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    days = cfg["NO_PLAN_DAYS"]
    approved = PlanOfApproach.objects.filter(obligation=OuterRef("pk"), status="approved")
    qs = _open_obligations().filter(
        ~Exists(approved), contract__award_date__lte=today - timedelta(days=days)
    )
    qs = _obligation_rows(qs, "contract__award_date")

    def details(row):
        award = row["contract__award_date"]
        return {"award_date": _iso(award), "due": _iso(award + timedelta(days=days))}

    return qs, details


def behind_schedule(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    tolerance = int(cfg["BEHIND_TOLERANCE_PERCENT"])
    minimum = int(cfg["BEHIND_MIN_ELAPSED_PERCENT"])
    qs = (
        _open_obligations()
        .filter(amount__gt=0, window_start__lte=today, deadline__gte=today)
        .annotate(
            window_days=DaysBetween(F("deadline"), F("window_start")),
            elapsed_days=DaysBetween(_date(today), F("window_start")),
            realised_now=_realised(),
        )
        .filter(window_days__gt=0)
        # elapsed share ≥ minimum:  elapsed * 100 ≥ minimum * window
        .filter(elapsed_days__gte=ExpressionWrapper(F("window_days") * minimum / 100.0, BIG))
        # realised / amount < elapsed / window − tolerance / 100, without division:
        # realised * window * 100 < amount * (elapsed * 100 − tolerance * window)
        .alias(
            lhs=ExpressionWrapper(F("realised_now") * F("window_days") * 100, BIG),
            rhs=ExpressionWrapper(
                F("amount") * (F("elapsed_days") * 100 - F("window_days") * tolerance), BIG
            ),
        )
        .filter(lhs__lt=F("rhs"))
    )
    qs = _obligation_rows(qs, "amount", "realised_now", "window_days", "elapsed_days")

    def details(row):
        amount = Decimal(str(row["amount"]))
        realised = Decimal(str(row["realised_now"] or 0))
        return {
            "required": _money(amount),
            "realised": _money(realised),
            "realised_percent": int(realised * 100 / amount),
            "elapsed_percent": int(row["elapsed_days"] * 100 / row["window_days"]),
            "tolerance_percent": tolerance,
        }

    return qs, details


def no_recent_report(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    days = cfg["NO_REPORT_DAYS"]
    cutoff = today - timedelta(days=days)
    recent = Contribution.objects.filter(
        obligation=OuterRef("pk"), submitted_at__gte=_start_of_day_after(cutoff)
    )
    last = (
        Contribution.objects.filter(obligation=OuterRef("pk"))
        .order_by()
        .values("obligation")
        .annotate(last=Max("submitted_at"))
        .values("last")
    )
    qs = (
        _open_obligations()
        .filter(
            window_start__lte=cutoff,
            contract__start_date__lte=today,
            deadline__gte=today,
        )
        .filter(~Exists(recent))
        .annotate(last_report=Subquery(last))
    )
    qs = _obligation_rows(qs, "last_report", "window_start")

    def details(row):
        last_report = row["last_report"]
        since = timezone.localdate(last_report) if last_report else row["window_start"]
        return {"last_report": _iso(since) if last_report else None, "since": _iso(since)}

    return qs, details


def deadline_near(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    days = cfg["DEADLINE_NEAR_DAYS"]
    qs = (
        _open_obligations()
        .filter(deadline__gte=today, deadline__lte=today + timedelta(days=days))
        .annotate(realised_now=_realised())
        .filter(realised_now__lt=F("amount"))
    )
    qs = _obligation_rows(qs, "deadline", "amount", "realised_now")

    def details(row):
        return {
            "deadline": _iso(row["deadline"]),
            "required": _money(row["amount"]),
            "realised": _money(row["realised_now"]),
        }

    return qs, details


def overdue(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    qs = (
        _open_obligations()
        .filter(deadline__lt=today)
        .annotate(realised_now=_realised())
        .filter(realised_now__lt=F("amount"))
    )
    qs = _obligation_rows(qs, "deadline", "amount", "realised_now")

    def details(row):
        return {
            "deadline": _iso(row["deadline"]),
            "required": _money(row["amount"]),
            "realised": _money(row["realised_now"]),
        }

    return qs, details


def verification_waiting(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    days = cfg["VERIFICATION_WAITING_DAYS"]
    cutoff = _start_of_day_after(today - timedelta(days=days))
    qs = (
        Contribution.objects.filter(
            status="submitted",
            submitted_at__lt=cutoff,
            obligation__status=Obligation.Status.OPEN,
        )
        .order_by()
        .values("obligation_id")
        .annotate(
            contract_id=F("obligation__contract_id"),
            municipality_id=F("obligation__contract__municipality_id"),
            waiting=Count("pk"),
            oldest=Min("submitted_at"),
        )
        .values(*ROW, "waiting", "oldest")
    )

    def details(row):
        return {"waiting": row["waiting"], "oldest": _iso(timezone.localdate(row["oldest"]))}

    return qs, details


def policy_threshold():
    """The threshold of the latest policy valid on the contract's award date (OuterRef)."""
    return Subquery(
        SroiPolicy.objects.filter(
            municipality_id=OuterRef("municipality_id"), valid_from__lte=OuterRef("award_date")
        )
        .order_by("-valid_from")
        .values("threshold")[:1]
    )


def missing_obligation(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    """The SQL of ``contracts.selectors.contracts_above_threshold_without_obligation``,
    unscoped (the job sees every municipality)."""
    qs = (
        Contract.objects.annotate(policy_threshold=policy_threshold())
        .filter(obligation__isnull=True, value_excl_vat__gte=F("policy_threshold"))
        .annotate(contract_id=F("pk"), obligation_id=Value(None, IntegerField()))
        .values(*ROW, "value_excl_vat", "policy_threshold")
    )

    def details(row):
        return {
            "value": _money(row["value_excl_vat"]),
            "threshold": _money(row["policy_threshold"]),
        }

    return qs, details


def unexplained_deviation(today: date, cfg: dict) -> tuple[QuerySet, callable]:
    """A deviation whose reason is blank, or a reduced percentage whose precondition (labour
    share below the policy's limit) is not shown by the recorded labour cost."""
    reduced = Obligation.Deviation.REDUCED_PERCENTAGE
    qs = (
        _open_obligations()
        .exclude(deviation="")
        .annotate(reason_trimmed=Trim("deviation_reason"))
        .filter(
            Q(reason_trimmed="")
            | Q(deviation=reduced, contract__labour_cost__isnull=True)
            | Q(
                deviation=reduced,
                policy__reduced_labour_share_below__isnull=False,
                contract__value_excl_vat__gt=0,
                contract__labour_cost__gte=ExpressionWrapper(
                    F("contract__value_excl_vat") * F("policy__reduced_labour_share_below") / 100,
                    BIG,
                ),
            )
        )
    )
    qs = _obligation_rows(qs, "deviation", "reason_trimmed", "contract__labour_cost")

    def details(row):
        if not row["reason_trimmed"]:
            problem = "no_reason"
        elif row["contract__labour_cost"] is None:
            problem = "labour_share_unknown"
        else:
            problem = "labour_share_too_high"
        return {"deviation": row["deviation"], "problem": problem}

    return qs, details


CONDITIONS = {
    FlagKind.NO_APPROVED_PLAN: no_approved_plan,
    FlagKind.BEHIND_SCHEDULE: behind_schedule,
    FlagKind.NO_RECENT_REPORT: no_recent_report,
    FlagKind.DEADLINE_NEAR: deadline_near,
    FlagKind.OVERDUE: overdue,
    FlagKind.VERIFICATION_WAITING: verification_waiting,
    FlagKind.MISSING_OBLIGATION: missing_obligation,
    FlagKind.UNEXPLAINED_DEVIATION: unexplained_deviation,
}


# --- The job ---------------------------------------------------------------------------------


def _lock(kind: str) -> None:
    """Serialise overlapping runs per kind until the transaction ends (PostgreSQL); SQLite
    allows one writer at a time anyway."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"sroi.monitoring.{kind}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _chunks(items: list, size: int = UPDATE_BATCH):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _run_kind(kind: str, today: date, cfg: dict) -> KindCounts:
    now = timezone.now()
    severity = SEVERITY[kind]
    with transaction.atomic():
        _lock(kind)
        qs, details_of = CONDITIONS[kind](today, cfg)
        met = {}
        for row in qs:
            met[row["contract_id"]] = row
        existing = {
            flag.contract_id: flag
            for flag in Flag.objects.filter(kind=kind, resolved_at__isnull=True).only(
                "pk", "contract_id", "obligation_id", "municipality_id", "details", "severity"
            )
        }
        counts = KindCounts(open=len(met))

        # Resolve the flags whose condition has cleared.
        cleared = [flag.pk for cid, flag in existing.items() if cid not in met]
        for ids in _chunks(cleared):
            counts.resolved += Flag.objects.filter(pk__in=ids, resolved_at__isnull=True).update(
                resolved_at=now
            )

        # Refresh the ones still met: last_seen for all of them in one statement; details
        # and the like only where they changed.
        changed = []
        for cid, flag in existing.items():
            row = met.get(cid)
            if row is None:
                continue
            new = (details_of(row), severity, row["municipality_id"], row["obligation_id"])
            if new != (flag.details, flag.severity, flag.municipality_id, flag.obligation_id):
                flag.details, flag.severity, flag.municipality_id, flag.obligation_id = new
                changed.append(flag)
        if existing:
            counts.refreshed = Flag.objects.filter(kind=kind, resolved_at__isnull=True).update(
                last_seen=now
            )
        if changed:
            Flag.objects.bulk_update(
                changed,
                ["details", "severity", "municipality", "obligation"],
                batch_size=UPDATE_BATCH,
            )

        # Open the new ones.
        new_flags = [
            Flag(
                kind=kind,
                severity=severity,
                municipality_id=row["municipality_id"],
                contract_id=cid,
                obligation_id=row["obligation_id"],
                details=details_of(row),
                first_seen=now,
                last_seen=now,
            )
            for cid, row in met.items()
            if cid not in existing
        ]
        if new_flags:
            Flag.objects.bulk_create(new_flags, batch_size=2000)
        counts.opened = len(new_flags)
    return counts


def run_monitoring(*, today: date | None = None) -> MonitoringResult:
    """Run every flag kind once (see the module docstring). Idempotent; safe to overlap."""
    today = today or timezone.localdate()
    cfg = config()
    result = MonitoringResult(today=today)
    for kind in CONDITIONS:
        try:
            result.kinds[kind] = _run_kind(kind, today, cfg)
        except IntegrityError:
            # Another run opened the same flag between our read and our insert: its flags are
            # committed now, so one more pass only refreshes them.
            logger.info("Monitoring: %s clashed with an overlapping run; retrying once.", kind)
            result.kinds[kind] = _run_kind(kind, today, cfg)
    logger.info(
        "Monitoring %s: %d open, %d opened, %d resolved.",
        today.isoformat(),
        result.open,
        result.opened,
        result.resolved,
    )
    return result


def open_flags_visible_to(user, qs: QuerySet | None = None) -> QuerySet[Flag]:
    """Open flags of the municipalities the user may view; all for superusers; none for
    contractors and users without a scope."""
    qs = (qs if qs is not None else Flag.objects.all()).filter(resolved_at__isnull=True)
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    municipalities = scope.municipalities_for(Action.VIEW)
    if not municipalities:
        return qs.none()
    return qs.filter(municipality_id__in=municipalities)
