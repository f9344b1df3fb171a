"""Reads are scoped to the user: each persona sees what is theirs and nothing else."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.http import Http404
from django.utils import timezone

from placements import selectors
from placements.models import Contribution, Evidence
from sroi.permissions import Action
from tests import factories as f


@pytest.fixture
def data(world):
    """Contractor A reports for Noordwijk, contractor B for Katwijk, one rulebook each."""
    obligation_a = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    obligation_b = f.RuledObligationFactory(
        contract__municipality=world.katwijk, contract__contractor=world.contractor_b
    )
    a = f.ContributionFactory(obligation=obligation_a)
    b = f.ContributionFactory(obligation=obligation_b)
    evidence_a = Evidence.objects.create(
        contribution=a,
        kind=Evidence.Kind.OTHER,
        file=ContentFile(b"%PDF-1.4", name="x"),
        original_name="a.pdf",
        content_type="application/pdf",
        size=8,
    )
    return SimpleNamespace(
        world=world,
        obligation_a=obligation_a,
        obligation_b=obligation_b,
        a=a,
        b=b,
        evidence_a=evidence_a,
    )


def pks(qs):
    return set(qs.values_list("pk", flat=True))


# --- Contributions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("adviser", {"a", "b"}),
        ("contractor_a_user", {"a"}),
        ("contractor_b_user", {"b"}),
        ("officer_noordwijk", {"a"}),
        ("officer_katwijk", {"b"}),
        ("council_noordwijk", {"a"}),
        ("council_katwijk", {"b"}),
        ("outsider", set()),
    ],
)
def test_contribution_list_per_persona(data, persona, expected):
    user = getattr(data.world, persona)
    assert pks(selectors.contribution_list(user=user)) == {getattr(data, x).pk for x in expected}


def test_anonymous_sees_no_contributions(data):
    assert not selectors.contribution_list(user=AnonymousUser()).exists()
    assert not selectors.verification_queue(user=AnonymousUser()).exists()
    with pytest.raises(Http404):
        selectors.contribution_get(user=AnonymousUser(), pk=data.a.pk)


def test_contribution_get_is_404_for_other_contractor_and_municipality(data):
    w = data.world
    assert selectors.contribution_get(user=w.contractor_a_user, pk=data.a.pk) == data.a
    for user in (w.contractor_b_user, w.officer_katwijk, w.council_katwijk, w.outsider):
        with pytest.raises(Http404):
            selectors.contribution_get(user=user, pk=data.a.pk)


def test_contribution_get_with_review_action(data):
    w = data.world
    got = selectors.contribution_get(
        user=w.adviser, pk=data.a.pk, action=Action.REVIEW_CONTRIBUTION
    )
    assert got == data.a
    for user in (w.contractor_a_user, w.officer_noordwijk, w.council_noordwijk):
        with pytest.raises(Http404):
            selectors.contribution_get(user=user, pk=data.a.pk, action=Action.REVIEW_CONTRIBUTION)


def test_contribution_list_uses_a_constant_number_of_queries(data, django_assert_num_queries):
    for _ in range(5):
        f.ContributionFactory(obligation=data.obligation_a)
        f.ContributionFactory(obligation=data.obligation_b)
    user = data.world.adviser
    selectors.contribution_list(user=user).count()  # computes and caches the scope
    with django_assert_num_queries(1):
        rows = [
            (
                c.obligation.contract.municipality.name,
                c.obligation.contract.contractor.name,
                c.candidate.code,
            )
            for c in selectors.contribution_list(user=user)
        ]
    assert len(rows) == 12


# --- Verification queue ----------------------------------------------------------------------


def test_verification_queue_holds_submitted_items_oldest_first(data):
    w = data.world
    older = f.ContributionFactory(obligation=data.obligation_b)
    Contribution.objects.filter(pk=older.pk).update(
        submitted_at=timezone.now() - timedelta(days=10)
    )
    f.ContributionFactory(obligation=data.obligation_a, approved=True)
    f.ContributionFactory(obligation=data.obligation_a, rejected=True)
    queue = list(selectors.verification_queue(user=w.adviser))
    assert queue[0] == older
    assert set(queue) == {older, data.a, data.b}
    assert all(c.status == Contribution.Status.SUBMITTED for c in queue)


@pytest.mark.parametrize(
    "persona",
    ["contractor_a_user", "officer_noordwijk", "council_noordwijk", "functional_admin", "outsider"],
)
def test_verification_queue_is_empty_for_non_reviewers(data, persona):
    assert not selectors.verification_queue(user=getattr(data.world, persona)).exists()


# --- Candidates ------------------------------------------------------------------------------


def test_candidates_visible_to_owner_and_adviser_only(data):
    w = data.world
    cand_a, cand_b = data.a.candidate, data.b.candidate
    assert pks(selectors.candidate_list(user=w.contractor_a_user)) == {cand_a.pk}
    assert pks(selectors.candidate_list(user=w.contractor_b_user)) == {cand_b.pk}
    assert pks(selectors.candidate_list(user=w.adviser)) == {cand_a.pk, cand_b.pk}
    for user in (
        w.officer_noordwijk,
        w.council_noordwijk,
        w.functional_admin,
        w.outsider,
        AnonymousUser(),
    ):
        assert not selectors.candidate_list(user=user).exists()


def test_candidate_get(data):
    w = data.world
    cand_a = data.a.candidate
    assert selectors.candidate_get(user=w.contractor_a_user, pk=cand_a.pk) == cand_a
    assert selectors.candidate_get(user=w.adviser, pk=cand_a.pk) == cand_a
    for user in (w.contractor_b_user, w.officer_noordwijk, w.council_noordwijk, AnonymousUser()):
        with pytest.raises(Http404):
            selectors.candidate_get(user=user, pk=cand_a.pk)


# --- Evidence --------------------------------------------------------------------------------


def test_evidence_get(data):
    w = data.world
    ev = data.evidence_a
    assert selectors.evidence_get(user=w.contractor_a_user, pk=ev.pk) == ev
    assert selectors.evidence_get(user=w.adviser, pk=ev.pk) == ev
    for user in (
        w.contractor_b_user,
        w.officer_noordwijk,  # evidence is personal data: not for procurement officers
        w.council_noordwijk,
        w.officer_katwijk,
        w.outsider,
        AnonymousUser(),
    ):
        with pytest.raises(Http404):
            selectors.evidence_get(user=user, pk=ev.pk)


def test_evidence_list(data):
    w = data.world
    assert pks(selectors.evidence_list(user=w.contractor_a_user)) == {data.evidence_a.pk}
    assert not selectors.evidence_list(user=w.contractor_b_user).exists()
    assert not selectors.evidence_list(user=w.adviser, contribution=data.b).exists()


# --- Rulebooks -------------------------------------------------------------------------------


def test_rulebook_list_per_persona(data):
    w = data.world
    rb_a, rb_b = data.obligation_a.rulebook, data.obligation_b.rulebook
    draft_elsewhere = f.RulebookFactory(
        municipalities=[f.MunicipalityFactory(name="Lisse")], status="draft"
    )
    assert pks(selectors.rulebook_list(user=w.adviser)) == {rb_a.pk, rb_b.pk}
    assert pks(selectors.rulebook_list(user=w.officer_noordwijk)) == {rb_a.pk}
    assert pks(selectors.rulebook_list(user=w.officer_katwijk)) == {rb_b.pk}
    # Contractors see the rulebooks of their own obligations: the values they are judged by.
    assert pks(selectors.rulebook_list(user=w.contractor_a_user)) == {rb_a.pk}
    assert pks(selectors.rulebook_list(user=w.contractor_b_user)) == {rb_b.pk}
    assert not selectors.rulebook_list(user=w.outsider).exists()
    assert not selectors.rulebook_list(user=AnonymousUser()).exists()
    assert draft_elsewhere.pk not in pks(selectors.rulebook_list(user=w.adviser))


def test_rulebook_get(data, django_assert_num_queries):
    w = data.world
    rb_a = data.obligation_a.rulebook
    selectors.rulebook_list(user=w.adviser).count()  # caches the scope
    with django_assert_num_queries(4):  # rulebook, municipalities, rules, bonuses
        got = selectors.rulebook_get(user=w.adviser, pk=rb_a.pk)
        codes = sorted(r.code for r in got.rules.all())
        assert [b.code for b in got.bonuses.all()] == ["permanent"]
    assert codes == ["activity", "job-pw"]
    with pytest.raises(Http404):
        selectors.rulebook_get(user=w.contractor_b_user, pk=rb_a.pk)
    with pytest.raises(Http404):
        selectors.rulebook_get(user=w.officer_katwijk, pk=rb_a.pk)
    with pytest.raises(Http404):
        selectors.rulebook_get(user=w.officer_noordwijk, pk=rb_a.pk, action=Action.MANAGE_RULEBOOK)
