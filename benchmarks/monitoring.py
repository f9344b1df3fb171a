"""Monitoring benchmark: the monitoring job (``reporting.monitoring.run_monitoring``) over N
obligations with M contributions (default 50,000 and 500,000) on PostgreSQL.

Seeding reuses ``benchmarks.export._seed`` (one municipality "Benchstad", awards 2016-2025) with
M/N contributions per contract instead of its 250; it is skipped when ``sroi_bench`` already
holds exactly N contracts and M contributions. Note: the export benchmark reuses whatever holds
its number of contributions, so after this one it runs over N contracts (``--reseed`` there
restores its own layout).

Printed: per run (first = opens every flag, second = refreshes them, the idempotent steady
state) the seconds and the number of queries, and the open flags per kind.
"""

from __future__ import annotations

import argparse
import time

from . import setup_django


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only monitoring", add_help=False)
    parser.add_argument(
        "--obligations", type=int, default=50_000, help="obligations to seed (default 50,000)"
    )
    parser.add_argument(
        "--monitoring-contributions",
        type=int,
        default=500_000,
        help="contributions to seed (default 500,000)",
    )
    parser.add_argument("--reseed", action="store_true", help="seed again even if present")
    return parser


def main(argv: list[str]) -> None:
    if "--help" in argv or "-h" in argv:
        _parser().print_help()
        return
    args, _unknown = _parser().parse_known_args(argv)
    n, m = args.obligations, args.monitoring_contributions
    if n < 1 or m < n:
        raise SystemExit("Need at least one obligation and one contribution per obligation.")
    setup_django()
    from django.db import connection

    from contracts.models import Contract
    from placements.models import Contribution
    from reporting.models import Flag

    from . import export

    print(f"Monitoring benchmark on PostgreSQL database {connection.settings_dict['NAME']!r}")
    seeded = (
        Contract.objects.filter(municipality__name=export.MUNICIPALITY).count() == n
        and Contribution.objects.count() == m
    )
    if args.reseed or not seeded:
        export.CONTRIBUTIONS_PER_CONTRACT = m // n
        export._seed(m, reseed=True)
    else:
        print(f"Using the {n:,} obligations and {m:,} contributions already seeded.")
    Flag.objects.all().delete()
    runs = [("first run (opens the flags)", _measure()), ("second run (refresh)", _measure())]
    print()
    print(f"Monitoring job, {n:,} obligations, {m:,} contributions, PostgreSQL")
    print(f"{'run':<32}{'seconds':>9}{'queries':>9}{'opened':>9}{'open':>9}")
    for label, (seconds, queries, result) in runs:
        print(f"{label:<32}{seconds:>9.2f}{queries:>9}{result.opened:>9,}{result.open:>9,}")
    print()
    print("Open flags per kind:", ", ".join(f"{k} {c.open:,}" for k, c in result.kinds.items()))


def _measure():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reporting.monitoring import run_monitoring

    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        result = run_monitoring()
        seconds = time.perf_counter() - started
    return seconds, len(ctx.captured_queries), result
