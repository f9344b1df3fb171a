"""The bulk reporting screens of the portal: template, upload, preview, confirm, result.

Contractor users only: every URL is tried with contractor A, contractor B, the staff personas,
an outsider and an anonymous visitor. The workbook helpers come from test_bulk_import.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from contracts import importing
from placements.models import Candidate, Contribution
from tests import factories as f
from tests.placements.test_bulk_import import activity, job, job_of, xlsx

UPLOAD = reverse("placements:portal_bulk_upload")
TEMPLATE = reverse("placements:portal_bulk_template")
STAFF = ["adviser", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"]


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def setting(world):
    a = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-1",
        contract__title="Herinrichting Dorpsstraat",
    )
    b = f.RuledObligationFactory(
        contract__contractor=world.contractor_b,
        contract__municipality=world.noordwijk,
        contract__reference="NW-B-1",
        contract__title="Groenonderhoud Zeeweg",
    )
    return a, b


def upload(client, data: bytes, name: str = "bijdragen.xlsx"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data)})


def token_of(response) -> str:
    assert response.status_code == 302, response.content[:2000]
    return response["Location"].rstrip("/").split("/")[-1]


def preview_url(token: str) -> str:
    return reverse("placements:portal_bulk_preview", args=[token])


def confirm_url(token: str) -> str:
    return reverse("placements:portal_bulk_confirm", args=[token])


def sha_of(client, token: str) -> str:
    return client.session["contribution_bulk_uploads"][token]["sha256"]


def count() -> int:
    return Contribution.objects.count()


# --- The whole flow ----------------------------------------------------------------------------


def test_upload_preview_confirm_result(client, world, setting):
    client.force_login(world.contractor_a_user)
    page = client.get(UPLOAD)
    assert page.status_code == 200
    text = page.content.decode()
    assert "NW-A-1" in text and "Herinrichting Dorpsstraat" in text
    assert "NW-B-1" not in text and "Groenonderhoud" not in text

    response = upload(client, xlsx([job(), activity()]))
    token = token_of(response)
    assert response["Location"] == preview_url(token)
    assert count() == 0

    preview = client.get(preview_url(token))
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "Every row is correct" in text
    assert "€ 20,164.38" in text and "€ 4,000.00" in text  # values per row (English UI)
    assert "J.K." in text  # the new candidate, to its own contractor
    assert confirm_url(token) in text
    assert count() == 0

    done = client.post(confirm_url(token), {"sha256": sha_of(client, token)})
    assert done.status_code == 302
    assert done["Location"] == reverse("placements:portal_bulk_result", args=[token])
    assert count() == 2 and Candidate.objects.count() == 1
    assert not (importing._pending_dir() / f"{token}.xlsx").exists()

    result = client.get(done["Location"])
    assert result.status_code == 200
    text = result.content.decode()
    assert "2 contributions submitted for review, 0 already reported and skipped." in text
    for contribution in Contribution.objects.all():
        assert reverse("placements:portal_contribution", args=[contribution.pk]) in text

    # Confirming again does nothing: the upload is gone.
    again = client.post(confirm_url(token), {"sha256": "0" * 64})
    assert again.status_code == 302 and again["Location"] == UPLOAD
    assert count() == 2


def test_uploading_the_same_file_again_reports_nothing_new(client, world, setting):
    client.force_login(world.contractor_a_user)
    data = xlsx([job(), activity()])
    token = token_of(upload(client, data))
    client.post(confirm_url(token), {"sha256": sha_of(client, token)})
    assert count() == 2

    response = upload(client, data)

    assert response.status_code == 200  # nothing to confirm: no upload is kept
    text = response.content.decode()
    assert "Every row of this file has been reported before with the same data" in text
    assert text.count("Already reported, skipped") == 2
    assert "Submit 2 contributions" not in text
    assert count() == 2


def test_a_file_with_row_errors_shows_them_and_keeps_nothing(client, world, setting):
    client.force_login(world.contractor_a_user)
    response = upload(client, xlsx([activity(), activity(reference="NW-B-1", hours="veel")]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Nothing has been reported." in text
    assert "Unknown contract: you have no contract “NW-B-1” with Noordwijk." in text
    assert "Kenmerk opdracht" in text and "(column A)" in text
    assert "Not a valid number" in text
    assert "Submit" not in text.split("Errors per row")[1].split("Upload the corrected file")[0]
    assert count() == 0
    directory = importing._pending_dir()
    assert not directory.exists() or not list(directory.glob("*.xlsx"))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bijdragen.xlsx", b"", "The submitted file is empty."),
        ("bijdragen.xlsx", b"Kenmerk;Gemeente\n", "not an Excel workbook (.xlsx)"),
        ("bijdragen.xls", b"\xd0\xcf\x11\xe0", "old Excel file (.xls)"),
        ("bijdragen.csv", b"a;b\n", "A CSV file has no column types"),
        ("bijdragen.xlsx", b"PK\x03\x04garbage", "damaged"),
    ],
)
def test_garbage_uploads_get_a_clear_message_on_the_form(
    client, world, setting, name, data, message
):
    client.force_login(world.contractor_a_user)
    response = upload(client, data, name=name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'class="invalid-feedback' in response.content.decode() or "is-invalid" in (
        response.content.decode()
    )
    assert count() == 0


def test_a_changed_hash_is_refused_at_confirmation(client, world, setting):
    client.force_login(world.contractor_a_user)
    token = token_of(upload(client, xlsx([activity()])))
    response = client.post(confirm_url(token), {"sha256": "a" * 64}, follow=True)
    assert "This is not the file that was checked" in response.content.decode()
    assert count() == 0


def test_a_database_change_before_confirmation_shows_the_errors(client, world, setting):
    from contracts.models import Obligation

    client.force_login(world.contractor_a_user)
    token = token_of(upload(client, xlsx([activity()])))
    Obligation.objects.filter(pk=setting[0].pk).update(status=Obligation.Status.SETTLED)
    response = client.post(confirm_url(token), {"sha256": sha_of(client, token)})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Something changed since the check" in text and "is settled" in text
    assert count() == 0


def test_unknown_and_malformed_tokens(client, world, setting):
    client.force_login(world.contractor_a_user)
    unknown = "x" * 43
    response = client.get(preview_url(unknown))
    assert response.status_code == 302 and response["Location"] == UPLOAD
    assert client.get(preview_url("not-a-token")).status_code == 404
    assert client.post(confirm_url("bad"), {"sha256": "0" * 64}).status_code == 404
    result = reverse("placements:portal_bulk_result", args=[unknown])
    assert client.get(result).status_code == 404


def test_the_template_download(client, world, setting):
    client.force_login(world.contractor_a_user)
    response = client.get(TEMPLATE)
    assert response.status_code == 200
    assert response["Content-Type"] == importing.XLSX_CONTENT_TYPE
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(response.content))
    help_text = " ".join(
        str(c.value) for row in wb["Toelichting"].iter_rows() for c in row if c.value
    )
    assert "NW-A-1" in help_text and "NW-B-1" not in help_text


# --- Who may ------------------------------------------------------------------------------------


def _urls(token: str) -> list[tuple[str, str]]:
    return [
        ("get", UPLOAD),
        ("post", UPLOAD),
        ("get", TEMPLATE),
        ("get", preview_url(token)),
        ("post", confirm_url(token)),
        ("get", reverse("placements:portal_bulk_result", args=[token])),
    ]


def test_anonymous_visitors_are_sent_to_login(client, world, setting):
    for method, url in _urls("x" * 43):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("persona", STAFF)
def test_staff_and_outsiders_get_404(client, world, setting, persona):
    client.force_login(getattr(world, persona))
    for method, url in _urls("x" * 43):
        assert getattr(client, method)(url).status_code == 404, url
    assert count() == 0


def test_contractor_b_cannot_reach_contractor_as_upload_or_result(client, world, setting):
    client.force_login(world.contractor_a_user)
    token = token_of(upload(client, xlsx([activity()])))
    sha = sha_of(client, token)
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    other.force_login(world.contractor_b_user)

    assert other.get(preview_url(token))["Location"] == UPLOAD  # not theirs: "expired"
    response = other.post(confirm_url(token), {"sha256": sha})
    assert response.status_code == 302 and response["Location"] == UPLOAD
    assert count() == 0

    client.post(confirm_url(token), {"sha256": sha})
    assert count() == 1
    result = reverse("placements:portal_bulk_result", args=[token])
    assert client.get(result).status_code == 200
    assert other.get(result).status_code == 404


def test_contractor_b_reports_on_its_own_contract_only(client, world, setting):
    client.force_login(world.contractor_b_user)
    page = client.get(UPLOAD).content.decode()
    assert "NW-B-1" in page and "NW-A-1" not in page
    token = token_of(upload(client, xlsx([activity(reference="NW-B-1")])))
    client.post(confirm_url(token), {"sha256": sha_of(client, token)})
    assert Contribution.objects.get().obligation == setting[1]


def test_a_deactivated_contractor_user_gets_404(client, world, setting):
    link = world.contractor_a_user.contractor_link
    link.is_active = False
    link.save()
    client.force_login(world.contractor_a_user)
    assert client.get(UPLOAD).status_code == 404


# --- Queries ------------------------------------------------------------------------------------


def test_preview_queries_do_not_grow_with_the_rows(client, world, setting):
    f.CandidateFactory(contractor=world.contractor_a, code="K-EXIST001")
    client.force_login(world.contractor_a_user)

    def rows(n: int) -> list[dict]:
        out = []
        for i in range(n):
            out.append(job(initials=f"A{chr(65 + i % 26)}.", hours_per_week=20 + i))
            out.append(job_of("K-EXIST001", hours_per_week=12 + i))
            out.append(activity(hours=i + 1))
        return out

    def queries(n: int) -> int:
        token = token_of(upload(client, xlsx(rows(n))))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(preview_url(token))
        assert response.status_code == 200
        assert response.content.decode().count("badge text-bg-success") == 3 * n
        return len(ctx.captured_queries)

    assert queries(1) == queries(10)
