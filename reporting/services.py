"""Writes of the reporting app: the export log and the scheduled delivery of reports."""

from __future__ import annotations

import logging
from datetime import date
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import exports, periods
from .models import ExportLog, ReportDelivery, ReportSchedule, split_recipients
from .selectors import SYSTEM, Report, build_report, system_scope

logger = logging.getLogger(__name__)


def log_export(
    *, report: Report, kind: str, user=None, actor: str = "", table: str = ""
) -> ExportLog:
    """Record who exported or looked at which report, when (two queries). The log holds the
    scope and the period only, never a figure or any personal data."""
    real_user = user if user is not None and user is not SYSTEM and user.pk else None
    log = ExportLog.objects.create(
        user=real_user,
        actor=(actor or (real_user.email if real_user else "system"))[:254],
        kind=kind,
        scope=report.scope.label[:500],
        table=table,
        period_kind=report.period.kind,
        period_from=report.period.start,
        period_to=report.period.end,
        as_of=report.as_of,
        contract_rows=report.total.contracts,
        contribution_rows=report.total.contribution_rows,
    )
    through = ExportLog.municipalities.through
    through.objects.bulk_create(
        [through(exportlog_id=log.pk, organisation_id=pk) for pk in report.scope.ids]
    )
    return log


# --- Scheduled delivery ----------------------------------------------------------------------


def send_due_reports(*, today: date) -> list[ReportDelivery]:
    """Send every enabled quarterly schedule the report of the last ended quarter, once.

    The delivery row is created first, inside a transaction; the e-mail is sent only after
    that transaction commits. The unique (schedule, period) constraint makes a second run (or
    a concurrent one) skip the period: a period is sent at most once. When sending fails, the
    delivery keeps an empty ``sent_at`` and the error; an operator deletes the row to retry.
    """
    quarter = periods.last_completed_quarter(today)
    label = periods.quarter_label(quarter.end)
    due = (
        ReportSchedule.objects.filter(enabled=True, frequency=ReportSchedule.Frequency.QUARTERLY)
        .exclude(deliveries__period=label)
        .order_by("pk")
    )
    created = []
    for schedule in due:
        try:
            with transaction.atomic():
                delivery = ReportDelivery.objects.create(
                    schedule=schedule, period=label, recipients=schedule.recipients
                )
                transaction.on_commit(partial(deliver_report, delivery_id=delivery.pk, today=today))
        except IntegrityError:
            logger.info("Report of schedule %s for %s already delivered.", schedule.pk, label)
            continue
        created.append(delivery)
    return created


def deliver_report(*, delivery_id: int, today: date) -> bool:
    """Build and e-mail the report of one delivery; ``True`` when it was sent."""
    delivery = ReportDelivery.objects.select_related("schedule__municipality").get(pk=delivery_id)
    if delivery.sent_at is not None:
        return False
    schedule = delivery.schedule
    period = periods.coverage_period(
        periods.parse_quarter_label(delivery.period), schedule.coverage
    )
    with translation.override(settings.LANGUAGE_CODE):
        try:
            report = build_report(
                scope=system_scope([schedule.municipality]), period=period, as_of=today
            )
            context = {
                "report": report,
                "quarter": delivery.period,
                "figures": report.total,
                "period_description": exports.period_description(report),
            }
            subject = render_to_string("reporting/email/report_subject.txt", context)
            body = render_to_string("reporting/email/report_body.txt", context)
            message = EmailMessage(
                subject=" ".join(subject.split()),
                body=body,
                from_email=settings.REPORT_FROM_EMAIL,
                to=split_recipients(delivery.recipients),
            )
            with exports.workbook_file(report) as spool:
                message.attach(
                    f"sroi-rapportage-{report.scope.slug}-{delivery.period}.xlsx",
                    spool.read(),
                    exports.XLSX_CONTENT_TYPE,
                )
            message.send()
        except Exception as exc:
            # No personal data in the message: the report holds pseudonymous data only and
            # the error is about the build or the mail server.
            logger.exception("Delivery %s of report schedule %s failed.", delivery.pk, schedule.pk)
            ReportDelivery.objects.filter(pk=delivery.pk).update(
                error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            return False
    ReportDelivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now(), error="")
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_sent_period=delivery.period)
    log_export(
        report=report,
        kind=ExportLog.Kind.SCHEDULED,
        actor=f"scheduled delivery {delivery.period} (schedule {schedule.pk})",
    )
    return True
