"""Evidence uploads: judged by content, bounded in size, stored privately under a neutral
name, written only when the transaction commits."""

import io
import os
from datetime import date
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase

from contracts.models import Obligation
from placements import services
from placements.models import Evidence
from placements.services import (
    add_evidence,
    approve_contribution,
    reject_contribution,
    return_contribution,
)
from placements.validators import JPEG, PDF, PNG, detect_type, evidence_display_name
from tests import factories as f

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
MINIMAL_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
MINIMAL_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 8 + b"\xff\xd9"


TODAY = date(2026, 11, 26)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """The upload date in the evidence's name."""
    monkeypatch.setattr(services.timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def setup(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    contribution = f.ContributionFactory(obligation=obligation, candidate__confirmed=True)
    return SimpleNamespace(world=world, obligation=obligation, contribution=contribution)


def upload(content: bytes, name: str, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def add(setup, file, user=None, kind=Evidence.Kind.EMPLOYMENT_CONTRACT):
    """``add_evidence`` as in a request that commits (the test's own transaction never does,
    so the on-commit write is run here)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return add_evidence(
            acting_user=user or setup.world.contractor_a_user,
            contribution=setup.contribution,
            uploaded_file=file,
            kind=kind,
        )


def stored_files(settings) -> list[str]:
    root = settings.PRIVATE_MEDIA_ROOT
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names]


# --- Accepted --------------------------------------------------------------------------------


def test_minimal_pdf_is_accepted_under_a_neutral_name(setup, settings):
    name = "C:\\Users\\Jan\\Arbeidscontract Jan Jansen 1234.56.782\u202e.pdf"
    evidence = add(setup, upload(MINIMAL_PDF, name))
    evidence.refresh_from_db()
    assert evidence.content_type == "application/pdf"
    assert evidence.size == len(MINIMAL_PDF)
    # Nothing of the uploaded name is kept: kind, upload date, detected type.
    assert evidence.original_name == "arbeidsovereenkomst-2026-11-26.pdf"
    assert evidence.uploaded_by == setup.world.contractor_a_user
    assert evidence.kind == Evidence.Kind.EMPLOYMENT_CONTRACT
    # Stored privately under a random name that does not contain the uploaded name.
    for part in ("Arbeidscontract", "Jan", "1234"):
        assert part not in evidence.file.name
    assert evidence.file.name.startswith(f"evidence/{setup.contribution.pk}/")
    with evidence.file.open("rb") as stored:
        assert stored.read() == MINIMAL_PDF
    assert stored_files(settings) == [str(settings.PRIVATE_MEDIA_ROOT / evidence.file.name)]


def test_minimal_png_is_accepted(setup):
    evidence = add(
        setup, upload(MINIMAL_PNG, "../../etc/foto.PNG", "image/png"), kind=Evidence.Kind.OTHER
    )
    assert (evidence.content_type, evidence.original_name) == (
        "image/png",
        "bewijsstuk-2026-11-26.png",
    )


def test_jpeg_is_accepted_under_the_canonical_extension(setup):
    evidence = add(
        setup,
        upload(MINIMAL_JPEG, "scan.jpeg", "image/jpeg"),
        kind=Evidence.Kind.INTERNSHIP_AGREEMENT,
    )
    assert (evidence.content_type, evidence.original_name) == (
        "image/jpeg",
        "stageovereenkomst-2026-11-26.jpg",
    )


def test_type_comes_from_content_not_from_name_or_browser(setup):
    evidence = add(
        setup, upload(MINIMAL_PNG, "factuur.pdf", "application/pdf"), kind=Evidence.Kind.INVOICE
    )
    assert evidence.content_type == "image/png"
    assert evidence.original_name == "factuur-2026-11-26.png"


def test_adviser_may_add_evidence(setup):
    evidence = add(setup, upload(MINIMAL_PDF, "x.pdf"), user=setup.world.adviser)
    assert evidence.uploaded_by == setup.world.adviser


def test_returned_contribution_takes_evidence(setup):
    return_contribution(
        acting_user=setup.world.adviser, contribution=setup.contribution, reason="Bewijs graag"
    )
    assert add(setup, upload(MINIMAL_PDF, "x.pdf")).pk


def test_exactly_max_size_is_accepted(setup, settings):
    settings.EVIDENCE_MAX_BYTES = len(MINIMAL_PDF)
    assert add(setup, upload(MINIMAL_PDF, "x.pdf")).size == len(MINIMAL_PDF)


# --- Refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"Dit is gewoon tekst, geen PDF.\n",
        b"<html><script>alert(1)</script></html>",
        b" %PDF-1.4 starts too late",
        b"MZ\x90\x00 windows executable",
        b"GIF89a not allowed",
    ],
)
def test_other_content_is_refused_whatever_its_name(setup, settings, content):
    with pytest.raises(ValidationError) as excinfo:
        add(setup, upload(content, "contract.pdf", "application/pdf"))
    assert "file" in excinfo.value.message_dict
    assert not Evidence.objects.exists()
    assert stored_files(settings) == []


def test_too_large_is_refused(setup, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as excinfo:
        add(setup, upload(MINIMAL_PDF + b"0" * 1024, "big.pdf"))
    assert excinfo.value.error_dict["file"][0].code == "too_large"
    assert not Evidence.objects.exists()


def test_empty_is_refused(setup):
    with pytest.raises(ValidationError) as excinfo:
        add(setup, upload(b"", "leeg.pdf"))
    assert excinfo.value.error_dict["file"][0].code == "empty"


def test_unknown_kind_is_refused_and_no_file_is_left(setup, settings):
    with pytest.raises(ValidationError) as excinfo:
        add(setup, upload(MINIMAL_PDF, "x.pdf"), kind="selfie")
    assert "kind" in excinfo.value.message_dict
    assert stored_files(settings) == []


@pytest.mark.parametrize("review", ["approve", "reject"])
def test_no_evidence_on_judged_contributions(setup, review):
    adviser = setup.world.adviser
    if review == "approve":
        approve_contribution(acting_user=adviser, contribution=setup.contribution)
    else:
        reject_contribution(acting_user=adviser, contribution=setup.contribution, reason="nee")
    with pytest.raises(ValidationError):
        add(setup, upload(MINIMAL_PDF, "x.pdf"))


def test_no_evidence_after_settlement(setup):
    Obligation.objects.filter(pk=setup.obligation.pk).update(status=Obligation.Status.SETTLED)
    with pytest.raises(ValidationError):
        add(setup, upload(MINIMAL_PDF, "x.pdf"))


@pytest.mark.parametrize(
    "persona",
    ["contractor_b_user", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"],
)
def test_others_cannot_add_evidence(setup, settings, persona):
    with pytest.raises(PermissionDenied):
        add(setup, upload(MINIMAL_PDF, "x.pdf"), user=getattr(setup.world, persona))
    with pytest.raises(PermissionDenied):
        add(setup, upload(MINIMAL_PDF, "x.pdf"), user=AnonymousUser())
    assert stored_files(settings) == []


def test_plain_file_object_is_measured_and_accepted(setup):
    raw = io.BytesIO(MINIMAL_PDF)
    raw.name = "/tmp/upload/verklaring.pdf"
    evidence = add(setup, raw)
    assert (evidence.size, evidence.original_name) == (
        len(MINIMAL_PDF),
        "arbeidsovereenkomst-2026-11-26.pdf",
    )
    with evidence.file.open("rb") as stored:
        assert stored.read() == MINIMAL_PDF


# --- The helpers -----------------------------------------------------------------------------


def test_detect_type():
    assert detect_type(MINIMAL_PDF) is PDF
    assert detect_type(MINIMAL_PNG) is PNG
    assert detect_type(MINIMAL_JPEG) is JPEG
    assert detect_type(b"%PD") is None
    assert detect_type(b"") is None


@pytest.mark.parametrize(
    ("kind", "file_type", "expected"),
    [
        ("employment_contract", PDF, "arbeidsovereenkomst-2026-11-26.pdf"),
        ("internship_agreement", PDF, "stageovereenkomst-2026-11-26.pdf"),
        ("invoice", PNG, "factuur-2026-11-26.png"),
        ("other", JPEG, "bewijsstuk-2026-11-26.jpg"),
        ("../../etc/passwd", PDF, "bewijsstuk-2026-11-26.pdf"),
        ("", PDF, "bewijsstuk-2026-11-26.pdf"),
    ],
)
def test_evidence_display_name(kind, file_type, expected):
    assert evidence_display_name(kind, file_type, TODAY) == expected


# --- Written on commit, never left behind by a rollback --------------------------------------


def test_the_file_is_written_when_the_transaction_commits(setup, settings):
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        evidence = add_evidence(
            acting_user=setup.world.contractor_a_user,
            contribution=setup.contribution,
            uploaded_file=upload(MINIMAL_PDF, "x.pdf"),
            kind=Evidence.Kind.INVOICE,
        )
    assert stored_files(settings) == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()  # what the commit does
    assert stored_files(settings) == [str(settings.PRIVATE_MEDIA_ROOT / evidence.file.name)]
    with Evidence.objects.get(pk=evidence.pk).file.open("rb") as stored:
        assert stored.read() == MINIMAL_PDF


def test_rollback_of_the_surrounding_transaction_leaves_no_file(setup, settings):
    """add_evidence succeeds, then the caller's transaction fails: no row and no file."""
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            add_evidence(
                acting_user=setup.world.contractor_a_user,
                contribution=setup.contribution,
                uploaded_file=upload(MINIMAL_PDF, "x.pdf"),
                kind=Evidence.Kind.INVOICE,
            )
            raise RuntimeError("a later step of the same request fails")
    assert callbacks == []
    assert not Evidence.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_real_commit_writes_and_real_rollback_does_not(setup, settings):
    """The same with real transactions (no test transaction around them)."""
    with pytest.raises(RuntimeError), transaction.atomic():
        add_evidence(
            acting_user=setup.world.contractor_a_user,
            contribution=setup.contribution,
            uploaded_file=upload(MINIMAL_PDF, "x.pdf"),
            kind=Evidence.Kind.INVOICE,
        )
        raise RuntimeError("rolled back")
    assert not Evidence.objects.exists()
    assert stored_files(settings) == []

    evidence = add_evidence(
        acting_user=setup.world.contractor_a_user,
        contribution=setup.contribution,
        uploaded_file=upload(MINIMAL_PDF, "x.pdf"),
        kind=Evidence.Kind.INVOICE,
    )
    assert stored_files(settings) == [str(settings.PRIVATE_MEDIA_ROOT / evidence.file.name)]


def test_a_failed_write_after_the_commit_removes_the_row(setup, settings, monkeypatch):
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(FileSystemStorage, "save", broken_save)
    evidence = add(setup, upload(MINIMAL_PDF, "x.pdf"))  # the error is logged (robust hook)
    assert not Evidence.objects.filter(pk=evidence.pk).exists()
    assert stored_files(settings) == []


def test_the_obligation_is_locked_while_evidence_is_added(setup, monkeypatch):
    locked = []
    lock = services._lock_obligation

    def spy(obligation_id):
        locked.append(obligation_id)
        return lock(obligation_id)

    monkeypatch.setattr(services, "_lock_obligation", spy)
    add(setup, upload(MINIMAL_PDF, "x.pdf"))
    assert locked == [setup.obligation.pk]
