"""Celery tasks of the reporting app: thin, idempotent wrappers around services."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="reporting.tasks.send_due_reports")
def send_due_reports() -> int:
    """Daily (``CELERY_BEAT_SCHEDULE``): e-mail the reports of the last ended quarter that
    have not been sent yet. Running it twice sends nothing twice."""
    return len(services.send_due_reports(today=timezone.localdate()))
