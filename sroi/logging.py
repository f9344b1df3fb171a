"""Personal data never reaches the logs or error reports.

The application itself logs no personal data (only ids, task names and error classes). This
module is the safety net for everything else — messages of Django and third-party libraries,
exception texts, request lines of the development server:

* :class:`RedactPersonalDataFilter` is attached to every handler in ``settings.LOGGING``. It
  replaces e-mail addresses and 9-digit numbers (possibly a BSN, also written in groups such as
  ``1234.56.789``) in the formatted message, in the exception text and in the stack info by
  ``[redacted]``, and hands the handlers a request without its body (no POST values, no
  uploaded file names) when a record carries one (``django.request`` does).
* :class:`PrivacyExceptionReporterFilter` (``DEFAULT_EXCEPTION_REPORTER_FILTER``) and
  :class:`PrivacyExceptionReporter` (``DEFAULT_EXCEPTION_REPORTER``) govern Django's error
  reports (the debug page in development, error e-mails if someone configures ``ADMINS``):
  every POST value, query-string value and uploaded file name is replaced by stars, settings
  and request headers that look like secrets or addresses (keys, passwords, URLs with
  credentials, cookies, client IP addresses) are hidden, and outside ``DEBUG`` the local
  variables of the traceback's frames are hidden as well (they may hold a candidate's
  details). The filter is active in development too: it does not wait for ``DEBUG=False``.

Personal data the filter cannot recognise (initials, birth years) is kept out by the rules for
log calls: log ids and error classes, never field values (see docs/privacy.md).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "[redacted]"

#: An e-mail address (deliberately broad: anything@domain.tld).
EMAIL_ADDRESS = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
#: Nine digits in a row or in groups joined by single spaces, dots or dashes (a possible BSN),
#: not part of a longer number.
NINE_DIGITS = re.compile(r"(?<![\d.,-])\d(?:[ .-]?\d){8}(?![\d]|[.,-]\d)")


def redact(text: str) -> str:
    """``text`` with e-mail addresses and BSN-like numbers replaced by ``[redacted]``."""
    if not text:
        return text
    return NINE_DIGITS.sub(REDACTED, EMAIL_ADDRESS.sub(REDACTED, text))


class _RequestWithoutBody:
    """Stands in for the request on a log record: everything of it except its body."""

    _HIDDEN = frozenset({"body", "_body", "_post", "_files", "_stream", "read", "readline"})

    def __init__(self, request):
        object.__setattr__(self, "_request", request)

    @property
    def POST(self):  # noqa: N802 - the HttpRequest attribute name
        return QueryDict()

    @property
    def FILES(self):  # noqa: N802
        return MultiValueDict()

    def __getattr__(self, name):
        if name in self._HIDDEN:
            raise AttributeError(name)
        return getattr(self._request, name)

    def __setattr__(self, name, value):
        raise AttributeError("read-only request stand-in")

    def __repr__(self) -> str:
        return repr(self._request)


class RedactPersonalDataFilter(logging.Filter):
    """Redacts e-mail addresses and BSN-like numbers from a record, and drops the request body.

    The record is changed in place (once): every handler after this one sees the redacted
    version. A record whose text holds nothing to redact keeps its ``msg`` and ``args``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_sroi_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args!r}"
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, _RequestWithoutBody):
            record.request = _RequestWithoutBody(request)
        record._sroi_redacted = True
        return True


class PrivacyExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports without POST values, without secrets, without local variables in
    production. Active whatever ``DEBUG`` says."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CSRF|SESSION|URL|DSN|BROKER|REDIS"
        "|DATABASE|EMAIL_HOST_USER|ADDR|FORWARDED|OTP|QUERY|URI|REFERER",
        flags=re.IGNORECASE,
    )

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame):
        if settings.DEBUG:
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]


class PrivacyExceptionReporter(ExceptionReporter):
    """Django's error report without query-string values, uploaded file names, the query
    string in the URL (a search may hold a name or an e-mail address) or the user's name."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            hidden = self.filter.cleansed_substitute
            data["request_GET_items"] = [(key, hidden) for key in self.request.GET]
            data["request_FILES_items"] = [(key, hidden) for key in self.request.FILES]
            data["request_insecure_uri"] = redact(self.request.path)
            user = getattr(self.request, "user", None)
            if data.get("user_str") and user is not None:
                # The account by its id: names and e-mail addresses stay out of reports.
                data["user_str"] = f"user id {getattr(user, 'pk', None)}"
        return data
