"""``python manage.py run_monitoring [--today YYYY-MM-DD]``: the monitoring job by hand.

The same code as the scheduled Celery task (``reporting.tasks.run_monitoring_task``).
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reporting.models import FlagKind
from reporting.monitoring import run_monitoring


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Flag lagging, overdue and irregular obligations; resolve flags that cleared."

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", type=_date, default=None, help="run as if today were YYYY-MM-DD"
        )

    def handle(self, *args, today=None, **options):
        result = run_monitoring(today=today)
        self.stdout.write(f"Monitoring as of {result.today:%Y-%m-%d}")
        self.stdout.write(f"{'kind':<24}{'open':>7}{'opened':>8}{'refreshed':>11}{'resolved':>10}")
        for kind, c in result.kinds.items():
            self.stdout.write(
                f"{FlagKind(kind).value:<24}{c.open:>7}{c.opened:>8}{c.refreshed:>11}{c.resolved:>10}"
            )
        self.stdout.write(
            f"{'total':<24}{result.open:>7}{result.opened:>8}{result.refreshed:>11}"
            f"{result.resolved:>10}"
        )
