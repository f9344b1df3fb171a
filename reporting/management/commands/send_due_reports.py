"""``manage.py send_due_reports``: what the daily Celery beat job does, by hand."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reporting import services


class Command(BaseCommand):
    help = (
        "E-mail every enabled quarterly report schedule the report of the last ended quarter, "
        "unless it was sent already (a period is sent once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", help="YYYY-MM-DD (default: today)")

    def handle(self, *args, **options):
        try:
            today = date.fromisoformat(options["today"]) if options["today"] else None
        except ValueError as exc:
            raise CommandError("--today must be YYYY-MM-DD.") from exc
        created = services.send_due_reports(today=today or timezone.localdate())
        self.stdout.write(f"{len(created)} report(s) due and queued for sending.")
