"""The Celery application. Tasks live in each app's ``tasks.py``; the schedule in settings.

Queue work from web requests with :func:`enqueue`, never with ``task.delay`` directly: it sends
only after the transaction commits, and a broker that is down (Redis stopped) never breaks the
user's action. Such a failure is logged (task name and error class only, never arguments, which
might identify a person) and counted in :data:`enqueue_failures`; it is not stored for replay.
It is retried by the schedule instead: every task in this project is idempotent and backed by a
periodic job in ``CELERY_BEAT_SCHEDULE`` that redoes whatever is still outstanding (monitoring
recomputes every flag; reports, digests and reminders record what was sent), so work whose
queueing failed is picked up by the next scheduled run once the broker is back.
"""

from __future__ import annotations

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sroi.settings")

app = Celery("sroi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("sroi.celery")

#: Number of failed sends per task name since the process started (for tests and health pages).
enqueue_failures: dict[str, int] = {}


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    # redis-py's ConnectionError is not the builtin one; import it when redis is installed.
    errors: list[type[BaseException]] = [OperationalError, ConnectionError, OSError, TimeoutError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a requirement
        pass
    return tuple(errors)


def send_now(task, *args, **kwargs) -> bool:
    """Send ``task`` to the broker now; ``False`` (and a warning in the log) when the broker
    cannot be reached. Never raises for a broker fault."""
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except _broker_errors() as exc:
        enqueue_failures[task.name] = enqueue_failures.get(task.name, 0) + 1
        logger.warning(
            "Could not queue task %s: broker unreachable (%s). The action itself was saved; "
            "the next scheduled run of the idempotent job picks the work up.",
            task.name,
            type(exc).__name__,
        )
        return False
    return True


def enqueue(task, *args, **kwargs) -> None:
    """Queue ``task`` once the current transaction commits (immediately outside one).

    A broker fault is logged and swallowed (see the module docstring): the user's action has
    been committed already and must not turn into an error page.
    """
    from django.db import transaction

    transaction.on_commit(lambda: send_now(task, *args, **kwargs))
