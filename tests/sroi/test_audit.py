"""The audit trail records that candidates, contributions and evidence changed, without
copying a person's details into it (``sroi.audit``)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile

from placements import services as placement_services
from placements.models import Candidate, Contribution, Evidence
from tests import factories as f

pytestmark = pytest.mark.django_db

INITIALS = "Q.X.Z."
BIRTH_YEAR = 1961
NOTE = "Gevlucht uit Eritrea, woont sinds kort in Katwijk"
FILE_NAME = "jan-de-vries-arbeidscontract.pdf"
# Texts of an explanation as stored before explanations were stripped of personal data.
LEGACY_EXPLANATION = [
    "Invoer: blok baan, doelgroep Wajong, periode 01-03-2026 t/m 28-02-2027, "
    "uren per week 24,00, uitkeringsjaren 7,30, geboortejaar 1961.",
    "Bonus age-55-plus (Leeftijd 55 jaar of ouder): +€ 7.500,00 (blok baan, leeftijd 65 "
    "(2026 - geboortejaar 1961) valt in 55 jaar of ouder).",
]


def log_text() -> str:
    """Everything the audit trail holds about changed values and objects, as one text."""
    parts = []
    for entry in LogEntry.objects.all():
        parts += [entry.object_repr, entry.changes_text or ""]
        parts.append(json.dumps(entry.changes, ensure_ascii=False))
        parts.append(json.dumps(entry.serialized_data, ensure_ascii=False))
    return "\n".join(parts)


def assert_no_personal_data(text: str) -> None:
    for value in (INITIALS, NOTE, "Eritrea", FILE_NAME, "jan-de-vries", "wajong", "Wajong"):
        assert value not in text, value
    assert not re.search(rf"(?<!\d){BIRTH_YEAR}(?!\d)", text), "birth year"
    assert not re.search(r"(?<![\d.])7[.,]30?(?!\d)", text), "years on benefit"
    for word in ("geboortejaar", "uitkeringsjaren", "doelgroep W", "leeftijd 6"):
        assert word not in text, word


def entries(model, action=None):
    qs = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
    return qs if action is None else qs.filter(action=action)


@pytest.fixture
def obligation(world):
    return f.RuledObligationFactory(
        contract__municipality=world.katwijk, contract__contractor=world.contractor_a
    )


def test_candidate_details_never_reach_the_audit_trail(world, obligation):
    candidate = placement_services.create_candidate(
        acting_user=world.contractor_a_user,
        contractor=world.contractor_a,
        initials=INITIALS,
        birth_year=BIRTH_YEAR,
        target_group="other",
        years_on_benefit=Decimal("7.3"),
        target_group_note=NOTE,
    )
    # A change of details together with a logged field: the entry says the candidate changed.
    candidate.initials = "R.Y."
    candidate.birth_year = 1962
    candidate.target_group = "wajong"
    candidate.target_group_note = ""
    candidate.anonymised_at = candidate.created_at
    candidate.save()

    created = entries(Candidate, LogEntry.Action.CREATE).get(object_id=candidate.pk)
    assert created.object_repr == candidate.code
    assert "code" in created.changes and "contractor" in created.changes
    updated = entries(Candidate, LogEntry.Action.UPDATE).get(object_id=candidate.pk)
    assert set(updated.changes) == {"anonymised_at"}

    other = f.CandidateFactory(contractor=world.contractor_a, initials=INITIALS, birth_year=1961)
    other_pk = other.pk
    other.delete()
    assert entries(Candidate, LogEntry.Action.DELETE).filter(object_id=other_pk).exists()

    text = log_text()
    assert_no_personal_data(text)
    assert "R.Y." not in text and not re.search(r"(?<!\d)1962(?!\d)", text)


def test_contribution_explanations_stay_out_of_the_audit_trail(world, obligation):
    candidate = f.CandidateFactory(
        contractor=world.contractor_a,
        initials=INITIALS,
        birth_year=BIRTH_YEAR,
        target_group="wajong",
        years_on_benefit=Decimal("7.3"),
    )
    contribution = f.ContributionFactory(
        obligation=obligation, candidate=candidate, value_explanation=LEGACY_EXPLANATION
    )
    contribution.value_explanation = [*LEGACY_EXPLANATION, "Waarde: € 1,00."]
    contribution.value = Decimal("1.00")
    contribution.save()

    assert entries(Contribution, LogEntry.Action.CREATE).filter(object_id=contribution.pk)
    updated = entries(Contribution, LogEntry.Action.UPDATE).get(object_id=contribution.pk)
    assert "value" in updated.changes and "value_explanation" not in updated.changes
    assert "value_explanation" not in log_text()
    assert_no_personal_data(log_text())


def test_evidence_is_logged_without_its_file_name(world, obligation):
    contribution = f.ContributionFactory(obligation=obligation)
    evidence = Evidence.objects.create(
        contribution=contribution,
        kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
        file=ContentFile(b"%PDF-1.4", name="x"),
        original_name=FILE_NAME,
        content_type="application/pdf",
        size=8,
    )
    evidence_pk = evidence.pk
    evidence.delete()

    created = entries(Evidence, LogEntry.Action.CREATE).get(object_id=evidence_pk)
    assert created.object_repr == f"Evidence {evidence_pk} (Employment contract)"
    assert entries(Evidence, LogEntry.Action.DELETE).filter(object_id=evidence_pk).exists()
    assert_no_personal_data(log_text())
