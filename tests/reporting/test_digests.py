"""The advisers' daily digest (issue 5, part 5) and the opt-out screen.

Only flags new or resolved since the adviser's previous digest, in the municipalities they
serve, one e-mail per adviser, nothing new -> no e-mail, opt-out respected, sent once, in Dutch,
without candidate data; a failing mail server is retried by the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import include, path, reverse

import reporting.urls
import sroi.urls
from reporting import digests, urls_preferences
from reporting.models import Flag, FlagKind, FlagSeverity, NotificationPreference
from sroi.models import Role
from tests import factories as f

# Until reporting/urls.py includes urls_preferences, the view tests use this URLconf: the
# project's, with the preferences page added to the ``reporting`` namespace.
_reporting_patterns = list(reporting.urls.urlpatterns)
if not any(getattr(p, "name", None) == "preferences" for p in _reporting_patterns):
    _reporting_patterns += urls_preferences.urlpatterns
urlpatterns = [
    path("reports/", include((_reporting_patterns, "reporting")))
    if str(getattr(p, "pattern", "")) == "reports/"
    else p
    for p in sroi.urls.urlpatterns
]
URLCONF = __name__

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # the first run (07:00 in Amsterdam)
DAY = timedelta(days=1)
INITIALS = "Q.X."
BIRTH_YEAR = "1971"


@pytest.fixture
def data(world):
    """A contract with an obligation in each municipality (a candidate of contractor A with
    recognisable initials reported on the Noordwijk one)."""
    nwk = f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NWK-2026-001",
        contract__title="Herinrichting Dorpsstraat",
    )
    kwk = f.ObligationFactory(
        contract__municipality=world.katwijk,
        contract__contractor=world.contractor_b,
        contract__reference="KWK-2026-007",
        contract__title="Groenonderhoud Boulevard",
    )
    f.ContributionFactory(obligation=nwk, candidate__initials=INITIALS, candidate__birth_year=1971)
    world.nwk, world.kwk = nwk, kwk
    return world


def flag(obligation, kind=FlagKind.BEHIND_SCHEDULE, *, first_seen, resolved_at=None, **extra):
    contract = obligation.contract
    return Flag.objects.create(
        kind=kind,
        severity=extra.pop("severity", FlagSeverity.WARNING),
        municipality=contract.municipality,
        contract=contract,
        obligation=obligation,
        first_seen=first_seen,
        last_seen=resolved_at or first_seen,
        resolved_at=resolved_at,
        **extra,
    )


def run(capture, now):
    with capture(execute=True):
        return digests.send_daily_digests(now=now)


def mails_to(mailoutbox, user):
    return [m for m in mailoutbox if m.to == [user.email]]


def last_digest_at(user):
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref.last_digest_at if pref else None


# --- Content and who gets it -----------------------------------------------------------------


def test_the_first_digest_lists_the_open_flags_in_scope(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    flag(data.nwk, first_seen=T0 - 3 * DAY)
    flag(data.kwk, FlagKind.NO_RECENT_REPORT, first_seen=T0 - 2 * DAY)
    old = f.ObligationFactory(
        contract__municipality=data.noordwijk, contract__reference="NWK-2025-099"
    )
    flag(old, first_seen=T0 - 9 * DAY, resolved_at=T0 - 5 * DAY)  # resolved before: not news

    sent = run(django_capture_on_commit_callbacks, T0)

    # Advisers: the executing body's (both), adviser_katwijk and mixed_user (Katwijk adviser).
    assert sent == 3
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [data.adviser.email, data.adviser_katwijk.email, data.mixed_user.email]
    )
    (mail,) = mails_to(mailoutbox, data.adviser)
    assert "NWK-2026-001" in mail.body and "KWK-2026-007" in mail.body
    assert "Noordwijk" in mail.body and "Katwijk" in mail.body
    assert "Bouwbedrijf A" in mail.body
    assert "NWK-2025-099" not in mail.body
    assert "2" in mail.subject
    assert last_digest_at(data.adviser) == T0


def test_adviser_katwijk_gets_only_katwijk_flags(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    flag(data.nwk, first_seen=T0 - DAY)
    flag(data.kwk, first_seen=T0 - DAY)
    run(django_capture_on_commit_callbacks, T0)
    (mail,) = mails_to(mailoutbox, data.adviser_katwijk)
    assert "KWK-2026-007" in mail.body
    assert "NWK-2026-001" not in mail.body
    assert "Noordwijk" not in mail.body


def test_only_katwijk_flags_mail_nobody_serving_only_noordwijk(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    adviser_noordwijk = f.UserFactory(email="adviseur.noordwijk@example.nl")
    f.MembershipFactory(user=adviser_noordwijk, organisation=world.noordwijk, role=Role.ADVISER)
    kwk = f.ObligationFactory(contract__municipality=world.katwijk)
    flag(kwk, first_seen=T0 - DAY)
    run(django_capture_on_commit_callbacks, T0)
    assert mails_to(mailoutbox, adviser_noordwijk) == []
    assert len(mails_to(mailoutbox, world.adviser)) == 1


def test_other_roles_and_inactive_advisers_get_no_digest(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    inactive = f.UserFactory(email="inactief@example.nl", is_active=False)
    f.MembershipFactory(user=inactive, organisation=data.noordwijk, role=Role.ADVISER)
    former = f.UserFactory(email="oud@example.nl")
    f.MembershipFactory(
        user=former, organisation=data.noordwijk, role=Role.ADVISER, is_active=False
    )
    flag(data.nwk, first_seen=T0 - DAY)
    flag(data.kwk, first_seen=T0 - DAY)
    run(django_capture_on_commit_callbacks, T0)
    recipients = {m.to[0] for m in mailoutbox}
    for user in (
        data.officer_noordwijk,
        data.officer_katwijk,
        data.council_noordwijk,
        data.council_katwijk,
        data.functional_admin,
        data.contractor_a_user,
        data.contractor_b_user,
        data.outsider,
        inactive,
        former,
    ):
        assert user.email not in recipients


def test_only_new_or_resolved_flags_after_the_previous_digest(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    old = flag(data.nwk, first_seen=T0 - 3 * DAY)
    to_resolve = flag(data.kwk, FlagKind.NO_RECENT_REPORT, first_seen=T0 - 2 * DAY)
    run(django_capture_on_commit_callbacks, T0)
    mailoutbox.clear()

    # During the next day: one new flag, one resolved; ``old`` stays open and unchanged.
    flag(data.nwk, FlagKind.DEADLINE_NEAR, first_seen=T0 + timedelta(hours=2))
    Flag.objects.filter(pk=to_resolve.pk).update(resolved_at=T0 + timedelta(hours=3))
    Flag.objects.filter(pk=old.pk).update(last_seen=T0 + DAY - timedelta(hours=1))

    sent = run(django_capture_on_commit_callbacks, T0 + DAY)

    (mail,) = mails_to(mailoutbox, data.adviser)
    assert "Deadline nadert" in mail.body  # the new flag
    assert "KWK-2026-007" in mail.body  # resolved
    # ``old`` (behind schedule) is not news
    assert "Achter op schema" not in mail.body and "Behind schedule" not in mail.body
    # adviser_katwijk and mixed_user: only the resolved Katwijk flag.
    assert sent == 3
    assert last_digest_at(data.adviser) == T0 + DAY


def test_nothing_new_sends_nothing(data, mailoutbox, django_capture_on_commit_callbacks):
    assert run(django_capture_on_commit_callbacks, T0) == 0
    assert mailoutbox == []
    assert last_digest_at(data.adviser) is None

    flag(data.nwk, first_seen=T0 - DAY)
    run(django_capture_on_commit_callbacks, T0)
    mailoutbox.clear()
    assert run(django_capture_on_commit_callbacks, T0 + DAY) == 0
    assert mailoutbox == []
    assert last_digest_at(data.adviser) == T0


def test_running_twice_sends_once(data, mailoutbox, django_capture_on_commit_callbacks):
    flag(data.kwk, first_seen=T0 - DAY)
    assert run(django_capture_on_commit_callbacks, T0) == 3
    assert run(django_capture_on_commit_callbacks, T0) == 0
    assert run(django_capture_on_commit_callbacks, T0 + timedelta(minutes=5)) == 0
    assert len(mailoutbox) == 3
    assert len(mails_to(mailoutbox, data.adviser)) == 1


def test_the_scope_is_what_the_adviser_may_view(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    """mixed_user advises Katwijk and views Noordwijk as a council member: the digest follows
    the flags they may VIEW (as the dashboard does), so Noordwijk's flags are included."""
    flag(data.nwk, first_seen=T0 - DAY)
    assert run(django_capture_on_commit_callbacks, T0) == 2
    assert len(mails_to(mailoutbox, data.mixed_user)) == 1
    assert mails_to(mailoutbox, data.adviser_katwijk) == []


def test_a_flag_seen_after_the_run_goes_into_the_next_digest(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    flag(data.nwk, first_seen=T0 + timedelta(minutes=1))
    assert run(django_capture_on_commit_callbacks, T0) == 0
    run(django_capture_on_commit_callbacks, T0 + DAY)
    assert len(mails_to(mailoutbox, data.adviser)) == 1


def test_opt_out_is_respected_and_opting_in_again_does_not_replay(
    data, mailoutbox, django_capture_on_commit_callbacks
):
    digests.set_digest_opt_out(user=data.adviser, opt_out=True, acting_user=data.adviser)
    flag(data.nwk, first_seen=T0 - DAY)
    assert run(django_capture_on_commit_callbacks, T0) == 1  # mixed_user only
    assert mails_to(mailoutbox, data.adviser) == []

    digests.set_digest_opt_out(user=data.adviser, opt_out=False, acting_user=data.adviser)
    opted_in_at = last_digest_at(data.adviser)
    assert opted_in_at is not None
    flag(data.nwk, FlagKind.DEADLINE_NEAR, first_seen=opted_in_at + timedelta(minutes=1))
    run(django_capture_on_commit_callbacks, opted_in_at + DAY)
    (mail,) = mails_to(mailoutbox, data.adviser)
    assert "Deadline nadert" in mail.body
    # missed while opted out: not replayed
    assert "Achter op schema" not in mail.body and "Behind schedule" not in mail.body


def test_only_the_user_changes_their_own_preference(data):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        digests.set_digest_opt_out(user=data.adviser, opt_out=True, acting_user=data.outsider)


def test_a_failing_mail_server_is_logged_without_addresses_and_retried(
    data, mailoutbox, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    flag(data.nwk, first_seen=T0 - DAY)

    def broken(self, *args, **kwargs):
        raise ConnectionRefusedError(f"smtp refused {self.to}")

    with monkeypatch.context() as m:
        m.setattr("django.core.mail.EmailMessage.send", broken)
        with caplog.at_level(logging.ERROR, logger="reporting.digests"):
            assert run(django_capture_on_commit_callbacks, T0) == 0
    assert "ConnectionRefusedError" in caplog.text
    assert "@" not in caplog.text
    assert last_digest_at(data.adviser) is None  # not advanced: the next run retries
    assert mailoutbox == []

    assert run(django_capture_on_commit_callbacks, T0 + DAY) == 2  # adviser and mixed_user
    (mail,) = mails_to(mailoutbox, data.adviser)
    assert "NWK-2026-001" in mail.body


def test_the_digest_is_dutch_with_links_and_without_candidate_data(
    data, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SROI_BASE_URL = "https://sroi.example.nl/"
    flag(data.nwk, FlagKind.DEADLINE_NEAR, first_seen=datetime(2026, 11, 18, 5, tzinfo=UTC))
    run(django_capture_on_commit_callbacks, T0)
    (mail,) = mails_to(mailoutbox, data.adviser)
    assert mail.extra_headers["Content-Language"] == "nl"
    assert "Deadline nadert" in mail.body  # the flag kind, in Dutch
    assert "18-11-2026" in mail.body  # Dutch date
    assert f"https://sroi.example.nl/contracts/{data.nwk.contract_id}/" in mail.body
    assert "https://sroi.example.nl/\n" in mail.body  # the dashboard (home page)
    for m in mailoutbox:
        for text in (m.subject, m.body):
            assert INITIALS not in text
            assert BIRTH_YEAR not in text


def test_without_a_site_address_no_links(data, mailoutbox, django_capture_on_commit_callbacks):
    flag(data.nwk, first_seen=T0 - DAY)
    run(django_capture_on_commit_callbacks, T0)
    assert all("http" not in m.body for m in mailoutbox)


# --- The preferences screen ------------------------------------------------------------------


@pytest.fixture
def page(settings):
    settings.ROOT_URLCONF = URLCONF
    return reverse("reporting:preferences")


def test_preferences_url(page):
    assert page == "/reports/preferences/"


def test_the_adviser_opts_out_and_in_again(client, world, page):
    client.force_login(world.adviser)
    response = client.get(page)
    assert response.status_code == 200
    assert "No daily digest" in response.content.decode()
    assert 'name="digest_opt_out"' in response.content.decode()

    response = client.post(page, {"digest_opt_out": "on"})
    assert response.status_code == 302 and response.url == page
    assert NotificationPreference.objects.get(user=world.adviser).digest_opt_out is True
    response = client.get(page)
    assert "checked" in response.content.decode()

    client.post(page, {})
    assert NotificationPreference.objects.get(user=world.adviser).digest_opt_out is False


@pytest.mark.parametrize(
    "persona", ["officer_noordwijk", "council_katwijk", "functional_admin", "adviser_katwijk"]
)
def test_staff_users_may_use_the_page(client, world, page, persona):
    user = getattr(world, persona)
    client.force_login(user)
    assert client.get(page).status_code == 200
    assert client.post(page, {"digest_opt_out": "on"}).status_code == 302
    assert NotificationPreference.objects.get(user=user).digest_opt_out is True


def test_non_advisers_are_told_they_get_no_digest(client, world, page):
    client.force_login(world.officer_noordwijk)
    assert "sent to SROI advisers only" in client.get(page).content.decode()
    client.force_login(world.adviser)
    assert "sent to SROI advisers only" not in client.get(page).content.decode()


@pytest.mark.parametrize("persona", ["contractor_a_user", "contractor_b_user", "outsider"])
def test_contractors_and_outsiders_get_404(client, world, page, persona):
    client.force_login(getattr(world, persona))
    assert client.get(page).status_code == 404
    assert client.post(page, {"digest_opt_out": "on"}).status_code == 404
    assert not NotificationPreference.objects.exists()


def test_anonymous_is_sent_to_login(client, world, page):
    response = client.get(page)
    assert response.status_code == 302
    assert reverse("login") in response.url
    assert client.post(page, {"digest_opt_out": "on"}).status_code == 302
    assert not NotificationPreference.objects.exists()


def test_changes_need_csrf(world, page):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(world.adviser)
    assert csrf_client.post(page, {"digest_opt_out": "on"}).status_code == 403
