"""Checks on uploaded evidence, on candidate details and on free text.

Evidence is judged by its content, never by its name or the content type the browser sends:
the first bytes must carry the signature of one of the allowed types (PDF, PNG, JPEG). The
uploaded file name is not kept at all (people name files after the person: "contract Jan
Jansen 123456782.pdf"): the evidence is shown and downloaded under a neutral name made of its
kind, the upload date and the extension of the detected type
(:func:`evidence_display_name`, e.g. ``arbeidsovereenkomst-2026-11-26.pdf``).

Free text (descriptions, reasons, justifications) is refused when it holds a number that may
be a BSN (:func:`contains_bsn_like_number`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class FileType:
    content_type: str
    extensions: tuple[str, ...]  # the first one is the canonical extension
    signature: bytes

    @property
    def extension(self) -> str:
        return self.extensions[0]


PDF = FileType("application/pdf", (".pdf",), b"%PDF-")
PNG = FileType("image/png", (".png",), b"\x89PNG\r\n\x1a\n")
JPEG = FileType("image/jpeg", (".jpg", ".jpeg"), b"\xff\xd8\xff")
ALLOWED_TYPES: tuple[FileType, ...] = (PDF, PNG, JPEG)
SIGNATURE_BYTES = max(len(t.signature) for t in ALLOWED_TYPES)

# Display-name stems per evidence kind (``Evidence.Kind`` values); Dutch, like the records.
EVIDENCE_NAME_STEMS = {
    "employment_contract": "arbeidsovereenkomst",
    "internship_agreement": "stageovereenkomst",
    "invoice": "factuur",
    "other": "bewijsstuk",
}
DEFAULT_STEM = "bewijsstuk"
_WHITESPACE = re.compile(r"\s+")


def detect_type(head: bytes) -> FileType | None:
    """The allowed type whose signature starts ``head``, or ``None``."""
    for file_type in ALLOWED_TYPES:
        if head.startswith(file_type.signature):
            return file_type
    return None


def read_head(uploaded_file, size: int = SIGNATURE_BYTES) -> bytes:
    """The first ``size`` bytes of an uploaded file; the file is rewound afterwards."""
    uploaded_file.seek(0)
    head = uploaded_file.read(size)
    uploaded_file.seek(0)
    return head or b""


def uploaded_size(uploaded_file) -> int:
    """The real size in bytes (Django sets ``size`` from the received data; a plain file
    object is measured)."""
    size = getattr(uploaded_file, "size", None)
    if size is not None:
        return int(size)
    uploaded_file.seek(0, os.SEEK_END)
    size = uploaded_file.tell()
    uploaded_file.seek(0)
    return size


def _file_error(message: str, code: str) -> ValidationError:
    return ValidationError({"file": ValidationError(message, code=code)})


def validate_evidence_file(uploaded_file, *, max_bytes: int) -> FileType:
    """Refuse empty, too large or not-allowed files; return the type detected from content."""
    size = uploaded_size(uploaded_file)
    if size <= 0:
        raise _file_error(_("The file is empty."), "empty")
    if size > max_bytes:
        raise _file_error(
            _("The file is too large (%(size)s bytes; at most %(max)s bytes).")
            % {"size": size, "max": max_bytes},
            "too_large",
        )
    file_type = detect_type(read_head(uploaded_file))
    if file_type is None:
        raise _file_error(
            _("Only PDF, PNG and JPEG files are accepted (judged by the content)."), "file_type"
        )
    return file_type


def evidence_display_name(kind: str, file_type: FileType, on_date: date) -> str:
    """The name evidence is shown and downloaded under: kind, upload date and the canonical
    extension of the detected type, e.g. ``arbeidsovereenkomst-2026-11-26.pdf``. Nothing of
    the uploaded name survives, so no name or number of a person can end up in it."""
    stem = EVIDENCE_NAME_STEMS.get(str(kind or ""), DEFAULT_STEM)
    return f"{stem}-{on_date:%Y-%m-%d}{file_type.extension}"


# --- Candidates ------------------------------------------------------------------------------

_INITIALS = re.compile(r"^[^\W\d_]+(?:[. ]+[^\W\d_]+)*\.?$")
# Groups of digits joined by short runs of spaces, dots, dashes, slashes or underscores:
# "123456782", "1234.56.782", "123 45 6782", "1234 - 56 - 782".
_DIGIT_RUN = re.compile(r"\d+(?:[\s./_-]{1,3}\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
# A calendar date is not a BSN: 01-03-2026, 1.3.2026, 01/03/2026, 2026-03-01.
_DATE = re.compile(
    r"(?<!\d)(?:(?P<d>\d{1,2})(?P<s>[./-])(?P<m>\d{1,2})(?P=s)(?P<y>\d{4})"
    r"|(?P<y2>\d{4})(?P<s2>[./-])(?P<m2>\d{1,2})(?P=s2)(?P<d2>\d{1,2}))(?!\d)"
)


def validate_initials(value: str) -> str:
    """Initials: letters, dots and spaces only, at most 10 characters (e.g. ``"A.B."``)."""
    value = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value or "")).strip()
    if not value:
        raise ValidationError({"initials": _("Initials are required.")}, code="required")
    if len(value) > 10:
        raise ValidationError(
            {"initials": _("Initials are at most 10 characters.")}, code="max_length"
        )
    if not _INITIALS.match(value):
        raise ValidationError(
            {"initials": _("Initials may contain only letters, dots and spaces.")},
            code="invalid",
        )
    return value


def _mask_date(match: re.Match) -> str:
    if match["d"]:
        day, month, year = match["d"], match["m"], match["y"]
    else:
        day, month, year = match["d2"], match["m2"], match["y2"]
    if 1 <= int(day) <= 31 and 1 <= int(month) <= 12 and 1900 <= int(year) <= 2099:
        return " ~ "
    return match.group()


def contains_bsn_like_number(text: str) -> bool:
    """True when ``text`` holds 8 or 9 digits that may form a BSN: in a row, or in groups
    separated by spaces, dots, dashes, slashes or underscores ("1234.56.782"). Calendar dates
    ("01-03-2026", also in a range "01-03-2026 - 31-12-2026") are allowed; longer digit
    strings (10+ digits in a row: phone or account numbers) are not BSN-like. Never store
    what may be a BSN."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    # Invisible characters between digits must not hide a number.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _DATE.sub(_mask_date, text)
    for run in _DIGIT_RUN.finditer(text):
        lengths = [len(group) for group in _DIGIT_GROUP.findall(run.group())]
        for first in range(len(lengths)):
            digits = 0
            for length in lengths[first:]:
                digits += length
                if digits > 9:
                    break
                if digits >= 8:
                    return True
    return False
