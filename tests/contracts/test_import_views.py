"""The spreadsheet import screens: template download, upload, preview, confirm and result.

Who may reach them (procurement officers and the adviser; everyone else 403, the anonymous
visitor the login page), what the preview shows (errors by row and column, the obligation per
row), that confirming imports everything once, and that a token cannot be used by anyone else.
The validation itself is tested in test_importing.py.
"""

import io
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from contracts import importing
from contracts.models import Contract, Contractor, Obligation
from contracts.views_import import PENDING_KEY
from tests import factories as f
from tests.contracts.test_importing import HEADERS, make_row, xlsx

XLSX = importing.XLSX_CONTENT_TYPE


@pytest.fixture(autouse=True)
def _english_pages(client):
    """The pages in English (the tests assert on the source strings)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def base_row(world) -> dict:
    return {
        "municipality": "Noordwijk",
        "reference": "NW-IMP-001",
        "title": "Herinrichting Dorpsstraat",
        "kvk": world.contractor_a.kvk_number,
        "kind": "werken",
        "value": 500000,
        "award_date": datetime(2026, 1, 15),
        "start_date": datetime(2026, 2, 1),
        "end_date": datetime(2027, 1, 31),
    }


def upload(client, data: bytes, name: str = "opdrachten.xlsx"):
    return client.post(
        reverse("contracts:import_contracts"),
        {"file": SimpleUploadedFile(name, data, content_type=XLSX)},
    )


def assert_login_redirect(response):
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def good_file(base_row) -> bytes:
    return xlsx(
        [
            base_row,
            make_row(
                base_row,
                reference="NW-IMP-002",
                value="50.000",
                kvk="87654321",
                contractor_name="Nieuw Groen B.V.",
            ),
        ]
    )


def bad_file(base_row) -> bytes:
    return xlsx([base_row, make_row(base_row, reference="NW-IMP-002", title=None)])


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contracts:import_contracts", "contracts:import_template"])
def test_anonymous_is_sent_to_login(client, name):
    assert_login_redirect(client.get(reverse(name)))


def test_anonymous_cannot_reach_token_pages(client):
    token = "a" * 43
    assert_login_redirect(client.get(reverse("contracts:import_preview", args=[token])))
    assert_login_redirect(client.post(reverse("contracts:import_confirm", args=[token])))
    assert_login_redirect(client.get(reverse("contracts:import_result", args=[token])))


@pytest.mark.parametrize(
    "persona",
    ["council_noordwijk", "functional_admin", "contractor_a_user", "outsider"],
)
@pytest.mark.parametrize("name", ["contracts:import_contracts", "contracts:import_template"])
def test_who_may_not_enter_contracts_gets_403(client, world, persona, name):
    client.force_login(getattr(world, persona))
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize(
    "persona", ["council_noordwijk", "functional_admin", "contractor_a_user", "outsider"]
)
def test_who_may_not_enter_contracts_cannot_upload_or_confirm(client, world, base_row, persona):
    client.force_login(getattr(world, persona))
    assert upload(client, good_file(base_row)).status_code == 403
    token = "a" * 43
    assert client.post(reverse("contracts:import_confirm", args=[token])).status_code == 403
    assert client.get(reverse("contracts:import_preview", args=[token])).status_code == 403
    assert client.get(reverse("contracts:import_result", args=[token])).status_code == 403
    assert Contract.objects.count() == 0


@pytest.mark.parametrize("persona", ["officer_noordwijk", "officer_katwijk", "adviser"])
def test_officers_and_the_adviser_get_the_upload_page(client, world, persona):
    client.force_login(getattr(world, persona))
    response = client.get(reverse("contracts:import_contracts"))
    assert response.status_code == 200
    assert reverse("contracts:import_template") in response.text
    assert 'enctype="multipart/form-data"' in response.text
    assert '<li class="col">Gemeente*</li>' in response.text
    assert '<li class="col">Omschrijving</li>' in response.text


# --- Template ----------------------------------------------------------------------------------


def test_template_download_is_a_valid_workbook_with_the_headers(client, world):
    client.force_login(world.officer_noordwijk)
    response = client.get(reverse("contracts:import_template"))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == ('attachment; filename="sroi-import-opdrachten.xlsx"')
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["Opdrachten", "Toelichting"]
    assert [c.value for c in wb["Opdrachten"][1]] == HEADERS
    formulas = [dv.formula1 for dv in wb["Opdrachten"].data_validations.dataValidation]
    assert '"Noordwijk"' in formulas and not any("Katwijk" in (x or "") for x in formulas)


# --- Upload → preview --------------------------------------------------------------------------


def test_upload_with_errors_shows_them_by_row_and_column(client, world, base_row, tmp_path):
    client.force_login(world.officer_noordwijk)
    response = upload(client, bad_file(base_row))
    assert response.status_code == 200
    text = response.text
    assert "2 rows" in text and "1 with errors" in text
    assert "Errors per row" in text
    # Row 3, column Titel (C), the message.
    assert '<th scope="row" class="num">3</th>' in text
    assert "Titel" in text and "(column C)" in text
    assert "Required: fill in a value." in text
    # The good row with its obligation; no way to confirm.
    assert "NW-IMP-001" in text and "25,000.00" in text
    assert "Nothing has been imported." in text
    assert 'name="sha256"' not in text
    assert "Upload the corrected file" in text
    assert Contract.objects.count() == 0
    assert not (tmp_path / "private" / "imports").exists() or not any(
        (tmp_path / "private" / "imports").iterdir()
    )
    assert not client.session.get(PENDING_KEY)


def test_a_katwijk_officer_uploading_a_noordwijk_row_sees_a_row_error(client, world, base_row):
    client.force_login(world.officer_katwijk)
    response = upload(client, xlsx([base_row]))
    assert response.status_code == 200
    assert "You may not enter contracts for Noordwijk." in response.text
    assert 'name="sha256"' not in response.text
    assert Contract.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.xlsx", b"just some text\n", "not an Excel workbook (.xlsx)"),
        ("report.xlsx", b"%PDF-1.4\n...", "not an Excel workbook (.xlsx)"),
        ("broken.xlsx", b"PK\x03\x04garbage" * 10, "damaged"),
        ("contracts.csv", b"a;b\n", "A CSV file has no column types"),
        ("contracts.xls", b"\xd0\xcf\x11\xe0", "old Excel file (.xls)"),
        ("contracts.pdf", b"%PDF", "Upload an Excel workbook (.xlsx)"),
        ("empty.xlsx", b"", "The submitted file is empty."),
    ],
)
def test_garbage_is_refused_on_the_form(client, world, name, data, message):
    client.force_login(world.officer_noordwijk)
    response = upload(client, data, name)
    assert response.status_code == 200
    assert message in response.text
    assert "is-invalid" in response.text  # shown with the field
    assert Contract.objects.count() == 0


def test_wrong_headers_are_one_clear_message(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    data = xlsx([base_row], headers=["Naam", "Bedrag"], keys=["title", "value"])
    response = upload(client, data)
    assert response.status_code == 200
    assert "Required columns are missing" in response.text
    assert "KvK-nummer opdrachtnemer" in response.text


def test_a_file_over_5_mb_is_refused(client, world):
    client.force_login(world.officer_noordwijk)
    response = upload(client, b"PK\x03\x04" + b"0" * (5 * 1024 * 1024))
    assert response.status_code == 200
    assert "larger than 5 MB" in response.text


def test_a_missing_file_is_a_form_error(client, world):
    client.force_login(world.officer_noordwijk)
    response = client.post(reverse("contracts:import_contracts"), {})
    assert response.status_code == 200
    assert "This field is required." in response.text


# --- Preview → confirm → result ----------------------------------------------------------------


def test_valid_upload_previews_then_confirm_imports(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    data = good_file(base_row)
    response = upload(client, data)
    assert response.status_code == 302
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert response.url == reverse("contracts:import_preview", args=[token])
    assert Contract.objects.count() == 0

    preview = client.get(response.url)
    assert preview.status_code == 200
    text = preview.text
    assert "2 rows" in text and "no errors" in text
    assert "25,000.00" in text  # the obligation of row 2
    assert "None (below the threshold)" in text  # row 3
    assert "Nieuw Groen B.V." in text and ">new<" in text
    assert reverse("contracts:import_confirm", args=[token]) in text
    assert "Import 2 contracts" in text
    sha = client.session[PENDING_KEY][token]["sha256"]
    assert sha in text

    done = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    assert done.status_code == 302
    assert done.url == reverse("contracts:import_result", args=[token])
    assert Contract.objects.count() == 2
    assert Obligation.objects.count() == 1
    assert Contractor.objects.filter(kvk_number="87654321").exists()
    assert token not in client.session.get(PENDING_KEY, {})

    result = client.get(done.url)
    assert result.status_code == 200
    assert "2 contracts imported, 1 obligation created, 0 already imported and skipped." in (
        result.text
    )
    assert "NW-IMP-001" in result.text and "NW-IMP-002" in result.text

    # Confirming again (double click, back button) imports nothing twice.
    again = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    assert again.status_code == 302 and again.url == reverse("contracts:import_contracts")
    assert Contract.objects.count() == 2


def test_uploading_the_same_file_again_offers_nothing_to_import(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    data = good_file(base_row)
    importing.import_workbook(acting_user=world.officer_noordwijk, data=data)
    response = upload(client, data)
    assert response.status_code == 200
    assert "Already imported, skipped" in response.text
    assert "there is nothing new to import" in response.text
    assert 'name="sha256"' not in response.text
    assert Contract.objects.count() == 2


def _pending_token(client, data) -> tuple[str, str]:
    response = upload(client, data)
    assert response.status_code == 302, response.text
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    return token, client.session[PENDING_KEY][token]["sha256"]


def test_confirm_with_another_hash_imports_nothing(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    token, _sha = _pending_token(client, good_file(base_row))
    response = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": "0" * 64})
    assert response.status_code == 302
    assert Contract.objects.count() == 0


def test_a_token_belongs_to_the_session_that_uploaded(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    token, sha = _pending_token(client, good_file(base_row))
    client.logout()
    client.force_login(world.adviser)
    response = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    assert response.status_code == 302 and response.url == reverse("contracts:import_contracts")
    assert client.get(reverse("contracts:import_preview", args=[token])).status_code == 302
    assert Contract.objects.count() == 0


def test_an_invalid_token_is_404(client, world):
    client.force_login(world.officer_noordwijk)
    assert client.get(reverse("contracts:import_preview", args=["short"])).status_code == 404
    assert client.get("/contracts/import/%2E%2E%2Fetc/").status_code == 404
    bad = "a" * 40 + "$"
    assert client.post(reverse("contracts:import_confirm", args=[bad])).status_code == 404


def test_a_get_cannot_confirm(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    token, _sha = _pending_token(client, good_file(base_row))
    assert client.get(reverse("contracts:import_confirm", args=[token])).status_code == 405
    assert Contract.objects.count() == 0


def test_changes_in_the_database_are_caught_at_confirmation(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    token, sha = _pending_token(client, good_file(base_row))
    f.ContractFactory(municipality=world.noordwijk, reference="NW-IMP-001", title="Ander werk")
    response = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    assert response.status_code == 200
    assert "Something changed since the check" in response.text
    assert "already exists in Noordwijk with different data" in response.text
    assert 'name="sha256"' not in response.text
    assert Contract.objects.count() == 1


def test_a_failure_while_writing_is_shown_not_a_500(client, world, base_row, monkeypatch):
    from django.core.exceptions import ValidationError

    from contracts import services

    client.force_login(world.officer_noordwijk)
    token, sha = _pending_token(client, good_file(base_row))

    def broken(**kwargs):
        raise ValidationError("Kapot.")

    monkeypatch.setattr(services, "prepare_contract", broken)
    response = client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    assert response.status_code == 200
    assert "The import failed; nothing was imported." in response.text
    assert "Row 2:" in response.text and "Kapot." in response.text
    assert Contract.objects.count() == 0


def test_result_page_of_another_user_is_404(client, world, base_row):
    client.force_login(world.officer_noordwijk)
    token, sha = _pending_token(client, good_file(base_row))
    client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
    client.logout()
    client.force_login(world.officer_katwijk)
    assert client.get(reverse("contracts:import_result", args=[token])).status_code == 404


def test_result_page_query_count_does_not_grow_with_rows(client, world, base_row):
    client.force_login(world.officer_noordwijk)

    def run(n: int, prefix: str) -> int:
        rows = [make_row(base_row, reference=f"{prefix}-{i}") for i in range(n)]
        token, sha = _pending_token(client, xlsx(rows))
        client.post(reverse("contracts:import_confirm", args=[token]), {"sha256": sha})
        url = reverse("contracts:import_result", args=[token])
        client.get(url)  # the success message is shown (and consumed) once
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        assert f"{prefix}-{n - 1}" in response.text or n > 25
        return len(ctx)

    assert run(3, "Q") == run(30, "P")
