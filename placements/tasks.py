"""Celery tasks of the placements app: thin, idempotent wrappers around services.

The periodic one is scheduled in ``settings.CELERY_BEAT_SCHEDULE`` (entry
``placements-apply-retention``); ``sroi.celery`` autodiscovers this module.
"""

import logging

from celery import shared_task

from . import retention

logger = logging.getLogger(__name__)


def _retry_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError

    return (ConnectionError, TimeoutError, OSError, OperationalError, InterfaceError)


@shared_task(
    name="placements.tasks.apply_retention_task",
    autoretry_for=_retry_errors(),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def apply_retention_task() -> dict:
    """Daily: the privacy retention job (``placements.retention``). Logs counts only."""
    result = retention.apply_retention()
    logger.info(
        "Retention: %s candidate(s) anonymised, %s evidence file(s) removed, "
        "%s login record(s), %s session(s) and %s stale upload(s) purged.",
        result.candidates_anonymised,
        result.evidence_files_removed,
        "no" if result.login_records_purged is None else result.login_records_purged,
        "no" if result.sessions_purged is None else result.sessions_purged,
        result.stale_uploads_removed,
    )
    return result.as_dict()
