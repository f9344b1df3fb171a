"""Admin for schedules, deliveries and the export log, scoped; the period calendar."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from reporting import periods
from reporting.models import ExportLog, ReportDelivery, ReportSchedule
from reporting.selectors import (
    deliveries_visible_to,
    export_logs_visible_to,
    schedules_visible_to,
)
from tests import factories as f


@pytest.fixture
def records(world):
    noordwijk = ReportSchedule.objects.create(municipality=world.noordwijk, recipients="a@b.nl")
    katwijk = ReportSchedule.objects.create(municipality=world.katwijk, recipients="c@d.nl")
    ReportDelivery.objects.create(schedule=noordwijk, period="2026-Q3", recipients="a@b.nl")
    ReportDelivery.objects.create(schedule=katwijk, period="2026-Q3", recipients="c@d.nl")
    logs = {}
    for name, munis in {
        "n": [world.noordwijk],
        "k": [world.katwijk],
        "both": [world.noordwijk, world.katwijk],
    }.items():
        log = ExportLog.objects.create(
            actor="x",
            kind="xlsx",
            scope=name,
            period_kind="all",
            period_to=date(2026, 1, 1),
            as_of=date(2026, 1, 1),
        )
        log.municipalities.set(munis)
        logs[name] = log
    return noordwijk, katwijk, logs


def test_admin_querysets_are_scoped(world, records):
    noordwijk, katwijk, logs = records
    assert set(schedules_visible_to(world.council_noordwijk)) == {noordwijk}
    assert set(schedules_visible_to(world.adviser)) == {noordwijk, katwijk}
    assert set(schedules_visible_to(world.outsider)) == set()
    assert {d.schedule for d in deliveries_visible_to(world.officer_katwijk)} == {katwijk}
    assert set(export_logs_visible_to(world.council_noordwijk)) == {logs["n"]}
    assert set(export_logs_visible_to(world.adviser)) == set(logs.values())
    assert set(export_logs_visible_to(world.contractor_a_user)) == set()


def test_superuser_sees_every_reporting_admin_page(client, records):
    root = f.UserFactory(email="root@example.nl", is_superuser=True, is_staff=True)
    client.force_login(root)
    noordwijk, _katwijk, logs = records
    for model, pk in (
        ("reportschedule", noordwijk.pk),
        ("reportdelivery", ReportDelivery.objects.first().pk),
        ("exportlog", logs["n"].pk),
    ):
        assert client.get(reverse(f"admin:reporting_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:reporting_{model}_change", args=[pk])).status_code == 200
    assert client.get(reverse("admin:reporting_reportschedule_add")).status_code == 200
    # Logs and deliveries are history: nobody adds or changes them.
    assert client.get(reverse("admin:reporting_exportlog_add")).status_code == 403
    assert client.get(reverse("admin:reporting_reportdelivery_add")).status_code == 403


def test_adviser_with_the_model_permissions_manages_only_their_schedules(client, world, records):
    """The role groups do not grant the reporting models yet (sroi/roles.py); with the
    permissions granted, the rows are still scoped."""
    adviser_katwijk = world.adviser_katwijk
    adviser_katwijk.is_staff = True
    adviser_katwijk.save()
    adviser_katwijk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="reporting",
            codename__in=["view_reportschedule", "change_reportschedule", "add_reportschedule"],
        )
    )
    client.force_login(adviser_katwijk)
    noordwijk, katwijk, _logs = records
    response = client.get(reverse("admin:reporting_reportschedule_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [katwijk]
    response = client.get(reverse("admin:reporting_reportschedule_change", args=[noordwijk.pk]))
    assert response.status_code == 302  # "does not exist" for the admin
    response = client.get(reverse("admin:reporting_reportschedule_add"))
    choices = list(response.context["adminform"].form.fields["municipality"].queryset)
    assert choices == [world.katwijk]
    response = client.post(
        reverse("admin:reporting_reportschedule_add"),
        {
            "municipality": world.katwijk.pk,
            "recipients": "griffie@katwijk.example.nl, not an address",
            "frequency": "quarterly",
            "coverage": "all",
            "enabled": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Not a valid e-mail address" in response.content.decode()


# --- Periods ---------------------------------------------------------------------------------


def test_periods():
    assert periods.quarter_period(2026, 3) == periods.Period(
        "quarter", date(2026, 7, 1), date(2026, 9, 30)
    )
    assert periods.quarter_period(2026, 4).end == date(2026, 12, 31)
    assert periods.year_period(2026).label == "2026"
    assert periods.quarter_period(2026, 1).label == "2026-Q1"
    assert periods.custom_period(date(2026, 1, 1), date(2026, 6, 30)).label == (
        "2026-01-01_2026-06-30"
    )
    assert periods.last_completed_quarter(date(2026, 10, 1)).label == "2026-Q3"
    assert periods.last_completed_quarter(date(2026, 9, 30)).label == "2026-Q2"
    assert periods.last_completed_quarter(date(2027, 1, 1)).label == "2026-Q4"
    assert periods.parse_quarter_label("2026-Q2") == periods.quarter_period(2026, 2)
    q3 = periods.quarter_period(2026, 3)
    assert periods.coverage_period(q3, "quarter") == q3
    assert periods.coverage_period(q3, "year_to_date").start == date(2026, 1, 1)
    assert periods.coverage_period(q3, "all").start is None
    with pytest.raises(ValueError):
        periods.quarter_period(2026, 5)
