"""The contractor portal with every persona: home, obligation, plan of approach, reporting with
the value shown first, changing, the contribution page and evidence.

Security is the core: contractor A reaches nothing of contractor B (404, existence not
revealed), staff and outsiders have no portal (404), anonymous visitors go to the login page.
"""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts.models import Obligation
from placements import plans, services
from placements.models import Candidate, Contribution, Evidence, PlanOfApproach
from tests import factories as f

from .test_portal_forms import MINIMAL_PDF, add_example_rules


@pytest.fixture
def client(client):
    """Pages in English: the tests read the English source strings."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def attach(django_capture_on_commit_callbacks):
    def attach(contribution, user, name="bewijs.pdf", kind="other"):
        with django_capture_on_commit_callbacks(execute=True):
            return services.add_evidence(
                acting_user=user,
                contribution=contribution,
                uploaded_file=SimpleUploadedFile(name, MINIMAL_PDF),
                kind=kind,
            )

    return attach


@pytest.fixture
def data(world, attach):
    """Contractor A works for Noordwijk, contractor B for Katwijk. A has a submitted, an
    approved and a returned contribution, one evidence file and a candidate; B has one of each
    too."""
    obligation_a = f.RuledObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        contract__reference="NW-A-001",
    )
    add_example_rules(obligation_a.rulebook)
    obligation_b = f.RuledObligationFactory(
        contract__municipality=world.katwijk,
        contract__contractor=world.contractor_b,
        contract__reference="KW-B-001",
    )
    candidate_a = f.CandidateFactory(
        contractor=world.contractor_a, code="K-AAAA2222", initials="Q.X.", birth_year=1971
    )
    candidate_b = f.CandidateFactory(
        contractor=world.contractor_b, code="K-BBBB3333", initials="Z.Y.", birth_year=1980
    )
    a = f.ContributionFactory(obligation=obligation_a, candidate=candidate_a, value="12345.67")
    a_approved = f.ContributionFactory(
        obligation=obligation_a, candidate=candidate_a, approved=True, value="5000.00"
    )
    a_returned = f.ContributionFactory(
        obligation=obligation_a,
        candidate=candidate_a,
        status=Contribution.Status.RETURNED,
        status_reason="Graag de getekende arbeidsovereenkomst",
    )
    b = f.ContributionFactory(obligation=obligation_b, candidate=candidate_b)
    return SimpleNamespace(
        world=world,
        obligation_a=obligation_a,
        obligation_b=obligation_b,
        candidate_a=candidate_a,
        candidate_b=candidate_b,
        a=a,
        a_approved=a_approved,
        a_returned=a_returned,
        b=b,
        evidence_a=attach(a, world.contractor_a_user, kind="employment_contract"),
        evidence_b=attach(b, world.contractor_b_user),
    )


def login(client, user):
    if user is not None:
        client.force_login(user)
    return client


def is_login_redirect(response):
    return response.status_code == 302 and reverse("login") in response["Location"]


def url(name, *args, query=""):
    return reverse(f"placements:{name}", args=args) + query


# --- Security: every portal URL with every persona -------------------------------------------


def a_urls(d):
    """Every GET URL of the portal that names one of contractor A's objects."""
    return [
        url("portal_obligation", d.obligation_a.pk),
        url("portal_plan", d.obligation_a.pk),
        url("portal_report", d.obligation_a.pk),
        url("portal_report", d.obligation_a.pk, query="?block=job"),
        url("portal_contribution", d.a.pk),
        url("portal_contribution_edit", d.a.pk),
        url("evidence_download", d.evidence_a.pk),
    ]


GENERAL_URLS = ["portal_home", "portal_candidates", "portal_report_start"]
STAFF = ["adviser", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"]


def test_contractor_a_reaches_every_own_url(client, data):
    login(client, data.world.contractor_a_user)
    for name in GENERAL_URLS:
        assert client.get(url(name)).status_code in (200, 302), name
    for target in a_urls(data):
        assert client.get(target).status_code == 200, target


def test_contractor_b_gets_404_for_everything_of_a(client, data):
    login(client, data.world.contractor_b_user)
    for target in a_urls(data):
        assert client.get(target).status_code == 404, target
    for name in ("portal_contribution_edit", "portal_evidence_upload"):
        response = client.post(url(name, data.a.pk), {"kind": "other"})
        assert response.status_code == 404, name
    response = client.post(url("portal_plan", data.obligation_a.pk), {})
    assert response.status_code == 404
    response = client.post(url("portal_report", data.obligation_a.pk, query="?block=job"), {})
    assert response.status_code == 404
    # ... and sees none of it on their own pages.
    for name in GENERAL_URLS:
        html = client.get(url(name), follow=True).content.decode()
        assert "NW-A-001" not in html and "K-AAAA2222" not in html, name


@pytest.mark.parametrize("persona", STAFF)
def test_staff_and_outsiders_have_no_portal(client, data, persona):
    login(client, getattr(data.world, persona))
    for name in GENERAL_URLS:
        assert client.get(url(name)).status_code == 404, name
    for target in a_urls(data)[:-1]:  # the evidence download is the adviser's view too
        assert client.get(target).status_code == 404, target
    response = client.post(url("portal_evidence_upload", data.a.pk), {"kind": "other"})
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["council_noordwijk", "officer_noordwijk", "outsider"])
def test_evidence_download_is_404_for_others(client, data, persona):
    login(client, getattr(data.world, persona))
    assert client.get(url("evidence_download", data.evidence_a.pk)).status_code == 404


def test_anonymous_goes_to_login(client, data):
    targets = [url(name) for name in GENERAL_URLS] + a_urls(data)
    for target in targets:
        assert is_login_redirect(client.get(target)), target
    assert is_login_redirect(client.post(url("portal_evidence_upload", data.a.pk)))
    assert is_login_redirect(client.post(url("portal_contribution_edit", data.a.pk)))


def test_deactivated_contractor_user_has_no_portal(client, data):
    link = data.world.contractor_a_user.contractor_link
    link.is_active = False
    link.save()
    login(client, data.world.contractor_a_user)
    assert client.get(url("portal_home")).status_code == 404
    assert client.get(url("portal_obligation", data.obligation_a.pk)).status_code == 404


def test_evidence_upload_is_post_only(client, data):
    login(client, data.world.contractor_a_user)
    assert client.get(url("portal_evidence_upload", data.a.pk)).status_code == 405


def test_b_cannot_report_with_as_candidate(client, data):
    """Posting A's candidate id on B's own obligation: an error on the field, nothing saved."""
    login(client, data.world.contractor_b_user)
    before = (Contribution.objects.count(), Candidate.objects.count())
    for button in ("preview", "submit"):
        response = client.post(
            url("portal_report", data.obligation_b.pk, query="?block=job"),
            {
                "candidate": data.candidate_a.pk,
                "start_date": "2026-03-01",
                "end_date": "2026-08-31",
                "hours_per_week": "24",
                button: "1",
            },
        )
        assert response.status_code == 200
        assert "candidate" in response.context["form"].errors
        assert response.context["preview"] is None
        assert "K-AAAA2222" not in response.content.decode()
    assert (Contribution.objects.count(), Candidate.objects.count()) == before


def test_b_cannot_edit_with_as_candidate(client, data):
    login(client, data.world.contractor_b_user)
    response = client.post(
        url("portal_contribution_edit", data.b.pk),
        {
            "candidate": data.candidate_a.pk,
            "start_date": "2026-03-01",
            "hours_per_week": "24",
            "submit": "1",
        },
    )
    assert response.status_code == 200
    assert "candidate" in response.context["form"].errors
    data.b.refresh_from_db()
    assert data.b.candidate == data.candidate_b


def test_home_for_contractor_is_the_portal(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "What is asked of you now" in html and "NW-A-001" in html
    assert url("portal_home") in html and url("portal_report_start") in html  # navigation


def test_home_for_staff_is_unchanged(client, data):
    login(client, data.world.adviser)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "What is asked of you now" not in response.content.decode()
    assert url("portal_home") not in response.content.decode()


# --- Portal home -----------------------------------------------------------------------------


def kinds(response):
    return [(ask.kind, ask.obligation.pk) for ask in response.context["asks"]]


def test_home_shows_progress_and_what_is_asked(client, data, attach):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_home"))
    assert response.status_code == 200
    html = response.content.decode()
    row = response.context["rows"][0]["obligation"]
    assert row.pk == data.obligation_a.pk
    assert row.reported == Decimal("27345.67")  # submitted + approved + returned (10,000)
    assert row.realised == Decimal("5000.00")
    assert 'role="progressbar"' in html
    assert ("plan_missing", data.obligation_a.pk) in kinds(response)
    assert ("contribution_returned", data.obligation_a.pk) in kinds(response)
    assert "Graag de getekende arbeidsovereenkomst" in html
    assert url("portal_contribution_edit", data.a_returned.pk) in html
    assert "KW-B-001" not in html


def test_home_plan_returned_shows_the_comment(client, data):
    plan = plans.submit_plan(
        acting_user=data.world.contractor_a_user,
        obligation=data.obligation_a,
        items=[
            {
                "block": "job",
                "planned_count": 2,
                "planned_start": date(2026, 3, 1),
                "planned_end": date(2026, 12, 31),
            }
        ],
    )
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_home"))
    assert ("plan_missing", data.obligation_a.pk) not in kinds(response)
    plans.return_plan(acting_user=data.world.adviser, plan=plan, comment="Meer stageplekken graag")
    response = client.get(url("portal_home"))
    assert ("plan_returned", data.obligation_a.pk) in kinds(response)
    assert "Meer stageplekken graag" in response.content.decode()


def test_home_deadline_near_only_when_not_fulfilled(client, world):
    today = timezone.localdate()
    near = f.RuledObligationFactory(
        contract__contractor=world.contractor_a, deadline=today + timedelta(days=30)
    )
    far = f.RuledObligationFactory(
        contract__contractor=world.contractor_a, deadline=today + timedelta(days=200)
    )
    passed = f.RuledObligationFactory(
        contract__contractor=world.contractor_a, deadline=today - timedelta(days=3)
    )
    login(client, world.contractor_a_user)
    asked = kinds(client.get(url("portal_home")))
    assert ("deadline_near", near.pk) in asked
    assert ("deadline_passed", passed.pk) in asked
    assert not [k for k in asked if k[1] == far.pk and k[0].startswith("deadline")]
    # Fulfilled: nothing is asked for it any more (no deadline warning, no plan).
    f.ContributionFactory(obligation=near, approved=True, value=near.amount)
    asked = kinds(client.get(url("portal_home")))
    assert not [k for k in asked if k[1] == near.pk]


def test_home_settled_obligation_asks_nothing(client, world):
    settled = f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        status=Obligation.Status.SETTLED,
        deadline=timezone.localdate() - timedelta(days=10),
    )
    login(client, world.contractor_a_user)
    response = client.get(url("portal_home"))
    assert not [k for k in kinds(response) if k[1] == settled.pk]
    assert url("portal_report", settled.pk) not in response.content.decode()


def test_home_lists_contracts_without_obligation(client, world):
    contract = f.ContractFactory(contractor=world.contractor_a, below_threshold=True)
    f.ContractFactory(contractor=world.contractor_b, below_threshold=True, reference="B-ONLY")
    login(client, world.contractor_a_user)
    html = client.get(url("portal_home")).content.decode()
    assert contract.reference in html and "B-ONLY" not in html


def count_queries(client, target) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_home_query_count_is_constant(client, world):
    def add(n):
        for _ in range(n):
            obligation = f.RuledObligationFactory(contract__contractor=world.contractor_a)
            f.ContributionFactory(
                obligation=obligation, status=Contribution.Status.RETURNED, status_reason="Meer"
            )
            f.ContractFactory(contractor=world.contractor_a, below_threshold=True)

    login(client, world.contractor_a_user)
    add(3)
    small = count_queries(client, url("portal_home"))
    add(27)
    assert count_queries(client, url("portal_home")) == small


# --- Obligation page -------------------------------------------------------------------------


def test_obligation_page(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_obligation", data.obligation_a.pk))
    html = response.content.decode()
    assert response.context["totals"]["count"] == 3
    assert "K-AAAA2222" in html and "Q.X." in html  # their own candidate's details
    assert "Graag de getekende arbeidsovereenkomst" in html
    assert url("portal_contribution_edit", data.a.pk) in html
    assert url("portal_contribution_edit", data.a_returned.pk) in html
    assert url("portal_contribution_edit", data.a_approved.pk) not in html  # locked
    assert url("portal_report", data.obligation_a.pk) in html
    assert 'role="progressbar"' in html


def test_obligation_page_shows_plan_status_and_comment(client, data):
    plan = plans.submit_plan(
        acting_user=data.world.contractor_a_user,
        obligation=data.obligation_a,
        items=[
            {
                "block": "internship",
                "planned_count": 3,
                "planned_start": date(2026, 3, 1),
                "planned_end": date(2026, 12, 31),
            }
        ],
    )
    plans.return_plan(acting_user=data.world.adviser, plan=plan, comment="Ook een BBL-plek?")
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_obligation", data.obligation_a.pk))
    html = response.content.decode()
    assert response.context["plan"].status == PlanOfApproach.Status.RETURNED
    assert "Ook een BBL-plek?" in html and "Internship" in html


def test_obligation_query_count_is_constant(client, data, attach):
    def add(n):
        for _ in range(n):
            c = f.ContributionFactory(
                obligation=data.obligation_a,
                candidate=f.CandidateFactory(contractor=data.world.contractor_a),
            )
            attach(c, data.world.contractor_a_user)

    login(client, data.world.contractor_a_user)
    target = url("portal_obligation", data.obligation_a.pk)
    small = count_queries(client, target)
    add(22)  # 3 + 22 = 25: one full page
    assert count_queries(client, target) == small


def test_candidates_page(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_candidates"))
    html = response.content.decode()
    assert "K-AAAA2222" in html and "Q.X." in html
    assert "K-BBBB3333" not in html
    assert response.context["page"].object_list[0].contribution_count == 3


# --- Plan of approach ------------------------------------------------------------------------


def plan_post(rows, extra=None):
    data = {
        "items-TOTAL_FORMS": str(len(rows)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "20",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"items-{i}-{key}"] = value
    return {**data, **(extra or {})}


PLAN_ROW = {
    "block": "job",
    "planned_count": "2",
    "planned_amount": "",
    "planned_start": "2026-03-01",
    "planned_end": "2026-12-31",
    "description": "Twee banen in het groenonderhoud",
}


def test_plan_submit_returned_resubmit(client, data):
    login(client, data.world.contractor_a_user)
    target = url("portal_plan", data.obligation_a.pk)
    response = client.get(target)
    assert response.context["editable"] and response.context["formset"] is not None

    response = client.post(target, plan_post([PLAN_ROW, {}]))
    assert response.status_code == 302
    plan = PlanOfApproach.objects.get(obligation=data.obligation_a)
    assert plan.status == "submitted" and plan.version == 1
    assert plan.submitted_by == data.world.contractor_a_user
    assert [i.description for i in plan.items.all()] == ["Twee banen in het groenonderhoud"]

    # Read-only while submitted; a POST changes nothing.
    response = client.get(target)
    assert not response.context["editable"] and response.context["formset"] is None
    assert "waiting for the SROI adviser" in response.content.decode()
    assert client.post(target, plan_post([PLAN_ROW])).status_code == 302
    assert PlanOfApproach.objects.filter(obligation=data.obligation_a).count() == 1

    # Returned: the comment is shown and the form is prefilled from the last version.
    plans.return_plan(acting_user=data.world.adviser, plan=plan, comment="Ook stageplekken?")
    response = client.get(target)
    assert response.context["editable"]
    assert "Ook stageplekken?" in response.content.decode()
    initial = response.context["formset"].initial
    assert initial[0]["block"] == "job" and initial[0]["planned_count"] == 2

    row2 = {**PLAN_ROW, "block": "internship", "planned_count": "3", "description": ""}
    assert client.post(target, plan_post([PLAN_ROW, row2])).status_code == 302
    latest = plans.current_plan(user=data.world.contractor_a_user, obligation=data.obligation_a)
    assert latest.version == 2 and latest.status == "submitted" and latest.items.count() == 2

    # Approved: read-only.
    plans.approve_plan(acting_user=data.world.adviser, plan=latest)
    response = client.get(target)
    assert not response.context["editable"]
    assert "approved your plan" in response.content.decode()


def test_plan_errors_are_shown(client, data):
    login(client, data.world.contractor_a_user)
    response = client.post(
        url("portal_plan", data.obligation_a.pk),
        plan_post([{**PLAN_ROW, "planned_count": "", "planned_end": "2026-01-01"}]),
    )
    assert response.status_code == 200
    assert not PlanOfApproach.objects.exists()
    assert response.context["formset"].errors[0]


# --- Reporting a contribution ----------------------------------------------------------------


def report_url(d, block):
    return url("portal_report", d.obligation_a.pk, query=f"?block={block}")


JOB = {"start_date": "2026-03-01", "end_date": "2026-08-31", "hours_per_week": "24"}


def test_report_starts_with_the_block_choice(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_report", data.obligation_a.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "?block=job" in html and "?block=internship" in html
    assert "Stage mbo niveau 1-2" in html
    response = client.get(url("portal_report", data.obligation_a.pk, query="?block=nonsense"))
    assert response.context["unknown_block"]


def test_report_start_goes_straight_to_the_only_obligation(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_report_start"))
    assert response.status_code == 302
    assert response["Location"] == url("portal_report", data.obligation_a.pk)


def test_preview_equals_the_engine_and_saves_nothing(client, data):
    login(client, data.world.contractor_a_user)
    before = (Contribution.objects.count(), Candidate.objects.count())
    response = client.post(
        report_url(data, "job"),
        {**JOB, "candidate": data.candidate_a.pk, "permanent_contract": "on", "preview": "1"},
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    expected = services.value_of(
        obligation=data.obligation_a,
        block="job",
        candidate=data.candidate_a,
        start_date=date(2026, 3, 1),
        end_date=date(2026, 8, 31),
        hours_per_week=Decimal("24"),
        permanent_contract=True,
    )
    assert preview.value == expected.value > 0
    assert preview.explanation == expected.explanation
    html = response.content.decode()
    for line in expected.explanation:
        assert line in html
    assert 'name="submit"' in html
    assert f'name="previewed_value" value="{expected.value}"' in html
    assert (Contribution.objects.count(), Candidate.objects.count()) == before


def test_preview_of_a_variant_block(client, data):
    login(client, data.world.contractor_a_user)
    inputs = {**JOB, "variant": "mbo1-2", "candidate": data.candidate_a.pk}
    response = client.post(report_url(data, "internship"), {**inputs, "preview": "1"})
    expected = services.value_of(
        obligation=data.obligation_a,
        block="internship",
        candidate=data.candidate_a,
        start_date=date(2026, 3, 1),
        end_date=date(2026, 8, 31),
        hours_per_week=Decimal("24"),
        variant="mbo1-2",
    )
    assert response.context["preview"].value == expected.value == Decimal("5000.00")


def test_preview_with_a_new_candidate_creates_nothing(client, data):
    login(client, data.world.contractor_a_user)
    before = Candidate.objects.count()
    response = client.post(
        report_url(data, "job"),
        {
            **JOB,
            "initials": "J.K.",
            "birth_year": "1970",
            "target_group": "participatiewet",
            "years_on_benefit": "3",
            "preview": "1",
        },
    )
    assert response.context["preview"].value > 0
    assert Candidate.objects.count() == before


def test_submit_without_seeing_the_value_shows_it_first(client, data):
    login(client, data.world.contractor_a_user)
    response = client.post(
        report_url(data, "job"), {**JOB, "candidate": data.candidate_a.pk, "submit": "1"}
    )
    assert response.status_code == 200
    assert response.context["value_changed"] and response.context["preview"] is not None
    assert "Check the value below" in response.content.decode()
    assert Contribution.objects.filter(obligation=data.obligation_a).count() == 3


def submit(client, d, block, inputs, **files):
    """Calculate the value, then submit with the value that was shown."""
    target = report_url(d, block)
    response = client.post(target, {**inputs, "preview": "1"})
    preview = response.context["preview"]
    assert preview is not None, response.context["form"].errors
    return client.post(
        target, {**inputs, **files, "previewed_value": str(preview.value), "submit": "1"}
    ), preview


def test_submit_creates_a_submitted_contribution_with_the_previewed_value(client, data):
    login(client, data.world.contractor_a_user)
    response, preview = submit(
        client,
        data,
        "job",
        {**JOB, "candidate": data.candidate_a.pk, "description": "Groenonderhoud"},
    )
    contribution = Contribution.objects.latest("pk")
    assert response.status_code == 302
    assert response["Location"] == url("portal_contribution", contribution.pk)
    assert contribution.status == Contribution.Status.SUBMITTED
    assert contribution.obligation == data.obligation_a
    assert contribution.candidate == data.candidate_a
    assert contribution.value == preview.value
    assert contribution.value_explanation == list(preview.explanation)
    assert contribution.submitted_by == data.world.contractor_a_user
    assert contribution.description == "Groenonderhoud"
    page = client.get(response["Location"])
    assert "submitted for review" in page.content.decode()


def test_submit_with_a_new_candidate_and_evidence(client, data, django_capture_on_commit_callbacks):
    login(client, data.world.contractor_a_user)
    inputs = {
        **JOB,
        "initials": "J.K.",
        "birth_year": "1970",
        "target_group": "participatiewet",
        "years_on_benefit": "2",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response, _ = submit(
            client,
            data,
            "job",
            inputs,
            evidence_file=SimpleUploadedFile("Jan Jansen.pdf", MINIMAL_PDF),
            evidence_kind="employment_contract",
        )
    assert response.status_code == 302
    contribution = Contribution.objects.latest("pk")
    candidate = contribution.candidate
    assert candidate.contractor == data.world.contractor_a
    assert candidate.code.startswith("K-") and candidate.initials == "J.K."
    assert candidate.target_group == "participatiewet"
    assert candidate.years_on_benefit == Decimal("2.0")
    evidence = contribution.evidence.get()
    assert evidence.kind == "employment_contract"
    assert "Jansen" not in evidence.original_name
    assert evidence.file.read() == MINIMAL_PDF


def test_bad_evidence_on_the_report_form_saves_nothing(client, data):
    login(client, data.world.contractor_a_user)
    before = (Contribution.objects.count(), Candidate.objects.count(), Evidence.objects.count())
    inputs = {**JOB, "initials": "J.K.", "birth_year": "1970", "target_group": "participatiewet"}
    response, _ = submit(
        client,
        data,
        "job",
        inputs,
        evidence_file=SimpleUploadedFile("contract.pdf", b"plain text renamed to .pdf"),
    )
    assert response.status_code == 200
    assert "Only PDF, PNG and JPEG" in response.context["form"].errors["evidence_file"][0]
    assert response.context["preview"] is not None  # the value stays on screen
    after = (Contribution.objects.count(), Candidate.objects.count(), Evidence.objects.count())
    assert after == before


def test_submit_a_purchase(client, data):
    login(client, data.world.contractor_a_user)
    response, preview = submit(
        client,
        data,
        "social_purchase",
        {
            "social_enterprise": "Werkbedrijf Noord",
            "invoiced_amount": "2500.00",
            "start_date": "2026-05-01",
            "variant": "other",
        },
    )
    assert response.status_code == 302
    contribution = Contribution.objects.latest("pk")
    assert contribution.block == "social_purchase" and contribution.candidate is None
    assert contribution.value == preview.value == Decimal("1250.00")
    assert contribution.social_enterprise == "Werkbedrijf Noord"


def test_submit_an_activity(client, data):
    login(client, data.world.contractor_a_user)
    response, preview = submit(
        client,
        data,
        "social_activity",
        {"hours": "8", "start_date": "2026-06-01", "description": "Gastles op school"},
    )
    assert response.status_code == 302
    assert Contribution.objects.latest("pk").value == preview.value == Decimal("800.00")


def test_engine_errors_are_shown_not_a_500(client, data):
    """A target group no job rule values: the engine's reason is shown on the form."""
    login(client, data.world.contractor_a_user)
    wajong = f.CandidateFactory(contractor=data.world.contractor_a, target_group="wajong")
    response = client.post(report_url(data, "job"), {**JOB, "candidate": wajong.pk, "preview": "1"})
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert response.context["form"].non_field_errors()


def test_value_outside_the_window_is_an_error_on_the_field(client, data):
    login(client, data.world.contractor_a_user)
    response = client.post(
        report_url(data, "job"),
        {**JOB, "candidate": data.candidate_a.pk, "end_date": "2026-02-01", "preview": "1"},
    )
    assert "end_date" in response.context["form"].errors


def test_settled_obligation_cannot_be_reported_on(client, data):
    Obligation.objects.filter(pk=data.obligation_a.pk).update(status=Obligation.Status.SETTLED)
    login(client, data.world.contractor_a_user)
    response = client.get(report_url(data, "job"))
    assert response.status_code == 302
    response = client.post(report_url(data, "job"), {**JOB, "candidate": data.candidate_a.pk})
    assert response.status_code == 302
    assert Contribution.objects.filter(obligation=data.obligation_a).count() == 3


# --- Changing a contribution -----------------------------------------------------------------


def edit(client, contribution, inputs):
    target = url("portal_contribution_edit", contribution.pk)
    response = client.post(target, {**inputs, "preview": "1"})
    preview = response.context["preview"]
    assert preview is not None, response.context["form"].errors
    return client.post(
        target, {**inputs, "previewed_value": str(preview.value), "submit": "1"}
    ), preview


def test_edit_is_prefilled(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_contribution_edit", data.a.pk))
    form = response.context["form"]
    assert form.initial["candidate"] == data.candidate_a.pk
    assert form.initial["hours_per_week"] == Decimal("24")
    assert form.initial["start_date"] == date(2026, 3, 1)


@pytest.mark.parametrize("which", ["a", "a_returned"])
def test_edit_while_submitted_or_returned(client, data, which):
    contribution = getattr(data, which)
    login(client, data.world.contractor_a_user)
    response, preview = edit(
        client,
        contribution,
        {"candidate": data.candidate_a.pk, **JOB, "hours_per_week": "36"},
    )
    assert response.status_code == 302
    contribution.refresh_from_db()
    assert contribution.hours_per_week == Decimal("36")
    assert contribution.value == preview.value
    assert contribution.status == Contribution.Status.SUBMITTED  # a returned one goes back
    if which == "a_returned":
        assert contribution.status_reason == "Graag de getekende arbeidsovereenkomst"


@pytest.mark.parametrize("status", ["approved", "rejected"])
def test_edit_refused_once_approved_or_rejected(client, data, status):
    contribution = data.a_approved
    if status == "rejected":
        Contribution.objects.filter(pk=contribution.pk).update(
            status="rejected", status_reason="Geen bewijs"
        )
    login(client, data.world.contractor_a_user)
    target = url("portal_contribution_edit", contribution.pk)
    response = client.get(target)
    assert response.status_code == 302
    assert response["Location"] == url("portal_contribution", contribution.pk)
    page = client.get(response["Location"])
    assert "can no longer be changed" in page.content.decode()
    assert target not in page.content.decode()
    response = client.post(
        target,
        {"candidate": data.candidate_a.pk, **JOB, "hours_per_week": "36", "submit": "1"},
    )
    assert response.status_code == 302
    contribution.refresh_from_db()
    assert contribution.hours_per_week == Decimal("24")


# --- Contribution page and evidence ----------------------------------------------------------


def test_contribution_page(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_contribution", data.a_returned.pk))
    html = response.content.decode()
    assert response.context["editable"]
    assert "Graag de getekende arbeidsovereenkomst" in html
    assert "K-AAAA2222" in html and "Q.X." in html
    assert url("portal_contribution_edit", data.a_returned.pk) in html
    assert url("portal_evidence_upload", data.a_returned.pk) in html

    response = client.get(url("portal_contribution", data.a.pk))
    assert url("evidence_download", data.evidence_a.pk) in response.content.decode()
    download = client.get(url("evidence_download", data.evidence_a.pk))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == MINIMAL_PDF


def test_approved_contribution_page_is_read_only(client, data):
    login(client, data.world.contractor_a_user)
    response = client.get(url("portal_contribution", data.a_approved.pk))
    html = response.content.decode()
    assert not response.context["editable"] and response.context["evidence_form"] is None
    assert url("portal_evidence_upload", data.a_approved.pk) not in html
    assert url("portal_contribution_edit", data.a_approved.pk) not in html


def upload(client, contribution, name, content, kind="employment_contract"):
    return client.post(
        url("portal_evidence_upload", contribution.pk),
        {"kind": kind, "file": SimpleUploadedFile(name, content)},
    )


def test_upload_evidence(client, data, django_capture_on_commit_callbacks):
    login(client, data.world.contractor_a_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, data.a_returned, "arbeidscontract.pdf", MINIMAL_PDF)
    assert response.status_code == 302
    evidence = data.a_returned.evidence.get()
    assert evidence.kind == "employment_contract" and evidence.uploaded_by_id
    assert evidence.file.read() == MINIMAL_PDF


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("contract.pdf", b"Dit is gewoon tekst, hernoemd naar .pdf", "Only PDF, PNG and JPEG"),
        ("leeg.pdf", b"", "empty"),
        ("groot.pdf", MINIMAL_PDF, "too large"),
    ],
)
def test_upload_checks(client, data, settings, name, content, message):
    settings.EVIDENCE_MAX_BYTES = len(MINIMAL_PDF) - 1
    login(client, data.world.contractor_a_user)
    response = upload(client, data.a, name, content)
    assert response.status_code == 200
    form = response.context["evidence_form"]
    assert message in form.errors["file"][0]
    assert message in response.content.decode()
    assert data.a.evidence.count() == 1  # only the fixture's file


def test_upload_refused_once_approved(client, data):
    login(client, data.world.contractor_a_user)
    response = upload(client, data.a_approved, "contract.pdf", MINIMAL_PDF)
    assert response.status_code == 302
    assert not data.a_approved.evidence.exists()
