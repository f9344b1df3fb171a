"""Reminders to contractors (issue 5, part 5): plan missing, no report, deadline near; never
twice for the same occasion, to the contractor's active portal users only, in Dutch, without
candidate data."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.models import Obligation
from reporting import reminders
from reporting.models import Flag, FlagKind, FlagSeverity, SentReminder
from tests import factories as f

TODAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
INITIALS = "Q.X."
BIRTH_YEAR = "1971"


@pytest.fixture
def data(world):
    """Contractor A (Noordwijk contract) has two active portal users, one whose link is
    deactivated and one whose account is deactivated."""
    obligation = f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NWK-2026-001",
        contract__title="Herinrichting Dorpsstraat",
        contract__end_date=date(2026, 10, 31),
        deadline=date(2027, 1, 29),
    )
    f.ContributionFactory(
        obligation=obligation, candidate__initials=INITIALS, candidate__birth_year=1971
    )
    second = f.ContractorUserFactory(
        contractor=world.contractor_a, user__email="tweede@bouwbedrijf-a.nl"
    ).user
    f.ContractorUserFactory(
        contractor=world.contractor_a, is_active=False, user__email="weg@bouwbedrijf-a.nl"
    )
    f.ContractorUserFactory(
        contractor=world.contractor_a, user__email="slapend@bouwbedrijf-a.nl", user__is_active=False
    )
    world.obligation = obligation
    world.second = second
    return world


def flag(obligation, kind, *, first_seen=T0 - 2 * DAY, resolved_at=None, **extra):
    contract = obligation.contract
    return Flag.objects.create(
        kind=kind,
        severity=FlagSeverity.WARNING,
        municipality=contract.municipality,
        contract=contract,
        obligation=obligation,
        first_seen=first_seen,
        last_seen=first_seen,
        resolved_at=resolved_at,
        **extra,
    )


def run(capture, today=TODAY):
    with capture(execute=True):
        return reminders.send_reminders(today=today)


def recipients(mailoutbox):
    return sorted(m.to[0] for m in mailoutbox)


@pytest.mark.parametrize(
    "kind", [FlagKind.NO_APPROVED_PLAN, FlagKind.NO_RECENT_REPORT, FlagKind.DEADLINE_NEAR]
)
def test_each_reminder_kind_goes_to_the_active_portal_users_once(
    data, kind, mailoutbox, django_capture_on_commit_callbacks
):
    flag(data.obligation, kind)
    assert run(django_capture_on_commit_callbacks) == 1
    assert recipients(mailoutbox) == sorted([data.contractor_a_user.email, data.second.email])
    assert all(len(m.to) == 1 for m in mailoutbox)  # nobody sees the other addresses

    assert run(django_capture_on_commit_callbacks) == 0
    assert run(django_capture_on_commit_callbacks, TODAY + DAY) == 0
    assert len(mailoutbox) == 2
    assert SentReminder.objects.filter(obligation=data.obligation, kind=kind).count() == 1


def test_the_occasion_is_the_first_day_or_the_deadline(data):
    plan = flag(
        data.obligation,
        FlagKind.NO_APPROVED_PLAN,
        first_seen=datetime(2026, 11, 17, 23, 30, tzinfo=UTC),
    )
    near = flag(data.obligation, FlagKind.DEADLINE_NEAR)
    assert reminders.occasion_for(plan) == "2026-11-18"  # the day in Amsterdam
    assert reminders.occasion_for(near) == "2027-01-29"


def test_a_reopened_flag_reminds_again(data, mailoutbox, django_capture_on_commit_callbacks):
    first = flag(data.obligation, FlagKind.NO_RECENT_REPORT, first_seen=T0 - 30 * DAY)
    run(django_capture_on_commit_callbacks)
    Flag.objects.filter(pk=first.pk).update(resolved_at=T0 - DAY)
    assert run(django_capture_on_commit_callbacks) == 0  # resolved: nothing to remind

    flag(data.obligation, FlagKind.NO_RECENT_REPORT, first_seen=T0 + 20 * DAY)
    assert run(django_capture_on_commit_callbacks, TODAY + 20 * DAY) == 1
    assert len(mailoutbox) == 4
    assert SentReminder.objects.filter(kind=FlagKind.NO_RECENT_REPORT).count() == 2


def test_deadline_near_reminds_once_per_deadline(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    first = flag(data.obligation, FlagKind.DEADLINE_NEAR)
    run(django_capture_on_commit_callbacks)
    # The flag resolves and reopens with the same deadline: the same occasion.
    Flag.objects.filter(pk=first.pk).update(resolved_at=T0 + DAY)
    second = flag(data.obligation, FlagKind.DEADLINE_NEAR, first_seen=T0 + 2 * DAY)
    assert run(django_capture_on_commit_callbacks, TODAY + 2 * DAY) == 0
    # The adviser extends the deadline: a new occasion.
    Obligation.objects.filter(pk=data.obligation.pk).update(deadline=date(2027, 3, 31))
    Flag.objects.filter(pk=second.pk).update(resolved_at=T0 + 3 * DAY)
    flag(data.obligation, FlagKind.DEADLINE_NEAR, first_seen=T0 + 80 * DAY)
    assert run(django_capture_on_commit_callbacks, TODAY + 80 * DAY) == 1
    assert len(mailoutbox) == 4
    assert "31-03-2027" in mailoutbox[-1].subject


def test_other_kinds_resolved_flags_and_settled_obligations_remind_nobody(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    for kind in (
        FlagKind.BEHIND_SCHEDULE,
        FlagKind.OVERDUE,
        FlagKind.VERIFICATION_WAITING,
        FlagKind.UNEXPLAINED_DEVIATION,
    ):
        flag(data.obligation, kind)
    flag(data.obligation, FlagKind.NO_APPROVED_PLAN, resolved_at=T0 - DAY)
    settled = f.ObligationFactory(
        contract__municipality=data.noordwijk,
        contract__contractor=data.contractor_a,
        status=Obligation.Status.SETTLED,
    )
    flag(settled, FlagKind.NO_RECENT_REPORT)
    assert run(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []
    assert not SentReminder.objects.exists()


def test_a_snoozed_flag_reminds_after_the_snooze(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    flag(data.obligation, FlagKind.NO_APPROVED_PLAN, snoozed_until=TODAY + 7 * DAY)
    assert run(django_capture_on_commit_callbacks) == 0
    assert run(django_capture_on_commit_callbacks, TODAY + 7 * DAY) == 0
    assert run(django_capture_on_commit_callbacks, TODAY + 8 * DAY) == 1
    assert len(mailoutbox) == 2


def test_only_the_contractors_own_users_and_no_one_without_active_users(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    other = f.ObligationFactory(
        contract__municipality=data.katwijk, contract__contractor=data.contractor_b
    )
    lonely = f.ObligationFactory(contract__municipality=data.katwijk)  # no portal users at all
    flag(other, FlagKind.NO_APPROVED_PLAN)
    flag(lonely, FlagKind.NO_APPROVED_PLAN)
    assert run(django_capture_on_commit_callbacks) == 1
    assert recipients(mailoutbox) == [data.contractor_b_user.email]
    # Not recorded for the contractor without users: it is sent once someone is invited.
    assert not SentReminder.objects.filter(obligation=lonely).exists()
    f.ContractorUserFactory(contractor=lonely.contract.contractor, user__email="nieuw@c.nl")
    assert run(django_capture_on_commit_callbacks) == 1
    assert mailoutbox[-1].to == ["nieuw@c.nl"]


def test_inactive_users_get_nothing(data, mailoutbox, django_capture_on_commit_callbacks):
    flag(data.obligation, FlagKind.NO_RECENT_REPORT)
    run(django_capture_on_commit_callbacks)
    assert "weg@bouwbedrijf-a.nl" not in recipients(mailoutbox)
    assert "slapend@bouwbedrijf-a.nl" not in recipients(mailoutbox)
    assert len(mailoutbox) == 2


def test_a_rolled_back_run_sends_nothing(data, mailoutbox, django_capture_on_commit_callbacks):
    flag(data.obligation, FlagKind.NO_APPROVED_PLAN)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reminders.send_reminders(today=TODAY)
    assert len(callbacks) == 1
    assert mailoutbox == []  # nothing leaves before the record is committed


def test_a_failing_mail_server_is_logged_without_addresses_and_not_repeated(
    data, mailoutbox, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    flag(data.obligation, FlagKind.NO_APPROVED_PLAN)

    class Broken:
        def send_messages(self, messages):
            raise ConnectionRefusedError(f"smtp refused {messages[0].to}")

    with monkeypatch.context() as m:
        m.setattr(reminders, "get_connection", lambda: Broken())
        with caplog.at_level(logging.ERROR, logger="reporting.reminders"):
            assert run(django_capture_on_commit_callbacks) == 1
    assert "ConnectionRefusedError" in caplog.text
    assert "@" not in caplog.text
    assert run(django_capture_on_commit_callbacks) == 0  # at most once
    assert mailoutbox == []


@pytest.mark.parametrize(
    "kind", [FlagKind.NO_APPROVED_PLAN, FlagKind.NO_RECENT_REPORT, FlagKind.DEADLINE_NEAR]
)
def test_the_reminder_says_what_and_by_when_in_dutch_without_candidate_data(
    data, settings, kind, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SROI_BASE_URL = "https://sroi.example.nl"
    flag(data.obligation, kind)
    run(django_capture_on_commit_callbacks)
    mail = next(m for m in mailoutbox if m.to == [data.second.email])
    assert mail.extra_headers["Content-Language"] == "nl"
    assert "NWK-2026-001" in mail.subject
    assert "Herinrichting Dorpsstraat" in mail.body
    assert "29-01-2027" in mail.body  # the deadline, as a Dutch date
    assert "€ 25.000,00" in mail.body  # the obligation, as a Dutch amount
    assert "https://sroi.example.nl/contributions/portal/" in mail.body
    assert "Beste " in mail.body  # the salutation, in Dutch
    for m in mailoutbox:
        for text in (m.subject, m.body):
            assert INITIALS not in text
            assert BIRTH_YEAR not in text


def test_each_kind_has_its_own_text(data, mailoutbox, django_capture_on_commit_callbacks):
    for kind in reminders.REMINDER_KINDS:
        flag(data.obligation, kind)
    assert run(django_capture_on_commit_callbacks) == 3
    mine = [m for m in mailoutbox if m.to == [data.second.email]]
    assert len({m.subject for m in mine}) == 3
    assert len({m.body for m in mine}) == 3


def test_without_a_site_address_no_link(data, mailoutbox, django_capture_on_commit_callbacks):
    flag(data.obligation, FlagKind.NO_RECENT_REPORT)
    run(django_capture_on_commit_callbacks)
    assert all("http" not in m.body for m in mailoutbox)
