"""Celery tasks of the reporting app: thin, idempotent wrappers around services.

The periodic ones are scheduled in ``settings.CELERY_BEAT_SCHEDULE``; queue one from a request
with ``sroi.celery.enqueue`` (after commit, survives a broker that is down).
"""

from celery import shared_task
from django.utils import timezone

from . import monitoring, services

#: Retries for faults outside our control (database restarting, connection dropped): with
#: exponential backoff and jitter, at most 10 minutes apart. The tasks are idempotent.
RETRY = {
    "autoretry_for": (ConnectionError, TimeoutError, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


def _database_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError

    return (OperationalError, InterfaceError)


@shared_task(name="reporting.tasks.send_due_reports")
def send_due_reports() -> int:
    """Daily (``CELERY_BEAT_SCHEDULE``): e-mail the reports of the last ended quarter that
    have not been sent yet. Running it twice sends nothing twice."""
    return len(services.send_due_reports(today=timezone.localdate()))


@shared_task(
    name="reporting.tasks.run_monitoring_task",
    **{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], *_database_errors())},
)
def run_monitoring_task(today: str | None = None) -> dict:
    """Hourly (``CELERY_BEAT_SCHEDULE``): the monitoring job (``reporting.monitoring``).
    ``today`` (ISO date) is for manual runs; the schedule passes nothing."""
    from datetime import date

    result = monitoring.run_monitoring(today=date.fromisoformat(today) if today else None)
    return {
        "today": result.today.isoformat(),
        "open": result.open,
        "opened": result.opened,
        "resolved": result.resolved,
    }


@shared_task(
    name="reporting.tasks.send_daily_digests_task",
    **{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], *_database_errors())},
)
def send_daily_digests_task() -> int:
    """Daily: each adviser's digest of new and resolved flags (``reporting.digests``).
    Idempotent: a digest covers what changed since the adviser's previous one."""
    from .digests import send_daily_digests

    return send_daily_digests(now=None)


@shared_task(
    name="reporting.tasks.send_reminders_task",
    **{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], *_database_errors())},
)
def send_reminders_task() -> int:
    """Daily: reminders to contractors, never twice for the same occasion
    (``reporting.reminders``)."""
    from .reminders import send_reminders

    return send_reminders(today=None)
