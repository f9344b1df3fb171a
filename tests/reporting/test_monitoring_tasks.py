"""Celery wiring of the monitoring job: the task, the schedule, the in-process scheduler of
`make run`, and enqueueing when the broker (Redis) is down."""

from __future__ import annotations

import logging
import time
from datetime import date
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from reporting import tasks
from reporting.models import Flag
from sroi import celery as sroi_celery
from tests import factories as f


def test_the_task_is_thin_and_calls_the_service(monkeypatch):
    calls = []

    class Result:
        today, open, opened, resolved = date(2026, 11, 26), 5, 2, 1

    def fake(*, today=None):
        calls.append(today)
        return Result()

    monkeypatch.setattr(tasks.monitoring, "run_monitoring", fake)
    assert tasks.run_monitoring_task() == {
        "today": "2026-11-26",
        "open": 5,
        "opened": 2,
        "resolved": 1,
    }
    tasks.run_monitoring_task("2026-03-01")
    assert calls == [None, date(2026, 3, 1)]


def test_the_task_retries_with_backoff_and_acks_late():
    task = tasks.run_monitoring_task
    assert task.acks_late is True
    assert task.retry_backoff and task.max_retries == 5
    assert ConnectionError in task.autoretry_for


def test_the_job_is_in_the_beat_schedule():
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "monitoring" in e["task"]]
    assert entries == [
        {
            "task": "reporting.tasks.run_monitoring_task",
            "schedule": settings.SROI_MONITORING["INTERVAL_SECONDS"],
        }
    ]
    sroi_celery.app.loader.import_default_modules()
    assert "reporting.tasks.run_monitoring_task" in sroi_celery.app.tasks


@pytest.mark.django_db
def test_the_task_runs_the_job(world):
    f.ContractFactory(municipality=world.noordwijk)  # above the threshold, no obligation
    result = tasks.run_monitoring_task.apply(args=["2026-03-01"]).get()
    assert result["opened"] == 1
    assert Flag.objects.filter(kind="missing_obligation").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_in_process_scheduler_runs_the_schedule(world):
    """`make run` runs `manage.py run_scheduler`: the beat schedule without Redis."""
    f.ContractFactory(municipality=world.noordwijk)
    out = StringIO()
    call_command("run_scheduler", "--once", stdout=out)
    assert "reporting-run-monitoring" in out.getvalue()
    assert Flag.objects.filter(kind="missing_obligation", resolved_at__isnull=True).count() == 1


# --- Redis down ----------------------------------------------------------------------------------


@pytest.fixture
def broker_down():
    """Point the Celery app at a closed port (nothing listens on 127.0.0.1:1)."""
    app = sroi_celery.app
    saved = (app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool)
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    sroi_celery.enqueue_failures.clear()
    yield
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = saved


@pytest.mark.django_db
def test_when_redis_is_down_the_action_is_saved_and_the_failure_logged(
    world, broker_down, caplog, django_capture_on_commit_callbacks
):
    contract = f.ContractFactory(municipality=world.noordwijk)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="sroi.celery"):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with transaction.atomic():  # the user's action ...
                contract.title = "Gewijzigd"
                contract.save()
                sroi_celery.enqueue(tasks.run_monitoring_task)  # ... queues work after commit
    assert len(callbacks) == 1
    assert time.monotonic() - started < 15  # the request is not hung
    contract.refresh_from_db()
    assert contract.title == "Gewijzigd"
    assert sroi_celery.enqueue_failures == {"reporting.tasks.run_monitoring_task": 1}
    messages = [r.getMessage() for r in caplog.records if r.name == "sroi.celery"]
    assert len(messages) == 1
    assert "reporting.tasks.run_monitoring_task" in messages[0]
    assert "broker unreachable" in messages[0]


@pytest.mark.django_db
def test_enqueue_waits_for_the_commit_and_sends_nothing_on_rollback(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(sroi_celery, "send_now", lambda task, *a, **k: sent.append(task.name))
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                sroi_celery.enqueue(tasks.run_monitoring_task)
                raise RuntimeError
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            sroi_celery.enqueue(tasks.run_monitoring_task)
            assert sent == []
    assert sent == ["reporting.tasks.run_monitoring_task"]
