"""``make bench`` refuses SQLite with a clear message and never uses the configured database."""

import pytest

import benchmarks
from benchmarks.__main__ import BENCHMARKS


@pytest.mark.parametrize("url", ["", "sqlite:////tmp/dev.sqlite3", "mysql://u@h/db"])
def test_benchmarks_refuse_anything_but_postgresql(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(benchmarks.BenchmarkError, match="PostgreSQL"):
        benchmarks.bench_database_url()


def test_the_benchmark_database_is_its_own(monkeypatch):
    monkeypatch.setattr(benchmarks, "_create_database", lambda url, name: None)
    monkeypatch.setenv("DATABASE_URL", "postgres://sroi:secret@db.example:5432/sroi")
    assert benchmarks.bench_database_url() == "postgres://sroi:secret@db.example:5432/sroi_bench"


def test_the_export_benchmark_is_listed():
    assert "benchmarks.export" in BENCHMARKS
