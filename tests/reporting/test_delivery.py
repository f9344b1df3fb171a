"""Scheduled delivery: a report schedule is sent once per period, however often the job runs."""

from datetime import date
from io import BytesIO

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from reporting import services, tasks
from reporting.models import ExportLog, ReportDelivery, ReportSchedule, validate_recipients

AFTER_Q3 = date(2026, 10, 2)


@pytest.fixture
def schedule(dataset):
    return ReportSchedule.objects.create(
        municipality=dataset.world.noordwijk,
        recipients="griffie@noordwijk.example.nl, raad@noordwijk.example.nl",
    )


def run(django_capture_on_commit_callbacks, today=AFTER_Q3):
    with django_capture_on_commit_callbacks(execute=True):
        return services.send_due_reports(today=today)


def test_the_job_sends_once_per_period(schedule, mailoutbox, django_capture_on_commit_callbacks):
    first = run(django_capture_on_commit_callbacks)
    second = run(django_capture_on_commit_callbacks)
    assert len(first) == 1 and second == []
    assert len(mailoutbox) == 1
    delivery = ReportDelivery.objects.get()
    assert delivery.period == "2026-Q3"
    assert delivery.sent_at is not None and delivery.error == ""
    schedule.refresh_from_db()
    assert schedule.last_sent_period == "2026-Q3"


def test_the_mail_carries_the_workbook_of_the_municipality(
    schedule, mailoutbox, django_capture_on_commit_callbacks
):
    run(django_capture_on_commit_callbacks)
    message = mailoutbox[0]
    assert message.to == ["griffie@noordwijk.example.nl", "raad@noordwijk.example.nl"]
    assert "Noordwijk" in message.subject and "2026-Q3" in message.subject
    ((name, content, mimetype),) = message.attachments
    assert name == "sroi-rapportage-noordwijk-2026-Q3.xlsx"
    assert mimetype.startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(content))
    assert wb.sheetnames == ["Samenvatting", "Opdrachten", "Inzet", "Definities"]
    assert wb["Samenvatting"]["B2"].value == "Noordwijk"
    log = ExportLog.objects.get()
    assert log.kind == "scheduled" and log.user is None
    assert list(log.municipalities.all()) == [schedule.municipality]


def test_the_next_quarter_is_sent_again_and_the_same_day_is_not(
    schedule, mailoutbox, django_capture_on_commit_callbacks
):
    run(django_capture_on_commit_callbacks, date(2026, 10, 1))
    run(django_capture_on_commit_callbacks, date(2026, 12, 31))
    run(django_capture_on_commit_callbacks, date(2027, 1, 1))
    assert list(ReportDelivery.objects.order_by("pk").values_list("period", flat=True)) == [
        "2026-Q3",
        "2026-Q4",
    ]
    assert len(mailoutbox) == 2


def test_disabled_schedules_are_not_sent(schedule, mailoutbox, django_capture_on_commit_callbacks):
    schedule.enabled = False
    schedule.save()
    assert run(django_capture_on_commit_callbacks) == []
    assert mailoutbox == []


def test_nothing_is_sent_when_the_transaction_rolls_back(schedule, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.send_due_reports(today=AFTER_Q3)
        raise RuntimeError
    assert mailoutbox == []
    assert not ReportDelivery.objects.exists()


def test_the_database_refuses_a_second_delivery_of_a_period(schedule):
    ReportDelivery.objects.create(schedule=schedule, period="2026-Q3", recipients="a@b.nl")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportDelivery.objects.create(schedule=schedule, period="2026-Q3", recipients="a@b.nl")


def test_a_failed_send_is_recorded_and_not_retried(
    schedule, mailoutbox, django_capture_on_commit_callbacks, settings, monkeypatch
):
    def broken(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    run(django_capture_on_commit_callbacks)
    delivery = ReportDelivery.objects.get()
    assert delivery.sent_at is None
    assert "mail server down" in delivery.error
    monkeypatch.undo()
    run(django_capture_on_commit_callbacks)  # at most once: an operator decides to resend
    assert mailoutbox == []


def test_the_celery_task_calls_the_service(
    schedule, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: AFTER_Q3)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_reports() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_reports() == 0
    assert len(mailoutbox) == 1


def test_the_beat_schedule_runs_the_task_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reporting-send-due-reports"]
    assert entry["task"] == tasks.send_due_reports.name
    assert entry["schedule"] == 24 * 60 * 60


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a@b.nl", True),
        ("a@b.nl, c@d.nl", True),
        ("", False),
        ("a@b.nl; c@d.nl", False),
        ("not-an-address", False),
        (", ".join(f"p{i}@x.nl" for i in range(21)), False),
    ],
)
def test_recipients_are_validated(value, ok):
    if ok:
        validate_recipients(value)
    else:
        with pytest.raises(ValidationError):
            validate_recipients(value)
