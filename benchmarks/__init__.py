"""Benchmarks: ``make bench`` runs ``python -m benchmarks``. They measure; they are not tests.

Every benchmark runs against its own throwaway PostgreSQL database, ``sroi_bench``, created on
the server that ``DATABASE_URL`` points at; the database ``DATABASE_URL`` names itself (the
development or production database) is never touched. SQLite is refused: its numbers say
nothing about production.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE = "sroi_bench"
ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
_READY = False


class BenchmarkError(SystemExit):
    """A clear message for the operator instead of a traceback."""


def bench_database_url() -> str:
    """The URL of ``sroi_bench`` on the server of ``DATABASE_URL`` (created if missing)."""
    if "DATABASE_URL" not in os.environ and ENV_FILE.exists():
        import environ  # settings read .env the same way

        environ.Env.read_env(ENV_FILE, overwrite=False)
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise BenchmarkError(
            "make bench needs PostgreSQL: set DATABASE_URL, e.g.\n"
            "  DATABASE_URL=postgres://USER@127.0.0.1:5432/postgres make bench\n"
            f"The benchmark creates and uses its own database '{BENCH_DATABASE}' on that server."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql", "psql"):
        raise BenchmarkError(
            f"make bench refuses to run on {parts.scheme or 'this database'}: the export "
            "benchmark needs PostgreSQL (SQLite numbers say nothing about production). Set "
            "DATABASE_URL=postgres://USER@HOST:5432/DBNAME; the benchmark then works in its "
            f"own database '{BENCH_DATABASE}' on that server."
        )
    bench = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    _create_database(url, parts.path.lstrip("/") or "postgres")
    return bench


def _create_database(url: str, maintenance_db: str) -> None:
    import psycopg
    from psycopg import sql

    conninfo = url.replace("postgres://", "postgresql://", 1)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
                print(f"Created database {BENCH_DATABASE}.")
    except psycopg.Error as exc:
        raise BenchmarkError(
            f"Could not connect to {maintenance_db!r} or create the database "
            f"{BENCH_DATABASE!r}: {exc}\nCreate it yourself (createdb {BENCH_DATABASE}) and "
            "run again."
        ) from exc


def setup_django(*, migrate: bool = True) -> None:
    """Configure Django on ``sroi_bench`` and migrate it (once per process)."""
    global _READY
    if _READY:
        return
    os.environ["DATABASE_URL"] = bench_database_url()
    os.environ.setdefault("SROI_ENV", "development")
    # DEBUG would keep a log of queries in memory; the benchmark measures memory.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sroi.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    _READY = True
