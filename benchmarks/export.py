"""Export benchmark: the council report workbook for N contributions (default 500,000).

Seeds one municipality ("Benchstad") in the throwaway database ``sroi_bench`` with N
contributions over N/250 contracts awarded 2016-2025 (seeding is skipped when the database
already holds exactly that), then measures, each in a fresh child process:

* the export (``reporting.exports.write_workbook``: summary queries, streamed row queries,
  write-only workbook into a spooled temporary file) for all years, and for 2025 only (about a
  tenth of the rows), to show that memory does not grow with the number of rows;
* openpyxl alone in write-only mode writing the same number of rows and columns of plain
  values (no queries, no styles).

Printed per run: rows, seconds, peak resident memory (``resource.getrusage`` ru_maxrss) and
its growth over the process after start-up, and the workbook size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

from . import setup_django

MUNICIPALITY = "Benchstad"
CONTRIBUTIONS_PER_CONTRACT = 250
BATCH = 5000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only export", add_help=False)
    parser.add_argument(
        "--contributions",
        type=int,
        default=500_000,
        help="number of contributions to seed and export (default 500,000)",
    )
    parser.add_argument("--reseed", action="store_true", help="seed again even if present")
    parser.add_argument("--measure", choices=["export", "openpyxl"], help=argparse.SUPPRESS)
    parser.add_argument("--period", choices=["all", "2025"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> None:
    if "--help" in argv or "-h" in argv:
        _parser().print_help()
        return
    args, _unknown = _parser().parse_known_args(argv)
    if args.measure:
        _child(args)
        return
    if args.contributions < CONTRIBUTIONS_PER_CONTRACT:
        raise SystemExit(f"--contributions must be at least {CONTRIBUTIONS_PER_CONTRACT}.")
    setup_django()
    from django.db import connection

    print(f"Export benchmark on PostgreSQL database {connection.settings_dict['NAME']!r}")
    _seed(args.contributions, args.reseed)
    results = []
    for period in ("all", "2025"):
        export = _run_child(["--measure", "export", "--period", period])
        alone = _run_child(["--measure", "openpyxl", "--rows", str(export["rows"])])
        results.append((period, export, alone))
    _print(results)


# --- Seeding ---------------------------------------------------------------------------------


def _seed(n: int, reseed: bool) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from contracts.models import Contract, Contractor, Obligation, SroiPolicy
    from placements.models import Candidate, Contribution
    from sroi.models import Organisation

    existing = Contribution.objects.filter(
        obligation__contract__municipality__name=MUNICIPALITY
    ).count()
    if existing == n and not reseed:
        print(f"Using the {n:,} contributions already seeded.")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contracts_contractor, contracts_sroipolicy, reporting_exportlog, "
            "reporting_reportschedule CASCADE"
        )
    municipality, _ = Organisation.objects.get_or_create(
        name=MUNICIPALITY, defaults={"kind": Organisation.Kind.MUNICIPALITY}
    )
    policy = SroiPolicy.objects.create(
        municipality=municipality,
        valid_from=date(2010, 1, 1),
        threshold=Decimal("100000.00"),
        default_percentage=Decimal("5.00"),
    )
    contractors = Contractor.objects.bulk_create(
        Contractor(name=f"Bench-aannemer {i:03d} B.V.", kvk_number=f"{90000000 + i:08d}")
        for i in range(40)
    )
    n_contracts = n // CONTRIBUTIONS_PER_CONTRACT
    first, days = date(2016, 1, 1), (date(2025, 12, 31) - date(2016, 1, 1)).days
    with transaction.atomic():
        contracts = Contract.objects.bulk_create(
            (
                Contract(
                    municipality=municipality,
                    reference=f"BENCH-{i:06d}",
                    title=f"Onderhoud openbare ruimte, perceel {i}",
                    contractor=contractors[i % len(contractors)],
                    kind=Contract.Kind.WORKS,
                    value_excl_vat=Decimal("100000.00") + i * 1000,
                    award_date=(award := first + timedelta(days=i * days // n_contracts)),
                    start_date=award,
                    end_date=award + timedelta(days=700),
                )
                for i in range(n_contracts)
            ),
            batch_size=BATCH,
        )
        obligations = Obligation.objects.bulk_create(
            (
                Obligation(
                    contract=c,
                    policy=policy,
                    base="contract_value",
                    base_amount=c.value_excl_vat,
                    percentage=Decimal("5.00"),
                    amount=(c.value_excl_vat * Decimal("0.05")).quantize(Decimal("0.01")),
                    window_start=c.award_date,
                    deadline=c.end_date + timedelta(days=90),
                )
                for c in contracts
            ),
            batch_size=BATCH,
        )
    groups = ["participatiewet", "ww", "wia", "wajong", "banenafspraak", "nug", "statushouder"]
    n_candidates = max(1, n // 5)
    candidate_ids: list[int] = []
    for start in range(0, n_candidates, BATCH):
        batch = Candidate.objects.bulk_create(
            Candidate(
                contractor=contractors[i % len(contractors)],
                code=f"B-{i:08d}",
                initials="X.Y.",
                birth_year=1960 + i % 45,
                target_group=groups[i % len(groups)],
            )
            for i in range(start, min(start + BATCH, n_candidates))
        )
        candidate_ids.extend(c.pk for c in batch)
    blocks = ["job", "work_experience", "internship", "bbl", "social_purchase"]
    statuses = ["approved"] * 11 + ["submitted"] * 4 + ["rejected"] * 3 + ["returned"] * 2
    reviewed = timezone.now()
    for start in range(0, n, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, n)):
            block, status = blocks[i % len(blocks)], statuses[i % len(statuses)]
            obligation = obligations[i % len(obligations)]
            rows.append(
                Contribution(
                    obligation_id=obligation.pk,
                    block=block,
                    candidate_id=None
                    if block == "social_purchase"
                    else candidate_ids[i % n_candidates],
                    start_date=obligation.window_start + timedelta(days=i % 300),
                    end_date=obligation.window_start + timedelta(days=300 + i % 300),
                    hours_per_week=Decimal("24"),
                    rule_code=f"{block}-rule",
                    value=Decimal(1000 + i % 9000) + Decimal("0.50"),
                    status=status,
                    status_reason="Onvoldoende bewijs"
                    if status in ("rejected", "returned")
                    else "",
                    reviewed_at=None if status == "submitted" else reviewed,
                )
            )
        Contribution.objects.bulk_create(rows)
        if (start // BATCH) % 20 == 0:
            print(f"  seeded {start + len(rows):,} / {n:,} contributions", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"Seeded {n:,} contributions in {time.perf_counter() - started:.0f} s.")


# --- Measuring (in a fresh child process each) -----------------------------------------------


def _run_child(extra: list[str]) -> dict:
    """Run one measurement in a new interpreter so its peak memory is its own."""
    command = [sys.executable, "-m", "benchmarks.export", *extra]
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        command, capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"Benchmark child failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mb() -> float:
    """The current resident memory (Linux); the peak so far elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return _maxrss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


class _RssSampler(threading.Thread):
    """Samples the resident memory every 50 ms while the measured code runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, _rss_mb())


def _child(args) -> None:
    from tempfile import SpooledTemporaryFile

    setup_django(migrate=False)  # the parent migrated; keep the child's start-up small
    from django.conf import settings
    from django.utils import timezone
    from openpyxl import Workbook

    from reporting import exports, periods, selectors
    from sroi.models import Organisation

    baseline = _rss_mb()
    sampler = _RssSampler()
    sampler.start()
    started = time.perf_counter()
    with SpooledTemporaryFile(max_size=settings.REPORT_SPOOL_MAX_BYTES) as spool:
        if args.measure == "export":
            today = timezone.localdate()
            period = (
                periods.all_period(today) if args.period == "all" else periods.year_period(2025)
            )
            report = selectors.build_report(
                scope=selectors.system_scope([Organisation.objects.get(name=MUNICIPALITY)]),
                period=period,
                as_of=today,
            )
            exports.write_workbook(report, spool)
            rows = report.total.contribution_rows + report.total.contracts
        else:
            rows = args.rows
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("Rows")
            value = [
                "Benchstad",
                "BENCH-000001",
                "Bench-aannemer 001 B.V.",
                "B-00000001",
                "Baan",
                "job-rule",
                "",
                date(2026, 1, 1),
                date(2026, 12, 31),
                date(2026, 11, 26),
                "Goedgekeurd",
                Decimal("1234.50"),
                Decimal("1234.50"),
                Decimal("1234.50"),
            ]
            for _ in range(rows):
                ws.append(value)
            wb.save(spool)
        size = spool.tell()
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "before_mb": baseline,
                "peak_mb": peak,
                "growth_mb": peak - baseline,
                "maxrss_mb": _maxrss_mb(),
                "size_mb": size / 1024 / 1024,
            }
        )
    )


def _print(results) -> None:
    from django.conf import settings

    print()
    print("Council report export (xlsx, write-only, streamed), PostgreSQL")
    header = (
        f"{'run':<34}{'rows':>9}{'seconds':>9}{'RSS before':>12}{'RSS peak':>10}"
        f"{'growth':>8}{'maxrss':>8}{'file MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for period, export, alone in results:
        label = "all years" if period == "all" else "2025 only"
        for name, r in ((f"export, {label}", export), ("  openpyxl alone, same rows", alone)):
            print(
                f"{name:<34}{r['rows']:>9,}{r['seconds']:>9.1f}{r['before_mb']:>12.1f}"
                f"{r['peak_mb']:>10.1f}{r['growth_mb']:>8.1f}{r['maxrss_mb']:>8.0f}"
                f"{r['size_mb']:>9.1f}"
            )
    print()
    print(
        "rows: contribution rows + contract rows. Memory in MB, each run in a fresh process: "
        "RSS before/peak = resident\nmemory after start-up and the highest value sampled every "
        "50 ms during the run; growth = peak - before;\nmaxrss = the process's peak including "
        "start-up (resource.getrusage). openpyxl alone writes plain values\n(no queries, no "
        "styles) into the same kind of spooled temporary file."
    )
    spool = settings.REPORT_SPOOL_MAX_BYTES / 1024 / 1024
    print(
        f"The finished workbook is kept in memory up to REPORT_SPOOL_MAX_BYTES ({spool:.0f} MB), "
        "then spilled to a temporary\nfile: that buffer is most of the growth of a large run."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
