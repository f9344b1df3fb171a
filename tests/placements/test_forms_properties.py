"""Property tests of the portal's report form, the verification forms and the rulebook item
forms (hypothesis): odd numbers, text and dates are refused with a message on the form, or
accepted and stored as given by the real services (or refused by them with a ValidationError
the view shows); no exception escapes. A few inputs also go through the views: never a 500,
nothing half-written.

Every example runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placements import portal, services
from placements.forms import ReasonForm
from placements.forms_portal import ContributionForm
from placements.forms_rulebooks import BonusForm, RuleForm
from placements.models import Bonus, Candidate, Contribution, Rule, Rulebook
from tests import factories as f
from tests.contracts.test_forms_properties import date_input, number_input, text_input
from tests.contracts.test_import_properties import rolled_back

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def counts() -> tuple[int, ...]:
    return (
        Contribution.objects.count(),
        Candidate.objects.count(),
        Rule.objects.count(),
        Bonus.objects.count(),
        LogEntry.objects.count(),
    )


def _errors_are_messages(form) -> None:
    assert form.errors
    for field, messages in form.errors.items():
        assert field == "__all__" or field in form.fields, field
        assert all(isinstance(m, str) and m.strip() for m in messages)


@pytest.fixture
def obligation(world):
    return f.RuledObligationFactory(
        contract__contractor=world.contractor_a,
        contract__municipality=world.noordwijk,
        contract__reference="NW-A-1",
    )


def job_data(**overrides) -> dict:
    return {
        "initials": "J.K.",
        "birth_year": "1984",
        "target_group": "participatiewet",
        "years_on_benefit": "3",
        "start_date": "2026-03-01",
        "end_date": "2026-08-31",
        "hours_per_week": "36",
        "description": "Grondwerker",
        "delivered_by": "",
        **overrides,
    }


def activity_data(**overrides) -> dict:
    return {"start_date": "2026-04-01", "hours": "40", "description": "Gastlessen", **overrides}


def _report(world, obligation, block: str, data: dict):
    """The portal's report flow without HTTP: form, preview, then the real services."""
    user = world.contractor_a_user
    spec = portal.block_specs(obligation)[block]
    form = ContributionForm(data, spec=spec, candidates=portal.candidate_list(user=user))
    before = counts()
    if not form.is_valid():
        _errors_are_messages(form)
        return None
    try:
        candidate = form.candidate
        details = form.new_candidate()
        if details is not None:
            candidate = portal.unsaved_candidate(
                contractor_id=obligation.contract.contractor_id, details=details
            )
        portal.preview_value(obligation=obligation, candidate=candidate, inputs=form.inputs())
        contribution = portal.report_contribution(
            acting_user=user,
            obligation=obligation,
            inputs=form.inputs(),
            candidate=form.candidate,
            new_candidate=form.new_candidate(),
        )
    except ValidationError as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
        assert counts() == before
        return None
    contribution.refresh_from_db()
    # The service stores the normalised inputs (text whitespace collapsed, Python's notion of
    # whitespace including the separators \x1c-\x1f), so compare against those.
    for name, value in services.normalise_inputs(form.inputs()).items():
        if name == "candidate":
            continue  # a new candidate is created by the service; checked below
        stored = getattr(contribution, name)
        assert stored == value or (value is None and stored in ("", None)), name
    if details is not None:
        for name, value in details.items():
            if name == "target_group_note" and details["target_group"] != "other":
                continue  # kept only for the group "other" (clean_candidate_details)
            stored = getattr(contribution.candidate, name)
            assert stored == value or (value is None and stored in ("", None)), name
    return contribution


JOB_FIELDS = [
    "initials",
    "birth_year",
    "years_on_benefit",
    "hours_per_week",
    "start_date",
    "end_date",
    "description",
    "delivered_by",
    "target_group_note",
]


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(JOB_FIELDS),
    value=st.one_of(number_input, text_input, date_input),
)
def test_job_report_form(world, obligation, field, value):
    with rolled_back():
        _report(world, obligation, "job", job_data(**{field: value}))


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(["hours", "start_date", "description", "delivered_by"]),
    value=st.one_of(number_input, text_input, date_input),
)
def test_activity_report_form(world, obligation, field, value):
    with rolled_back():
        _report(world, obligation, "social_activity", activity_data(**{field: value}))


@PROPERTY_SETTINGS
@given(reason=text_input)
def test_reason_form(world, obligation, reason):
    contribution = f.ContributionFactory(obligation=obligation)
    with rolled_back():
        form = ReasonForm({"reason": reason})
        if not form.is_valid():
            _errors_are_messages(form)
            return
        rejected = services.reject_contribution(
            acting_user=world.adviser, contribution=contribution, reason=form.cleaned_data["reason"]
        )
        rejected.refresh_from_db()
        assert rejected.status_reason == form.cleaned_data["reason"]


# --- Rulebook items ------------------------------------------------------------------------------


@pytest.fixture
def draft(world):
    return f.RulebookFactory(
        owner=world.noordwijk, status=Rulebook.Status.DRAFT, municipalities=[world.noordwijk]
    )


def rule_data(**overrides) -> dict:
    return {
        "code": "job-ww",
        "label": "Baan WW",
        "block": "job",
        "kind": "annual",
        "rate": "30000",
        "target_groups": ["ww"],
        "variant": "",
        "min_years_on_benefit": "",
        "max_years_on_benefit": "",
        "fte_hours": "36",
        "min_hours_per_week": "12",
        "max_years": "2",
        "min_duration_days": "",
        "percent": "",
        **overrides,
    }


def bonus_data(**overrides) -> dict:
    return {
        "code": "age-50",
        "label": "50 plus",
        "amount": "2500",
        "blocks": ["job"],
        "target_groups": [],
        "min_age": "50",
        "max_age": "",
        **overrides,
    }


def _save_item(world, draft, form_class, data, service, key):
    before = counts()
    form = form_class(data, rulebook=draft)
    if not form.is_valid():
        _errors_are_messages(form)
        return
    try:
        item = service(acting_user=world.adviser, rulebook=draft, **{key: form.item_data()})
    except ValidationError as exc:
        assert exc.messages
        assert counts() == before
        return
    item.refresh_from_db()
    for name, value in form.item_data().items():
        assert getattr(item, name) == value, name


RULE_FIELDS = [
    "code",
    "label",
    "variant",
    "rate",
    "fte_hours",
    "min_hours_per_week",
    "max_years",
    "min_years_on_benefit",
    "min_duration_days",
    "percent",
]


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(RULE_FIELDS),
    value=st.one_of(number_input, text_input),
)
def test_rule_form(world, draft, field, value):
    with rolled_back():
        _save_item(
            world, draft, RuleForm, rule_data(**{field: value}), services.save_rule, "rule_data"
        )


@PROPERTY_SETTINGS
@given(
    field=st.sampled_from(["code", "label", "amount", "min_age", "max_age"]),
    value=st.one_of(number_input, text_input),
)
def test_bonus_form(world, draft, field, value):
    with rolled_back():
        _save_item(
            world, draft, BonusForm, bonus_data(**{field: value}), services.save_bonus, "bonus_data"
        )


# --- Through the views -----------------------------------------------------------------------


PORTAL_INPUTS = [
    {"hours_per_week": "1e9999"},
    {"hours_per_week": "NaN"},
    {"hours_per_week": "-1"},
    {"years_on_benefit": "Infinity"},
    {"birth_year": str(10**30)},
    {"initials": "A\x00B"},
    {"description": "x" * 10_000},
    {"start_date": "9999-12-31", "end_date": "9999-12-31"},
    {"start_date": "0001-01-01"},
    {"previewed_value": "1e9999"},
    {"candidate": str(10**30)},
]


@pytest.mark.parametrize("overrides", PORTAL_INPUTS)
def test_portal_report_view(client, world, obligation, overrides):
    client.force_login(world.contractor_a_user)
    before = counts()
    url = reverse("placements:portal_report", args=[obligation.pk]) + "?block=job"
    response = client.post(url, {**job_data(**overrides), "submit": "1"})
    assert response.status_code == 200
    assert counts() == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"rate": "1e9999"},
        {"rate": "NaN"},
        {"fte_hours": "99999"},
        {"min_duration_days": str(10**30)},
        {"label": "\x00"},
        {"code": "a" * 61},
    ],
)
def test_rule_create_view(client, world, draft, overrides):
    client.force_login(world.adviser)
    before = counts()
    response = client.post(
        reverse("placements:rulebook_rule_create", args=[draft.pk]), rule_data(**overrides)
    )
    assert response.status_code == 200
    assert counts() == before


def test_a_huge_birth_year_is_refused_on_the_form(world, obligation):
    spec = portal.block_specs(obligation)["job"]
    form = ContributionForm(job_data(birth_year=str(10**30)), spec=spec)
    assert not form.is_valid()
    assert "birth_year" in form.errors
