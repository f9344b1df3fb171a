"""The contractor portal's forms: what each block asks (derived from the obligation's rulebook),
the candidate chosen or registered with minimal data, and the evidence checked by content."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from placements import portal
from placements.forms_portal import ContributionForm, EvidenceForm, PortalPlanItemFormSet
from placements.models import Bonus, Rule
from tests import factories as f

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def add_example_rules(rulebook) -> None:
    """Besides the factory's job and social-activity rules: internships with two variants, a
    work-experience place, BBL, purchases (register / other / SW labour cost) and training,
    as in the public example rulebook."""
    rules = [
        dict(
            code="internship-mbo1-2",
            label="Stage mbo niveau 1-2",
            block="internship",
            kind="fixed",
            rate=Decimal("5000"),
            variant="mbo1-2",
            min_duration_days=60,
        ),
        dict(
            code="internship-mbo3-4-hbo",
            label="Stage mbo niveau 3-4 of hbo",
            block="internship",
            kind="fixed",
            rate=Decimal("2500"),
            variant="mbo3-4-hbo",
            min_duration_days=60,
        ),
        dict(
            code="work-experience",
            label="Werkervaringsplek",
            block="work_experience",
            kind="monthly",
            rate=Decimal("750"),
            fte_hours=None,
        ),
        dict(
            code="bbl",
            label="BBL",
            block="bbl",
            kind="annual",
            rate=Decimal("20000"),
            fte_hours=None,
        ),
        dict(
            code="purchase-register",
            label="Inkoop register",
            block="social_purchase",
            kind="percentage",
            variant="register",
            percent=Decimal("100"),
        ),
        dict(
            code="purchase-other",
            label="Inkoop andere sociale onderneming",
            block="social_purchase",
            kind="percentage",
            variant="other",
            percent=Decimal("50"),
        ),
        dict(
            code="purchase-sw",
            label="SW-bedrijf tegen loonkosten",
            block="social_purchase",
            kind="actual_cost",
            variant="sw-labour-cost",
            percent=Decimal("100"),
        ),
        dict(
            code="training",
            label="Opleiding",
            block="training",
            kind="hourly",
            rate=Decimal("100"),
            fte_hours=None,
        ),
    ]
    for data in rules:
        Rule.objects.create(rulebook=rulebook, **data)


@pytest.fixture
def obligation(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    add_example_rules(obligation.rulebook)
    return obligation


@pytest.fixture
def specs(obligation):
    return portal.block_specs(obligation)


def make_form(spec, data=None, files=None, candidates=None, **kwargs):
    return ContributionForm(data, files, spec=spec, candidates=candidates, **kwargs)


def own_candidates(world):
    return portal.candidate_list(user=world.contractor_a_user)


# --- What each block asks --------------------------------------------------------------------


def test_only_blocks_with_rules_are_offered(specs):
    assert list(specs) == [
        "job",
        "work_experience",
        "internship",
        "bbl",
        "social_purchase",
        "social_activity",
        "training",
    ]


def test_no_rulebook_no_blocks(world):
    obligation = f.ObligationFactory(contract__contractor=world.contractor_a)
    assert portal.block_specs(obligation) == {}


def test_job_asks_candidate_dates_hours_and_permanent_contract(specs):
    form = make_form(specs["job"])
    assert {"candidate", "initials", "birth_year", "target_group", "years_on_benefit"} <= set(
        form.fields
    )
    assert {"start_date", "end_date", "hours_per_week", "permanent_contract"} <= set(form.fields)
    assert not {"variant", "invoiced_amount", "social_enterprise", "hours"} & set(form.fields)
    assert form.fields["start_date"].required
    assert not form.fields["end_date"].required  # an ongoing job
    assert form.fields["hours_per_week"].required


def test_job_required_fields(specs):
    form = make_form(specs["job"], {})
    assert not form.is_valid()
    for name in ("start_date", "hours_per_week", "initials", "birth_year", "target_group"):
        assert name in form.errors, name


def test_internship_offers_the_rulebook_variants(specs):
    spec = specs["internship"]
    form = make_form(spec)
    variant = form.fields["variant"]
    assert variant.required
    assert [value for value, _label in variant.choices] == ["", "mbo1-2", "mbo3-4-hbo"]
    assert dict(variant.choices)["mbo1-2"] == "Stage mbo niveau 1-2"
    assert form.fields["end_date"].required
    assert "permanent_contract" not in form.fields  # no bonus asks for it on internships


def test_internship_needs_a_variant_and_an_end_date(specs, world):
    candidate = f.CandidateFactory(contractor=world.contractor_a)
    form = make_form(
        specs["internship"],
        {"candidate": candidate.pk, "start_date": "2026-03-01", "hours_per_week": "32"},
        candidates=own_candidates(world),
    )
    assert not form.is_valid()
    assert set(form.errors) == {"variant", "end_date"}


def test_bbl_asks_permanent_contract_when_a_bonus_rewards_it(obligation):
    assert "permanent_contract" not in make_form(portal.block_specs(obligation)["bbl"]).fields
    Bonus.objects.create(
        rulebook=obligation.rulebook,
        code="perm-all",
        label="Vast contract",
        amount=Decimal("1000"),
        blocks=[],
        requires_permanent_contract=True,
    )
    assert "permanent_contract" in make_form(portal.block_specs(obligation)["bbl"]).fields


def test_social_purchase_asks_enterprise_amount_date_and_variant(specs):
    form = make_form(specs["social_purchase"])
    assert {"social_enterprise", "invoiced_amount", "start_date", "variant", "actual_cost"} <= set(
        form.fields
    )
    assert not {"candidate", "initials", "hours_per_week", "end_date", "hours"} & set(form.fields)
    assert str(form.fields["start_date"].label) == "Invoice date"
    assert [v for v, _label in form.fields["variant"].choices] == [
        "",
        "other",
        "register",
        "sw-labour-cost",
    ]


def test_social_purchase_needs_the_amount_its_variant_values(specs):
    data = {"social_enterprise": "Werkbedrijf", "start_date": "2026-05-01", "variant": "register"}
    form = make_form(specs["social_purchase"], data)
    assert not form.is_valid()
    assert set(form.errors) == {"invoiced_amount"}
    form = make_form(specs["social_purchase"], {**data, "variant": "sw-labour-cost"})
    assert not form.is_valid()
    assert set(form.errors) == {"actual_cost"}
    with translation.override("nl"):  # amounts are typed the Dutch way
        form = make_form(specs["social_purchase"], {**data, "invoiced_amount": "1.234,50"})
        assert form.is_valid(), form.errors
    assert form.inputs()["invoiced_amount"] == Decimal("1234.50")


def test_social_purchase_without_enterprise(specs):
    form = make_form(
        specs["social_purchase"],
        {"start_date": "2026-05-01", "variant": "register", "invoiced_amount": "100"},
    )
    assert not form.is_valid()
    assert set(form.errors) == {"social_enterprise"}


@pytest.mark.parametrize("block", ["social_activity", "training"])
def test_activity_and_training_ask_hours_date_description(specs, block):
    form = make_form(specs[block], {})
    assert {"hours", "start_date", "description"} <= set(form.fields)
    assert not {"candidate", "hours_per_week", "end_date", "invoiced_amount"} & set(form.fields)
    assert not form.is_valid()
    assert set(form.errors) == {"hours", "start_date", "description"}
    assert str(form.fields["start_date"].label) == "Date"
    ok = make_form(
        specs[block], {"hours": "12.5", "start_date": "2026-06-01", "description": "Gastles"}
    )
    assert ok.is_valid(), ok.errors
    inputs = ok.inputs()
    assert inputs["hours"] == Decimal("12.5") and inputs["block"] == block
    assert "candidate" not in inputs
    assert ok.new_candidate() is None


def test_every_block_has_subcontractor_and_description(specs):
    for spec in specs.values():
        form = make_form(spec)
        assert "delivered_by" in form.fields and "description" in form.fields
        assert not form.fields["delivered_by"].required


def test_end_before_start(specs, world):
    candidate = f.CandidateFactory(contractor=world.contractor_a)
    form = make_form(
        specs["job"],
        {
            "candidate": candidate.pk,
            "start_date": "2026-03-01",
            "end_date": "2026-02-01",
            "hours_per_week": "24",
        },
        candidates=own_candidates(world),
    )
    assert not form.is_valid()
    assert "end_date" in form.errors


def test_negative_and_too_many_hours(specs, world):
    candidate = f.CandidateFactory(contractor=world.contractor_a)
    for hours in ("-1", "169"):
        form = make_form(
            specs["job"],
            {"candidate": candidate.pk, "start_date": "2026-03-01", "hours_per_week": hours},
            candidates=own_candidates(world),
        )
        assert not form.is_valid()
        assert "hours_per_week" in form.errors


@pytest.mark.parametrize("field", ["description", "delivered_by"])
def test_no_bsn_in_free_text(specs, field):
    data = {"hours": "3", "start_date": "2026-06-01", "description": "Gastles"}
    form = make_form(specs["social_activity"], {**data, field: "voor 123456782"})
    assert not form.is_valid()
    assert "BSN" in form.errors[field][0]


# --- The candidate ---------------------------------------------------------------------------


def job_data(**extra):
    return {"start_date": "2026-03-01", "end_date": "2026-08-31", "hours_per_week": "24", **extra}


def test_existing_candidate(specs, world):
    candidate = f.CandidateFactory(contractor=world.contractor_a)
    form = make_form(
        specs["job"], job_data(candidate=candidate.pk), candidates=own_candidates(world)
    )
    assert form.is_valid(), form.errors
    assert form.candidate == candidate
    assert form.new_candidate() is None
    inputs = form.inputs()
    assert inputs["start_date"] == date(2026, 3, 1)
    assert inputs["hours_per_week"] == Decimal("24")
    assert inputs["permanent_contract"] is False
    assert inputs["invoiced_amount"] is None and inputs["variant"] == ""


def test_another_contractors_candidate_is_not_a_choice(specs, world):
    other = f.CandidateFactory(contractor=world.contractor_b)
    form = make_form(specs["job"], job_data(candidate=other.pk), candidates=own_candidates(world))
    assert not form.is_valid()
    assert "candidate" in form.errors
    assert other.code not in str(form.fields["candidate"].choices)


def test_anonymised_candidates_are_not_offered(specs, world):
    from django.utils import timezone

    gone = f.CandidateFactory(contractor=world.contractor_a, anonymised_at=timezone.now())
    form = make_form(specs["job"], job_data(candidate=gone.pk), candidates=own_candidates(world))
    assert not form.is_valid()
    assert "candidate" in form.errors


def test_new_candidate_with_minimal_data(specs):
    form = make_form(
        specs["job"],
        job_data(
            initials="j.k.", birth_year="1970", target_group="participatiewet", years_on_benefit="3"
        ),
    )
    assert form.is_valid(), form.errors
    assert form.candidate is None
    assert form.new_candidate() == {
        "initials": "j.k.",
        "birth_year": 1970,
        "target_group": "participatiewet",
        "years_on_benefit": Decimal("3"),
        "target_group_note": "",
    }


def test_new_candidate_needs_initials_birth_year_and_target_group(specs):
    form = make_form(specs["job"], job_data(years_on_benefit="2"))
    assert not form.is_valid()
    assert {"initials", "birth_year", "target_group"} <= set(form.errors)


def test_new_candidate_initials_are_checked(specs):
    form = make_form(
        specs["job"],
        job_data(initials="Jan 123", birth_year="1970", target_group="ww"),
    )
    assert not form.is_valid()
    assert "initials" in form.errors


def test_target_group_other_needs_a_justification(specs):
    data = job_data(initials="A.", birth_year="1990", target_group="other")
    form = make_form(specs["job"], data)
    assert not form.is_valid()
    assert "target_group_note" in form.errors
    form = make_form(specs["job"], {**data, "target_group_note": "Langdurig werkloos"})
    assert form.is_valid(), form.errors


def test_chosen_and_new_candidate_at_once_is_an_error(specs, world):
    candidate = f.CandidateFactory(contractor=world.contractor_a)
    form = make_form(
        specs["job"],
        job_data(candidate=candidate.pk, initials="B.C."),
        candidates=own_candidates(world),
    )
    assert not form.is_valid()
    assert "not both" in form.non_field_errors()[0]


# --- Evidence --------------------------------------------------------------------------------


def activity():
    return {"hours": "3", "start_date": "2026-06-01", "description": "Gastles"}


@pytest.mark.parametrize("content", [MINIMAL_PDF, PNG, JPEG])
def test_evidence_accepted_by_content(specs, content):
    upload = SimpleUploadedFile("bewijs.bin", content)
    form = make_form(
        specs["social_activity"], activity(), {"evidence_file": upload}, with_evidence=True
    )
    assert form.is_valid(), form.errors
    assert form.evidence_file is upload
    assert form.evidence_kind == "other"  # the block's default


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("contract.pdf", b"just text, renamed to .pdf", "Only PDF, PNG and JPEG"),
        ("leeg.pdf", b"", "empty"),
    ],
)
def test_evidence_refused(specs, name, content, message):
    form = make_form(
        specs["social_activity"],
        activity(),
        {"evidence_file": SimpleUploadedFile(name, content)},
        with_evidence=True,
    )
    assert not form.is_valid()
    assert message in form.errors["evidence_file"][0]


def test_evidence_too_large(specs, settings):
    settings.EVIDENCE_MAX_BYTES = 50
    form = make_form(
        specs["social_activity"],
        activity(),
        {"evidence_file": SimpleUploadedFile("groot.pdf", MINIMAL_PDF)},
        with_evidence=True,
    )
    assert not form.is_valid()
    assert "too large" in form.errors["evidence_file"][0]


def test_evidence_form(settings):
    ok = EvidenceForm({"kind": "invoice"}, {"file": SimpleUploadedFile("f.pdf", MINIMAL_PDF)})
    assert ok.is_valid(), ok.errors
    bad = EvidenceForm({"kind": "invoice"}, {"file": SimpleUploadedFile("f.pdf", b"<html>")})
    assert not bad.is_valid() and "file" in bad.errors
    missing = EvidenceForm({"kind": "invoice"}, {})
    assert not missing.is_valid() and "file" in missing.errors


def test_default_evidence_kind_per_block(specs):
    assert specs["job"].evidence_kind == "employment_contract"
    assert specs["internship"].evidence_kind == "internship_agreement"
    assert specs["social_purchase"].evidence_kind == "invoice"
    assert specs["training"].evidence_kind == "other"


# --- Plan items ------------------------------------------------------------------------------


def plan_data(rows):
    data = {
        "items-TOTAL_FORMS": str(len(rows)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "20",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"items-{i}-{key}"] = value
    return data


def test_plan_formset_needs_a_line():
    formset = PortalPlanItemFormSet(plan_data([{}, {}]), prefix="items")
    assert not formset.is_valid()
    assert formset.non_form_errors()


def test_plan_formset_line_needs_people_or_amount():
    row = {"block": "job", "planned_start": "2026-03-01", "planned_end": "2026-12-31"}
    formset = PortalPlanItemFormSet(plan_data([row]), prefix="items")
    assert not formset.is_valid()
    ok = PortalPlanItemFormSet(plan_data([{**row, "planned_count": "2"}]), prefix="items")
    assert ok.is_valid(), ok.errors
