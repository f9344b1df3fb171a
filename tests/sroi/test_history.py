"""The audit history page per object (``sroi.views_history``, ``sroi.history``): what the
adviser sees, and that nobody else gets it (404, never 403)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.urls import reverse

from contracts import policy_services
from contracts import services as contract_services
from contracts.models import Contract, Settlement, SroiPolicy
from placements import plans
from placements import services as placement_services
from placements.models import Rule
from sroi import history
from sroi.permissions import Action, can
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def url(kind, pk):
    return reverse("history:object_history", args=[kind, pk])


@pytest.fixture
def objects(world):
    """A Noordwijk contract (through the service, by the officer) with a settled obligation
    and a plan; a contribution with evidence; a rulebook and the Noordwijk policy."""
    with set_actor(world.officer_noordwijk):
        contract, obligation = contract_services.create_contract(
            acting_user=world.officer_noordwijk,
            municipality=world.noordwijk,
            reference="NW-2026-201",
            title="Herinrichting Dorpsstraat",
            contractor=world.contractor_a,
            kind=Contract.Kind.WORKS,
            value_excl_vat=D("500000.00"),
            award_date=date(2026, 1, 15),
            start_date=date(2026, 2, 1),
            end_date=date(2027, 1, 31),
        )
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk])
    contract_services.assign_rulebook(
        acting_user=world.adviser, obligation=obligation, rulebook=rulebook
    )
    with set_actor(world.contractor_a_user):
        plan = plans.submit_plan(
            acting_user=world.contractor_a_user,
            obligation=obligation,
            items=[
                {
                    "block": "job",
                    "planned_count": 2,
                    "planned_start": date(2026, 3, 1),
                    "planned_end": date(2026, 12, 31),
                    "description": "Twee banen",
                }
            ],
        )
    contribution = f.ContributionFactory(
        obligation=obligation,
        value=D("25000.00"),
        candidate=f.CandidateFactory(contractor=world.contractor_a, confirmed=True),
    )
    with set_actor(world.adviser):
        placement_services.approve_contribution(
            acting_user=world.adviser, contribution=contribution
        )
    # A job with no actor, as a background job would do it.
    contract_services.settle_obligation(
        acting_user=world.adviser,
        obligation=obligation,
        decision=Settlement.Decision.FULFILLED,
        reason="Ok",
    )
    return {
        "contract": contract,
        "obligation": obligation,
        "plan": plan,
        "contribution": contribution,
        "rulebook": rulebook,
        "policy": SroiPolicy.objects.get(municipality=world.noordwijk),
    }


KINDS = ["contract", "obligation", "contribution", "rulebook", "policy"]


@pytest.mark.parametrize("kind", KINDS)
def test_adviser_and_superuser_see_the_history(client, world, objects, kind):
    client.force_login(world.adviser)
    assert client.get(url(kind, objects[kind].pk)).status_code == 200
    superuser = f.UserFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)
    assert client.get(url(kind, objects[kind].pk)).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "persona",
    [
        "officer_noordwijk",
        "council_noordwijk",
        "contractor_a_user",
        "adviser_katwijk",  # an adviser of another municipality
        "functional_admin",
        "outsider",
        "mixed_user",  # adviser in Katwijk, council viewer in Noordwijk
    ],
)
def test_everyone_else_gets_404(client, world, objects, kind, persona):
    client.force_login(getattr(world, persona))
    assert client.get(url(kind, objects[kind].pk)).status_code == 404
    assert not history.may_view_history(getattr(world, persona), objects[kind])


def test_unknown_kind_and_missing_object_are_404_and_anonymous_goes_to_login(
    client, world, objects
):
    response = client.get(url("contract", objects["contract"].pk))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(world.adviser)
    assert client.get(url("user", world.adviser.pk)).status_code == 404
    assert client.get(url("contract", 999999)).status_code == 404


def test_view_audit_is_an_adviser_action(world, objects):
    contract = objects["contract"]
    assert can(world.adviser, Action.VIEW_AUDIT, contract)
    assert not can(world.officer_noordwijk, Action.VIEW_AUDIT, contract)
    assert not can(world.contractor_a_user, Action.VIEW_AUDIT, contract)


def rows_of(response):
    return response.context["rows"]


def test_contract_history_holds_obligation_settlement_and_plan(client, world, objects):
    client.force_login(world.adviser)
    response = client.get(url("contract", objects["contract"].pk))
    rows = rows_of(response)
    kinds = {row.subject_kind for row in rows}
    assert {"Contract", "Obligation", "Settlement", "Plan of approach", "Plan item"} <= kinds
    assert "Contribution" not in kinds
    # Newest first.
    assert [row.when for row in rows] == sorted((row.when for row in rows), reverse=True)
    # The same for the obligation.
    obligation_rows = rows_of(client.get(url("obligation", objects["obligation"].pk)))
    assert len(obligation_rows) == len(rows)

    by_kind = {}
    for row in rows:
        by_kind.setdefault((row.subject_kind, row.what), row)
    created = by_kind[("Contract", "created")]
    assert created.who.endswith("(inkoper.noordwijk@example.nl)")
    settled = by_kind[("Settlement", "created")]
    assert settled.who == "system" and settled.is_system
    decision = {c.label: c for c in settled.changes}["Decision"]
    assert (decision.old, decision.new) == ("–", "Fulfilled")
    plan = by_kind[("Plan of approach", "created")]
    assert plan.who == history.actor_label(
        LogEntry(actor=world.contractor_a_user)
    )  # the contractor's portal user
    obligation_rows = [r for r in rows if r.subject_kind == "Obligation" and r.what == "changed"]
    rulebook_change = next(c for r in obligation_rows for c in r.changes if c.label == "Rulebook")
    assert rulebook_change.new == str(objects["rulebook"])  # a foreign key by its name

    html = response.content.decode()
    assert "History of" in html and "Fulfilled" in html and "system" in html


def test_times_are_local_and_formatted(client, world, objects):
    contract = objects["contract"]
    entry = LogEntry.objects.filter(object_repr=str(contract)).order_by("timestamp").first()
    LogEntry.objects.filter(pk=entry.pk).update(timestamp=datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    client.force_login(world.adviser)
    html = client.get(url("contract", contract.pk)).content.decode()
    assert "02-07-2026 00:30" in html  # Europe/Amsterdam, summer time


def test_contribution_history_holds_evidence_and_candidate(client, world, objects):
    contribution = objects["contribution"]
    client.force_login(world.adviser)
    client.get(reverse("placements:contribution_detail", args=[contribution.pk]))
    rows = rows_of(client.get(url("contribution", contribution.pk)))
    kinds = {(row.subject_kind, row.what) for row in rows}
    assert ("Contribution", "changed") in kinds
    assert ("Candidate", "created") in kinds
    assert ("Contribution", "viewed") in kinds  # the read of the details just now
    # Reads of the candidate itself may come from other municipalities: not shown here.
    assert ("Candidate", "viewed") not in kinds
    status = next(
        c
        for r in rows
        if r.subject_kind == "Contribution"
        for c in r.changes
        if c.label == "Status"
    )
    assert (status.old, status.new) == ("Submitted", "Approved")


def test_rulebook_history_keeps_deleted_rules(client, world):
    rulebook = f.RulebookFactory(
        municipalities=[world.noordwijk], status="draft", version="concept"
    )
    rule = rulebook.rules.first()
    with set_actor(world.adviser):
        placement_services.delete_rule(acting_user=world.adviser, rule=rule)
    assert not Rule.objects.filter(pk=rule.pk).exists()
    client.force_login(world.adviser)
    rows = rows_of(client.get(url("rulebook", rulebook.pk)))
    rule_rows = {(r.what, r.subject) for r in rows if r.subject_kind == "Rule"}
    assert ("deleted", str(rule)) in rule_rows and ("created", str(rule)) in rule_rows


def test_policy_history_holds_its_pso_discounts(client, world):
    policy = SroiPolicy.objects.get(municipality=world.noordwijk)
    with set_actor(world.adviser):
        new = policy_services.create_policy_version(
            acting_user=world.adviser,
            based_on=policy,
            valid_from=date(2027, 1, 1),
            pso_discounts={"trede_1": D("10")},
        )
    client.force_login(world.adviser)
    rows = rows_of(client.get(url("policy", new.pk)))
    discount = next(r for r in rows if r.subject_kind == "PSO discount")
    level = {c.label: c for c in discount.changes}["PSO level"]
    assert level.new == "Trede 1"
    assert any(r.subject_kind == "SROI policy" for r in rows)
    other = SroiPolicy.objects.get(municipality=world.katwijk)
    assert all(r.subject != str(other) for r in rows)


def test_history_is_paginated(client, world, objects):
    contract = objects["contract"]
    with set_actor(world.adviser):
        for n in range(30):
            contract_services.update_contract(
                acting_user=world.adviser, contract=contract, title=f"Titel {n}"
            )
    client.force_login(world.adviser)
    first = client.get(url("contract", contract.pk))
    assert len(first.context["rows"]) == 25
    assert first.context["page"].paginator.num_pages >= 2
    assert first.context["rows"][0].changes[0].new == "Titel 29"
    second = client.get(url("contract", contract.pk) + "?page=2")
    assert second.status_code == 200 and second.context["page"].number == 2


@pytest.mark.parametrize(
    "name,kind",
    [
        ("contracts:contract_detail", "contract"),
        ("placements:contribution_detail", "contribution"),
        ("placements:rulebook_detail", "rulebook"),
        ("contracts:obligation_settle", "obligation"),
    ],
)
def test_history_link_on_detail_pages_only_for_who_may_see_it(client, world, objects, name, kind):
    target = url(kind, objects[kind].pk)
    client.force_login(world.adviser)
    assert target in client.get(reverse(name, args=[objects[kind].pk])).content.decode()
    client.force_login(world.officer_noordwijk)
    response = client.get(reverse(name, args=[objects[kind].pk]))
    assert target not in response.content.decode()


def test_history_link_on_the_policy_list(client, world, objects):
    client.force_login(world.adviser)
    html = client.get(reverse("contracts:policy_list")).content.decode()
    assert url("policy", objects["policy"].pk) in html
    client.force_login(world.functional_admin)
    html = client.get(reverse("contracts:policy_list")).content.decode()
    assert url("policy", objects["policy"].pk) not in html


def test_created_entries_show_fields_not_reverse_relations_and_numbers_readably(
    client, world, objects
):
    client.force_login(world.adviser)
    rows = rows_of(client.get(url("contract", objects["contract"].pk)))
    created = {(r.subject_kind, r.what): r for r in rows}[("Obligation", "created")]
    labels = {c.label for c in created.changes}
    # Reverse relations (contributions, plans, settlements, flags …) and the id are left out.
    assert not labels & {"Contributions", "Plans", "Settlements", "Flags", "Changes", "ID"}
    assert not any(".None" in c.new for c in created.changes)
    by_label = {c.label: c for c in created.changes}
    assert by_label["Required amount"].new == "25,000.00"  # grouped, with its decimals
    explanation = next(c for c in created.changes if c.label == "Explanation")
    assert not explanation.new.startswith("[") and "\\u20ac" not in explanation.new
    assert " · " in explanation.new and "€" in explanation.new
