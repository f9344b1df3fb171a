"""Personal data never reaches the logs or error reports (``sroi.logging``): the redaction
filter on every configured handler, the request body kept out of log records, and Django's
error reports without POST values, query values, file names, secrets or local variables."""

from __future__ import annotations

import io
import logging
import sys
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import get_exception_reporter_class, get_exception_reporter_filter

from placements import views_portal
from sroi.logging import (
    REDACTED,
    PrivacyExceptionReporter,
    PrivacyExceptionReporterFilter,
    RedactPersonalDataFilter,
    redact,
)
from tests import factories as f

EMAIL = "jan.jansen@example.nl"
BSN = "123456782"
CANDIDATE_POST = {
    "candidate_choice": "new",
    "initials": "Q.X.",
    "birth_year": "1961",
    "target_group": "wajong",
    "years_on_benefit": "2.5",
    "description": f"contact {EMAIL}, bsn {BSN}",
    "start_date": "2026-03-01",
    "hours_per_week": "24",
}


@contextmanager
def configured_output():
    """What the handlers configured by ``settings.LOGGING`` write (root and django.server)."""
    buffer = io.StringIO()
    handlers = [
        *logging.getLogger().handlers,
        *logging.getLogger("django.server").handlers,
    ]
    ours = [
        h
        for h in handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(x, RedactPersonalDataFilter) for x in h.filters)
    ]
    assert ours, "no handler with the redaction filter is configured"
    previous = [h.setStream(buffer) for h in ours]
    try:
        yield buffer
    finally:
        for handler, stream in zip(ours, previous, strict=True):
            handler.setStream(stream)


# --- Configuration -----------------------------------------------------------------------------


def test_every_configured_handler_carries_the_redaction_filter():
    config = django_settings.LOGGING
    assert config["filters"]["redact_personal_data"]["()"] == (
        "sroi.logging.RedactPersonalDataFilter"
    )
    for name, handler in config["handlers"].items():
        assert "redact_personal_data" in handler.get("filters", []), name
    # Django's own loggers go through these handlers, not Django's default ones.
    assert config["loggers"]["django"]["handlers"] == []
    assert config["loggers"]["django"]["propagate"] is True
    live = logging.getLogger("django").handlers
    assert live == [], "Django's default handlers (console, mail_admins) are still attached"


def test_error_reports_use_the_privacy_filter_and_reporter(rf):
    request = rf.get("/")
    assert isinstance(get_exception_reporter_filter(request), PrivacyExceptionReporterFilter)
    assert get_exception_reporter_class(request) is PrivacyExceptionReporter
    assert django_settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False


# --- The filter --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"mail to {EMAIL} failed", f"mail to {REDACTED} failed"),
        ("Jan.Jansen+sroi@sub.gemeente.nl", REDACTED),
        (f"BSN {BSN}.", f"BSN {REDACTED}."),
        ("bsn 1234.56.782 and 123 45 6782", f"bsn {REDACTED} and {REDACTED}"),
        ("(123456782)", f"({REDACTED})"),
    ],
)
def test_redact_hides_email_addresses_and_nine_digit_numbers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "phone 0612345678 and 06-12345678",  # 10 digits: not a BSN
        "contract 2026-0021, deadline 2027-03-01",
        "amount 12345678,90 and 1.234.567,89",
        "KvK 12345678",
        "client 192.168.100.200",
        "contribution 12, candidate K-AB12CD34",
    ],
)
def test_redact_leaves_other_numbers_alone(text):
    assert redact(text) == text


def test_a_log_call_with_an_email_and_a_bsn_is_redacted_by_the_configured_handlers():
    logger = logging.getLogger("contracts.invitations")
    with configured_output() as output:
        logger.warning("Invitation for %s (bsn %s) failed", EMAIL, BSN)
        logger.warning("Counted %d rows in %.1f s", 12, 0.5)  # nothing to redact: untouched
    text = output.getvalue()
    assert "Invitation for [redacted] (bsn [redacted]) failed" in text
    assert "Counted 12 rows in 0.5 s" in text
    assert EMAIL not in text and BSN not in text


def test_exception_texts_and_stack_info_are_redacted():
    logger = logging.getLogger("placements.services")
    with configured_output() as output:
        try:
            raise ValueError(f"unexpected value {EMAIL} / {BSN}")
        except ValueError:
            logger.exception("Saving failed")
        logger.error("With stack", stack_info=True, extra={"note": EMAIL})
    text = output.getvalue()
    assert "Traceback (most recent call last)" in text
    assert "ValueError: unexpected value [redacted] / [redacted]" in text
    assert EMAIL not in text and BSN not in text


def test_a_record_carrying_a_request_hands_on_no_body():
    request = RequestFactory().post(
        "/contributions/portal/", {**CANDIDATE_POST, "file": SimpleUploadedFile("Jan.pdf", b"x")}
    )
    seen = []

    class Spy(logging.Handler):
        def emit(self, record):
            seen.append(record.request)

    spy = Spy()
    spy.addFilter(RedactPersonalDataFilter())
    logger = logging.getLogger("django.request.test")
    logger.addHandler(spy)
    try:
        logger.error("Internal Server Error: %s", request.path, extra={"request": request})
    finally:
        logger.removeHandler(spy)
    (logged,) = seen
    assert dict(logged.POST) == {} and dict(logged.FILES) == {}
    assert logged.path == "/contributions/portal/" and logged.method == "POST"
    with pytest.raises(AttributeError):
        logged.body  # noqa: B018
    # The live request itself is untouched.
    assert request.POST["initials"] == "Q.X."


# --- An unhandled exception in a candidate form ------------------------------------------------


@pytest.fixture
def broken_report_form(world, monkeypatch):
    """Contractor A's open obligation whose report form breaks with an unexpected error."""
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )

    def broken(*args, **kwargs):
        raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")

    monkeypatch.setattr(views_portal, "ContributionForm", broken)
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.contractor_a_user)
    return client, reverse("placements:portal_report", args=[obligation.pk]) + "?block=job"


def test_an_unhandled_exception_in_a_candidate_form_logs_the_traceback_without_posted_values(
    broken_report_form, settings
):
    settings.DEBUG = False
    client, url = broken_report_form
    with configured_output() as output:
        response = client.post(url, CANDIDATE_POST)
    assert response.status_code == 500
    text = output.getvalue()
    assert "Internal Server Error: /contributions/portal/obligations/" in text
    assert "Traceback (most recent call last)" in text and "TypeError" in text
    for value in ("Q.X.", "1961", "wajong", EMAIL, BSN, "Heftruck"):
        assert value not in text
    body = response.content.decode()
    for value in ("Q.X.", "1961", EMAIL, BSN, "TypeError", "NoneType"):
        assert value not in body


# --- Error reports -----------------------------------------------------------------------------


def _reporter(request):
    def fail(data):
        secret_local = data["initials"]  # noqa: F841 - a local variable with personal data
        raise RuntimeError("boom")

    try:
        fail(request.POST)
    except RuntimeError:
        exc_info = sys.exc_info()
    return get_exception_reporter_class(request)(request, *exc_info)


@pytest.fixture
def posted(rf, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2secret@redis:6379/0"
    request = rf.post(
        f"/contributions/?q={EMAIL}&code=K-1",
        {**CANDIDATE_POST, "file": SimpleUploadedFile("contract Jan Jansen.pdf", b"%PDF-")},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.23",
        HTTP_REFERER=f"https://sroi.example.nl/contracts/?q={EMAIL}",
    )
    request.user = f.UserFactory.build(email="user@example.nl", full_name="Isa de Vries")
    return request


def test_error_reports_hold_no_posted_or_query_values_file_names_secrets_or_locals(
    posted, settings
):
    settings.DEBUG = False
    reporter = _reporter(posted)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        for value in ("Q.X.", "1961", EMAIL, BSN, "Jan Jansen", "hunter2secret"):
            assert value not in report, value
        assert "203.0.113.7" not in report and "198.51.100.23" not in report
        assert "Isa" not in report and "user@example.nl" not in report
        assert "user id " in report
        # The names of the posted fields stay, for debugging.
        assert "initials" in report
    # ... and so do the names of the local variables (the HTML report shows them).
    assert "secret_local" in reporter.get_traceback_html()


def test_the_debug_page_hides_posted_and_query_values_and_secrets_too(posted, settings):
    """In development (DEBUG) the frames' local variables are shown, everything else is
    filtered as in production."""
    settings.DEBUG = True
    data = _reporter(posted).get_traceback_data()
    hidden = PrivacyExceptionReporterFilter.cleansed_substitute
    assert {value for _key, value in data["filtered_POST_items"]} == {hidden}
    assert {value for _key, value in data["request_GET_items"]} == {hidden}
    assert [name for name, _value in data["request_FILES_items"]] == ["file"]
    assert {value for _key, value in data["request_FILES_items"]} == {hidden}
    assert EMAIL not in data["request_insecure_uri"]
    assert data["settings"]["CELERY_BROKER_URL"] == hidden
    assert data["settings"]["SECRET_KEY"] == hidden
    assert data["request_meta"]["REMOTE_ADDR"] == hidden
    assert data["request_meta"]["HTTP_REFERER"] == hidden  # a search in the previous page
