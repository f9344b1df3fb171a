"""The advisers' summary e-mail after a bulk upload (notifications.notify_bulk_submitted).

A bulk upload submits its rows without a mail each; once the import commits, every adviser
concerned gets one summary: per obligation the number of contributions and their value, the
total, a link to the verification queue. An adviser sees only the obligations of the
municipalities they serve. The setting: contractor A has ``NW-A-1`` (Noordwijk) and ``KW-A-1``
(Katwijk). Advisers: the executing body's (serves both), one of Noordwijk, one of Katwijk and
the mixed user (adviser of Katwijk, council viewer of Noordwijk).

Assertions on the text use what no translation changes (references, names, numbers, amounts in
the Dutch format): the new strings are translated by the lead afterwards.
"""

import logging
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from placements import bulk_import, notifications, services
from placements.bulk_import import ImportFailed, ImportRejected
from placements.models import Contribution
from reporting.models import NotificationPreference
from sroi.models import Role
from sroi.templatetags.sroi import euro
from tests import factories as f
from tests.placements.test_bulk_import import activity, job, xlsx
from tests.placements.test_bulk_views import confirm_url, sha_of, token_of, upload

INITIALS = ("J.K.", "P.Q.", "X.Y.")
BIRTH_YEARS = (1984, 1977, 1969)
DESCRIPTION = "Jan de Vries als grondwerker"


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp refused adviseur@example.nl")


@pytest.fixture
def setting(world):
    nw = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-1",
        contract__title="Herinrichting Dorpsstraat",
    )
    kw = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.katwijk,
        contract__reference="KW-A-1",
        contract__title="Groenonderhoud Boulevard",
    )
    adviser_noordwijk = f.UserFactory(email="adviseur.noordwijk@example.nl", full_name="Ada Nool")
    f.MembershipFactory(user=adviser_noordwijk, organisation=world.noordwijk, role=Role.ADVISER)
    former = f.UserFactory(email="oud.adviseur@example.nl")
    f.MembershipFactory(
        user=former, organisation=world.noordwijk, role=Role.ADVISER, is_active=False
    )
    inactive = f.UserFactory(email="inactief.adviseur@example.nl", is_active=False)
    f.MembershipFactory(user=inactive, organisation=world.noordwijk, role=Role.ADVISER)
    world.adviser_noordwijk = adviser_noordwijk
    return nw, kw


def rows(n_noordwijk: int = 3, n_katwijk: int = 2) -> list[dict]:
    """New candidates with known personal data on NW-A-1 (jobs and activities) and activities
    on KW-A-1; every row a different contribution."""
    out = []
    for i in range(n_noordwijk):
        if i < len(INITIALS):
            out.append(
                job(
                    initials=INITIALS[i],
                    birth_year=BIRTH_YEARS[i],
                    description=DESCRIPTION,
                    start_date=f"0{i + 1}-03-2026",
                )
            )
        else:
            out.append(activity(start_date=f"{(i % 28) + 1:02d}-04-2026", hours=10 + i))
    for i in range(n_katwijk):
        out.append(
            activity(
                reference="KW-A-1",
                municipality="Katwijk",
                start_date=f"{i + 1:02d}-05-2026",
                hours=20 + i,
            )
        )
    return out


def run_import(user, data: bytes):
    return bulk_import.import_workbook(acting_user=user, data=data)


def by_recipient(mails) -> dict[str, object]:
    assert all(len(mail.to) == 1 for mail in mails)  # nobody sees the other recipients
    result = {mail.to[0]: mail for mail in mails}
    assert len(result) == len(mails), "one mail per adviser"
    return result


def line_of(mail, reference: str) -> str:
    found = [line for line in mail.body.splitlines() if line.startswith(f"- {reference} ")]
    assert len(found) == 1, mail.body
    return found[0]


def dutch_euro(value) -> str:
    with translation.override("nl"):
        return euro(value)


def values_of(reference: str) -> tuple[int, Decimal]:
    qs = Contribution.objects.filter(obligation__contract__reference=reference)
    return qs.count(), sum((c.value for c in qs), Decimal("0.00"))


# --- What is sent to whom ------------------------------------------------------------------------


def test_one_summary_per_adviser_with_counts_totals_and_scope(
    world, setting, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SROI_BASE_URL = "https://sroi.example.nl/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = run_import(world.contractor_a_user, xlsx(rows(3, 2)))
    assert result.created == 5
    assert mailoutbox == []  # not before the commit
    assert len(callbacks) == 1  # one sending for the whole upload, not one per row
    callbacks[0]()

    mails = by_recipient(mailoutbox)
    assert sorted(mails) == sorted(
        [
            world.adviser.email,  # executing body: both municipalities
            world.adviser_noordwijk.email,
            world.adviser_katwijk.email,
            world.mixed_user.email,  # adviser of Katwijk only (council viewer of Noordwijk)
        ]
    )
    nw_count, nw_total = values_of("NW-A-1")
    kw_count, kw_total = values_of("KW-A-1")
    assert (nw_count, kw_count) == (3, 2)
    assert nw_total > 0 and kw_total > 0

    both = mails[world.adviser.email]
    assert "Bouwbedrijf A" in both.subject and "5" in both.subject
    assert both.extra_headers["Content-Language"] == "nl"
    assert both.extra_headers["Auto-Submitted"] == "auto-generated"
    nw_line = line_of(both, "NW-A-1")
    assert "(Herinrichting Dorpsstraat), Noordwijk: 3 " in nw_line
    assert nw_line.endswith(dutch_euro(nw_total))
    kw_line = line_of(both, "KW-A-1")
    assert "(Groenonderhoud Boulevard), Katwijk: 2 " in kw_line
    assert kw_line.endswith(dutch_euro(kw_total))
    assert re.search(rf": {re.escape(dutch_euro(nw_total + kw_total))}$", both.body, re.M)
    assert "Bouwbedrijf A" in both.body
    assert "https://sroi.example.nl/contributions/verification/" in both.body

    noordwijk = mails[world.adviser_noordwijk.email]
    assert "Ada Nool" in noordwijk.body
    assert "3" in noordwijk.subject and "5" not in noordwijk.subject
    line_of(noordwijk, "NW-A-1")
    assert "KW-A-1" not in noordwijk.body and "Groenonderhoud" not in noordwijk.body
    assert re.search(rf": {re.escape(dutch_euro(nw_total))}$", noordwijk.body, re.M)
    assert dutch_euro(nw_total + kw_total) not in noordwijk.body

    for email in (world.adviser_katwijk.email, world.mixed_user.email):
        katwijk = mails[email]
        assert "Katwijk: 2 " in line_of(katwijk, "KW-A-1")
        assert "NW-A-1" not in katwijk.body and "Herinrichting" not in katwijk.body
        assert "Noordwijk" not in katwijk.body


def test_confirming_an_upload_in_the_portal_sends_the_summaries(
    client, world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(world.contractor_a_user)
    token = token_of(upload(client, xlsx(rows(2, 1))))
    assert mailoutbox == []  # the upload and its preview send nothing
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(confirm_url(token), {"sha256": sha_of(client, token)})
    assert done.status_code == 302
    assert Contribution.objects.count() == 3
    mails = by_recipient(mailoutbox)
    assert len(mails) == 4
    assert "Noordwijk: 2 " in line_of(mails[world.adviser.email], "NW-A-1")
    assert "Katwijk: 1 " in line_of(mails[world.adviser.email], "KW-A-1")


def test_an_upload_in_one_municipality_mails_nobody_of_another(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_import(world.contractor_a_user, xlsx(rows(2, 0)))
    mails = by_recipient(mailoutbox)
    assert sorted(mails) == sorted([world.adviser.email, world.adviser_noordwijk.email])
    for mail in mails.values():
        assert "Noordwijk: 2 " in line_of(mail, "NW-A-1")
    # Never the uploading contractor, officers, council viewers or inactive advisers.
    for persona in ("contractor_a_user", "officer_noordwijk", "council_noordwijk"):
        assert getattr(world, persona).email not in mails
    assert "oud.adviseur@example.nl" not in mails
    assert "inactief.adviseur@example.nl" not in mails


def test_no_link_without_a_site_address(
    world, setting, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SROI_BASE_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        run_import(world.contractor_a_user, xlsx(rows(1, 0)))
    assert mailoutbox
    for mail in mailoutbox:
        assert "http" not in mail.body
        assert "/contributions/verification/" not in mail.body


# --- Nothing without a committed import ----------------------------------------------------------


def test_nothing_is_sent_for_a_rejected_import(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    bad = [*rows(2, 1), activity(hours="x")]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ImportRejected):
            run_import(world.contractor_a_user, xlsx(bad))
    assert callbacks == [] and mailoutbox == []
    assert Contribution.objects.count() == 0


def test_nothing_is_sent_when_writing_fails(
    world, setting, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    real = services.submit_contribution
    calls = []

    def failing(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ValidationError({"hours": "Kapot."})
        return real(**kwargs)

    monkeypatch.setattr(services, "submit_contribution", failing)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ImportFailed):
            run_import(world.contractor_a_user, xlsx(rows(2, 2)))
    assert callbacks == [] and mailoutbox == []


def test_nothing_is_sent_when_an_outer_transaction_rolls_back(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            run_import(world.contractor_a_user, xlsx(rows(2, 1)))
            raise RuntimeError("the request failed after the import")
    assert callbacks == [] and mailoutbox == []


def test_an_upload_of_only_already_reported_rows_sends_nothing(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    data = xlsx(rows(1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        run_import(world.contractor_a_user, data)
    sent = len(mailoutbox)
    assert sent > 0
    with django_capture_on_commit_callbacks(execute=True):
        result = run_import(world.contractor_a_user, data)
    assert result.created == 0 and result.skipped == 2
    assert len(mailoutbox) == sent


def test_a_failing_mail_server_keeps_the_import_and_logs_no_addresses(
    world, setting, django_capture_on_commit_callbacks, settings, caplog
):
    settings.EMAIL_BACKEND = "tests.placements.test_bulk_notifications.BrokenBackend"
    with caplog.at_level(logging.ERROR, logger="placements.notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            result = run_import(world.contractor_a_user, xlsx(rows(1, 1)))
    assert result.created == 2 and Contribution.objects.count() == 2
    assert "bulk contributions submitted" in caplog.text
    assert "ConnectionRefusedError" in caplog.text
    assert "@" not in caplog.text


# --- Same recipients as the single "submitted" notification --------------------------------------


def test_the_same_advisers_as_the_single_submitted_notification(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    """The per-contribution "submitted" mail has no opt-out (NotificationPreference only
    switches the daily digest off), so neither has the summary: an adviser who switched the
    digest off still gets both; the advisers are exactly those of the single notification."""
    NotificationPreference.objects.create(user=world.adviser_noordwijk, digest_opt_out=True)
    with django_capture_on_commit_callbacks(execute=True):
        run_import(world.contractor_a_user, xlsx(rows(1, 1)))
    bulk = {
        mail.to[0] for mail in mailoutbox if "NW-A-1" in mail.body
    }  # advisers told about the Noordwijk obligation
    mailoutbox.clear()

    single = Contribution.objects.get(obligation__contract__reference="NW-A-1")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(single)
    assert bulk == {mail.to[0] for mail in mailoutbox}
    assert world.adviser_noordwijk.email in bulk
    expected = {r.email for r in notifications.adviser_recipients(world.noordwijk.pk)}
    assert bulk == expected


def test_an_acting_adviser_is_not_told_and_each_adviser_gets_their_municipalities(world, setting):
    got = notifications.adviser_recipients_by_municipality(
        {world.noordwijk.pk, world.katwijk.pk}, exclude_user_id=world.adviser.pk
    )
    emails = {r.email for r in got}
    assert world.adviser.email not in emails
    assert world.adviser_noordwijk.email in emails
    served = {r.email: s for r, s in got.items()}
    assert served[world.adviser_noordwijk.email] == {world.noordwijk.pk}
    assert served[world.mixed_user.email] == {world.katwijk.pk}
    assert served[world.adviser_katwijk.email] == {world.katwijk.pk}


# --- Privacy -------------------------------------------------------------------------------------


def test_no_personal_data_in_the_summary(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_import(world.contractor_a_user, xlsx(rows(3, 1)))
    assert mailoutbox
    codes = [
        c.candidate.code
        for c in Contribution.objects.select_related("candidate").filter(candidate__isnull=False)
    ]
    assert len(codes) == 3
    for mail in mailoutbox:
        text = mail.subject + "\n" + mail.body
        for initials in INITIALS:
            assert initials not in text
        for year in BIRTH_YEARS:
            assert str(year) not in text
        assert "Participatiewet" not in text  # the target group
        assert DESCRIPTION not in text and "Gastlessen" not in text  # free text
        for code in codes:
            assert code not in text  # not even the pseudonymous code
        assert world.contractor_a_user.email not in text


# --- Queries -------------------------------------------------------------------------------------


def _contributions(setting, n: int) -> list[int]:
    nw, kw = setting
    return [
        f.ContributionFactory(obligation=nw if i % 3 else kw, value=Decimal("100.00") + i).pk
        for i in range(n)
    ]


def _queries_of_notifying(ids) -> int:
    with CaptureQueriesContext(connection) as building:
        notifications.notify_bulk_submitted(ids)
    return len(building.captured_queries)


def test_queries_of_the_summary_do_not_grow_with_the_rows(
    world, setting, mailoutbox, django_capture_on_commit_callbacks
):
    few = _contributions(setting, 5)
    many = _contributions(setting, 30)
    with django_capture_on_commit_callbacks(execute=True):
        queries_few = _queries_of_notifying(few)
    sent_few = len(mailoutbox)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        queries_many = _queries_of_notifying(many)
    assert sent_few == len(mailoutbox) == 4  # the same four advisers each time
    assert queries_few == queries_many
    mail = next(m for m in mailoutbox if m.to == [world.adviser.email])
    nw_many = [pk for i, pk in enumerate(many) if i % 3]
    assert f"Noordwijk: {len(nw_many)} " in line_of(mail, "NW-A-1")
    total = sum((Decimal("100.00") + i for i in range(30)), Decimal("0.00"))
    assert re.search(rf": {re.escape(dutch_euro(total))}$", mail.body, re.M)
