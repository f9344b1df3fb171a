"""Contract import benchmark: the spreadsheet import of awarded contracts
(``contracts.importing``) for N rows (default 1,000 and 5,000, the most a file may hold).

Everything runs inside one transaction in ``sroi_bench`` that is rolled back at the end: a
municipality ("Importstad") with a policy, a published rulebook, a procurement officer and 40
contractors, a workbook of N valid rows (one row in ten names a new contractor, the others one
of the 40; one in seven lies below the threshold; one in three names the officer), then,
timed:

* the check behind the preview (``validate_workbook``): parse, validate every row, preview
  its obligation;
* the confirmation (``import_workbook``): the same check again, then the contractors,
  contracts, obligations, change records and audit entries, all or nothing.

Printed per run: seconds, seconds per 1,000 rows and the number of queries of each step.
Nothing is left behind, so the runs can be repeated.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import date, datetime
from decimal import Decimal

from . import setup_django

MUNICIPALITY = "Importstad"
DEFAULT_ROWS = "1000,5000"
MAX_ROWS = 5000  # contracts.importing.MAX_ROWS (not imported before Django is set up)
CONTRACTORS = 40


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks --only contract_import", add_help=False
    )
    parser.add_argument(
        "--import-rows",
        default=DEFAULT_ROWS,
        help=f"comma-separated row counts of the workbooks to import (default {DEFAULT_ROWS})",
    )
    return parser


def main(argv: list[str]) -> None:
    if "--help" in argv or "-h" in argv:
        _parser().print_help()
        return
    args, _unknown = _parser().parse_known_args(argv)
    try:
        sizes = [int(n) for n in args.import_rows.split(",") if n.strip()]
    except ValueError as exc:
        raise SystemExit("--import-rows takes numbers, e.g. --import-rows 1000,5000") from exc
    if not sizes or any(not (1 <= n <= MAX_ROWS) for n in sizes):
        raise SystemExit(f"--import-rows: each count must lie between 1 and {MAX_ROWS:,}.")
    setup_django()
    from django.db import connection

    print(f"Contract import benchmark on PostgreSQL database {connection.settings_dict['NAME']!r}")
    results = [_measure(n) for n in sizes]
    print()
    print("Contract spreadsheet import (validate = the preview's check; import = check + write)")
    header = (
        f"{'rows':>6}{'validate s':>12}{'s/1000':>8}{'queries':>9}"
        f"{'import s':>10}{'s/1000':>8}{'queries':>9}"
    )
    print(header)
    print("-" * len(header))
    for n, (v_seconds, v_queries), (i_seconds, i_queries) in results:
        print(
            f"{n:>6,}{v_seconds:>12.2f}{v_seconds / n * 1000:>8.2f}{v_queries:>9}"
            f"{i_seconds:>10.2f}{i_seconds / n * 1000:>8.2f}{i_queries:>9}"
        )
    print()
    print(
        "Each run in its own transaction, rolled back afterwards. The number of queries does "
        "not grow with the rows\n(on PostgreSQL each table is written with one INSERT); "
        "the time is parsing, validation, the\nobligation computation and the audit diffs."
    )


class _QueryCounter:
    """Counts queries without keeping them (``DEBUG`` is off in the benchmark)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _timed(function):
    from django.db import connection

    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
    return result, seconds, counter.count


def _measure(n: int):
    from django.db import transaction

    from contracts import importing

    with transaction.atomic():
        officer = _setup()
        data = _workbook(n, officer.email)
        report, v_seconds, v_queries = _timed(
            lambda: importing.validate_workbook(acting_user=_fresh(officer), data=data)
        )
        if not report.can_import:
            raise SystemExit(f"The benchmark workbook does not validate: {report.error_rows[:1]}")
        result, i_seconds, i_queries = _timed(
            lambda: importing.import_workbook(acting_user=_fresh(officer), data=data)
        )
        if result.created != n:
            raise SystemExit(f"Imported {result.created} contracts instead of {n}.")
        transaction.set_rollback(True)
    print(f"  {n:,} rows: validate {v_seconds:.2f} s, import {i_seconds:.2f} s", flush=True)
    return n, (v_seconds, v_queries), (i_seconds, i_queries)


def _fresh(user):
    """The user as a request would load it: its scope is not cached yet."""
    from sroi.models import User

    return User.objects.get(pk=user.pk)


def _setup():
    from contracts.models import Contractor, SroiPolicy
    from placements.models import Rulebook
    from sroi.models import Membership, Organisation, Role, User

    municipality, _ = Organisation.objects.get_or_create(
        name=MUNICIPALITY, defaults={"kind": Organisation.Kind.MUNICIPALITY}
    )
    SroiPolicy.objects.get_or_create(
        municipality=municipality,
        valid_from=date(2020, 1, 1),
        defaults={"threshold": Decimal("100000.00"), "default_percentage": Decimal("5.00")},
    )
    rulebook = Rulebook.objects.create(
        name="Bench-rekenregels",
        version="bench",
        owner=municipality,
        valid_from=date(2020, 1, 1),
        status=Rulebook.Status.PUBLISHED,
    )
    rulebook.municipalities.set([municipality])
    Contractor.objects.bulk_create(
        (
            Contractor(name=f"Bench-aannemer {i:02d} B.V.", kvk_number=f"{60000000 + i:08d}")
            for i in range(CONTRACTORS)
        ),
        ignore_conflicts=True,
    )
    officer, _ = User.objects.get_or_create(
        email="inkoper@importstad.bench.invalid", defaults={"full_name": "Bench-inkoper"}
    )
    Membership.objects.get_or_create(
        user=officer, organisation=municipality, role=Role.PROCUREMENT_OFFICER
    )
    return officer


def _workbook(n: int, officer_email: str) -> bytes:
    from openpyxl import Workbook

    from contracts.importing import COLUMNS, SHEET_NAME

    keys = [c.key for c in COLUMNS]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_NAME)
    sheet.append([c.title for c in COLUMNS])
    for i in range(n):
        row = {
            "municipality": MUNICIPALITY,
            "reference": f"IMP-{i:05d}",
            "title": f"Onderhoud openbare ruimte, perceel {i}",
            "description": "Benchmark",
            "kvk": f"{60000000 + i % CONTRACTORS:08d}" if i % 10 else f"{61000000 + i:08d}",
            "contractor_name": None if i % 10 else f"Nieuwe aannemer {i} B.V.",
            "kind": ("werken", "leveringen", "diensten")[i % 3],
            "value": 50_000 if i % 7 == 0 else 250_000 + i * 10,
            "award_date": datetime(2026, 1, 15),
            "start_date": datetime(2026, 2, 1),
            "end_date": datetime(2027, 1, 31),
            "officer_email": officer_email if i % 3 == 0 else None,
        }
        sheet.append([row.get(k) for k in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
