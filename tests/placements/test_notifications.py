"""E-mail notifications (issue 4, part 7): who gets them, in Dutch, with the reason, without
personal data, and only once the change is committed.

First the ``placements.notifications`` functions called directly, then the same through the
services that must call them (``placements.services``, ``placements.plans``).
"""

import logging
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from placements import notifications, plans, services
from placements.models import Contribution, PlanItem, PlanOfApproach
from sroi.models import Role
from tests import factories as f

INITIALS = "Q.X."
BIRTH_YEAR = 1971
DESCRIPTION = "Jan de Vries als timmerman"  # free text could hold a name: never mailed
JOB = {
    "block": "job",
    "start_date": date(2026, 3, 1),
    "end_date": date(2027, 2, 28),
    "hours_per_week": Decimal("24"),
}


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp refused adviseur@example.nl")


@pytest.fixture
def setup(world):
    """Contractor A works in Noordwijk. Advisers covering Noordwijk: the executing body's
    adviser and a Noordwijk adviser; not the Katwijk advisers, nor inactive ones. Contractor A
    has two active portal users and a deactivated one."""
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NWK-2026-001",
        contract__title="Herinrichting Dorpsstraat",
        rulebook__owner=world.executing_body,
    )
    adviser_noordwijk = f.UserFactory(email="adviseur.noordwijk@example.nl", full_name="Ada Nool")
    f.MembershipFactory(user=adviser_noordwijk, organisation=world.noordwijk, role=Role.ADVISER)
    former = f.UserFactory(email="oud.adviseur@example.nl")
    f.MembershipFactory(
        user=former, organisation=world.noordwijk, role=Role.ADVISER, is_active=False
    )
    inactive = f.UserFactory(email="inactief.adviseur@example.nl", is_active=False)
    f.MembershipFactory(user=inactive, organisation=world.noordwijk, role=Role.ADVISER)
    second = f.ContractorUserFactory(
        contractor=world.contractor_a,
        user__email="tweede@bouwbedrijf-a.nl",
        user__full_name="Tweede Gebruiker",
    ).user
    f.ContractorUserFactory(
        contractor=world.contractor_a, is_active=False, user__email="weg@bouwbedrijf-a.nl"
    )
    candidate = f.CandidateFactory(
        contractor=world.contractor_a, confirmed=True, initials=INITIALS, birth_year=BIRTH_YEAR
    )
    contribution = f.ContributionFactory(
        obligation=obligation, candidate=candidate, description=DESCRIPTION
    )
    return SimpleNamespace(
        world=world,
        obligation=obligation,
        candidate=candidate,
        contribution=contribution,
        advisers=sorted([world.adviser.email, adviser_noordwijk.email]),
        contractor_users=sorted([world.contractor_a_user.email, second.email]),
    )


def recipients(mails) -> list[str]:
    return sorted(address for mail in mails for address in mail.to)


def assert_no_personal_data(mails):
    for mail in mails:
        text = mail.subject + "\n" + mail.body
        assert INITIALS not in text
        assert str(BIRTH_YEAR) not in text
        assert DESCRIPTION not in text
        assert "Participatiewet" not in text  # the target group


def assert_dutch(mail):
    assert mail.extra_headers["Content-Language"] == "nl"
    assert mail.body.startswith("Beste ")
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"


def review(contribution, status, reason=""):
    """Put a contribution in a reviewed state directly (no service, so no second mail)."""
    contribution.status = status
    contribution.status_reason = reason
    contribution.reviewed_at = timezone.now()
    contribution.save()
    return contribution


def make_plan(obligation, status=PlanOfApproach.Status.SUBMITTED, comment=""):
    plan = PlanOfApproach.objects.create(
        obligation=obligation, version=1, status=status, review_comment=comment
    )
    PlanItem.objects.create(
        plan=plan,
        block="job",
        planned_count=2,
        planned_amount=Decimal("40000.00"),
        planned_start=date(2026, 3, 1),
        planned_end=date(2026, 12, 31),
        description=DESCRIPTION,
    )
    return plan


# --- Recipients ----------------------------------------------------------------------------------


def test_adviser_recipients_cover_the_municipality(setup):
    got = notifications.adviser_recipients(setup.world.noordwijk.pk)
    assert [r.email for r in got] == setup.advisers
    katwijk = notifications.adviser_recipients(setup.world.katwijk.pk)
    assert setup.world.adviser.email in [r.email for r in katwijk]
    assert "adviseur.noordwijk@example.nl" not in [r.email for r in katwijk]


def test_contractor_recipients_are_the_active_users(setup):
    got = notifications.contractor_recipients(setup.world.contractor_a.pk)
    assert [r.email for r in got] == setup.contractor_users


# --- Contributions, called directly --------------------------------------------------------------


def test_submitted_goes_to_the_advisers_after_commit(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify_contribution_submitted(setup.contribution)
    assert mailoutbox == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert recipients(mailoutbox) == setup.advisers
    assert all(len(mail.to) == 1 for mail in mailoutbox)  # nobody sees the other recipients
    mail = next(m for m in mailoutbox if m.to == ["adviseur.noordwijk@example.nl"])
    assert_dutch(mail)
    assert "NWK-2026-001" in mail.subject and "Bouwbedrijf A" in mail.subject
    assert "Ada Nool" in mail.body
    assert "Herinrichting Dorpsstraat" in mail.body and "Noordwijk" in mail.body
    assert "Baan" in mail.body  # the block, in Dutch
    assert "Ingediend" in mail.body  # the status, in Dutch
    assert "01-03-2026 – 28-02-2027" in mail.body  # Dutch dates
    assert "€ 10.000,00" in mail.body  # Dutch amounts
    assert setup.candidate.code in mail.body  # the pseudonymous code at most
    assert_no_personal_data(mailoutbox)


def test_nothing_is_sent_when_the_change_rolls_back(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notifications.notify_contribution_submitted(setup.contribution)
            raise RuntimeError("the service failed after notifying")
    assert callbacks == []
    assert mailoutbox == []


def test_the_acting_adviser_is_not_told_about_their_own_report(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(
            setup.contribution, acting_user=setup.world.adviser
        )
    assert recipients(mailoutbox) == ["adviseur.noordwijk@example.nl"]


def test_resubmission_says_so(setup, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(setup.contribution, resubmitted=True)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(setup.contribution)
    resubmitted, new = mailoutbox[0], mailoutbox[-1]
    assert resubmitted.subject != new.subject
    assert "NWK-2026-001" in resubmitted.subject


def test_no_link_without_a_site_address_and_a_link_with_one(
    setup, settings, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(setup.contribution)
    assert "http" not in mailoutbox[0].body
    settings.SROI_BASE_URL = "https://sroi.example.nl"
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(setup.contribution)
    url = f"https://sroi.example.nl/contributions/{setup.contribution.pk}/"
    assert url in mailoutbox[-1].body


@pytest.mark.parametrize(
    "status, reason, dutch_status",
    [
        (Contribution.Status.APPROVED, "", "Goedgekeurd"),
        (Contribution.Status.REJECTED, "Geen arbeidsovereenkomst bijgevoegd.", "Afgewezen"),
        (
            Contribution.Status.RETURNED,
            "Voeg de getekende arbeidsovereenkomst toe.",
            "Teruggestuurd voor aanvulling",
        ),
    ],
)
def test_reviewed_goes_to_the_contractors_active_users_with_the_reason(
    setup, mailoutbox, django_capture_on_commit_callbacks, status, reason, dutch_status
):
    review(setup.contribution, status, reason)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify_contribution_reviewed(setup.contribution)
    assert mailoutbox == []
    for callback in callbacks:
        callback()
    assert recipients(mailoutbox) == setup.contractor_users
    assert setup.world.contractor_b_user.email not in recipients(mailoutbox)
    mail = next(m for m in mailoutbox if m.to == ["tweede@bouwbedrijf-a.nl"])
    assert_dutch(mail)
    assert "NWK-2026-001" in mail.subject
    assert "Tweede Gebruiker" in mail.body
    assert dutch_status in mail.body
    assert "Baan" in mail.body and "€ 10.000,00" in mail.body
    if reason:
        assert reason in mail.body
    assert setup.candidate.code in mail.body
    assert_no_personal_data(mailoutbox)


def test_the_three_review_outcomes_have_different_subjects(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    for status in ("approved", "rejected", "returned"):
        review(setup.contribution, status, "" if status == "approved" else "Reden")
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify_contribution_reviewed(setup.contribution)
    assert len({mail.subject for mail in mailoutbox}) == 3


def test_subjects_are_dutch(setup, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(setup.contribution)
    subjects = [mailoutbox[-1].subject]
    for status in ("approved", "rejected", "returned"):
        review(setup.contribution, status, "" if status == "approved" else "Reden")
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify_contribution_reviewed(setup.contribution)
        subjects.append(mailoutbox[-1].subject)
    plan = make_plan(setup.obligation)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_plan_submitted(plan)
    subjects.append(mailoutbox[-1].subject)
    for status in ("approved", "returned"):
        plan.status, plan.review_comment = status, "Opmerking"
        plan.save()
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify_plan_reviewed(plan)
        subjects.append(mailoutbox[-1].subject)
    words = ["inzet", "goedgekeurd", "afgewezen", "aanvulling", "plan van aanpak"]
    words += ["goedgekeurd", "teruggestuurd"]
    for subject, word in zip(subjects, words, strict=True):
        assert word in subject.lower(), subject


def test_an_unreviewed_contribution_sends_nothing(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notifications.notify_contribution_reviewed(setup.contribution)
    assert callbacks == [] and mailoutbox == []


def test_a_contractor_without_active_users_gets_nothing(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    setup.world.contractor_a.users.update(is_active=False)
    review(setup.contribution, "approved")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notifications.notify_contribution_reviewed(setup.contribution)
    assert callbacks == [] and mailoutbox == []


def test_a_contribution_without_candidate(setup, mailoutbox, django_capture_on_commit_callbacks):
    activity = f.ContributionFactory(
        obligation=setup.obligation, block="social_activity", candidate=None, hours=Decimal("10")
    )
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_contribution_submitted(activity)
    body = mailoutbox[0].body
    assert "Bouwblok: Sociale activiteit" in body
    assert "Kandidaat" not in body


def test_a_failing_mail_server_does_not_break_the_change_nor_log_addresses(
    setup, settings, caplog, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.placements.test_notifications.BrokenBackend"
    with caplog.at_level(logging.ERROR, logger="placements.notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify_contribution_submitted(setup.contribution)
    assert "failed" in caplog.text and "ConnectionRefusedError" in caplog.text
    assert "@" not in caplog.text


# --- Plans, called directly ----------------------------------------------------------------------


def test_plan_submitted_goes_to_the_advisers(setup, mailoutbox, django_capture_on_commit_callbacks):
    plan = make_plan(setup.obligation)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify_plan_submitted(plan)
    assert mailoutbox == []
    callbacks[0]()
    assert recipients(mailoutbox) == setup.advisers
    mail = mailoutbox[0]
    assert_dutch(mail)
    assert "NWK-2026-001" in mail.subject and "Bouwbedrijf A" in mail.subject
    assert "Baan" in mail.body and "€ 40.000,00" in mail.body
    assert "01-03-2026 – 31-12-2026" in mail.body
    assert_no_personal_data(mailoutbox)


@pytest.mark.parametrize(
    "status, comment, dutch_status",
    [
        (PlanOfApproach.Status.APPROVED, "", "Goedgekeurd"),
        (PlanOfApproach.Status.RETURNED, "Plan ook een BBL-plek in.", "Teruggestuurd"),
    ],
)
def test_plan_reviewed_goes_to_the_contractor_with_the_comment(
    setup, mailoutbox, django_capture_on_commit_callbacks, status, comment, dutch_status
):
    plan = make_plan(setup.obligation, status=status, comment=comment)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_plan_reviewed(plan)
    assert recipients(mailoutbox) == setup.contractor_users
    mail = mailoutbox[0]
    assert_dutch(mail)
    assert "NWK-2026-001" in mail.subject
    assert dutch_status in mail.body
    if comment:
        assert comment in mail.body
    assert_no_personal_data(mailoutbox)


def test_a_plan_that_is_not_reviewed_sends_nothing(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    plan = make_plan(setup.obligation)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notifications.notify_plan_reviewed(plan)
    assert callbacks == [] and mailoutbox == []


# --- Through the services (they must call the notifications) -------------------------------------


def test_submit_contribution_notifies_the_advisers(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contribution = services.submit_contribution(
            acting_user=setup.world.contractor_a_user,
            obligation=setup.obligation,
            candidate=setup.candidate,
            **JOB,
        )
    assert recipients(mailoutbox) == setup.advisers
    assert contribution.candidate.code in mailoutbox[0].body
    assert_no_personal_data(mailoutbox)


def test_a_failed_submission_sends_nothing(setup, mailoutbox, django_capture_on_commit_callbacks):
    from django.core.exceptions import ValidationError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        services.submit_contribution(
            acting_user=setup.world.contractor_a_user,
            obligation=setup.obligation,
            candidate=setup.candidate,
            **{**JOB, "start_date": None},
        )
    assert mailoutbox == []


def test_resubmitting_a_returned_contribution_notifies_the_advisers(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    review(setup.contribution, "returned", "Voeg het contract toe.")
    with django_capture_on_commit_callbacks(execute=True):
        services.update_contribution(
            acting_user=setup.world.contractor_a_user,
            contribution=setup.contribution,
            hours_per_week=Decimal("32"),
        )
    assert recipients(mailoutbox) == setup.advisers


@pytest.mark.parametrize(
    "action, kwargs, dutch_status",
    [
        (services.approve_contribution, {}, "Goedgekeurd"),
        (services.reject_contribution, {"reason": "Geen bewijs aangeleverd."}, "Afgewezen"),
        (
            services.return_contribution,
            {"reason": "Voeg de getekende overeenkomst toe."},
            "Teruggestuurd voor aanvulling",
        ),
    ],
)
def test_reviewing_a_contribution_notifies_the_contractor(
    setup, mailoutbox, django_capture_on_commit_callbacks, action, kwargs, dutch_status
):
    with django_capture_on_commit_callbacks(execute=True):
        action(acting_user=setup.world.adviser, contribution=setup.contribution, **kwargs)
    assert recipients(mailoutbox) == setup.contractor_users
    assert dutch_status in mailoutbox[0].body
    if kwargs:
        assert kwargs["reason"] in mailoutbox[0].body
    assert_no_personal_data(mailoutbox)


PLAN_ITEM = {
    "block": "job",
    "planned_count": 2,
    "planned_amount": Decimal("40000.00"),
    "planned_start": date(2026, 3, 1),
    "planned_end": date(2026, 12, 31),
    "description": "Twee banen",
}


def test_submitting_a_plan_notifies_the_advisers(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        plans.submit_plan(
            acting_user=setup.world.contractor_a_user,
            obligation=setup.obligation,
            items=[PLAN_ITEM],
        )
    assert recipients(mailoutbox) == setup.advisers


@pytest.mark.parametrize(
    "action, kwargs, dutch_status",
    [
        (plans.approve_plan, {}, "Goedgekeurd"),
        (plans.return_plan, {"comment": "Plan ook een BBL-plek in."}, "Teruggestuurd"),
    ],
)
def test_reviewing_a_plan_notifies_the_contractor(
    setup, mailoutbox, django_capture_on_commit_callbacks, action, kwargs, dutch_status
):
    plan = make_plan(setup.obligation)
    with django_capture_on_commit_callbacks(execute=True):
        action(acting_user=setup.world.adviser, plan=plan, **kwargs)
    assert recipients(mailoutbox) == setup.contractor_users
    assert dutch_status in mailoutbox[0].body
    if kwargs:
        assert kwargs["comment"] in mailoutbox[0].body
