"""Upload hardening: request size limit, spreadsheet content checks (macros, zip bombs),
sanitised names, private storage, and the headers evidence is served with."""

import io
import os
import stat
import time
import zipfile

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import TestCase
from django.urls import Resolver404, resolve, reverse
from openpyxl import Workbook

from contracts import importing
from placements.models import Evidence, get_private_storage
from placements.services import add_evidence
from sroi import uploads
from tests import factories as f

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
XLSX = importing.XLSX_CONTENT_TYPE
MACRO_MESSAGE = "Workbooks with macros (.xlsm) are not accepted"
BOMB_MESSAGE = "unpacks to far more data"


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def workbook(rows: int = 1) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = importing.SHEET_NAME
    ws.append([c.title for c in importing.COLUMNS])
    for n in range(rows):
        ws.append(["Noordwijk", f"NW-{n:04d}", "Herinrichting", None, "12345678"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, *, add: dict[str, bytes] | None = None, replace=None) -> bytes:
    """``data`` (an .xlsx) with members added or their content changed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {n: source.read(n) for n in source.namelist()}
    for name, change in (replace or {}).items():
        members[name] = change(members[name])
    members.update(add or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def macro_enabled(content_types: bytes) -> bytes:
    return content_types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )


def pending_files() -> list:
    directory = importing.PENDING_UPLOADS.directory()
    return list(directory.iterdir()) if directory.exists() else []


# --- Request size -----------------------------------------------------------------------------


def test_request_body_above_the_limit_is_refused_before_it_is_read(client, settings, world):
    settings.UPLOAD_MAX_REQUEST_BYTES = 10_000
    client.force_login(world.officer_noordwijk)
    response = client.post(
        reverse("contracts:import_contracts"),
        {"file": SimpleUploadedFile("big.xlsx", b"PK\x03\x04" + b"0" * 20_000)},
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert pending_files() == []


def test_request_body_below_the_limit_reaches_the_form(client, settings, world):
    settings.UPLOAD_MAX_REQUEST_BYTES = 10_000
    client.force_login(world.officer_noordwijk)
    response = client.post(
        reverse("contracts:import_contracts"),
        {"file": SimpleUploadedFile("small.xlsx", b"hello", content_type=XLSX)},
    )
    assert response.status_code == 200  # the form's own error, not a 413
    assert "not an Excel workbook" in response.content.decode()


def test_default_request_limit_leaves_room_for_the_forms_own_message():
    assert django_settings.UPLOAD_MAX_REQUEST_BYTES > 2 * django_settings.EVIDENCE_MAX_BYTES
    assert django_settings.UPLOAD_MAX_REQUEST_BYTES > 2 * django_settings.SPREADSHEET_MAX_BYTES


def test_upload_settings():
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 5 * 1024 * 1024
    assert django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS <= 1000
    assert django_settings.DATA_UPLOAD_MAX_NUMBER_FILES <= 10
    assert django_settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert django_settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700
    assert importing.MAX_UPLOAD_BYTES == django_settings.SPREADSHEET_MAX_BYTES


# --- Spreadsheet content ----------------------------------------------------------------------


def test_a_plain_workbook_and_the_template_pass(world):
    assert uploads.spreadsheet_problem(workbook(rows=50)) is None
    template = importing.build_template(acting_user=world.officer_noordwijk)
    assert uploads.spreadsheet_problem(template) is None


def test_not_a_zip_is_left_to_the_importer():
    assert uploads.spreadsheet_problem(b"not a zip at all") is None


def test_a_workbook_with_a_vba_project_is_refused():
    data = rezip(workbook(), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 100})
    assert MACRO_MESSAGE in uploads.spreadsheet_problem(data)


def test_a_macro_enabled_workbook_renamed_to_xlsx_is_refused():
    data = rezip(workbook(), replace={"[Content_Types].xml": macro_enabled})
    assert MACRO_MESSAGE in uploads.spreadsheet_problem(data)


def test_a_zip_bomb_below_the_total_size_limit_is_refused():
    """5 MB of zeros compresses about a thousand times: far beyond any real sheet."""
    data = rezip(workbook(), add={"xl/media/image1.png": b"\0" * (5 * 1024 * 1024)})
    assert len(data) < importing.MAX_UPLOAD_BYTES
    assert BOMB_MESSAGE in uploads.spreadsheet_problem(data)


def test_a_large_real_sheet_is_not_mistaken_for_a_bomb():
    data = workbook(rows=5000)
    biggest = max(zipfile.ZipFile(io.BytesIO(data)).infolist(), key=lambda i: i.file_size)
    assert biggest.file_size > uploads.RATIO_CHECK_FROM_BYTES  # the ratio check applies
    assert uploads.spreadsheet_problem(data) is None


@pytest.mark.parametrize(
    "data, message",
    [
        (rezip(workbook(), add={"xl/vbaProject.bin": b"\0" * 64}), MACRO_MESSAGE),
        (rezip(workbook(), add={"xl/media/pad.bin": b"\0" * (4 * 1024 * 1024)}), BOMB_MESSAGE),
    ],
    ids=["macro", "bomb"],
)
def test_contract_import_refuses_and_keeps_nothing(client, world, data, message):
    client.force_login(world.officer_noordwijk)
    response = client.post(
        reverse("contracts:import_contracts"),
        {"file": SimpleUploadedFile("opdrachten.xlsx", data, content_type=XLSX)},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert pending_files() == []


def test_bulk_reporting_refuses_macros(client, world):
    client.force_login(world.contractor_a_user)
    data = rezip(workbook(), replace={"[Content_Types].xml": macro_enabled})
    response = client.post(
        reverse("placements:portal_bulk_upload"),
        {"file": SimpleUploadedFile("bijdragen.xlsx", data, content_type=XLSX)},
    )
    assert response.status_code == 200
    assert MACRO_MESSAGE in response.content.decode()
    assert pending_files() == []


def test_spreadsheet_larger_than_the_limit_is_refused(client, world):
    client.force_login(world.officer_noordwijk)
    data = b"PK\x03\x04" + b"0" * importing.MAX_UPLOAD_BYTES
    response = client.post(
        reverse("contracts:import_contracts"),
        {"file": SimpleUploadedFile("opdrachten.xlsx", data, content_type=XLSX)},
    )
    assert response.status_code == 200
    assert "larger than 5 MB" in response.content.decode()
    assert pending_files() == []


# --- Names and private storage of pending spreadsheets -----------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("C:\\Users\\Jan Jansen\\opdrachten 2026.xlsx", "opdrachten_2026.xlsx"),
        ('evil"\r\nX-Header: 1.xlsx', "evilX-Header_1.xlsx"),
        ("..", "import.xlsx"),
        ("", "import.xlsx"),
        ("/", "import.xlsx"),
    ],
)
def test_display_name_keeps_no_path_and_no_header_breaking_characters(name, expected):
    assert uploads.display_name(name, "import.xlsx") == expected


def test_pending_spreadsheet_is_private_under_a_random_name(settings):
    files = uploads.PendingFiles("imports")
    token = files.store(b"PK\x03\x04data")
    path = files.path(token)
    assert path.parent == settings.PRIVATE_MEDIA_ROOT / "imports"
    assert path.name == f"{token}.xlsx" and uploads.is_valid_token(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(ValueError):
        files.path("../../etc/passwd")


def test_expired_pending_spreadsheet_is_refused_and_purged():
    files = uploads.PendingFiles("imports", max_age_seconds=60)
    token = files.store(b"PK\x03\x04data")
    old = time.time() - 120
    os.utime(files.path(token), (old, old))
    assert files.load(token) is None
    files.store(b"PK\x03\x04next")  # every new upload first removes the expired ones
    assert not files.path(token).exists()


# --- Evidence: storage and download ------------------------------------------------------------


@pytest.fixture
def evidence(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    contribution = f.ContributionFactory(obligation=obligation, candidate__confirmed=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return add_evidence(
            acting_user=world.contractor_a_user,
            contribution=contribution,
            uploaded_file=SimpleUploadedFile(
                "../../Contract Jan Jansen.pdf", MINIMAL_PDF, content_type="text/html"
            ),
            kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
        )


def test_evidence_is_stored_privately_under_a_neutral_name(evidence, settings):
    path = evidence.file.path
    assert path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert "Jansen" not in path and ".." not in evidence.file.name
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "Jansen" not in evidence.original_name


def test_evidence_download_headers(client, world, evidence):
    client.force_login(world.contractor_a_user)
    response = client.get(reverse("placements:evidence_download", args=[evidence.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    assert response["Content-Type"] == "application/pdf"  # detected, not the browser's claim
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert evidence.original_name in disposition and "Jansen" not in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"


def test_evidence_with_a_tampered_record_is_still_served_safely(client, world, evidence):
    Evidence.objects.filter(pk=evidence.pk).update(
        original_name='../../x.html"\r\nSet-Cookie: a=b', content_type="text/html"
    )
    client.force_login(world.adviser)
    response = client.get(reverse("placements:evidence_download", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition and "\r" not in disposition and "\n" not in disposition
    assert "a=b" not in response.get("Set-Cookie", "")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_harden_download_refuses_inline_responses():
    with pytest.raises(ValueError):
        uploads.harden_download(HttpResponse("<script>", content_type="text/html"))
    response = HttpResponse(b"x")
    response["Content-Disposition"] = 'attachment; filename="x.pdf"'
    assert uploads.harden_download(response)["Content-Security-Policy"] == uploads.DOWNLOAD_CSP


def test_private_files_have_no_public_url(evidence, client):
    """No URL pattern or file handler serves PRIVATE_MEDIA_ROOT: there is no public media
    root, and whatever URL the storage makes up for a file leads nowhere."""
    assert not django_settings.MEDIA_ROOT
    made_up = "/" + get_private_storage().url(evidence.file.name).lstrip("/")
    for url in [made_up] + [
        prefix + evidence.file.name
        for prefix in ("/media/", "/static/", "/private/", "/var/private/")
    ]:
        with pytest.raises(Resolver404):
            resolve(url)
        assert client.get(url).status_code == 404


def test_private_root_is_not_a_static_files_directory():
    """The configured private root (tests point PRIVATE_MEDIA_ROOT elsewhere) lies outside
    everything served as static files."""
    import sroi.settings as configured

    private = os.path.realpath(configured.PRIVATE_MEDIA_ROOT)
    static_dirs = [d[1] if isinstance(d, tuple) else d for d in configured.STATICFILES_DIRS]
    for directory in [configured.STATIC_ROOT, *static_dirs]:
        directory = os.path.realpath(directory)
        assert not private.startswith(directory) and not directory.startswith(private)
