"""Helpers of the thread-based concurrency tests (``tests/*/test_concurrency.py``).

Each test starts its threads together (a ``threading.Barrier``) against a real PostgreSQL
server, so the row locks in the services are what keeps the outcome right. SQLite serialises
writers by itself, so those tests skip there (CI runs the suite on PostgreSQL as well).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

#: Long enough for the other threads to arrive at the lock while one holds it.
WINDOW_SECONDS = 0.2
#: Only a guard against a hang; never a measure of anything.
JOIN_TIMEOUT = 120


@pytest.fixture(autouse=True)
def needs_postgresql():
    """Autouse in the modules that import it: skip unless the database has row locks."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def run_at_once(*calls):
    """Run each callable in its own thread, all released together, and return what each
    returned or raised, in the order given. Every thread closes its own connection."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            with translation.override("en"):  # the language is per thread
                outcomes[index] = call()
        except BaseException as exc:  # noqa: BLE001 - the outcome is asserted by the test
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def split(outcomes, success_type):
    """(successes, refusals); anything else (a deadlock, an integrity error) fails the test."""
    unexpected = [o for o in outcomes if not isinstance(o, success_type | ValidationError)]
    if unexpected:
        raise AssertionError(f"unexpected outcome: {unexpected[0]!r}") from unexpected[0]
    successes = [o for o in outcomes if isinstance(o, success_type)]
    refusals = [o for o in outcomes if isinstance(o, ValidationError)]
    return successes, refusals


def widen(monkeypatch, module, name, *, after=False):
    """Sleep inside ``module.name`` (called between a service's check and its write), before
    the call or, with ``after``, after it (to hold the lock the call took a little longer)."""
    original = getattr(module, name)

    def slow(*args, **kwargs):
        if not after:
            time.sleep(WINDOW_SECONDS)
        result = original(*args, **kwargs)
        if after:
            time.sleep(WINDOW_SECONDS)
        return result

    monkeypatch.setattr(module, name, slow)
