"""The Django admin with personas: scoped changelists, read-only computed values, services on
save, and no data for outsiders."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from contracts import services as contract_services
from contracts.models import Contract, Obligation, ObligationChange, Settlement
from placements import services as placement_services
from placements.models import Contribution
from sroi import services
from sroi.models import Membership, Role, User
from tests import factories as f

pytestmark = pytest.mark.django_db


def url(model, view="changelist", *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@dataclass
class AdminData:
    world: object
    lisse: object
    root: User
    nwk_contract: Contract
    kwk_contract: Contract
    lisse_contract: Contract
    nwk_contribution: Contribution
    lisse_contribution: Contribution


def _contract(acting_user, municipality, reference, contractor, **extra):
    fields = {
        "municipality": municipality,
        "reference": reference,
        "title": f"Onderhoud {reference}",
        "contractor": contractor,
        "kind": Contract.Kind.WORKS,
        "value_excl_vat": Decimal("500000.00"),
        "award_date": date(2026, 1, 15),
        "start_date": date(2026, 2, 1),
        "end_date": date(2027, 1, 31),
        **extra,
    }
    contract, _obligation = contract_services.create_contract(acting_user=acting_user, **fields)
    return contract


def _contribution(acting_user, contract):
    candidate = placement_services.create_candidate(
        acting_user=acting_user,
        contractor=contract.contractor,
        initials="A.B.",
        birth_year=1980,
        target_group="participatiewet",
        years_on_benefit=Decimal("3"),
    )
    return placement_services.submit_contribution(
        acting_user=acting_user,
        obligation=contract.obligation,
        block="job",
        candidate=candidate,
        start_date=date(2026, 3, 1),
        end_date=date(2026, 8, 31),
        hours_per_week=Decimal("24"),
    )


@pytest.fixture
def data(world) -> AdminData:
    """The personas with their groups and admin access (as ``grant_role`` gives them), real
    contracts with computed obligations in Noordwijk, Katwijk and an unserved Lisse."""
    root = User.objects.create_superuser("root@example.nl", "correct-horse-battery")
    for persona in (
        "adviser",
        "officer_noordwijk",
        "officer_katwijk",
        "council_noordwijk",
        "council_katwijk",
        "functional_admin",
        "contractor_a_user",
        "contractor_b_user",
    ):
        services.sync_user_access(getattr(world, persona))
    lisse = f.MunicipalityFactory(name="Lisse")
    f.PolicyFactory(municipality=lisse)
    f.RulebookFactory(municipalities=[world.noordwijk, world.katwijk, lisse])
    nwk = _contract(world.adviser, world.noordwijk, "NWK-1", world.contractor_a)
    kwk = _contract(world.adviser, world.katwijk, "KWK-1", world.contractor_b)
    lisse_contract = _contract(root, lisse, "LIS-1", world.contractor_a)
    return AdminData(
        world=world,
        lisse=lisse,
        root=root,
        nwk_contract=nwk,
        kwk_contract=kwk,
        lisse_contract=lisse_contract,
        nwk_contribution=_contribution(world.adviser, nwk),
        lisse_contribution=_contribution(root, lisse_contract),
    )


def _extend(data) -> Settlement:
    """A settlement decision that may be taken any time: an extension of the deadline."""
    obligation = data.kwk_contract.obligation
    return contract_services.settle_obligation(
        acting_user=data.world.adviser,
        obligation=obligation,
        decision=Settlement.Decision.EXTENSION,
        new_deadline=obligation.deadline + timedelta(days=90),
        reason="Uitstel na overleg",
    )


def form_data(response, **changes) -> dict:
    """The change form's current values, inline management forms included, plus changes."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        for inline_form in inline.formset.initial_forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None and value is not False:
                    data[f"{inline_form.prefix}-{name}"] = "on" if value is True else value
    data.update(changes)
    return data


def changelist_pks(client, model) -> set[int]:
    response = client.get(url(model))
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].queryset}


# --- Adviser ---------------------------------------------------------------------------------


def test_adviser_sees_only_the_municipalities_they_serve(client, data):
    w = data.world
    client.force_login(w.adviser)
    assert changelist_pks(client, Contract) == {data.nwk_contract.pk, data.kwk_contract.pk}
    assert changelist_pks(client, Obligation) == {
        data.nwk_contract.obligation.pk,
        data.kwk_contract.obligation.pk,
    }
    assert changelist_pks(client, Contribution) == {data.nwk_contribution.pk}
    response = client.get(url(Contract))
    assert b"LIS-1" not in response.content

    # Out of scope: the admin behaves as if the object does not exist.
    response = client.get(url(Contract, "change", data.lisse_contract.pk))
    assert response.status_code in (302, 403, 404)
    assert b"LIS-1" not in response.content
    response = client.get(url(Contribution, "change", data.lisse_contribution.pk))
    assert response.status_code in (302, 403, 404)


def test_adviser_change_pages_show_computed_values_read_only(client, data):
    client.force_login(data.world.adviser)
    obligation = data.nwk_contract.obligation
    response = client.get(url(Obligation, "change", obligation.pk))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.fields) == {"deviation", "percentage", "deviation_reason"}
    assert "amount" not in form.fields and "explanation" not in form.fields
    assert "Verplichting" in response.content.decode()  # the explanation is shown

    response = client.get(url(Contribution, "change", data.nwk_contribution.pk))
    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert "value" not in fields and "value_explanation" not in fields and "status" not in fields


def test_adviser_adds_a_contract_through_the_service(client, data):
    w = data.world
    client.force_login(w.adviser)
    response = client.post(
        url(Contract, "add"),
        {
            "municipality": w.katwijk.pk,
            "reference": "KWK-2",
            "title": "Groenonderhoud",
            "description": "",
            "contractor": w.contractor_b.pk,
            "kind": "services",
            "value_excl_vat": "200000.00",
            "labour_cost": "",
            "award_date": "2026-03-01",
            "start_date": "2026-04-01",
            "end_date": "2027-03-31",
            "procurement_officer": "",
            "change_reason": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contract = Contract.objects.get(reference="KWK-2")
    assert contract.obligation.amount == Decimal("10000.00")  # 5% of 200,000
    assert contract.obligation.changes.filter(kind=ObligationChange.Kind.CREATED).exists()


def test_contract_add_without_a_policy_shows_the_service_error(client, data):
    w = data.world
    client.force_login(w.adviser)
    response = client.post(
        url(Contract, "add"),
        {
            "municipality": w.katwijk.pk,
            "reference": "KWK-OLD",
            "title": "Te vroeg",
            "contractor": w.contractor_b.pk,
            "kind": "works",
            "value_excl_vat": "200000.00",
            "award_date": "2019-03-01",  # before the policy's valid_from
            "start_date": "2019-04-01",
            "end_date": "2020-03-31",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Contract.objects.filter(reference="KWK-OLD").exists()


def test_adviser_changes_a_contract_and_the_obligation_is_recomputed(client, data):
    client.force_login(data.world.adviser)
    contract = data.kwk_contract
    page = client.get(url(Contract, "change", contract.pk))
    payload = form_data(page, value_excl_vat="600000.00", change_reason="Meerwerk")
    response = client.post(url(Contract, "change", contract.pk), payload)
    assert response.status_code == 302
    obligation = Obligation.objects.get(contract=contract)
    assert obligation.amount == Decimal("30000.00")
    change = obligation.changes.get(kind=ObligationChange.Kind.RECOMPUTED)
    assert change.reason == "Meerwerk" and change.changed_by == data.world.adviser


def test_deviation_needs_a_reason_and_then_recomputes(client, data):
    client.force_login(data.world.adviser)
    obligation = data.kwk_contract.obligation
    change_url = url(Obligation, "change", obligation.pk)
    page = client.get(change_url)
    response = client.post(
        change_url,
        form_data(page, deviation="custom_percentage", percentage="3.00", deviation_reason=""),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    obligation.refresh_from_db()
    assert obligation.amount == Decimal("25000.00")

    response = client.post(
        change_url,
        form_data(
            page,
            deviation="custom_percentage",
            percentage="3.00",
            deviation_reason="Laag arbeidsaandeel",
        ),
    )
    assert response.status_code == 302
    obligation.refresh_from_db()
    assert obligation.amount == Decimal("15000.00")
    assert obligation.agreed_by == data.world.adviser


def test_adviser_cannot_delete_contracts_obligations_contributions_or_settlements(client, data):
    client.force_login(data.world.adviser)
    settlement = _extend(data)
    for model, pk in (
        (Contract, data.nwk_contract.pk),
        (Obligation, data.nwk_contract.obligation.pk),
        (Contribution, data.nwk_contribution.pk),
        (Settlement, settlement.pk),
    ):
        assert client.get(url(model, "delete", pk)).status_code == 403, model
    assert client.get(url(Obligation, "add")).status_code == 403  # computed, never typed in


def test_adviser_reviews_a_contribution_through_the_service(client, data):
    client.force_login(data.world.adviser)
    contribution = data.nwk_contribution
    change_url = url(Contribution, "change", contribution.pk)
    payload = form_data(client.get(change_url), review="reject", review_reason="")
    response = client.post(change_url, payload)
    assert response.status_code == 200  # a reason is required
    payload.update({"review": "approve"})
    response = client.post(change_url, payload)
    assert response.status_code == 200  # the candidate's eligibility is not confirmed yet
    assert "candidate" in response.context["adminform"].form.errors
    placement_services.confirm_eligibility(
        acting_user=data.world.adviser, candidate=contribution.candidate
    )
    response = client.post(change_url, payload)
    assert response.status_code == 302
    contribution.refresh_from_db()
    assert contribution.status == Contribution.Status.APPROVED
    assert contribution.reviewed_by == data.world.adviser


# --- Procurement officer, council viewer, contractor -----------------------------------------


def test_officer_of_katwijk_does_not_see_noordwijk(client, data):
    client.force_login(data.world.officer_katwijk)
    assert changelist_pks(client, Contract) == {data.kwk_contract.pk}
    response = client.get(url(Contract, "change", data.nwk_contract.pk))
    assert response.status_code in (302, 403, 404)
    assert b"NWK-1" not in response.content
    response = client.post(url(Contract, "change", data.nwk_contract.pk), {"title": "Gekaapt"})
    assert response.status_code in (302, 403, 404)
    data.nwk_contract.refresh_from_db()
    assert data.nwk_contract.title == "Onderhoud NWK-1"
    # Personal data and contributions are not for procurement officers.
    assert client.get(url(Contribution)).status_code == 403
    assert client.get(reverse("admin:placements_candidate_changelist")).status_code == 403


def test_officer_may_only_enter_contracts_for_their_own_municipality(client, data):
    w = data.world
    client.force_login(w.officer_katwijk)
    response = client.get(url(Contract, "add"))
    assert response.status_code == 200
    choices = set(response.context["adminform"].form.fields["municipality"].queryset)
    assert choices == {w.katwijk}


def test_council_viewer_reads_but_cannot_add_or_change(client, data):
    client.force_login(data.world.council_noordwijk)
    assert changelist_pks(client, Contract) == {data.nwk_contract.pk}
    assert client.get(url(Contract, "add")).status_code == 403
    assert client.post(url(Contract, "add"), {"reference": "X"}).status_code == 403
    response = client.get(url(Contract, "change", data.nwk_contract.pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert client.get(url(Contribution)).status_code == 403


def test_contractor_user_is_sent_to_the_login_page(client, data):
    client.force_login(data.world.contractor_a_user)
    for target in (reverse("admin:index"), url(Contract), url(Contribution)):
        response = client.get(target)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_anonymous_visitor_is_sent_to_the_login_page(client, data):
    response = client.get(url(Contract))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- Functional administrator ----------------------------------------------------------------


def test_functional_admin_grants_a_role_in_the_admin(client, data):
    w = data.world
    client.force_login(w.functional_admin)
    newcomer = f.UserFactory(email="nieuwe.inkoper@example.nl")
    response = client.post(
        url(Membership, "add"),
        {
            "user": newcomer.pk,
            "organisation": w.katwijk.pk,
            "role": Role.PROCUREMENT_OFFICER,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    assert set(newcomer.groups.values_list("name", flat=True)) == {"Inkoper"}


def test_functional_admin_cannot_raise_rights_by_hand(client, data):
    w = data.world
    client.force_login(w.functional_admin)
    assert data.root.pk not in changelist_pks(client, User)
    response = client.get(url(User, "change", w.officer_noordwijk.pk))
    assert response.status_code == 200
    form = response.context["adminform"].form
    for name in ("is_superuser", "is_staff", "groups", "user_permissions"):
        assert name not in form.fields
    client.post(
        url(User, "change", w.functional_admin.pk),
        {"email": w.functional_admin.email, "is_active": "on", "is_superuser": "on"},
    )
    assert not User.objects.get(pk=w.functional_admin.pk).is_superuser


# --- Superuser: every registered admin works -------------------------------------------------


def test_every_registered_changelist_and_add_page_works_for_a_superuser(client, data):
    _extend(data)
    client.force_login(data.root)
    for model, model_admin in admin.site._registry.items():
        response = client.get(url(model))
        assert response.status_code == 200, model
        if response.context["cl"].result_count:
            obj = response.context["cl"].result_list[0]
            response = client.get(url(model, "change", obj.pk))
            assert response.status_code == 200, model
        if model_admin.has_add_permission(response.wsgi_request):
            assert client.get(url(model, "add")).status_code == 200, model


def test_every_registered_changelist_answers_every_persona(client, data):
    """No persona ever gets a server error, whatever they may or may not see."""
    w = data.world
    for persona in (
        w.adviser,
        w.officer_katwijk,
        w.council_noordwijk,
        w.functional_admin,
    ):
        client.force_login(persona)
        for model in admin.site._registry:
            assert client.get(url(model)).status_code in (200, 403), (persona, model)


# --- Placements: candidates, evidence, rulebooks ---------------------------------------------


def test_adviser_adds_a_candidate_and_evidence_through_the_services(client, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from placements.models import Candidate, Evidence

    w = data.world
    client.force_login(w.adviser)
    response = client.post(
        reverse("admin:placements_candidate_add"),
        {
            "contractor": w.contractor_a.pk,
            "initials": "C.D.",
            "birth_year": "1990",
            "target_group": "wajong",
            "years_on_benefit": "",
            "target_group_note": "",
        },
    )
    assert response.status_code == 302
    candidate = Candidate.objects.get(initials="C.D.")
    assert candidate.code.startswith("K-")  # generated by create_candidate

    pdf = SimpleUploadedFile("arbeidsovereenkomst.pdf", b"%PDF-1.4\n%demo\n", "application/pdf")
    response = client.post(
        reverse("admin:placements_evidence_add"),
        {"contribution": data.nwk_contribution.pk, "kind": "employment_contract", "file": pdf},
    )
    assert response.status_code == 302
    evidence = Evidence.objects.get(contribution=data.nwk_contribution)
    assert evidence.content_type == "application/pdf"
    assert evidence.uploaded_by == w.adviser

    fake = SimpleUploadedFile("virus.pdf", b"MZ\x90\x00not a pdf", "application/pdf")
    response = client.post(
        reverse("admin:placements_evidence_add"),
        {"contribution": data.nwk_contribution.pk, "kind": "other", "file": fake},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["file"]


def test_adviser_builds_and_publishes_a_rulebook(client, data):
    from placements.models import Rule, Rulebook

    w = data.world
    client.force_login(w.adviser)
    response = client.post(
        reverse("admin:placements_rulebook_add"),
        {
            "name": "Regionale rekenregels",
            "version": "2027.1",
            "owner": w.executing_body.pk,
            "municipalities": [w.noordwijk.pk, w.katwijk.pk],
            "valid_from": "2027-01-01",
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
            "rules-0-code": "activity",
            "rules-0-label": "Sociale activiteit",
            "rules-0-block": "social_activity",
            "rules-0-kind": "hourly",
            "rules-0-rate": "100.00",
            "rules-0-target_groups": "[]",
            "bonuses-TOTAL_FORMS": "0",
            "bonuses-INITIAL_FORMS": "0",
            "bonuses-MIN_NUM_FORMS": "0",
            "bonuses-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.context and response.context.get("errors")
    rulebook = Rulebook.objects.get(version="2027.1")
    assert rulebook.status == Rulebook.Status.DRAFT
    assert Rule.objects.filter(rulebook=rulebook, code="activity").exists()

    client.post(
        reverse("admin:placements_rulebook_changelist"),
        {"action": "publish_selected", "_selected_action": [rulebook.pk]},
    )
    rulebook.refresh_from_db()
    assert rulebook.status == Rulebook.Status.PUBLISHED


def test_a_rulebook_used_by_an_obligation_is_frozen_in_the_admin(client, data):
    from placements.models import Rule

    client.force_login(data.world.adviser)
    rulebook = data.nwk_contract.obligation.rulebook
    response = client.get(reverse("admin:placements_rulebook_change", args=[rulebook.pk]))
    assert response.status_code == 200
    assert "name" not in response.context["adminform"].form.fields
    rule = Rule.objects.filter(rulebook=rulebook).first()
    response = client.get(reverse("admin:placements_rule_change", args=[rule.pk]))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]


def test_functional_admin_adds_a_user_and_finds_it_again(client, data):
    client.force_login(data.world.functional_admin)
    response = client.post(
        url(User, "add"),
        {
            "email": "nieuw@example.nl",
            "full_name": "Nieuwe Collega",
            "usable_password": "true",
            "password1": "een-lang-wachtwoord-2026",
            "password2": "een-lang-wachtwoord-2026",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="nieuw@example.nl")
    assert client.get(url(User, "change", user.pk)).status_code == 200
    assert not user.is_staff


def test_functional_admin_adds_a_role_through_the_membership_inline(client, data):
    w = data.world
    client.force_login(w.functional_admin)
    change_url = url(User, "change", w.officer_noordwijk.pk)
    payload = form_data(client.get(change_url))
    payload.update(
        {
            "memberships-TOTAL_FORMS": "2",
            "memberships-1-organisation": w.katwijk.pk,
            "memberships-1-role": Role.COUNCIL_VIEWER,
            "memberships-1-is_active": "on",
        }
    )
    response = client.post(change_url, payload)
    assert response.status_code == 302, response.context and response.context["errors"]
    officer = User.objects.get(pk=w.officer_noordwijk.pk)
    assert set(officer.groups.values_list("name", flat=True)) == {"Inkoper", "Raadsviewer"}
    assert Membership.objects.filter(user=officer, is_active=True).count() == 2

    # Deactivating the first row through the inline revokes that role.
    payload = form_data(client.get(change_url))
    first = Membership.objects.get(user=officer, role=Role.PROCUREMENT_OFFICER)
    row = next(k for k, v in payload.items() if k.endswith("-id") and str(v) == str(first.pk))
    payload.pop(row.replace("-id", "-is_active"))
    assert client.post(change_url, payload).status_code == 302
    assert set(officer.groups.values_list("name", flat=True)) == {"Raadsviewer"}
    assert not Membership.objects.get(pk=first.pk).is_active


# --- Contractors: saved through the services; PSO only by the adviser ------------------------


PSO = {"pso_level": "trede_2", "pso_valid_from": "2020-01-01", "pso_valid_until": "2030-12-31"}


def _contractor_url(contractor=None) -> str:
    if contractor is None:
        return reverse("admin:contracts_contractor_add")
    return reverse("admin:contracts_contractor_change", args=[contractor.pk])


def test_officer_of_katwijk_cannot_give_a_noordwijk_contractor_a_pso_level(client, data):
    from contracts.models import Contractor

    noordwijk_only = f.ContractorFactory(name="Alleen Noordwijk B.V.")
    f.ContractFactory(municipality=data.world.noordwijk, contractor=noordwijk_only)
    client.force_login(data.world.officer_katwijk)
    page = client.get(_contractor_url(noordwijk_only))
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert not set(PSO) & set(fields)
    response = client.post(_contractor_url(noordwijk_only), form_data(page, **PSO))
    assert response.status_code == 302
    noordwijk_only = Contractor.objects.get(pk=noordwijk_only.pk)
    assert (noordwijk_only.pso_level, noordwijk_only.pso_valid_from) == ("", None)


def test_adviser_sets_a_pso_level_through_the_service(client, data):
    from contracts.models import Contractor

    contractor = data.world.contractor_b  # works in Katwijk only
    client.force_login(data.world.adviser)
    page = client.get(_contractor_url(contractor))
    assert set(PSO) <= set(page.context["adminform"].form.fields)

    # The service's validation shows on the form: a level needs the certificate's dates.
    response = client.post(_contractor_url(contractor), form_data(page, pso_level="trede_2"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Contractor.objects.get(pk=contractor.pk).pso_level == ""

    response = client.post(_contractor_url(contractor), form_data(page, **PSO))
    assert response.status_code == 302
    assert Contractor.objects.get(pk=contractor.pk).pso_level == "trede_2"


def test_adviser_cannot_set_the_pso_level_of_a_contractor_working_outside_their_scope(client, data):
    # contractor_a also has a contract in Lisse, which the adviser does not serve.
    client.force_login(data.world.adviser)
    page = client.get(_contractor_url(data.world.contractor_a))
    assert page.status_code == 200
    assert not set(PSO) & set(page.context["adminform"].form.fields)


def test_officer_adds_a_contractor_through_the_service_without_pso(client, data):
    from contracts.models import Contractor

    client.force_login(data.world.officer_katwijk)
    page = client.get(_contractor_url())
    assert page.status_code == 200
    assert not set(PSO) & set(page.context["adminform"].form.fields)
    payload = {
        "name": "Nieuw Bouw B.V.",
        "kvk_number": "87654321",
        "city": "Katwijk",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        **PSO,  # ignored: not on the form
    }
    response = client.post(_contractor_url(), payload)
    assert response.status_code == 302, response.context and response.context["errors"]
    created = Contractor.objects.get(kvk_number="87654321")
    assert (created.name, created.pso_level) == ("Nieuw Bouw B.V.", "")

    # A duplicate KvK number is the service's error on the form, not a server error.
    response = client.post(_contractor_url(), {**payload, "name": "Dubbel"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Contractor.objects.filter(name="Dubbel").exists()


def test_council_viewer_cannot_add_contractors(client, data):
    client.force_login(data.world.council_noordwijk)
    assert client.get(_contractor_url()).status_code == 403
