"""Every change of a user's second factor is mailed to the account's own address."""

import pytest
from django.core import mail
from django.urls import reverse

from sroi import security_notices, two_factor
from sroi.security_notices import Event

from .test_two_factor import code_for, confirmed_device


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        (Event.ENROLLED, "A new authenticator was set up"),
        (Event.RECOVERY_CODES, "New recovery codes were made"),
        (Event.DISABLED, "Two-factor login was switched off"),
        (Event.RESET, "Two-factor login of your SROI account was reset"),
    ],
)
def test_each_event_sends_one_notice_to_the_user_after_commit(
    world, event, phrase, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(security_notices, "MAIL_LANGUAGE", "en")
    user = world.contractor_a_user
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        security_notices.notify(user, event)
        assert mail.outbox == []  # nothing before the commit
    assert len(callbacks) == 1
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert phrase in message.subject
    assert "change your password at once" in message.body


def test_a_reset_by_an_administrator_names_them_and_is_in_dutch(
    world, django_capture_on_commit_callbacks
):
    user = world.officer_noordwijk
    confirmed_device(user)
    with django_capture_on_commit_callbacks(execute=True):
        two_factor.reset(user, by=world.functional_admin)
    (message,) = mail.outbox
    assert world.functional_admin.email in message.body
    assert message.extra_headers["Content-Language"] == "nl"
    assert "SROI-account" in message.subject  # Dutch: "… van uw SROI-account …"


def test_a_rolled_back_change_sends_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        two_factor.reset(world.officer_noordwijk, by=world.functional_admin)
    assert mail.outbox == []


def test_enrolling_through_the_page_sends_the_notice(
    client, world, django_capture_on_commit_callbacks
):
    from tests.sroi.test_two_factor import log_in

    user = world.officer_noordwijk
    log_in(client, user)
    client.get(reverse("two_factor_enrol"))
    device = two_factor.TOTPDevice.objects.get(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("two_factor_enrol"), {"code": code_for(device)})
    assert done.status_code == 200
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_a_failing_mail_server_is_logged_without_the_address(
    world, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broken(self, *args, **kwargs):
        raise ConnectionRefusedError

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        security_notices.notify(world.contractor_a_user, Event.DISABLED)
    assert "ConnectionRefusedError" in caplog.text
    assert world.contractor_a_user.email not in caplog.text
