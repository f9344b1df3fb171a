"""Uploaded spreadsheets kept between the preview and the confirmation.

Used by the contract import (:mod:`contracts.views_import`) and the contractors' bulk
reporting (:mod:`placements.views_bulk`):

* :class:`PendingFiles` keeps an uploaded file in ``PRIVATE_MEDIA_ROOT/<folder>/<token><suffix>``
  under a random token, readable by the web process only, for at most ``max_age_seconds``.
* :class:`UploadSession` remembers in the user's session which tokens (with the file's SHA-256
  and display name) and which finished results belong to this user.
* :func:`display_name` turns a browser-supplied file name into a safe one to show.

And the upload hardening shared by every upload and download of files:

* :class:`RequestSizeLimitMiddleware` refuses a request body above ``UPLOAD_MAX_REQUEST_BYTES``
  (413) before Django parses (and spools to disk) anything;
* :func:`spreadsheet_problem` looks inside an .xlsx (a zip) before openpyxl does: macros and
  members that unpack far beyond their compressed size (a zip bomb) are refused;
* :func:`harden_download` gives a file response the headers that keep browsers from running or
  rendering it in the site's origin.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import time
import zipfile
import zlib
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

DEFAULT_MAX_AGE_SECONDS = 24 * 60 * 60

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def is_valid_token(token: str) -> bool:
    return bool(_TOKEN.match(token or ""))


def display_name(name: str, default: str) -> str:
    """The base name of an uploaded file, made safe to show; ``default`` when nothing is left."""
    name = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    try:
        name = get_valid_filename(name)
    except Exception:  # noqa: BLE001 - any odd name becomes a neutral one
        name = ""
    return name[:100] or default


# --- Limits and checks on every upload -------------------------------------------------------


def spreadsheet_max_bytes() -> int:
    """The largest spreadsheet (.xlsx) accepted for an import (``SPREADSHEET_MAX_BYTES``)."""
    return int(getattr(settings, "SPREADSHEET_MAX_BYTES", 5 * 1024 * 1024))


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body exceeds ``UPLOAD_MAX_REQUEST_BYTES`` with 413,
    before the CSRF check or a form makes Django read (and spool to disk) the body.

    The limit lies well above the per-file limits, so a file slightly too large still reaches
    its form and gets the form's friendly message. A body without ``Content-Length`` is not
    read by Django at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.UPLOAD_MAX_REQUEST_BYTES:
            return HttpResponse(
                _("The upload is too large (at most %(max)s MB).")
                % {"max": settings.UPLOAD_MAX_REQUEST_BYTES // (1024 * 1024)},
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


#: A member of an .xlsx larger than this (uncompressed) must not unpack to more than
#: MAX_COMPRESSION_RATIO times its compressed size. Real sheets compress 5-30 times.
RATIO_CHECK_FROM_BYTES = 1024 * 1024
MAX_COMPRESSION_RATIO = 200
_MACRO_MEMBER = re.compile(r"(^|/)vbaProject[^/]*\.bin$", re.IGNORECASE)
_CONTENT_TYPES = "[Content_Types].xml"
_CONTENT_TYPES_READ_BYTES = 1024 * 1024


def spreadsheet_problem(data: bytes) -> str | None:
    """What makes this .xlsx unsafe to hand to openpyxl, as a message for the user; ``None``
    when nothing does (or when it is no readable zip at all, which the importer reports).

    Refused: macros (a ``vbaProject.bin`` part or a macro-enabled content type: an .xlsm
    renamed to .xlsx) and members that unpack to more than
    :data:`MAX_COMPRESSION_RATIO` times their compressed size (a zip bomb). Python's zipfile
    never unpacks more than a member's declared size, so declared sizes are the real bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            macro_names = any(_MACRO_MEMBER.search(i.filename) for i in infos)
            content_types = b""
            if _CONTENT_TYPES in archive.namelist():
                with archive.open(_CONTENT_TYPES) as handle:
                    content_types = handle.read(_CONTENT_TYPES_READ_BYTES)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,  # a damaged deflate stream
        NotImplementedError,  # an unsupported compression method
        RuntimeError,  # an encrypted member
        OSError,
        ValueError,
        EOFError,
    ):
        return None
    if macro_names or b"macroenabled" in content_types.lower():
        return _("Workbooks with macros (.xlsm) are not accepted. Save the file as .xlsx.")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
            return _(
                "The workbook unpacks to far more data than a spreadsheet of this size holds "
                "and cannot be imported. Save it again in Excel as an Excel workbook (.xlsx)."
            )
    return None


# --- Serving stored files ------------------------------------------------------------------------

#: The Content-Security-Policy of a downloaded file: should a browser render it after all, it
#: runs in a sandbox without scripts, plugins or any fetch.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def harden_download(response):
    """Headers for a stored (uploaded) file served to a user: as an attachment (the caller
    sets the file name), never sniffed into another type, sandboxed, never cached."""
    if not response.get("Content-Disposition", "").startswith("attachment"):
        raise ValueError("uploaded files are only ever served as attachments")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# --- Pending spreadsheet uploads -------------------------------------------------------------


class PendingFiles:
    """Files kept privately under a random token in ``PRIVATE_MEDIA_ROOT/<folder>``."""

    def __init__(
        self, folder: str, *, suffix: str = ".xlsx", max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    ):
        self.folder = folder
        self.suffix = suffix
        self.max_age_seconds = max_age_seconds

    def directory(self) -> Path:
        # Read on every call: settings (and tests' overrides) decide where the files go.
        return Path(settings.PRIVATE_MEDIA_ROOT) / self.folder

    def path(self, token: str) -> Path:
        if not is_valid_token(token):
            raise ValueError("invalid import token")
        return self.directory() / f"{token}{self.suffix}"

    def store(self, data: bytes) -> str:
        """Keep an uploaded file until it is confirmed; returns its random token."""
        self.purge_stale()
        self.directory().mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_urlsafe(32)
        # Readable by this process's user only: the file holds the municipality's data.
        fd = os.open(self.path(token), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return token

    def load(self, token: str, *, max_age_seconds: int | None = None) -> bytes | None:
        """The stored bytes, or ``None`` for an unknown, invalid or expired token."""
        max_age = self.max_age_seconds if max_age_seconds is None else max_age_seconds
        try:
            path = self.path(token)
            if time.time() - path.stat().st_mtime > max_age:
                return None
            return path.read_bytes()
        except (OSError, ValueError):
            return None

    def discard(self, token: str) -> None:
        try:
            self.path(token).unlink(missing_ok=True)
        except (OSError, ValueError):
            pass

    def purge_stale(self, max_age_seconds: int | None = None) -> int:
        """Remove files older than the maximum age; returns how many were removed."""
        max_age = self.max_age_seconds if max_age_seconds is None else max_age_seconds
        removed = 0
        directory = self.directory()
        if not directory.is_dir():
            return 0
        limit = time.time() - max_age
        for path in directory.glob(f"*{self.suffix}"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


class UploadSession:
    """The session bookkeeping of pending uploads and finished results of one upload flow.

    ``pending_key`` / ``results_key`` are the session keys; at most ``max_pending`` pending
    uploads (the oldest file is discarded from ``files``) and ``max_results`` results are kept.
    """

    def __init__(
        self,
        *,
        pending_key: str,
        results_key: str,
        files: PendingFiles,
        max_pending: int = 5,
        max_results: int = 5,
    ):
        self.pending_key = pending_key
        self.results_key = results_key
        self.files = files
        self.max_pending = max_pending
        self.max_results = max_results

    def pending(self, request, token: str) -> dict | None:
        """This user's pending upload for ``token``; 404 for a malformed token."""
        if not is_valid_token(token):
            raise Http404
        entry = request.session.get(self.pending_key, {}).get(token)
        if entry is None or entry.get("user") != request.user.pk:
            return None
        return entry

    def keep(self, request, data: bytes, sha256: str, filename: str) -> str:
        """Store a validated upload and remember it for this user; returns its token."""
        token = self.files.store(data)
        self.remember_pending(request, token, sha256, filename)
        return token

    def remember_pending(self, request, token: str, sha256: str, filename: str) -> None:
        pending = dict(request.session.get(self.pending_key, {}))
        while len(pending) >= self.max_pending:
            oldest = min(pending, key=lambda t: pending[t]["uploaded"])
            self.files.discard(oldest)
            del pending[oldest]
        pending[token] = {
            "sha256": sha256,
            "filename": filename,
            "user": request.user.pk,
            "uploaded": timezone.now().isoformat(),
        }
        request.session[self.pending_key] = pending

    def forget_pending(self, request, token: str) -> None:
        pending = dict(request.session.get(self.pending_key, {}))
        if pending.pop(token, None) is not None:
            request.session[self.pending_key] = pending

    def remember_result(self, request, token: str, values: dict, filename: str) -> None:
        """Store ``values`` (plus filename, user and time) as the result of ``token``."""
        results = dict(request.session.get(self.results_key, {}))
        while len(results) >= self.max_results:
            del results[min(results, key=lambda t: results[t]["finished"])]
        results[token] = {
            **values,
            "filename": filename,
            "user": request.user.pk,
            "finished": timezone.now().isoformat(),
        }
        request.session[self.results_key] = results

    def result(self, request, token: str) -> dict | None:
        """This user's finished result for ``token``, or ``None``."""
        result = request.session.get(self.results_key, {}).get(token)
        if result is None or result.get("user") != request.user.pk:
            return None
        return result
