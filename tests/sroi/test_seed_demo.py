"""``manage.py seed_demo``: idempotent, every state present, values from the real engine."""

from datetime import date
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from contracts.models import Contract, Obligation, Settlement
from placements import services as placement_services
from placements.models import Contribution
from sroi import demo
from sroi.models import Organisation

pytestmark = pytest.mark.django_db


def model_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app_label in ("sroi", "contracts", "placements", "auth", "auditlog")
        for model in apps.get_app_config(app_label).get_models()
    }


@pytest.fixture(scope="module")
def _seeded_once(django_db_setup, django_db_blocker):
    """Seed once for the whole module (a few seconds), rolled back at the end; every test runs
    inside it in its own savepoint (the ``db`` fixture)."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def seeded(_seeded_once, db):
    return _seeded_once


def test_second_run_creates_nothing(seeded):
    before = model_counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert model_counts() == before
    assert "nothing new created" in out.getvalue()


def test_the_command_prints_the_logins_with_a_warning(seeded):
    assert "development only" in seeded.lower()
    assert demo.DEMO_PASSWORD in seeded
    assert demo.ADMIN_URL in seeded
    for email in (
        "adviseur@demo.sroi.nl",
        "inkoper@noordwijk.demo.sroi.nl",
        "inkoper@katwijk.demo.sroi.nl",
        "raad@noordwijk.demo.sroi.nl",
        "beheer@demo.sroi.nl",
        "admin@demo.sroi.nl",
    ):
        assert email in seeded
    assert seeded.count("opdrachtnemer@") == 2


def test_volumes(seeded):
    assert Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).count() >= 5
    hlt = Organisation.objects.get(name="HLTSamen")
    assert {m.name for m in hlt.serves.all()} == {"Hillegom", "Lisse", "Teylingen"}
    body = Organisation.objects.get(name="SROI-coördinatie Noordwijk")
    assert body.serves.count() == 5
    assert apps.get_model("contracts", "Contractor").objects.count() >= 20
    assert Contract.objects.count() == 60
    assert Contribution.objects.count() >= 190
    years = set(Contract.objects.values_list("award_date__year", flat=True))
    assert len(years) >= 5  # awarded over five calendar years (2022-2026 when run in 2026)
    assert set(Contribution.objects.values_list("status", flat=True)) == set(
        Contribution.Status.values
    )
    assert set(Contribution.objects.values_list("block", flat=True)) >= {
        "job",
        "work_experience",
        "internship",
        "bbl",
        "social_purchase",
        "social_activity",
    }
    assert not Contribution.objects.filter(status__in=["rejected", "returned"], status_reason="")


def test_every_state_is_present(seeded):
    today = date.today()
    states = demo.state_counts(today)
    for state in ("on_track", "behind", "overdue", "fulfilled", "settled"):
        assert states[state] >= 1, state
    assert Obligation.objects.filter(
        status=Obligation.Status.OPEN, deadline__lt=today
    ).exists()  # overdue
    assert Obligation.objects.filter(status=Obligation.Status.SETTLED).exists()
    assert Contract.objects.filter(obligation__isnull=True, value_excl_vat__lt=100_000).exists()
    assert set(Settlement.objects.values_list("decision", flat=True)) == set(
        Settlement.Decision.values
    )
    deviation = Obligation.objects.get(deviation=Obligation.Deviation.REDUCED_PERCENTAGE)
    assert deviation.deviation_reason and deviation.percentage == 2
    assert Obligation.objects.filter(pso_discount__gt=0).exists()
    assert not Obligation.objects.filter(rulebook__isnull=True).exists()


def test_every_contribution_holds_the_engines_value(seeded):
    contributions = Contribution.objects.select_related(
        "obligation__rulebook__owner", "obligation__contract", "candidate"
    ).prefetch_related("obligation__rulebook__rules", "obligation__rulebook__bonuses")
    for contribution in contributions:
        inputs = {n: getattr(contribution, n) for n in placement_services.VALUATION_INPUTS}
        result = placement_services.value_of(obligation=contribution.obligation, **inputs)
        assert contribution.value == result.value, contribution.pk
        assert contribution.rule_code == result.rule_code
        assert contribution.value_explanation  # the explanation as it was when valued


def test_a_demo_user_logs_in_through_the_admin_login_form(client, seeded):
    response = client.post(
        reverse("admin:login"),
        {"username": "adviseur@demo.sroi.nl", "password": demo.DEMO_PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    response = client.get(reverse("admin:contracts_contract_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 60


def test_the_contractor_user_cannot_log_in_to_the_admin(client, seeded):
    response = client.post(
        reverse("admin:login"),
        {
            "username": "opdrachtnemer@vandermeer.demo.sroi.nl",
            "password": demo.DEMO_PASSWORD,
            "next": "/admin/",
        },
    )
    assert response.status_code == 200  # the form again: not a staff account
    assert not response.wsgi_request.user.is_authenticated
