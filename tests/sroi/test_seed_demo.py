"""``manage.py seed_demo``: idempotent, every state present, values from the real engine."""

from datetime import date
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings as settings_module
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from contracts.models import Contract, Obligation, Settlement
from placements import services as placement_services
from placements.models import Contribution
from sroi import demo, two_factor
from sroi.models import Organisation, User

pytestmark = pytest.mark.django_db


def model_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app_label in (
            "sroi",
            "contracts",
            "placements",
            "auth",
            "auditlog",
            "otp_totp",
            "otp_static",
        )
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


def test_a_demo_user_logs_in_to_the_admin_with_the_printed_code(client, seeded, settings):
    response = client.get(reverse("admin:login") + "?next=/admin/")
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2F"
    response = client.post(
        response["Location"],
        {"username": "adviseur@demo.sroi.nl", "password": demo.DEMO_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("two_factor_verify") + "?next=%2Fadmin%2F"
    settings.SROI_ENV = "development"
    out = StringIO()
    call_command("demo_otp_code", "adviseur@demo.sroi.nl", stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert len(code) == 6 and code.isdigit()
    response = client.post(response["Location"], {"code": code, "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    response = client.get(reverse("admin:contracts_contract_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 60


def test_the_contractor_user_cannot_log_in_to_the_admin(client, seeded):
    response = client.post(
        reverse("login") + "?next=/admin/",
        {"username": "opdrachtnemer@vandermeer.demo.sroi.nl", "password": demo.DEMO_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    response = client.get("/admin/")
    assert response.status_code == 302  # not a staff account: back to the login page
    assert response["Location"].startswith(reverse("admin:login"))


# --- Two-factor login in the demo ----------------------------------------------------------------


def test_every_demo_user_who_needs_two_factor_has_an_authenticator(seeded):
    staff = [email for email, *_ in demo.STAFF_USERS] + ["admin@demo.sroi.nl"]
    devices = TOTPDevice.objects.filter(user__email__in=staff, confirmed=True)
    assert sorted(d.user.email for d in devices) == sorted(staff)
    assert len({d.key for d in devices}) == len(staff)  # a key of their own
    assert not TOTPDevice.objects.filter(user__email__startswith="opdrachtnemer@").exists()
    assert "demo_otp_code" in seeded


@pytest.mark.parametrize("profile", ["test", "production"])
def test_demo_otp_code_runs_only_in_development(seeded, settings, profile):
    settings.SROI_ENV = profile
    with pytest.raises(CommandError, match="SROI_ENV=development"):
        call_command("demo_otp_code", "adviseur@demo.sroi.nl", stdout=StringIO())


def test_demo_otp_code_only_for_demo_users(seeded, settings):
    settings.SROI_ENV = "development"
    real = User.objects.create_user("echt@noordwijk.nl", "correct-horse-battery")
    TOTPDevice.objects.create(user=real, name="phone", confirmed=True)
    for email in ("echt@noordwijk.nl", "x@demo.sroi.nl.evil.nl", "demo.sroi.nl@evil.nl"):
        with pytest.raises(CommandError, match="only works for demo users"):
            call_command("demo_otp_code", email, stdout=StringIO())
    with pytest.raises(CommandError, match="no authenticator"):
        call_command("demo_otp_code", "opdrachtnemer@vandermeer.demo.sroi.nl", stdout=StringIO())
    with pytest.raises(CommandError, match="No such demo user"):
        call_command("demo_otp_code", "niemand@demo.sroi.nl", stdout=StringIO())


def test_the_printed_code_is_accepted_once(seeded, settings):
    settings.SROI_ENV = "development"
    out = StringIO()
    call_command("demo_otp_code", "beheer@demo.sroi.nl", stdout=out, stderr=StringIO())
    user = User.objects.get(email="beheer@demo.sroi.nl")
    assert two_factor.verify(user, out.getvalue().strip()) is not None
    assert two_factor.verify(user, out.getvalue().strip()) is None


def test_make_run_explains_the_code_step():
    makefile = (settings_module.BASE_DIR / "Makefile").read_text()
    assert "make demo-code EMAIL=adviseur@demo.sroi.nl" in makefile
    assert "manage.py demo_otp_code" in makefile
