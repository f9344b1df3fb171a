"""Rulebooks: database <-> engine, JSON import/export, versions, publishing and freezing."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from contracts.services import create_contract, realised_amount
from placements import valuation
from placements.models import Bonus, Rule, Rulebook
from placements.rulebook_format import rulebook_from_dict, rulebook_to_dict
from placements.rulebooks import store_engine_rulebook, to_engine
from placements.services import (
    approve_contribution,
    create_rulebook_version,
    delete_bonus,
    delete_rule,
    export_rulebook_json,
    import_rulebook_json,
    publish_rulebook,
    rulebook_in_force,
    save_bonus,
    save_rule,
    submit_contribution,
    value_of,
)
from tests import factories as f

EXAMPLE_JSON = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rulebook-example.json"
STAFF_WITHOUT_RULEBOOK_RIGHTS = [
    "officer_noordwijk",
    "council_noordwijk",
    "functional_admin",
    "contractor_a_user",
    "outsider",
]


def by_code(items):
    return sorted(items, key=lambda item: item.code)


def same_content(a: valuation.Rulebook, b: valuation.Rulebook) -> bool:
    """Equal rules and bonuses (Decimal equality: 36 == 36.00), whatever their order."""
    return by_code(a.rules) == by_code(b.rules) and by_code(a.bonuses) == by_code(b.bonuses)


@pytest.fixture
def v1(world):
    return f.RulebookFactory(
        owner=world.executing_body, municipalities=[world.noordwijk, world.katwijk]
    )


def draft_of(world, v1, version="2027"):
    return create_rulebook_version(
        acting_user=world.adviser, based_on=v1, version=version, valid_from=date(2027, 1, 1)
    )


# --- Database <-> engine ---------------------------------------------------------------------


def test_engine_rulebook_round_trips_through_the_database(world):
    example = valuation.example_rulebook()
    stored = store_engine_rulebook(
        example, owner=world.executing_body, municipalities=[world.noordwijk]
    )
    assert stored.status == Rulebook.Status.DRAFT
    back = to_engine(stored)
    assert same_content(back, example)
    assert (back.name, back.version, back.valid_from, back.is_example) == (
        example.name,
        example.version,
        example.valid_from,
        example.is_example,
    )
    assert back.owner == "SROI-team"


# --- JSON import and export ------------------------------------------------------------------


def test_import_then_export_json(world):
    data = rulebook_to_dict(valuation.example_rulebook())
    rulebook = import_rulebook_json(
        acting_user=world.adviser,
        data=data,
        owner=world.executing_body,
        municipalities=[world.noordwijk, world.katwijk],
    )
    assert rulebook.status == Rulebook.Status.DRAFT
    assert rulebook.rules.count() == len(data["rules"])
    assert set(rulebook.municipalities.all()) == {world.noordwijk, world.katwijk}
    exported = export_rulebook_json(acting_user=world.adviser, rulebook=rulebook)
    json.dumps(exported)  # plain JSON types only
    assert exported["owner"] == "SROI-team"
    assert same_content(rulebook_from_dict(exported), valuation.example_rulebook())


def test_shipped_example_file_imports(world):
    data = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"), parse_float=Decimal)
    rulebook = import_rulebook_json(
        acting_user=world.adviser,
        data=data,
        owner=world.noordwijk,
        municipalities=[world.noordwijk],
    )
    assert same_content(to_engine(rulebook), valuation.example_rulebook())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["rules"][0].update(rate="abc"), "rules[0].rate"),
        (lambda d: d["rules"][1].update(block="flying"), "rules[1].block"),
        (lambda d: d["rules"].append(dict(d["rules"][0], code="dup")), "overlaps"),
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d["bonuses"][0].update(amount=1.5), "bonuses[0].amount"),
    ],
)
def test_import_errors_carry_the_path(world, mutate, expected):
    data = rulebook_to_dict(valuation.example_rulebook())
    mutate(data)
    with pytest.raises(ValidationError) as excinfo:
        import_rulebook_json(
            acting_user=world.adviser,
            data=data,
            owner=world.executing_body,
            municipalities=[world.noordwijk],
        )
    assert expected in " ".join(excinfo.value.messages)
    assert not Rulebook.objects.exists()


def test_import_of_an_existing_version_is_refused(world):
    data = rulebook_to_dict(valuation.example_rulebook())
    kwargs = {
        "acting_user": world.adviser,
        "data": data,
        "owner": world.executing_body,
        "municipalities": [world.noordwijk],
    }
    import_rulebook_json(**kwargs)
    with pytest.raises(ValidationError):
        import_rulebook_json(**kwargs)
    assert Rulebook.objects.count() == 1


@pytest.mark.parametrize("persona", STAFF_WITHOUT_RULEBOOK_RIGHTS)
def test_import_needs_rulebook_rights(world, persona):
    for user in (getattr(world, persona), AnonymousUser()):
        with pytest.raises(PermissionDenied):
            import_rulebook_json(
                acting_user=user,
                data=rulebook_to_dict(valuation.example_rulebook()),
                owner=world.executing_body,
                municipalities=[world.noordwijk],
            )


def test_import_for_municipality_or_owner_outside_scope_is_refused(world):
    lisse = f.MunicipalityFactory(name="Lisse")
    hlt = f.ServiceBodyFactory(name="HLTSamen", serves=[lisse])
    data = rulebook_to_dict(valuation.example_rulebook())
    with pytest.raises(PermissionDenied):
        import_rulebook_json(
            acting_user=world.adviser,
            data=data,
            owner=world.executing_body,
            municipalities=[world.noordwijk, lisse],
        )
    with pytest.raises(PermissionDenied):
        import_rulebook_json(
            acting_user=world.adviser, data=data, owner=hlt, municipalities=[world.noordwijk]
        )
    with pytest.raises(ValidationError):
        import_rulebook_json(
            acting_user=world.adviser, data=data, owner=hlt, municipalities=[world.executing_body]
        )
    with pytest.raises(ValidationError):
        import_rulebook_json(
            acting_user=world.adviser, data=data, owner=world.noordwijk, municipalities=[]
        )


def test_export_follows_visibility(world, v1):
    obligation = f.ObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a, rulebook=v1
    )
    assert obligation.rulebook == v1
    for user in (world.adviser, world.officer_noordwijk, world.contractor_a_user):
        assert export_rulebook_json(acting_user=user, rulebook=v1)["version"] == v1.version
    for user in (world.contractor_b_user, world.outsider, AnonymousUser()):
        with pytest.raises(PermissionDenied):
            export_rulebook_json(acting_user=user, rulebook=v1)


# --- Versions --------------------------------------------------------------------------------


def test_new_version_copies_rules_bonuses_and_municipalities(world, v1):
    v2 = draft_of(world, v1)
    assert (v2.status, v2.based_on, v2.version, v2.valid_from) == (
        Rulebook.Status.DRAFT,
        v1,
        "2027",
        date(2027, 1, 1),
    )
    assert (v2.name, v2.owner) == (v1.name, v1.owner)
    assert set(v2.municipalities.all()) == set(v1.municipalities.all())
    assert same_content(to_engine(v2), to_engine(v1))
    assert v2.rules.count() == v1.rules.count() == 2
    assert set(v1.rules.values_list("pk", flat=True)).isdisjoint(
        v2.rules.values_list("pk", flat=True)
    )
    with pytest.raises(ValidationError):
        draft_of(world, v1)  # the same version twice


@pytest.mark.parametrize("persona", STAFF_WITHOUT_RULEBOOK_RIGHTS)
def test_new_version_needs_rulebook_rights(world, v1, persona):
    with pytest.raises(PermissionDenied):
        create_rulebook_version(
            acting_user=getattr(world, persona),
            based_on=v1,
            version="x",
            valid_from=date(2027, 1, 1),
        )


def test_adviser_of_only_some_municipalities_cannot_change_a_regional_rulebook(world, v1):
    lisse = f.MunicipalityFactory(name="Lisse")
    v1.municipalities.add(lisse)
    with pytest.raises(PermissionDenied):
        draft_of(world, v1)


# --- Publishing ------------------------------------------------------------------------------


def test_publish_valid_draft(world, v1):
    v2 = draft_of(world, v1)
    published = publish_rulebook(acting_user=world.adviser, rulebook=v2)
    assert published.status == Rulebook.Status.PUBLISHED
    with pytest.raises(ValidationError):
        publish_rulebook(acting_user=world.adviser, rulebook=v2)


def test_publish_refuses_what_the_engine_refuses(world, v1):
    v2 = draft_of(world, v1)
    # Each rule is fine on its own; together they overlap (a draft may be inconsistent).
    save_rule(
        acting_user=world.adviser,
        rulebook=v2,
        rule_data={
            "code": "job-pw-2",
            "label": "Dubbel",
            "block": "job",
            "kind": "annual",
            "rate": "30000",
            "target_groups": ["participatiewet"],
        },
    )
    with pytest.raises(ValidationError) as excinfo:
        publish_rulebook(acting_user=world.adviser, rulebook=v2)
    assert "overlaps" in " ".join(excinfo.value.messages)
    v2.refresh_from_db()
    assert v2.status == Rulebook.Status.DRAFT


def test_publish_refuses_an_empty_rulebook(world):
    empty = f.RulebookFactory(
        owner=world.executing_body,
        municipalities=[world.noordwijk],
        status=Rulebook.Status.DRAFT,
        with_rules=False,
    )
    with pytest.raises(ValidationError):
        publish_rulebook(acting_user=world.adviser, rulebook=empty)


@pytest.mark.parametrize("persona", STAFF_WITHOUT_RULEBOOK_RIGHTS)
def test_publish_needs_rulebook_rights(world, v1, persona):
    v2 = draft_of(world, v1)
    with pytest.raises(PermissionDenied):
        publish_rulebook(acting_user=getattr(world, persona), rulebook=v2)


# --- Editing rules and bonuses ---------------------------------------------------------------


def test_save_rule_creates_and_changes_rules_of_a_draft(world, v1):
    v2 = draft_of(world, v1)
    rule = save_rule(
        acting_user=world.adviser,
        rulebook=v2,
        rule_data={
            "code": "bbl",
            "label": "BBL",
            "block": "bbl",
            "kind": "annual",
            "rate": "20000.00",
            "fte_hours": None,
        },
    )
    assert rule.rate == Decimal("20000.00")
    job = v2.rules.get(code="job-pw")
    save_rule(
        acting_user=world.adviser, rulebook=v2, rule=job, rule_data={"rate": Decimal("45000")}
    )
    assert v2.rules.get(code="job-pw").rate == Decimal("45000.00")
    assert v1.rules.get(code="job-pw").rate == Decimal("40000.00")


@pytest.mark.parametrize(
    ("rule_data", "field"),
    [
        ({"percent": Decimal("50")}, "percent"),
        ({"target_groups": ["martians"]}, "target_groups"),
        ({"min_hours_per_week": Decimal("40")}, "min_hours_per_week"),
        ({"rate": Decimal("-1")}, "rate"),
        ({"code": "activity"}, "__all__"),  # duplicate code in this rulebook
        ({"kind": "weekly"}, "kind"),
    ],
)
def test_save_rule_validates_the_rule(world, v1, rule_data, field):
    v2 = draft_of(world, v1)
    job = v2.rules.get(code="job-pw")
    with pytest.raises(ValidationError) as excinfo:
        save_rule(acting_user=world.adviser, rulebook=v2, rule=job, rule_data=rule_data)
    assert field in excinfo.value.message_dict
    assert v2.rules.get(code="job-pw").rate == Decimal("40000.00")


def test_save_rule_refuses_a_rule_of_another_rulebook(world, v1):
    v2 = draft_of(world, v1)
    with pytest.raises(ValidationError):
        save_rule(
            acting_user=world.adviser,
            rulebook=v2,
            rule=v1.rules.get(code="job-pw"),
            rule_data={"rate": Decimal("1")},
        )


def test_bonuses_of_a_draft_can_change(world, v1):
    v2 = draft_of(world, v1)
    bonus = save_bonus(
        acting_user=world.adviser,
        rulebook=v2,
        bonus_data={
            "code": "age-50",
            "label": "50+",
            "amount": "5000",
            "blocks": ["job"],
            "min_age": 50,
        },
    )
    assert bonus.amount == Decimal("5000.00")
    with pytest.raises(ValidationError) as excinfo:
        save_bonus(
            acting_user=world.adviser,
            rulebook=v2,
            bonus=bonus,
            bonus_data={"min_age": 60, "max_age": 55},
        )
    assert "min_age" in excinfo.value.message_dict
    delete_bonus(acting_user=world.adviser, bonus=bonus)
    delete_rule(acting_user=world.adviser, rule=v2.rules.get(code="activity"))
    assert sorted(v2.rules.values_list("code", flat=True)) == ["job-pw"]


def test_published_unused_rulebook_may_change_but_must_stay_valid(world, v1):
    save_rule(
        acting_user=world.adviser,
        rulebook=v1,
        rule=v1.rules.get(code="job-pw"),
        rule_data={"rate": Decimal("41000")},
    )
    with pytest.raises(ValidationError):
        save_rule(
            acting_user=world.adviser,
            rulebook=v1,
            rule_data={
                "code": "job-pw-2",
                "label": "Overlap",
                "block": "job",
                "kind": "annual",
                "rate": "1",
                "target_groups": ["participatiewet"],
            },
        )
    assert not v1.rules.filter(code="job-pw-2").exists()


@pytest.mark.parametrize("persona", STAFF_WITHOUT_RULEBOOK_RIGHTS)
def test_editing_needs_rulebook_rights(world, v1, persona):
    v2 = draft_of(world, v1)
    user = getattr(world, persona)
    with pytest.raises(PermissionDenied):
        save_rule(
            acting_user=user,
            rulebook=v2,
            rule=v2.rules.get(code="job-pw"),
            rule_data={"rate": Decimal("1")},
        )
    with pytest.raises(PermissionDenied):
        delete_rule(acting_user=user, rule=v2.rules.get(code="job-pw"))


# --- Frozen per obligation -------------------------------------------------------------------

JOB = {
    "block": "job",
    "start_date": date(2026, 8, 1),
    "end_date": date(2027, 7, 31),
    "hours_per_week": Decimal("36"),
}


def award(world, reference, award_date):
    _contract, obligation = create_contract(
        acting_user=world.officer_noordwijk,
        municipality=world.noordwijk,
        reference=reference,
        title="Groenonderhoud",
        contractor=world.contractor_a,
        kind="services",
        value_excl_vat=Decimal("400000.00"),
        award_date=award_date,
        start_date=award_date,
        end_date=date(2028, 12, 31),
    )
    return obligation


def test_agreed_obligation_keeps_its_values_when_a_new_version_is_published(world, v1):
    obligation = award(world, "2026-A", date(2026, 1, 15))
    assert obligation.rulebook == v1
    candidate = f.CandidateFactory(contractor=world.contractor_a, confirmed=True)
    contribution = submit_contribution(
        acting_user=world.contractor_a_user, obligation=obligation, candidate=candidate, **JOB
    )
    approve_contribution(acting_user=world.adviser, contribution=contribution)
    assert contribution.value == Decimal("40000.00")

    # The adviser raises the job rate in a new version from mid-2026 on.
    v2 = create_rulebook_version(
        acting_user=world.adviser, based_on=v1, version="2026.2", valid_from=date(2026, 6, 1)
    )
    save_rule(
        acting_user=world.adviser,
        rulebook=v2,
        rule=v2.rules.get(code="job-pw"),
        rule_data={"rate": Decimal("50000")},
    )
    publish_rulebook(acting_user=world.adviser, rulebook=v2)

    # The agreed obligation is untouched: same rulebook, same values, same realised amount.
    obligation.refresh_from_db()
    assert obligation.rulebook == v1
    contribution.refresh_from_db()
    assert contribution.value == Decimal("40000.00")
    assert realised_amount(obligation) == Decimal("40000.00")
    again = value_of(obligation=obligation, candidate=candidate, **JOB)
    assert again.value == Decimal("40000.00")
    assert v1.rules.get(code="job-pw").rate == Decimal("40000.00")

    # v1 is now frozen: it can no longer be edited, only superseded.
    for change in (
        lambda: save_rule(
            acting_user=world.adviser,
            rulebook=v1,
            rule=v1.rules.get(code="job-pw"),
            rule_data={"rate": Decimal("1")},
        ),
        lambda: save_bonus(acting_user=world.adviser, rulebook=v1, bonus_data={"code": "x"}),
        lambda: delete_rule(acting_user=world.adviser, rule=v1.rules.get(code="activity")),
        lambda: delete_bonus(acting_user=world.adviser, bonus=Bonus.objects.get(rulebook=v1)),
    ):
        with pytest.raises(ValidationError) as excinfo:
            change()
        assert excinfo.value.code == "frozen"
    assert Rule.objects.filter(rulebook=v1).count() == 2

    # A contract awarded after v2's valid_from is agreed with v2 and valued by it.
    later = award(world, "2026-B", date(2026, 7, 1))
    assert later.rulebook == v2
    assert value_of(obligation=later, candidate=candidate, **JOB).value == Decimal("50000.00")


# --- The rulebook in force -------------------------------------------------------------------


def test_rulebook_in_force_is_latest_published_valid_from_on_or_before_the_date(world):
    def rulebook(valid_from, status=Rulebook.Status.PUBLISHED, municipalities=None):
        return f.RulebookFactory(
            owner=world.executing_body,
            valid_from=valid_from,
            status=status,
            municipalities=municipalities or [world.noordwijk],
            with_rules=False,
        )

    r2020 = rulebook(date(2020, 1, 1))
    r2024 = rulebook(date(2024, 1, 1))
    rulebook(date(2025, 1, 1), status=Rulebook.Status.DRAFT)
    r2023_katwijk = rulebook(date(2023, 1, 1), municipalities=[world.katwijk])

    def in_force(municipality, on):
        return rulebook_in_force(municipality_id=municipality.pk, on_date=on)

    assert in_force(world.noordwijk, date(2019, 12, 31)) is None
    assert in_force(world.noordwijk, date(2020, 1, 1)) == r2020
    assert in_force(world.noordwijk, date(2023, 12, 31)) == r2020
    assert in_force(world.noordwijk, date(2024, 1, 1)) == r2024
    assert in_force(world.noordwijk, date(2025, 6, 1)) == r2024  # the 2025 draft does not count
    assert in_force(world.katwijk, date(2024, 6, 1)) == r2023_katwijk
    assert in_force(world.katwijk, date(2022, 6, 1)) is None
    same_day = rulebook(date(2024, 1, 1))
    assert in_force(world.noordwijk, date(2024, 6, 1)) == same_day  # the newest of equals
