"""``python manage.py run_scheduler``: the in-process runner of the periodic jobs.

``make run`` has no Redis, so no Celery worker and beat. This command stands in for both: it
reads the same ``CELERY_BEAT_SCHEDULE`` from settings and runs each entry's task function in
this process (``task.apply()``: the task's own code, synchronously) whenever it is due — every
entry once at start, then at its interval (numbers, timedeltas and Celery ``crontab`` schedules
all work). In production a real ``celery -A sroi beat`` and worker run the same schedule
against Redis (docker-compose.yml); never run both.

It stops with SIGINT/SIGTERM, and by itself when the process that started it (``make run``)
has gone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime

from celery.schedules import maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

logger = logging.getLogger("sroi.scheduler")

MAX_SLEEP = 5.0


class Command(BaseCommand):
    help = "Run the periodic jobs of CELERY_BEAT_SCHEDULE in-process (for `make run`, no Redis)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="run every entry once and stop (for tests)"
        )
        parser.add_argument(
            "--no-initial-run",
            action="store_true",
            help="wait one interval before the first run of each entry",
        )

    def handle(self, *args, once=False, no_initial_run=False, **options):
        from sroi.celery import app

        app.loader.import_default_modules()  # autodiscover the apps' tasks.py
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(signum, lambda *_: stop.set())
            except ValueError:  # not the main thread (tests)
                pass
        parent = os.getppid()
        entries = {
            name: (entry, maybe_schedule(entry["schedule"], app=app))
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        }
        now = app.now()
        last_run: dict[str, datetime | None] = {
            name: now if no_initial_run else None for name in entries
        }
        self.stdout.write(
            f"In-process scheduler: {', '.join(entries) or 'no entries'} "
            "(CELERY_BEAT_SCHEDULE, no Redis needed)."
        )
        while not stop.is_set():
            wait = MAX_SLEEP
            for name, (entry, schedule) in entries.items():
                if last_run[name] is None:
                    due, next_in = True, schedule.remaining_estimate(app.now()).total_seconds()
                else:
                    due, next_in = schedule.is_due(last_run[name])
                if due:
                    self._run(app, name, entry)
                    last_run[name] = app.now()
                wait = min(wait, max(float(next_in), 0.1))
            if once:
                return
            if os.getppid() != parent:  # make run was stopped: do not linger as an orphan
                return
            stop.wait(wait)

    def _run(self, app, name: str, entry: dict) -> None:
        close_old_connections()
        task = app.tasks.get(entry["task"])
        if task is None:
            logger.error("Scheduler: unknown task %s (entry %s).", entry["task"], name)
            return
        started = time.monotonic()
        result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
        if result.failed():
            logger.error("Scheduler: %s failed (%s).", entry["task"], type(result.result).__name__)
        else:
            logger.info("Scheduler: %s done in %.1f s.", entry["task"], time.monotonic() - started)
        close_old_connections()
