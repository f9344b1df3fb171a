"""Query budget of the contract spreadsheet import: checking a file and importing it make the
same number of queries for 5 rows as for 50 (no query per row).

The only statements that grow with the rows are the bulk INSERTs, and only where the database
limits the parameters of one statement: SQLite (999 parameters) splits a long INSERT into
batches, PostgreSQL writes each table with one statement. The test computes those batches
the way Django does (``connection.ops.bulk_batch_size``) and asserts them exactly, next to
an exact count of all other queries. Timing is measured by ``benchmarks/contract_import.py``
(``make bench``), not here.
"""

from __future__ import annotations

import io
import math
from datetime import datetime

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import AutoField
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from contracts import importing
from contracts.importing import COLUMNS, RowStatus
from contracts.models import Contract, Contractor, Obligation, ObligationChange
from sroi.models import User
from tests import factories as f

#: Queries of a check (``validate_workbook``) whatever the number of rows: the user's scope (3:
#: memberships, served municipalities, contractor link), municipalities, existing references,
#: contractors, officers, each officer's scope (1 per officer named in the file: here one),
#: policy versions and their PSO discounts. (References and KvK numbers are looked up in
#: chunks of ~950 on SQLite: ``services.lookup_chunks``.)
VALIDATE_QUERIES = 10
#: Queries of an import (``import_workbook``) besides the INSERTs: the check above, then in
#: ``services.create_contracts`` the KvK numbers and references already taken, the policy
#: versions locked and read (3), the rulebooks, and two savepoints (4 statements; in
#: production the outer one is the transaction itself).
IMPORT_OTHER_QUERIES = VALIDATE_QUERIES + 10


def _xlsx(rows: list[dict]) -> bytes:
    keys = [c.key for c in COLUMNS]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = importing.SHEET_NAME
    sheet.append([c.title for c in COLUMNS])
    for row in rows:
        sheet.append([row.get(k) for k in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rows(world, n: int, prefix: str, kvk_base: int) -> list[dict]:
    """``n`` rows (a multiple of 5) for both municipalities: per 5 rows a new contractor named
    in two rows, one contract below the threshold, one with a procurement officer."""
    rows = []
    for i in range(n):
        noordwijk = i % 2 == 0
        row = {
            "municipality": "Noordwijk" if noordwijk else "Katwijk",
            "reference": f"{prefix}-{i:03d}",
            "title": f"Onderhoud perceel {i}",
            "kvk": world.contractor_a.kvk_number,
            "kind": "werken",
            "value": 500_000 + i,
            "award_date": datetime(2026, 1, 15),
            "start_date": datetime(2026, 2, 1),
            "end_date": datetime(2027, 1, 31),
        }
        group, slot = divmod(i, 5)
        if slot in (0, 1):
            row["kvk"] = f"{kvk_base + group:08d}"
            if slot == 0:
                row["contractor_name"] = f"Nieuw bedrijf {prefix} {group}"
        elif slot == 2:
            row["value"] = 50_000  # below the threshold: no obligation
        elif slot == 3:
            row["municipality"] = "Noordwijk"
            row["officer_email"] = world.officer_noordwijk.email
        rows.append(row)
    return rows


def _statements(model, count: int) -> int:
    """How many INSERT statements ``bulk_create`` of ``count`` new rows of ``model`` makes."""
    if count == 0:
        return 0
    fields = [
        f for f in model._meta.concrete_fields if not f.generated and not isinstance(f, AutoField)
    ]
    batch = max(connection.ops.bulk_batch_size(fields, [None] * count), 1)
    return math.ceil(count / batch)


def _expected_inserts(contractors: int, contracts: int, obligations: int) -> int:
    return (
        _statements(Contractor, contractors)
        + _statements(Contract, contracts)
        + _statements(LogEntry, contractors + contracts)
        + _statements(Obligation, obligations)
        + _statements(ObligationChange, obligations)
        + _statements(LogEntry, obligations)
    )


@pytest.fixture
def importer(world):
    """The adviser (both municipalities) as a fresh object per call, as in a request: its
    scope is computed (and counted) again."""
    f.RulebookFactory(municipalities=[world.noordwijk, world.katwijk])
    # Content types are cached per process; fill the cache so every run counts alike.
    ContentType.objects.get_for_models(Contractor, Contract, Obligation)
    return lambda: User.objects.get(pk=world.adviser.pk)


def _validate_queries(user, data: bytes) -> int:
    with CaptureQueriesContext(connection) as ctx:
        report = importing.validate_workbook(acting_user=user, data=data)
    assert report.can_import, [r.errors for r in report.error_rows]
    return len(ctx)


def test_checking_a_file_makes_the_same_queries_for_5_and_50_rows(world, importer):
    five = _xlsx(_rows(world, 5, "V", 71000000))
    fifty = _xlsx(_rows(world, 50, "W", 72000000))
    assert _validate_queries(importer(), five) == VALIDATE_QUERIES
    assert _validate_queries(importer(), fifty) == VALIDATE_QUERIES


def _import(user, rows: list[dict]) -> tuple[int, int, importing.ImportResult]:
    """(INSERT statements, other queries, result) of importing ``rows``."""
    data = _xlsx(rows)
    with CaptureQueriesContext(connection) as ctx:
        result = importing.import_workbook(acting_user=user, data=data)
    sql = [q["sql"].lstrip().upper() for q in ctx.captured_queries]
    inserts = sum(s.startswith("INSERT") for s in sql)
    return inserts, len(sql) - inserts, result


@pytest.mark.parametrize("n", [5, 50])
def test_importing_makes_no_query_per_row(world, importer, n):
    # One row of the file was imported before: it is skipped, and costs nothing extra.
    existing = _rows(world, 5, f"OLD{n}", 79000000 + n * 100)[4]
    importing.import_workbook(acting_user=importer(), data=_xlsx([existing]))
    rows = [*_rows(world, n, f"N{n}", 73000000 + n * 100), existing]

    inserts, other, result = _import(importer(), rows)

    groups = n // 5
    assert (result.created, result.skipped, result.contractors_created) == (n, 1, groups)
    assert result.obligations == n - groups  # one row in five is below the threshold
    assert other == IMPORT_OTHER_QUERIES
    assert inserts == _expected_inserts(groups, n, n - groups)
    if connection.vendor == "postgresql":
        assert inserts == 6  # one statement per table and audit call, whatever n


def test_the_bulk_import_writes_what_create_contract_writes(world, importer):
    """Obligations, their first change and the audit trail, per imported row; a skipped row
    gets nothing new."""
    rows = _rows(world, 10, "A", 74000000)
    user = importer()
    report = importing.validate_workbook(acting_user=user, data=_xlsx(rows))
    result = importing.import_workbook(acting_user=user, data=_xlsx(rows))
    assert [r.status for r in report.rows] == [RowStatus.NEW] * 10
    contracts = Contract.objects.filter(pk__in=result.contract_ids).select_related(
        "obligation", "contractor"
    )
    assert len(contracts) == 10
    for row, contract in zip(report.rows, contracts.order_by("pk"), strict=True):
        assert contract.reference == row.values["reference"]
        preview = row.obligation.computation
        if not preview.applies:
            assert not Obligation.objects.filter(contract=contract).exists()
            continue
        obligation = contract.obligation
        assert obligation.amount == preview.amount
        assert obligation.deadline == preview.deadline
        assert obligation.explanation == list(preview.explanation)
        assert obligation.policy == row.obligation.policy
        assert obligation.rulebook is not None
        change = obligation.changes.get()
        assert change.kind == ObligationChange.Kind.CREATED
        assert change.changed_by == user and change.new_amount == obligation.amount
        assert LogEntry.objects.get_for_object(obligation).get().action == LogEntry.Action.CREATE
        assert LogEntry.objects.get_for_object(contract).get().action == LogEntry.Action.CREATE
    for contractor in Contractor.objects.filter(kvk_number__startswith="74"):
        entry = LogEntry.objects.get_for_object(contractor).get()
        assert entry.action == LogEntry.Action.CREATE
        assert entry.changes["kvk_number"] == ["None", contractor.kvk_number]
