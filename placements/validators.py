"""Checks on uploaded evidence and on candidate details.

Evidence is judged by its content, never by its name or the content type the browser sends:
the first bytes must carry the signature of one of the allowed types (PDF, PNG, JPEG). The
original name is kept only for display and download, after sanitising: no directories, no
control or bidirectional-override characters, a bounded length and an extension that matches
the detected type (so ``invoice.pdf.exe`` or ``photo.png`` holding a PDF can never be served
under a misleading name).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

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

MAX_NAME_LENGTH = 100
DEFAULT_STEM = "evidence"
# Characters that are unsafe or confusing in a download name on some platform.
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"/\\|?*;]')
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


def sanitise_filename(name: str | None, file_type: FileType) -> str:
    """A safe display name: base name only, no control characters, bounded length, and an
    extension that matches ``file_type``."""
    name = unicodedata.normalize("NFC", str(name or ""))
    # Strip any directory part, whichever separator the client used.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Drop control, format (e.g. U+202E right-to-left override) and other invisible characters.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = _WHITESPACE.sub(" ", name).strip(" .")
    stem, ext = os.path.splitext(name)
    if ext.lower() in file_type.extensions:
        ext = ext.lower()
    else:
        # A wrong, missing or double extension ("invoice.pdf.exe"): the name never keeps an
        # extension the content does not have.
        inner_stem, inner_ext = os.path.splitext(stem)
        if inner_ext.lower() in file_type.extensions:
            stem, ext = inner_stem, inner_ext.lower()
        else:
            ext = file_type.extension
    stem = stem.strip(" .") or DEFAULT_STEM
    stem = stem[: MAX_NAME_LENGTH - len(ext)].rstrip(" .") or DEFAULT_STEM
    return f"{stem}{ext}"


# --- Candidates ------------------------------------------------------------------------------

_INITIALS = re.compile(r"^[^\W\d_]+(?:[. ]+[^\W\d_]+)*\.?$")
# Nine digits in a row (optionally separated by dots, spaces or dashes) look like a BSN.
_BSN_LIKE = re.compile(r"(?<!\d)\d(?:[ .-]?\d){7,8}(?!\d)")


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


def contains_bsn_like_number(text: str) -> bool:
    """True when ``text`` holds 8 or 9 digits in a row: never store what may be a BSN."""
    return bool(_BSN_LIKE.search(text or ""))
