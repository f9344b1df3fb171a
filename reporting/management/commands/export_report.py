"""``manage.py export_report``: write the council report workbook to a file (system-level)."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from reporting import exports, periods, selectors, services
from reporting.models import ExportLog
from sroi.models import Organisation


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Write the SROI progress report of one municipality for contracts awarded from --from "
        "to --to (inclusive), as of --as-of (default today), to an .xlsx file. The same "
        "workbook as the download; logged in the export log as kind 'command'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, help="Municipality name.")
        parser.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
        parser.add_argument("--out", required=True, help="The .xlsx file to write.")
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: today)")

    def handle(self, *args, **options):
        name = options["municipality"].strip()
        municipality = Organisation.objects.filter(
            kind=Organisation.Kind.MUNICIPALITY, name__iexact=name
        ).first()
        if municipality is None:
            known = ", ".join(
                Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).values_list(
                    "name", flat=True
                )
            )
            raise CommandError(f"No municipality named {name!r}. Known: {known or '(none)'}.")
        start, end = _date(options["date_from"]), _date(options["date_to"])
        if end < start:
            raise CommandError("--to is before --from.")
        today = timezone.localdate()
        as_of = _date(options["as_of"]) if options["as_of"] else today
        if as_of > today:
            raise CommandError("--as-of cannot be in the future.")
        if as_of < start:
            raise CommandError("--as-of cannot be before --from.")
        out = Path(options["out"])
        if out.suffix.lower() != ".xlsx":
            raise CommandError("--out must be an .xlsx file.")
        if not out.parent.exists():
            raise CommandError(f"Directory {out.parent} does not exist.")

        with translation.override(settings.LANGUAGE_CODE):
            report = selectors.build_report(
                scope=selectors.system_scope([municipality]),
                period=periods.custom_period(start, end),
                as_of=as_of,
            )
            partial = out.with_name(f".{out.name}.partial")
            try:
                exports.write_workbook(report, partial)
                partial.replace(out)
            finally:
                partial.unlink(missing_ok=True)
        services.log_export(
            report=report,
            kind=ExportLog.Kind.COMMAND,
            actor=f"manage.py export_report ({getpass.getuser()})",
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {out}: {report.total.contracts} contracts, "
                f"{report.total.contribution_rows} contributions."
            )
        )
