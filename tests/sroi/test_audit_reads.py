"""Staff reads of candidates' personal data are in the audit trail: one "viewed" entry per
candidate shown, written with one query per page; reads by the contractor itself and pages
with pseudonymous codes only are not logged (``sroi.audit.log_personal_data_read``)."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from placements.models import Candidate, Contribution
from sroi import services as sroi_services
from tests import factories as f

pytestmark = pytest.mark.django_db

LIST = reverse("placements:contribution_list")
QUEUE = reverse("placements:verification_queue")


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def data(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    contributions = [
        f.ContributionFactory(
            obligation=obligation,
            candidate=f.CandidateFactory(
                contractor=world.contractor_a, confirmed=True, initials=f"Q.{n}."
            ),
        )
        for n in range(3)
    ]
    return obligation, contributions


def reads(user=None):
    qs = LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(Candidate),
    )
    return qs if user is None else qs.filter(actor=user)


def contract_url(obligation):
    return reverse("contracts:contract_detail", args=[obligation.contract_id])


@pytest.mark.parametrize("page", ["list", "queue", "contract"])
def test_adviser_reads_are_logged_once_per_candidate_shown(client, world, data, page):
    obligation, contributions = data
    target = {"list": LIST, "queue": QUEUE, "contract": contract_url(obligation)}[page]
    client.force_login(world.adviser)
    response = client.get(target)
    assert response.status_code == 200
    assert "Q.0." in response.content.decode()
    logged = reads(world.adviser)
    assert sorted(e.object_id for e in logged) == sorted(c.candidate_id for c in contributions)
    for entry in logged:
        assert entry.object_repr == Candidate.objects.get(pk=entry.object_id).code
        assert entry.changes is None and entry.actor_email == world.adviser.email


def test_contribution_detail_logs_the_contribution_and_its_candidate(client, world, data):
    _, contributions = data
    contribution = contributions[0]
    client.force_login(world.adviser)
    client.get(reverse("placements:contribution_detail", args=[contribution.pk]))
    assert [e.object_id for e in reads(world.adviser)] == [contribution.candidate_id]
    assert LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(Contribution),
        object_id=contribution.pk,
        actor=world.adviser,
    ).exists()


@pytest.mark.parametrize("persona", ["officer_noordwijk", "council_noordwijk"])
def test_pages_with_codes_only_log_no_read(client, world, data, persona):
    obligation, contributions = data
    client.force_login(getattr(world, persona))
    for target in (
        LIST,
        contract_url(obligation),
        reverse("placements:contribution_detail", args=[contributions[0].pk]),
    ):
        response = client.get(target)
        assert response.status_code == 200
        assert "Q.0." not in response.content.decode()
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_contractor_reading_its_own_candidates_is_not_logged(client, world, data):
    _, contributions = data
    client.force_login(world.contractor_a_user)
    assert client.get(reverse("placements:portal_candidates")).status_code == 200
    contribution_url = reverse("placements:portal_contribution", args=[contributions[0].pk])
    assert client.get(contribution_url).status_code == 200
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_anonymised_candidates_are_not_logged(client, world, data):
    _, contributions = data
    Candidate.objects.filter(pk=contributions[0].candidate_id).update(
        anonymised_at=timezone.now(), initials="", birth_year=None
    )
    client.force_login(world.adviser)
    client.get(LIST)
    logged = {e.object_id for e in reads(world.adviser)}
    assert contributions[0].candidate_id not in logged
    assert {c.candidate_id for c in contributions[1:]} <= logged


def _count(client, target) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(target).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("page", ["list", "contract"])
def test_read_logging_keeps_the_query_count_constant(client, world, data, page):
    obligation, _ = data
    target = LIST if page == "list" else contract_url(obligation)
    client.force_login(world.adviser)
    _count(client, target)  # warm caches (content types, sessions)
    few = _count(client, target)
    for _n in range(5):
        f.ContributionFactory(
            obligation=obligation,
            candidate=f.CandidateFactory(contractor=world.contractor_a, confirmed=True),
        )
    assert _count(client, target) == few
    assert reads(world.adviser).count() == 3 + 3 + 8  # each page view logs what it showed


def test_admin_candidate_pages_log_reads(client, world, data):
    _, contributions = data
    sroi_services.sync_user_access(world.adviser)  # the role group and admin access
    client.force_login(world.adviser)
    response = client.get(reverse("admin:placements_candidate_changelist"))
    assert response.status_code == 200
    assert {e.object_id for e in reads(world.adviser)} == {c.candidate_id for c in contributions}
    LogEntry.objects.filter(action=LogEntry.Action.ACCESS).delete()
    candidate = contributions[0].candidate
    response = client.get(reverse("admin:placements_candidate_change", args=[candidate.pk]))
    assert response.status_code == 200
    assert [e.object_id for e in reads(world.adviser)] == [candidate.pk]
    LogEntry.objects.filter(action=LogEntry.Action.ACCESS).delete()
    response = client.get(
        reverse("admin:placements_contribution_change", args=[contributions[0].pk])
    )
    assert response.status_code == 200
    assert [e.object_id for e in reads(world.adviser)] == [candidate.pk]
