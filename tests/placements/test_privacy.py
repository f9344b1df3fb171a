"""Personal data of candidates stays with the roles that may see it.

* explanations (stored on every contribution, shown to every role, exported) never contain a
  candidate's birth year, age, target group or years on benefit;
* the contribution selectors hand out candidate details only with ``VIEW_PERSONAL_DATA`` on
  the contribution; everybody else gets the pseudonymous code;
* advisers reach a candidate through its contributions in their municipalities;
* the admin shows candidate details per object, and birth years unlocalized;
* evidence is named neutrally and its file goes when its row goes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from placements import selectors
from placements.models import Candidate, Contribution, Evidence, private_storage
from placements.valuation import (
    Block,
    ContributionInput,
    TargetGroup,
    ValuationError,
    Window,
    example_rulebook,
    value_contribution,
)
from sroi import permissions
from sroi import services as sroi_services
from sroi.permissions import Action, can
from tests import factories as f

# --- Explanations ----------------------------------------------------------------------------

RULEBOOK = example_rulebook()
# At most 1827 counted days, so a count of days can never look like a birth year (>= 1930).
WINDOW = Window(date(2024, 1, 1), date(2028, 12, 31))
# A tenth that is never a whole number, so "2,50" cannot be confused with a count or a rate.
TENTHS = st.integers(min_value=1, max_value=99).filter(lambda n: n % 10).map(lambda n: n / 10)


def birth_year_in(text: str, year: int) -> bool:
    """``year`` written as a year (not inside a longer number or an amount like 1960.00)."""
    return re.search(rf"(?<!\d){year}(?!\d|[.,]\d)", text) is not None


def years_on_benefit_in(text: str, years: Decimal) -> bool:
    """``years`` written in either language's style: 2.5, 2,5, 2.50 or 2,50."""
    whole, tenth = f"{years:.1f}".split(".")
    return re.search(rf"(?<![\d.,]){whole}[.,]{tenth}0?(?!\d)", text) is not None


@st.composite
def placements_with_personal_data(draw) -> ContributionInput:
    start = draw(st.dates(min_value=WINDOW.start, max_value=WINDOW.end))
    end = start + timedelta(days=draw(st.integers(min_value=30, max_value=1500)))
    return ContributionInput(
        block=draw(st.sampled_from([Block.JOB, Block.BBL, Block.WORK_EXPERIENCE])),
        start=start,
        end=draw(st.sampled_from([end, None])),
        target_group=draw(st.sampled_from(list(TargetGroup))),
        hours_per_week=Decimal(draw(st.integers(min_value=12, max_value=40))),
        years_on_benefit=Decimal(str(draw(TENTHS))),
        birth_year=draw(st.integers(min_value=1930, max_value=start.year - 16)),
        permanent_contract=draw(st.booleans()),
    )


def valuate(contribution: ContributionInput, lang: str):
    try:
        return value_contribution(RULEBOOK, contribution, WINDOW, lang=lang)
    except ValuationError:
        assume(False)


@settings(deadline=None, max_examples=300)
@given(placements_with_personal_data(), st.sampled_from(["nl", "en"]))
def test_no_explanation_line_holds_the_birth_year_or_years_on_benefit(contribution, lang):
    result = valuate(contribution, lang)
    for line in (*result.explanation, result.zero_reason or ""):
        assert not birth_year_in(line, contribution.birth_year), line
        assert not years_on_benefit_in(line, contribution.years_on_benefit), line
        # Nor the age it gives (an age bonus names its band, never the candidate's age).
        age = contribution.start.year - contribution.birth_year
        assert not re.search(rf"\b(leeftijd|age) {age}\b", line), line


@settings(deadline=None, max_examples=200)
@given(
    placements_with_personal_data(),
    st.integers(min_value=1930, max_value=2008),
    TENTHS,
    st.sampled_from(["nl", "en"]),
)
def test_personal_data_changes_the_explanation_only_through_rule_and_bonuses(
    contribution, other_birth_year, other_years, lang
):
    """Two people with the same inputs, valued by the same rule and bonuses, get the very
    same explanation: nothing of the person is written into it."""
    assume(other_birth_year <= contribution.start.year - 16)
    other = replace(
        contribution, birth_year=other_birth_year, years_on_benefit=Decimal(str(other_years))
    )
    first, second = valuate(contribution, lang), valuate(other, lang)
    assume((first.rule_code, first.bonus_codes) == (second.rule_code, second.bonus_codes))
    assert first.explanation == second.explanation


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_target_group_is_named_by_the_rule_only(lang):
    # Wajong job: rule job-wajong, statushouder bonus for the target-group condition.
    for group in (TargetGroup.WAJONG, TargetGroup.STATUSHOUDER, TargetGroup.WIA):
        contribution = ContributionInput(
            Block.JOB,
            date(2026, 1, 1),
            date(2026, 12, 31),
            target_group=group,
            hours_per_week=Decimal("36"),
            birth_year=1960,
        )
        result = value_contribution(RULEBOOK, contribution, lang=lang)
        inputs = result.explanation[1]
        assert inputs.startswith(("Invoer:", "Inputs:"))
        assert "doelgroep" not in inputs and "target group" not in inputs
        text = "\n".join(result.explanation)
        assert "1960" not in text and " 66" not in text
        assert ("leeftijdsbonus 55 jaar of ouder" if lang == "nl" else "age bonus 55+") in text


# --- Fixtures for the database tests ---------------------------------------------------------


@pytest.fixture
def data(world):
    """A Noordwijk and a Katwijk contribution of contractor A (one candidate each, with
    recognisable details), and a candidate of A without contributions."""
    nwk = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    kwk = f.RuledObligationFactory(
        contract__municipality=world.katwijk, contract__contractor=world.contractor_a
    )
    details = {"initials": "Q.X.", "birth_year": 1961, "target_group": "wajong"}
    nwk_candidate = f.CandidateFactory(contractor=world.contractor_a, **details)
    kwk_candidate = f.CandidateFactory(contractor=world.contractor_a, **details)
    return SimpleNamespace(
        world=world,
        nwk=f.ContributionFactory(obligation=nwk, candidate=nwk_candidate),
        kwk=f.ContributionFactory(obligation=kwk, candidate=kwk_candidate),
        unused=f.CandidateFactory(contractor=world.contractor_a, **details),
    )


PERSONAL_FIELDS = ("initials", "birth_year", "target_group", "years_on_benefit")


def assert_withheld(contribution: Contribution, candidate: Candidate) -> None:
    assert contribution.personal_data_visible is False
    assert contribution.candidate_code == candidate.code
    assert contribution.candidate_id == candidate.pk
    assert contribution.candidate is None  # cached: no lazy load of the candidate
    for name in PERSONAL_FIELDS:
        with pytest.raises(AttributeError):
            getattr(contribution.candidate, name)


# --- Selectors -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["council_noordwijk", "officer_noordwijk"])
def test_council_viewer_and_officer_get_the_code_only(data, persona, django_assert_num_queries):
    user = getattr(data.world, persona)
    selectors.contribution_list(user=user).count()  # computes and caches the scope
    with CaptureQueriesContext(connection) as queries:
        rows = list(selectors.contribution_list(user=user))
        got = selectors.contribution_get(user=user, pk=data.nwk.pk)
        for row in (*rows, got):
            assert_withheld(row, data.nwk.candidate)
    assert [row.pk for row in rows] == [data.nwk.pk]
    assert len(queries) == 2  # the list and the get; touching .candidate loads nothing
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    for column in PERSONAL_FIELDS:
        assert f'"placements_candidate"."{column}"' not in sql


@pytest.mark.parametrize("persona", ["council_noordwijk", "officer_noordwijk"])
def test_a_withheld_candidate_survives_a_save(data, persona):
    got = selectors.contribution_get(user=getattr(data.world, persona), pk=data.nwk.pk)
    got.description = "Gewijzigd"
    got.save()
    stored = Contribution.objects.select_related("candidate").get(pk=data.nwk.pk)
    assert stored.candidate == data.nwk.candidate and stored.candidate.initials == "Q.X."


@pytest.mark.parametrize("persona", ["adviser", "adviser_katwijk", "contractor_a_user"])
def test_adviser_and_contractor_get_the_candidate(data, persona):
    user = getattr(data.world, persona)
    for row in selectors.contribution_list(user=user):
        assert row.personal_data_visible is True
        assert row.candidate.code == row.candidate_code
        assert (row.candidate.initials, row.candidate.birth_year) == ("Q.X.", 1961)
    got = selectors.contribution_get(user=user, pk=data.kwk.pk)
    assert got.candidate.target_group == "wajong"


def test_mixed_roles_decide_per_contribution(data, django_assert_num_queries):
    """Adviser of Katwijk, council viewer of Noordwijk: details for Katwijk only."""
    user = data.world.mixed_user
    selectors.contribution_list(user=user).count()
    with django_assert_num_queries(2):  # contributions, then the allowed rows' candidates
        rows = {row.pk: row for row in selectors.contribution_list(user=user)}
        assert set(rows) == {data.nwk.pk, data.kwk.pk}
        assert rows[data.kwk.pk].candidate.initials == "Q.X."
        assert_withheld(rows[data.nwk.pk], data.nwk.candidate)
    assert_withheld(selectors.contribution_get(user=user, pk=data.nwk.pk), data.nwk.candidate)
    assert selectors.contribution_get(user=user, pk=data.kwk.pk).candidate.birth_year == 1961


def test_a_caller_joining_the_candidate_does_not_undo_the_guard(data):
    qs = Contribution.objects.select_related("candidate")
    (row,) = selectors.contribution_list(user=data.world.council_noordwijk, qs=qs)
    assert_withheld(row, data.nwk.candidate)


# --- Candidate scope -------------------------------------------------------------------------


def visible(user) -> set[int]:
    return set(permissions.candidates_visible_to(user).values_list("pk", flat=True))


def test_advisers_reach_candidates_through_their_contributions(data):
    w = data.world
    nwk, kwk, unused = data.nwk.candidate.pk, data.kwk.candidate.pk, data.unused.pk
    assert visible(w.adviser) == {nwk, kwk}  # serves both; never the unused candidate
    # Contractor A also works in Noordwijk, but only the Katwijk candidate is Katwijk's.
    assert visible(w.adviser_katwijk) == {kwk}
    assert visible(w.mixed_user) == {kwk}
    assert visible(w.contractor_a_user) == {nwk, kwk, unused}
    for persona in ("council_noordwijk", "officer_noordwijk", "contractor_b_user", "outsider"):
        assert visible(getattr(w, persona)) == set()


def test_a_candidate_in_two_municipalities_is_listed_once(data):
    f.ContributionFactory(obligation=data.kwk.obligation, candidate=data.nwk.candidate)
    assert (
        list(permissions.candidates_visible_to(data.world.adviser)).count(data.nwk.candidate) == 1
    )
    assert data.nwk.candidate.pk in visible(data.world.adviser_katwijk)


def test_can_on_a_candidate_follows_the_scope(data):
    w = data.world
    kwk, nwk, unused = data.kwk.candidate, data.nwk.candidate, data.unused
    for action in (Action.VIEW, Action.VIEW_PERSONAL_DATA):
        assert can(w.adviser, action, kwk) and can(w.adviser, action, nwk)
        assert can(w.adviser_katwijk, action, kwk)
        assert not can(w.adviser_katwijk, action, nwk)
        assert not can(w.adviser, action, unused)
        assert can(w.contractor_a_user, action, unused)
        assert not can(w.contractor_b_user, action, kwk)
        assert not can(w.council_katwijk, action, kwk)
        assert not can(w.officer_katwijk, action, kwk)
    assert can(w.contractor_a_user, Action.REPORT_CONTRIBUTION, unused)
    assert not can(w.adviser, Action.REPORT_CONTRIBUTION, kwk)


def test_candidate_get_is_404_outside_the_scope(data):
    w = data.world
    assert selectors.candidate_get(user=w.adviser_katwijk, pk=data.kwk.candidate.pk)
    for pk in (data.nwk.candidate.pk, data.unused.pk):
        with pytest.raises(Http404):
            selectors.candidate_get(user=w.adviser_katwijk, pk=pk)


# --- Admin -----------------------------------------------------------------------------------


def admin_url(model, view, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client, data):
    for persona in ("adviser", "mixed_user"):
        sroi_services.sync_user_access(getattr(data.world, persona))
    data.nwk.value_explanation = [
        "Invoer: blok baan, doelgroep Wajong, periode 01-03-2026 t/m 28-02-2027, "
        "uren per week 24,00, geboortejaar 1961.",  # as stored before the fix
        "Waarde: € 10.000,00 (basis € 10.000,00 + bonussen € 0,00).",
    ]
    data.nwk.save()
    return client


def test_admin_hides_candidate_details_without_personal_data_rights(admin_client, data):
    admin_client.force_login(data.world.mixed_user)
    page = admin_client.get(admin_url(Contribution, "change", data.nwk.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert data.nwk.candidate.code in html
    for value in ("Q.X.", "1961", "1.961", "Wajong", "wajong"):
        assert value not in html, value
    assert "Waarde: € 10.000,00" in html  # the rest of the explanation is still shown
    changelist = admin_client.get(admin_url(Contribution, "changelist")).content.decode()
    assert data.nwk.candidate.code in changelist and "Q.X." not in changelist


def test_admin_shows_details_to_the_adviser_with_an_unlocalized_birth_year(admin_client, data):
    admin_client.force_login(data.world.mixed_user)
    html = admin_client.get(admin_url(Contribution, "change", data.kwk.pk)).content.decode()
    assert "Q.X." in html and "1961" in html and "1.961" not in html
    admin_client.force_login(data.world.adviser)
    html = admin_client.get(admin_url(Contribution, "change", data.nwk.pk)).content.decode()
    assert "Q.X." in html and "geboortejaar 1961" in html


def test_candidate_admin_is_scoped_through_use_and_writes_years_plainly(admin_client, data):
    admin_client.force_login(data.world.mixed_user)
    changelist = admin_client.get(admin_url(Candidate, "changelist")).content.decode()
    assert data.kwk.candidate.code in changelist
    assert data.nwk.candidate.code not in changelist and data.unused.code not in changelist
    assert "1961" in changelist and "1.961" not in changelist
    page = admin_client.get(admin_url(Candidate, "change", data.kwk.candidate.pk))
    assert page.status_code == 200
    assert "1961" in page.content.decode() and "1.961" not in page.content.decode()
    outside = admin_client.get(admin_url(Candidate, "change", data.nwk.candidate.pk))
    assert outside.status_code == 302  # "does not exist" for the admin


def test_candidate_add_form_does_not_localize_the_birth_year(admin_client, data):
    from placements.admin import CandidateForm

    form = CandidateForm(initial={"birth_year": 1970})
    assert 'value="1970"' in str(form["birth_year"])


# --- Evidence --------------------------------------------------------------------------------


def make_evidence(contribution, name="jan-de-vries-arbeidscontract.pdf") -> Evidence:
    return Evidence.objects.create(
        contribution=contribution,
        kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
        file=ContentFile(b"%PDF-1.4", name="x"),
        original_name=name,
        content_type="application/pdf",
        size=8,
    )


def test_evidence_is_named_by_number_and_kind(data):
    evidence = make_evidence(data.nwk)
    assert str(evidence) == f"Evidence {evidence.pk} (Employment contract)"
    assert "jan" not in str(evidence)


def test_deleting_evidence_deletes_its_file_on_commit(data, django_capture_on_commit_callbacks):
    evidence = make_evidence(data.nwk)
    name = evidence.file.name
    assert private_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        evidence.delete()
        assert private_storage.exists(name)  # not before the commit
    assert len(callbacks) == 1
    assert not private_storage.exists(name)


def test_a_rolled_back_delete_keeps_the_file(data, django_capture_on_commit_callbacks):
    evidence = make_evidence(data.nwk)
    name = evidence.file.name
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Evidence.objects.filter(pk=evidence.pk).delete()
            raise RuntimeError("roll back")
    assert callbacks == []
    assert private_storage.exists(name)
    assert Evidence.objects.filter(pk=evidence.pk).exists()


def test_a_cascaded_delete_takes_the_files_too(data, django_capture_on_commit_callbacks):
    names = [make_evidence(data.nwk).file.name for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        Contribution.objects.filter(pk=data.nwk.pk).delete()
    assert not any(private_storage.exists(name) for name in names)
