"""The verification screens with every persona: the contribution list, the queue, the review of
one contribution (approve / reject / return / confirm eligibility) and the evidence download."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from placements.models import Contribution
from placements.services import add_evidence
from sroi.models import Role
from tests import factories as f

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

LIST = reverse("placements:contribution_list")
QUEUE = reverse("placements:verification_queue")


@pytest.fixture
def client(client):
    """Pages in English: the tests read the English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def detail(c):
    return reverse("placements:contribution_detail", args=[c.pk])


def action(name, c):
    return reverse(f"placements:contribution_{name}", args=[c.pk])


def confirmed_candidate(contractor, **kwargs):
    return f.CandidateFactory(
        contractor=contractor, eligibility_confirmed_at=timezone.now(), **kwargs
    )


@pytest.fixture
def attach(django_capture_on_commit_callbacks):
    """Upload evidence the way the app does; the file is written when the transaction commits."""

    def attach(contribution, user, name="bewijs.pdf", kind="other"):
        with django_capture_on_commit_callbacks(execute=True):
            return add_evidence(
                acting_user=user,
                contribution=contribution,
                uploaded_file=SimpleUploadedFile(name, MINIMAL_PDF),
                kind=kind,
            )

    return attach


@pytest.fixture
def data(world, attach):
    """Contractor A works for Noordwijk, contractor B for Katwijk; one submitted contribution
    each, with a candidate whose eligibility is confirmed, and one evidence file on A's."""
    obligation_a = f.RuledObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NW-2026-001",
    )
    obligation_b = f.RuledObligationFactory(
        contract__municipality=world.katwijk,
        contract__contractor=world.contractor_b,
        contract__reference="KW-2026-001",
    )
    a = f.ContributionFactory(
        obligation=obligation_a,
        candidate=confirmed_candidate(
            world.contractor_a, code="K-AAAA2222", initials="Q.X.", birth_year=1971
        ),
        value="12345.67",
    )
    b = f.ContributionFactory(
        obligation=obligation_b,
        candidate=confirmed_candidate(
            world.contractor_b, code="K-BBBB3333", initials="Z.Y.", target_group="wajong"
        ),
    )
    evidence_a = attach(
        a, world.contractor_a_user, "Jan Jansen contract.pdf", "employment_contract"
    )
    return SimpleNamespace(
        world=world,
        obligation_a=obligation_a,
        obligation_b=obligation_b,
        a=a,
        b=b,
        evidence_a=evidence_a,
    )


def as_user(client, user):
    if user is not None:
        client.force_login(user)
    return client


def is_login_redirect(response):
    return response.status_code == 302 and reverse("login") in response["Location"]


# --- Contribution list -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "sees", "personal"),
    [
        ("adviser", {"NW-2026-001", "KW-2026-001"}, True),
        ("officer_noordwijk", {"NW-2026-001"}, False),
        ("officer_katwijk", {"KW-2026-001"}, False),
        ("council_noordwijk", {"NW-2026-001"}, False),
        ("contractor_a_user", {"NW-2026-001"}, True),
        ("contractor_b_user", {"KW-2026-001"}, True),
        ("outsider", set(), False),
    ],
)
def test_list_per_persona(client, data, persona, sees, personal):
    response = as_user(client, getattr(data.world, persona)).get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for reference in ("NW-2026-001", "KW-2026-001"):
        assert (reference in html) == (reference in sees)
    if "NW-2026-001" in sees:
        assert "K-AAAA2222" in html  # the pseudonymous code is for everyone who sees it
        assert ("Q.X." in html) == personal
        assert ("1971" in html) == personal
    # The target group filter exists only for those who may see target groups.
    assert ('name="target_group"' in html) == personal


def test_list_anonymous_goes_to_login(client, data):
    assert is_login_redirect(client.get(LIST))


def test_list_filters_and_totals(client, data):
    w = data.world
    f.ContributionFactory(obligation=data.obligation_a, approved=True, value="1000.00")
    client.force_login(w.adviser)
    response = client.get(LIST, {"status": "approved"})
    assert [c.pk for c, _ in response.context["rows"]] == [
        Contribution.objects.get(status="approved").pk
    ]
    assert response.context["totals"]["count"] == 1
    assert "€ 1,000.00" in response.content.decode()

    response = client.get(LIST, {"municipality": w.katwijk.pk})
    assert [c.pk for c, _ in response.context["rows"]] == [data.b.pk]

    response = client.get(LIST, {"target_group": "wajong"})
    assert [c.pk for c, _ in response.context["rows"]] == [data.b.pk]

    response = client.get(LIST, {"q": "K-AAAA"})
    assert [c.pk for c, _ in response.context["rows"]] == [data.a.pk]

    response = client.get(LIST, {"block": "social_activity"})
    assert response.context["rows"] == []
    assert "No contributions match" in response.content.decode()

    response = client.get(LIST)
    totals = response.context["totals"]
    assert totals["count"] == 3
    assert totals["submitted"] == 2 and totals["approved"] == 1


def test_list_municipality_filter_only_when_there_is_a_choice(client, data):
    client.force_login(data.world.adviser)
    response = client.get(LIST)
    choices = [
        str(label) for _, label in response.context["filter"].form["municipality"].field.choices
    ]
    assert "Noordwijk" in choices and "Katwijk" in choices
    client.force_login(data.world.officer_noordwijk)
    response = client.get(LIST)
    assert "municipality" not in response.context["filter"].form.fields
    # Asking for another municipality's contributions shows nothing of it.
    response = client.get(LIST, {"municipality": data.world.katwijk.pk})
    assert "KW-2026-001" not in response.content.decode()


def test_officer_cannot_filter_by_target_group(client, data):
    client.force_login(data.world.officer_noordwijk)
    response = client.get(LIST, {"target_group": "wajong"})  # A's candidate is Participatiewet
    assert [c.pk for c, _ in response.context["rows"]] == [data.a.pk]  # the filter is ignored


def test_mixed_roles_learn_no_target_group_through_the_filter(client, data):
    """Adviser for Katwijk, officer for Noordwijk: the target group filter applies only to the
    contributions whose personal data the user may see."""
    w = data.world
    mixed = f.UserFactory(email="gemengd@example.nl")
    f.MembershipFactory(user=mixed, organisation=w.katwijk, role=Role.ADVISER)
    f.MembershipFactory(user=mixed, organisation=w.noordwijk, role=Role.PROCUREMENT_OFFICER)
    client.force_login(mixed)
    rows = client.get(LIST).context["rows"]
    assert {c.pk: personal for c, personal in rows} == {data.a.pk: False, data.b.pk: True}
    response = client.get(LIST, {"target_group": "participatiewet"})
    assert response.context["rows"] == []  # A's candidate is Participatiewet, but hidden
    response = client.get(LIST, {"target_group": "wajong"})
    assert [c.pk for c, _ in response.context["rows"]] == [data.b.pk]


def test_list_sorting_is_whitelisted(client, data):
    client.force_login(data.world.adviser)
    response = client.get(LIST, {"sort": "value"})
    values = [c.value for c, _ in response.context["rows"]]
    assert values == sorted(values)
    response = client.get(LIST, {"sort": "-value"})
    assert [c.value for c, _ in response.context["rows"]] == sorted(values, reverse=True)
    response = client.get(LIST, {"sort": "candidate__initials"})  # not offered
    assert response.status_code == 200
    assert response.context["sort"] == "-submitted"


def test_list_paginates_by_25(client, data):
    f.ContributionFactory.create_batch(28, obligation=data.obligation_a)
    client.force_login(data.world.adviser)
    assert len(client.get(LIST).context["rows"]) == 25
    second = client.get(LIST, {"page": 2})
    assert len(second.context["rows"]) == 5
    assert second.context["totals"]["count"] == 30


# --- Verification queue ----------------------------------------------------------------------


def test_queue_lists_submitted_oldest_first(client, data):
    w = data.world
    older = f.ContributionFactory(obligation=data.obligation_b)
    Contribution.objects.filter(pk=older.pk).update(
        submitted_at=timezone.now() - timedelta(days=10)
    )
    f.ContributionFactory(obligation=data.obligation_a, approved=True)
    client.force_login(w.adviser)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert [c.pk for c, _ in response.context["rows"]] == [older.pk, data.a.pk, data.b.pk]
    html = response.content.decode()
    assert "Q.X." in html and "K-AAAA2222" in html
    assert detail(data.a) in html
    assert response.context["totals"]["count"] == 3


@pytest.mark.parametrize(
    "persona",
    [
        "officer_noordwijk",
        "council_noordwijk",
        "functional_admin",
        "contractor_a_user",
        "outsider",
    ],
)
def test_queue_is_for_advisers_only(client, data, persona):
    assert as_user(client, getattr(data.world, persona)).get(QUEUE).status_code == 403


def test_queue_anonymous_goes_to_login(client, data):
    assert is_login_redirect(client.get(QUEUE))


# --- Contribution detail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status", "personal", "review"),
    [
        ("adviser", 200, True, True),
        ("officer_noordwijk", 200, False, False),
        ("council_noordwijk", 200, False, False),
        ("contractor_a_user", 200, True, False),
        ("officer_katwijk", 404, False, False),
        ("council_katwijk", 404, False, False),
        ("contractor_b_user", 404, False, False),
        ("outsider", 404, False, False),
    ],
)
def test_detail_per_persona(client, data, persona, status, personal, review):
    response = as_user(client, getattr(data.world, persona)).get(detail(data.a))
    assert response.status_code == status
    if status != 200:
        return
    html = response.content.decode()
    assert "K-AAAA2222" in html
    assert "€ 12,345.67" in html
    assert ("Q.X." in html) == personal
    assert ("Participatiewet" in html) == personal
    download = reverse("placements:evidence_download", args=[data.evidence_a.pk])
    assert (download in html) == personal
    assert (action("approve", data.a) in html) == review
    assert (action("reject", data.a) in html) == review


def test_detail_shows_value_explanation_and_progress(client, data):
    Contribution.objects.filter(pk=data.a.pk).update(
        value_explanation=["Regel job-pw: baan Participatiewet.", "Waarde: € 12.345,67."]
    )
    client.force_login(data.world.adviser)
    response = client.get(detail(data.a))
    html = response.content.decode()
    assert "Regel job-pw: baan Participatiewet." in html
    assert 'role="progressbar"' in html
    assert response.context["obligation"].reported == Decimal("12345.67")


def test_detail_anonymous_goes_to_login(client, data):
    assert is_login_redirect(client.get(detail(data.a)))


# --- Review actions --------------------------------------------------------------------------


def test_adviser_approves(client, data):
    client.force_login(data.world.adviser)
    response = client.post(action("approve", data.a))
    assert response.status_code == 302
    assert response["Location"] == detail(data.a)
    data.a.refresh_from_db()
    assert data.a.status == Contribution.Status.APPROVED
    assert data.a.reviewed_by == data.world.adviser
    page = client.get(detail(data.a))
    assert "has been approved" in page.content.decode()
    assert page.context["obligation"].realised == data.a.value
    assert not page.context["may_review"]


def test_adviser_rejects_with_reason(client, data):
    client.force_login(data.world.adviser)
    response = client.post(action("reject", data.a), {"reject-reason": "Geen arbeidscontract"})
    assert response.status_code == 302
    data.a.refresh_from_db()
    assert (data.a.status, data.a.status_reason) == ("rejected", "Geen arbeidscontract")
    assert "Geen arbeidscontract" in client.get(detail(data.a)).content.decode()


def test_adviser_returns_with_reason(client, data):
    client.force_login(data.world.adviser)
    response = client.post(action("return", data.a), {"return-reason": "Uren ontbreken"})
    assert response.status_code == 302
    data.a.refresh_from_db()
    assert (data.a.status, data.a.status_reason) == ("returned", "Uren ontbreken")


@pytest.mark.parametrize("name", ["reject", "return"])
def test_reject_and_return_need_a_reason(client, data, name):
    client.force_login(data.world.adviser)
    response = client.post(action(name, data.a), {f"{name}-reason": "   "})
    assert response.status_code == 200
    form = response.context[f"{name}_form"]
    assert form.errors["reason"] == ["Give a reason."]
    assert 'aria-invalid="true"' in response.content.decode()
    data.a.refresh_from_db()
    assert data.a.status == Contribution.Status.SUBMITTED


def test_service_error_is_shown_on_the_form(client, data):
    """A reason with a BSN-like number is refused by the service, shown with the field."""
    client.force_login(data.world.adviser)
    response = client.post(action("reject", data.a), {"reject-reason": "BSN 111222333 klopt niet"})
    assert response.status_code == 200
    assert response.context["reject_form"].errors["reason"]
    data.a.refresh_from_db()
    assert data.a.status == Contribution.Status.SUBMITTED


def test_reviewing_twice_shows_an_error_not_a_500(client, data):
    client.force_login(data.world.adviser)
    client.post(action("approve", data.a))
    response = client.post(action("reject", data.a), {"reject-reason": "te laat"})
    assert response.status_code == 200
    assert "Only a submitted contribution can be reviewed" in response.content.decode()
    data.a.refresh_from_db()
    assert data.a.status == Contribution.Status.APPROVED


def test_unconfirmed_eligibility_blocks_approval_until_confirmed(client, data):
    w = data.world
    unconfirmed = f.ContributionFactory(obligation=data.obligation_a)
    client.force_login(w.adviser)
    page = client.get(detail(unconfirmed))
    assert page.context["may_confirm_eligibility"]
    response = client.post(action("approve", unconfirmed))
    assert response.status_code == 200
    assert "eligibility (target group) has not been confirmed" in response.content.decode()
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == Contribution.Status.SUBMITTED

    response = client.post(
        action("confirm_eligibility", unconfirmed),
        {"eligibility-target_group": "participatiewet", "eligibility-note": ""},
    )
    assert response.status_code == 302
    unconfirmed.candidate.refresh_from_db()
    assert unconfirmed.candidate.eligibility_confirmed_by == w.adviser
    assert not client.get(detail(unconfirmed)).context["may_confirm_eligibility"]
    assert client.post(action("approve", unconfirmed)).status_code == 302
    unconfirmed.refresh_from_db()
    assert unconfirmed.status == Contribution.Status.APPROVED


def test_confirm_eligibility_other_needs_a_justification(client, data):
    unconfirmed = f.ContributionFactory(obligation=data.obligation_a)
    client.force_login(data.world.adviser)
    response = client.post(
        action("confirm_eligibility", unconfirmed),
        {"eligibility-target_group": "other", "eligibility-note": ""},
    )
    assert response.status_code == 200
    assert response.context["eligibility_form"].errors["note"]
    unconfirmed.candidate.refresh_from_db()
    assert unconfirmed.candidate.eligibility_confirmed_at is None


@pytest.mark.parametrize("name", ["approve", "reject", "return", "confirm_eligibility"])
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("officer_noordwijk", 403),
        ("council_noordwijk", 403),
        ("contractor_a_user", 403),
        ("officer_katwijk", 404),
        ("council_katwijk", 404),
        ("contractor_b_user", 404),
        ("outsider", 404),
    ],
)
def test_review_actions_are_for_the_adviser(client, data, name, persona, status):
    payload = {
        f"{name}-reason": "nee",
        "eligibility-target_group": "participatiewet",
    }
    response = as_user(client, getattr(data.world, persona)).post(action(name, data.a), payload)
    assert response.status_code == status
    data.a.refresh_from_db()
    assert data.a.status == Contribution.Status.SUBMITTED


@pytest.mark.parametrize("name", ["approve", "reject", "return", "confirm_eligibility"])
def test_review_actions_anonymous_and_get(client, data, name):
    assert is_login_redirect(client.post(action(name, data.a)))
    client.force_login(data.world.adviser)
    assert client.get(action(name, data.a)).status_code == 405


# --- Evidence download -----------------------------------------------------------------------


def download_url(evidence):
    return reverse("placements:evidence_download", args=[evidence.pk])


@pytest.mark.parametrize("persona", ["adviser", "contractor_a_user"])
def test_evidence_download_headers(client, data, persona):
    response = as_user(client, getattr(data.world, persona)).get(download_url(data.evidence_a))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    # The stored neutral name, never the uploaded one (which held a person's name).
    assert data.evidence_a.original_name.startswith("arbeidsovereenkomst-")
    assert response["Content-Disposition"] == (
        f'attachment; filename="{data.evidence_a.original_name}"'
    )


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_b_user",  # another contractor, by URL
        "officer_noordwijk",  # sees the contribution, not the personal evidence
        "council_noordwijk",
        "officer_katwijk",
        "outsider",
    ],
)
def test_evidence_download_is_404_for_others(client, data, persona):
    response = as_user(client, getattr(data.world, persona)).get(download_url(data.evidence_a))
    assert response.status_code == 404


def test_evidence_download_anonymous_goes_to_login(client, data):
    assert is_login_redirect(client.get(download_url(data.evidence_a)))


def test_evidence_download_of_missing_file_is_404(client, data):
    data.evidence_a.file.delete(save=False)
    client.force_login(data.world.adviser)
    assert client.get(download_url(data.evidence_a)).status_code == 404


def test_adviser_reads_of_personal_data_are_logged(client, data):
    from auditlog.models import LogEntry

    client.force_login(data.world.adviser)
    client.get(detail(data.a))
    b"".join(client.get(download_url(data.evidence_a)).streaming_content)
    accesses = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=data.world.adviser)
    assert {e.content_type.model for e in accesses} == {"contribution", "candidate", "evidence"}


# --- Query budgets ---------------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _contributions(data, n):
    for i in range(n):
        obligation = data.obligation_a if i % 2 else data.obligation_b
        contractor = obligation.contract.contractor
        f.ContributionFactory(obligation=obligation, candidate=confirmed_candidate(contractor))


@pytest.mark.parametrize("url", [LIST, QUEUE, LIST + "?status=submitted&sort=value"])
def test_list_query_count_does_not_grow_with_rows(client, data, url):
    client.force_login(data.world.adviser)
    _contributions(data, 1)  # 3 rows
    few = count_queries(client, url)
    _contributions(data, 27)  # 30 rows (25 on the page)
    assert count_queries(client, url) == few


def test_detail_query_count_does_not_grow_with_evidence(client, data, attach):
    client.force_login(data.world.adviser)

    def upload(n):
        for _ in range(n):
            attach(data.a, data.world.adviser)

    upload(2)  # 3 files
    few = count_queries(client, detail(data.a))
    upload(27)  # 30 files
    assert count_queries(client, detail(data.a)) == few
