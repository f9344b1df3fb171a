"""Every create, change and delete of the audited models is in the audit trail with who, when
and old and new values, also when a service writes in bulk (``sroi.audit``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from contracts import invitations, policy_services
from contracts import services as contract_services
from contracts.models import (
    Contract,
    ContractorInvitation,
    Obligation,
    PsoDiscount,
    Settlement,
    SroiPolicy,
)
from placements import services as placement_services
from placements.models import Bonus, Candidate, Contribution, PlanItem, PlanOfApproach, Rule
from placements.revaluation import revalue_contributions
from sroi import audit
from sroi import services as sroi_services
from sroi.models import Membership, Role, User
from tests import factories as f
from tests.placements.test_portal_forms import add_example_rules
from tests.placements.test_portal_views import JOB, PLAN_ROW, plan_post

pytestmark = pytest.mark.django_db

C, U, X = LogEntry.Action.CREATE, LogEntry.Action.UPDATE, LogEntry.Action.DELETE

# Issue 7's list, spelled out here as well: removing a model from the registration (or from
# ``REQUIRED_AUDITED_MODELS``) fails this test.
REQUIRED = {
    "contracts.Contract",
    "contracts.Obligation",
    "contracts.Settlement",
    "contracts.SroiPolicy",
    "contracts.PsoDiscount",
    "placements.Contribution",
    "placements.Evidence",
    "placements.Candidate",
    "placements.PlanOfApproach",
    "placements.PlanItem",
    "placements.Rulebook",
    "placements.Rule",
    "placements.Bonus",
    "sroi.User",
    "sroi.Membership",
    "sroi.Organisation",
}


def entries(model, obj=None, action=None):
    qs = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
    if obj is not None:
        qs = qs.filter(object_id=obj.pk)
    if action is not None:
        qs = qs.filter(action=action)
    return qs.order_by("timestamp", "pk")


def test_every_required_model_is_registered():
    assert REQUIRED <= set(audit.REQUIRED_AUDITED_MODELS)
    missing = [label for label in REQUIRED if not auditlog.contains(apps.get_model(label))]
    assert missing == []


def test_candidate_personal_fields_and_user_password_stay_excluded():
    fields = auditlog.get_model_fields(Candidate)
    assert set(audit.CANDIDATE_PERSONAL_FIELDS) <= set(fields["exclude_fields"])
    assert "password" in auditlog.get_model_fields(User)["exclude_fields"]


def _contract(world, user=None):
    return contract_services.create_contract(
        acting_user=user or world.officer_noordwijk,
        municipality=world.noordwijk,
        reference="NW-2026-101",
        title="Herinrichting Dorpsstraat",
        contractor=world.contractor_a,
        kind=Contract.Kind.WORKS,
        value_excl_vat=D("500000.00"),
        award_date=date(2026, 1, 15),
        start_date=date(2026, 2, 1),
        end_date=date(2027, 1, 31),
    )


def test_contract_obligation_and_settlement_record_actor_and_values(world):
    with set_actor(world.officer_noordwijk):
        contract, obligation = _contract(world)
    created = entries(Contract, contract, C).get()
    assert created.actor == world.officer_noordwijk
    assert created.changes["reference"] == ["None", "NW-2026-101"]
    assert entries(Obligation, obligation, C).get().actor == world.officer_noordwijk

    with set_actor(world.adviser):
        contract_services.update_contract(
            acting_user=world.adviser, contract=contract, title="Nieuwe titel"
        )
        f.ContributionFactory(obligation=obligation, value=D("25000.00"), approved=True)
        settlement = contract_services.settle_obligation(
            acting_user=world.adviser,
            obligation=obligation,
            decision=Settlement.Decision.FULFILLED,
            reason="Ok",
        )
    changed = entries(Contract, contract, U).last()
    assert changed.actor == world.adviser
    assert changed.changes["title"] == ["Herinrichting Dorpsstraat", "Nieuwe titel"]
    settled = entries(Settlement, settlement, C).get()
    assert settled.actor == world.adviser and settled.changes["decision"][1] == "fulfilled"
    status = [e for e in entries(Obligation, obligation, U) if "status" in e.changes]
    assert status and status[-1].changes["status"] == ["open", "settled"]


def test_background_job_changes_have_no_actor(world):
    """Outside a request (a Celery task, a management command) there is no actor: the history
    shows "system"."""
    contract, _ = _contract(world)
    entry = entries(Contract, contract, C).get()
    assert entry.actor is None and not entry.actor_email


def test_policy_versions_and_pso_discounts_written_in_bulk_are_logged(world):
    policy = SroiPolicy.objects.get(municipality=world.noordwijk)
    with set_actor(world.adviser):
        new = policy_services.create_policy_version(
            acting_user=world.adviser,
            based_on=policy,
            valid_from=date(2027, 1, 1),
            terms={"threshold": D("200000")},
            pso_discounts={"trede_1": D("10")},
        )
    assert entries(SroiPolicy, new, C).get().actor == world.adviser
    discount = PsoDiscount.objects.get(policy=new)
    created = entries(PsoDiscount, discount, C).get()
    assert created.actor == world.adviser
    assert created.changes["policy"] == ["None", str(new.pk)]
    assert D(created.changes["discount_percentage"][1]) == D("10")

    with set_actor(world.adviser):
        policy_services.update_policy(
            acting_user=world.adviser, policy=new, terms={}, pso_discounts={"basistrede": D("20")}
        )
    assert entries(PsoDiscount, discount, X).get().actor == world.adviser  # delete(): signals
    replacement = PsoDiscount.objects.get(policy=new)
    assert entries(PsoDiscount, replacement, C).get().changes["level"] == ["None", "basistrede"]


def test_rulebook_versions_rules_and_bonuses_are_logged(world):
    based_on = f.RulebookFactory(municipalities=[world.noordwijk])
    with set_actor(world.adviser):
        rulebook = placement_services.create_rulebook_version(
            acting_user=world.adviser,
            based_on=based_on,
            version="2027",
            valid_from=date(2027, 1, 1),
        )
    rules = list(rulebook.rules.all())
    assert rules
    for rule in rules:  # bulk_create: written explicitly
        entry = entries(Rule, rule, C).get()
        assert entry.actor == world.adviser
        assert entry.changes["rulebook"] == ["None", str(rulebook.pk)]
    for bonus in rulebook.bonuses.all():
        assert entries(Bonus, bonus, C).get().actor == world.adviser
    rule = rules[0]
    with set_actor(world.adviser):
        placement_services.save_rule(
            acting_user=world.adviser, rulebook=rulebook, rule_data={"label": "Nieuw"}, rule=rule
        )
        placement_services.delete_rule(acting_user=world.adviser, rule=rule)
    assert entries(Rule, rule, U).get().changes["label"][1] == "Nieuw"
    assert entries(Rule, rule, X).get().actor == world.adviser


def test_revaluation_bulk_update_is_logged(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    contribution = f.ContributionFactory(obligation=obligation, value=D("1.00"))
    with set_actor(world.adviser):
        changed = revalue_contributions(
            obligation=obligation, acting_user=world.adviser, reason="test"
        )
    assert changed and changed[0][0].pk == contribution.pk
    entry = entries(Contribution, contribution, U).get()
    assert entry.actor == world.adviser
    assert entry.changes["value"][0] == "1.00"
    assert entry.changes["value"][1] == str(changed[0][2])
    assert "value_explanation" not in entry.changes


def test_invitation_revocations_by_queryset_update_are_logged(world, mailoutbox):
    f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_a)
    with set_actor(world.adviser):
        first = invitations.invite_contractor_user(
            acting_user=world.adviser,
            contractor=world.contractor_a,
            email="nieuw@example.nl",
            full_name="Nieuwe Collega",
            base_url="http://testserver/",
        )
        invitations.invite_contractor_user(
            acting_user=world.adviser,
            contractor=world.contractor_a,
            email="nieuw@example.nl",
            full_name="Nieuwe Collega",
            base_url="http://testserver/",
        )
    revoked = entries(ContractorInvitation, first, U).get()
    assert revoked.actor == world.adviser
    assert revoked.changes["revoked_at"][0] == "None"


def test_roles_and_group_membership_are_logged(world):
    user = f.UserFactory(email="nieuw.lid@example.nl")
    with set_actor(world.functional_admin):
        membership = sroi_services.grant_role(
            acting_user=world.functional_admin,
            user=user,
            organisation=world.executing_body,
            role=Role.COUNCIL_VIEWER,
        )
        sroi_services.revoke_role(
            acting_user=world.functional_admin,
            user=user,
            organisation=world.executing_body,
            role=Role.COUNCIL_VIEWER,
        )
    assert entries(Membership, membership, C).get().actor == world.functional_admin
    revoked = entries(Membership, membership, U).get()
    assert revoked.changes["is_active"] == ["True", "False"]
    groups = [e.changes["groups"] for e in entries(User, user, U) if "groups" in e.changes]
    assert [g["operation"] for g in groups] == ["add", "delete"]
    assert all(g["type"] == "m2m" for g in groups)


# --- Through the views: the actor comes from the request --------------------------------------


@pytest.fixture
def portal(world):
    obligation = f.RuledObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    add_example_rules(obligation.rulebook)
    return obligation


def test_portal_plan_and_contribution_are_logged_with_the_contractor_user(client, world, portal):
    client.force_login(world.contractor_a_user)
    response = client.post(
        reverse("placements:portal_plan", args=[portal.pk]), plan_post([PLAN_ROW])
    )
    assert response.status_code == 302
    plan = PlanOfApproach.objects.get(obligation=portal)
    assert entries(PlanOfApproach, plan, C).get().actor == world.contractor_a_user
    item = PlanItem.objects.get(plan=plan)
    assert entries(PlanItem, item, C).get().actor == world.contractor_a_user

    target = reverse("placements:portal_report", args=[portal.pk]) + "?block=job"
    inputs = {
        **JOB,
        "initials": "J.K.",
        "birth_year": "1970",
        "target_group": "participatiewet",
        "years_on_benefit": "3",
    }
    preview = client.post(target, {**inputs, "preview": "1"}).context["preview"]
    response = client.post(target, {**inputs, "previewed_value": str(preview.value), "submit": "1"})
    assert response.status_code == 302
    contribution = Contribution.objects.get(obligation=portal)
    assert entries(Contribution, contribution, C).get().actor == world.contractor_a_user
    candidate = contribution.candidate
    created = entries(Candidate, candidate, C).get()
    assert created.actor == world.contractor_a_user
    assert "initials" not in created.changes and "birth_year" not in created.changes


def test_adviser_review_through_the_view_is_logged_with_the_adviser(client, world, portal):
    contribution = f.ContributionFactory(
        obligation=portal,
        candidate=f.CandidateFactory(contractor=world.contractor_a, confirmed=True),
    )
    client.force_login(world.adviser)
    response = client.post(
        reverse("placements:contribution_reject", args=[contribution.pk]),
        {"reject-reason": "Geen bewijs"},
    )
    assert response.status_code == 302
    entry = entries(Contribution, contribution, U).get()
    assert entry.actor == world.adviser and entry.actor_email == world.adviser.email
    assert entry.changes["status"] == ["submitted", "rejected"]
