"""The rulebook screens, with the personas of ``world``: list, detail, new version, editing a
draft's rules and bonuses (engine errors on the form), publishing, JSON export and import.

``RulebookFactory`` rules: ``job-pw`` (Participatiewet job, 40,000/year) and ``activity``
(100/hour), bonus ``permanent`` (10,000).
"""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from placements.models import Bonus, Rule, Rulebook
from tests import factories as f

D = Decimal


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def regional(world):
    """A published rulebook for Noordwijk and Katwijk, used by one Noordwijk obligation."""
    rulebook = f.RulebookFactory(
        name="Regionale rekenregels",
        version="2026.1",
        owner=world.executing_body,
        municipalities=[world.noordwijk, world.katwijk],
    )
    f.ObligationFactory(
        contract__municipality=world.noordwijk,
        contract__contractor=world.contractor_a,
        rulebook=rulebook,
    )
    return rulebook


@pytest.fixture
def draft(world):
    """An unused draft for Noordwijk only."""
    return f.RulebookFactory(
        name="Rekenregels Noordwijk",
        version="2027.1",
        owner=world.noordwijk,
        status=Rulebook.Status.DRAFT,
        municipalities=[world.noordwijk],
    )


def get(client, user, url, **params):
    if user is not None:
        client.force_login(user)
    return client.get(url, params)


def post(client, user, url, data=None, **kwargs):
    client.force_login(user)
    return client.post(url, data or {}, **kwargs)


def rule_data(**overrides) -> dict:
    data = {
        "code": "job-ww",
        "label": "Baan WW",
        "block": "job",
        "kind": "annual",
        "rate": "15000",
        "target_groups": ["ww"],
        "variant": "",
        "min_years_on_benefit": "",
        "max_years_on_benefit": "",
        "fte_hours": "36",
        "min_hours_per_week": "12",
        "max_years": "1",
        "min_duration_days": "",
        "percent": "",
    }
    data.update(overrides)
    return data


def bonus_data(**overrides) -> dict:
    data = {
        "code": "age-50",
        "label": "50 jaar of ouder",
        "amount": "5000",
        "blocks": ["job"],
        "target_groups": [],
        "min_age": "50",
        "max_age": "",
    }
    data.update(overrides)
    return data


# --- Access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona", ["adviser", "officer_noordwijk", "council_noordwijk", "functional_admin"]
)
def test_staff_see_the_rulebooks_of_their_municipalities(client, world, regional, draft, persona):
    response = get(client, getattr(world, persona), reverse("placements:rulebook_list"))
    assert response.status_code == 200
    assert "Regionale rekenregels 2026.1" in response.text
    assert "Rekenregels Noordwijk 2027.1" in response.text


def test_other_municipality_does_not_see_a_local_rulebook(client, world, regional, draft):
    response = get(client, world.officer_katwijk, reverse("placements:rulebook_list"))
    assert "Regionale rekenregels" in response.text
    assert "Rekenregels Noordwijk" not in response.text
    url = reverse("placements:rulebook_detail", args=[draft.pk])
    assert get(client, world.officer_katwijk, url).status_code == 404
    assert get(client, world.adviser_katwijk, url).status_code == 404


@pytest.mark.parametrize("persona", ["contractor_a_user", "contractor_b_user", "outsider"])
def test_non_staff_get_not_found(client, world, regional, persona):
    user = getattr(world, persona)
    for url in (
        reverse("placements:rulebook_list"),
        reverse("placements:rulebook_detail", args=[regional.pk]),
        reverse("placements:rulebook_export", args=[regional.pk]),
        reverse("placements:rulebook_new_version", args=[regional.pk]),
        reverse("placements:rulebook_import"),
    ):
        response = get(client, user, url)
        assert response.status_code == 404, url
        assert "Regionale" not in response.content.decode()


def test_anonymous_is_sent_to_login(client, regional, draft):
    rule = draft.rules.first()
    for url in (
        reverse("placements:rulebook_list"),
        reverse("placements:rulebook_detail", args=[regional.pk]),
        reverse("placements:rulebook_new_version", args=[regional.pk]),
        reverse("placements:rulebook_export", args=[regional.pk]),
        reverse("placements:rulebook_import"),
        reverse("placements:rulebook_rule_create", args=[draft.pk]),
        reverse("placements:rulebook_rule_edit", args=[draft.pk, rule.pk]),
        reverse("placements:rulebook_rule_delete", args=[draft.pk, rule.pk]),
        reverse("placements:rulebook_bonus_create", args=[draft.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))
    response = client.post(reverse("placements:rulebook_publish", args=[draft.pk]))
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("adviser", 200),
        ("officer_noordwijk", 403),
        ("council_noordwijk", 403),
        ("functional_admin", 403),
        # Sees the regional rulebook through Katwijk, but does not manage it for Noordwijk.
        ("adviser_katwijk", 403),
        ("contractor_a_user", 404),
        ("outsider", 404),
    ],
)
def test_changes_are_for_the_adviser_only(client, world, regional, draft, persona, status):
    user = getattr(world, persona)
    url = reverse("placements:rulebook_new_version", args=[regional.pk])
    assert get(client, user, url).status_code == status
    response = post(client, user, url, {"version": "2099.1", "valid_from": "2099-01-01"})
    assert response.status_code == (302 if status == 200 else status)
    if status != 200:
        assert not Rulebook.objects.filter(version="2099.1").exists()


@pytest.mark.parametrize("persona", ["officer_noordwijk", "council_noordwijk", "functional_admin"])
def test_others_cannot_change_a_draft(client, world, draft, persona):
    user = getattr(world, persona)
    rule = draft.rules.get(code="job-pw")
    urls = [
        reverse("placements:rulebook_rule_create", args=[draft.pk]),
        reverse("placements:rulebook_rule_edit", args=[draft.pk, rule.pk]),
        reverse("placements:rulebook_rule_delete", args=[draft.pk, rule.pk]),
        reverse("placements:rulebook_bonus_create", args=[draft.pk]),
    ]
    for url in urls:
        assert get(client, user, url).status_code == 403, url
    assert post(client, user, urls[2]).status_code == 403
    assert (
        post(client, user, reverse("placements:rulebook_publish", args=[draft.pk])).status_code
        == 403
    )
    assert post(client, user, reverse("placements:rulebook_import")).status_code == 403
    draft.refresh_from_db()
    assert draft.status == Rulebook.Status.DRAFT
    assert draft.rules.filter(code="job-pw").exists()


def test_read_only_viewer_sees_no_change_buttons(client, world, draft):
    response = get(
        client, world.officer_noordwijk, reverse("placements:rulebook_detail", args=[draft.pk])
    )
    assert response.status_code == 200
    assert reverse("placements:rulebook_rule_create", args=[draft.pk]) not in response.text
    assert reverse("placements:rulebook_publish", args=[draft.pk]) not in response.text
    assert reverse("placements:rulebook_new_version", args=[draft.pk]) not in response.text


# --- List and detail -------------------------------------------------------------------------


def test_list_shows_status_usage_and_filters(client, world, regional, draft):
    url = reverse("placements:rulebook_list")
    response = get(client, world.adviser, url)
    assert response.context["totals"] == {"count": 2, "published": 1, "draft": 1, "examples": 0}
    rows = {rb.pk: rb for rb, _ in response.context["rows"]}
    assert rows[regional.pk].in_use == 1 and rows[regional.pk].frozen
    assert rows[draft.pk].in_use == 0 and not rows[draft.pk].frozen
    assert "1 obligation" in response.text
    response = get(client, world.adviser, url, status="draft")
    assert [rb.pk for rb, _ in response.context["rows"]] == [draft.pk]
    response = get(client, world.adviser, url, in_use="yes")
    assert [rb.pk for rb, _ in response.context["rows"]] == [regional.pk]
    response = get(client, world.adviser, url, q="noordwijk")
    assert [rb.pk for rb, _ in response.context["rows"]] == [draft.pk]
    response = get(client, world.adviser, url, municipality=world.katwijk.pk)
    assert [rb.pk for rb, _ in response.context["rows"]] == [regional.pk]
    response = get(client, world.adviser, url, sort="-valid_from")
    assert response.status_code == 200


def test_usage_counts_only_the_users_municipalities(client, world, regional):
    f.ObligationFactory(contract__municipality=world.katwijk, rulebook=regional)
    response = get(client, world.officer_katwijk, reverse("placements:rulebook_list"))
    ((rb, may_manage),) = response.context["rows"]
    assert rb.in_use == 1 and rb.frozen and not may_manage
    response = get(client, world.adviser, reverse("placements:rulebook_list"))
    ((rb, may_manage),) = response.context["rows"]
    assert rb.in_use == 2 and may_manage


def test_detail_shows_rules_and_bonuses_readably(client, world, regional):
    response = get(client, world.adviser, reverse("placements:rulebook_detail", args=[regional.pk]))
    assert response.status_code == 200
    text = response.text
    assert "Baan Participatiewet" in text and "job-pw" in text
    assert "annual rate 40000.00 per year per 36.00 hours/week" in text
    assert "at least 12 hours per week" in text
    assert "counted for at most 2 year(s)" in text
    assert "Vast contract" in text and "€ 10,000.00" in text
    assert "By 1 obligation." in text
    assert "Agreed obligations keep the rulebook they were agreed under" in text
    # Frozen: no editing, but a new version.
    assert reverse("placements:rulebook_rule_create", args=[regional.pk]) not in text
    assert reverse("placements:rulebook_new_version", args=[regional.pk]) in text


def test_dutch_detail_page(client, world, regional):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "nl"
    response = get(client, world.adviser, reverse("placements:rulebook_detail", args=[regional.pk]))
    assert "jaarbedrag € 40.000,00 per jaar" in response.text


# --- New version -----------------------------------------------------------------------------


def test_new_version_copies_rules_and_keeps_obligations_on_the_old_one(client, world, regional):
    obligation = regional.obligations.get()
    url = reverse("placements:rulebook_new_version", args=[regional.pk])
    response = post(client, world.adviser, url, {"version": "2027.1", "valid_from": "2027-01-01"})
    new = Rulebook.objects.get(name=regional.name, version="2027.1")
    assert response.status_code == 302
    assert response.url == reverse("placements:rulebook_detail", args=[new.pk])
    assert new.status == Rulebook.Status.DRAFT
    assert new.based_on == regional
    assert set(new.rules.values_list("code", flat=True)) == {"job-pw", "activity"}
    assert set(new.municipalities.all()) == {world.noordwijk, world.katwijk}
    obligation.refresh_from_db()
    assert obligation.rulebook == regional


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": "2026.1", "valid_from": "2027-01-01"}, "already has a version 2026.1"),
        ({"version": "  ", "valid_from": "2027-01-01"}, "This field is required"),
        ({"version": "2027.1", "valid_from": "1899-01-01"}, "Enter a date between"),
        ({"version": "2027.1", "valid_from": "morgen"}, "Enter a valid date"),
    ],
)
def test_new_version_validation(client, world, regional, data, message):
    url = reverse("placements:rulebook_new_version", args=[regional.pk])
    response = post(client, world.adviser, url, data)
    assert response.status_code == 200
    assert message in response.text
    assert Rulebook.objects.count() == 1


# --- Rules and bonuses -----------------------------------------------------------------------


def test_adviser_adds_changes_and_deletes_a_rule(client, world, draft):
    create = reverse("placements:rulebook_rule_create", args=[draft.pk])
    assert get(client, world.adviser, create).status_code == 200
    response = post(client, world.adviser, create, rule_data())
    assert response.status_code == 302
    rule = draft.rules.get(code="job-ww")
    assert rule.rate == D("15000") and rule.target_groups == ["ww"]
    assert rule.max_years == D("1")

    edit = reverse("placements:rulebook_rule_edit", args=[draft.pk, rule.pk])
    response = get(client, world.adviser, edit)
    assert response.context["form"].initial["rate"] == D("15000")
    response = post(client, world.adviser, edit, rule_data(rate="20000"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.rate == D("20000")

    delete = reverse("placements:rulebook_rule_delete", args=[draft.pk, rule.pk])
    assert "Delete rule job-ww?" in get(client, world.adviser, delete).text
    assert post(client, world.adviser, delete).status_code == 302
    assert not draft.rules.filter(code="job-ww").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        # Engine checks, shown at the field.
        ({"kind": "percentage", "rate": "100"}, "rate", "is not used by percentage rules"),
        ({"kind": "percentage", "rate": "0"}, "percent", "is required for percentage rules"),
        ({"kind": "fixed", "min_hours_per_week": "12"}, "min_hours_per_week", "annual and monthly"),
        (
            {"min_years_on_benefit": "3", "max_years_on_benefit": "2"},
            "min_years_on_benefit",
            "must be below max_years_on_benefit",
        ),
        ({"fte_hours": "200"}, "fte_hours", "at most 168"),
        # Form checks.
        ({"code": "job-pw"}, "code", "already has an item with this code"),
        ({"code": "job ww!"}, "code", "slug"),
        ({"rate": "-1"}, "rate", "greater than or equal to 0"),
        ({"target_groups": ["martian"]}, "target_groups", "Select a valid choice"),
    ],
)
def test_rule_errors_are_shown_at_the_field(client, world, draft, overrides, field, message):
    url = reverse("placements:rulebook_rule_create", args=[draft.pk])
    response = post(client, world.adviser, url, rule_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field]), errors
    assert draft.rules.count() == 2


def test_adviser_adds_and_deletes_a_bonus(client, world, draft):
    url = reverse("placements:rulebook_bonus_create", args=[draft.pk])
    response = post(client, world.adviser, url, bonus_data())
    assert response.status_code == 302
    bonus = draft.bonuses.get(code="age-50")
    assert bonus.min_age == 50 and bonus.blocks == ["job"]
    response = post(
        client, world.adviser, url, bonus_data(code="age-x", min_age="60", max_age="55")
    )
    assert "must not exceed max_age" in " ".join(response.context["form"].errors["min_age"])
    edit = reverse("placements:rulebook_bonus_edit", args=[draft.pk, bonus.pk])
    assert post(client, world.adviser, edit, bonus_data(amount="7500")).status_code == 302
    bonus.refresh_from_db()
    assert bonus.amount == D("7500")
    delete = reverse("placements:rulebook_bonus_delete", args=[draft.pk, bonus.pk])
    assert post(client, world.adviser, delete).status_code == 302
    assert not Bonus.objects.filter(pk=bonus.pk).exists()


def test_a_frozen_rulebook_cannot_be_changed(client, world, regional):
    rule = regional.rules.get(code="job-pw")
    bonus = regional.bonuses.get()
    edit = reverse("placements:rulebook_rule_edit", args=[regional.pk, rule.pk])
    response = get(client, world.adviser, edit)
    assert response.status_code == 200
    assert "used by obligations and is frozen" in response.text
    assert "form" not in response.context or response.context.get("form") is None
    response = post(client, world.adviser, edit, rule_data(code="job-pw", rate="1"))
    assert response.status_code == 409
    rule.refresh_from_db()
    assert rule.rate == D("40000")
    for url in (
        reverse("placements:rulebook_rule_create", args=[regional.pk]),
        reverse("placements:rulebook_rule_delete", args=[regional.pk, rule.pk]),
        reverse("placements:rulebook_bonus_delete", args=[regional.pk, bonus.pk]),
    ):
        assert post(client, world.adviser, url, rule_data()).status_code == 409
    assert regional.rules.count() == 2 and regional.bonuses.count() == 1


def test_an_item_of_another_rulebook_is_not_found(client, world, regional, draft):
    rule = regional.rules.first()
    url = reverse("placements:rulebook_rule_edit", args=[draft.pk, rule.pk])
    assert get(client, world.adviser, url).status_code == 404


# --- Publish ---------------------------------------------------------------------------------


def test_publish_lists_the_engine_problems(client, world, draft):
    Rule.objects.create(
        rulebook=draft,
        code="job-pw-2",
        label="Nog een baan",
        block="job",
        kind="annual",
        rate=D("30000"),
        target_groups=["participatiewet"],
    )
    detail = get(client, world.adviser, reverse("placements:rulebook_detail", args=[draft.pk]))
    assert "Problems to fix before publishing" in detail.text
    response = post(client, world.adviser, reverse("placements:rulebook_publish", args=[draft.pk]))
    assert response.status_code == 200
    assert "This version cannot be published yet" in response.text
    assert "overlaps rule" in response.text
    draft.refresh_from_db()
    assert draft.status == Rulebook.Status.DRAFT


def test_publish(client, world, draft):
    url = reverse("placements:rulebook_publish", args=[draft.pk])
    assert get(client, world.adviser, url).status_code == 405
    response = post(client, world.adviser, url)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Rulebook.Status.PUBLISHED
    page = client.get(response.url)
    assert "has been published" in page.text


# --- Export and import -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["adviser", "officer_noordwijk"])
def test_export_downloads_json(client, world, regional, persona):
    url = reverse("placements:rulebook_export", args=[regional.pk])
    response = get(client, getattr(world, persona), url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert 'filename="regionale-rekenregels-20261.json"' in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["format"] == "sroi-rulebook/1"
    assert data["version"] == "2026.1"
    assert {r["code"] for r in data["rules"]} == {"job-pw", "activity"}
    assert data["rules"][0]["rate"] in ("100.00", "40000.00")


def _upload(content: bytes, name="rulebook.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_import_round_trip(client, world, regional):
    exported = get(client, world.adviser, reverse("placements:rulebook_export", args=[regional.pk]))
    data = json.loads(exported.content)
    data["version"] = "2027.1"
    response = post(
        client,
        world.adviser,
        reverse("placements:rulebook_import"),
        {
            "file": _upload(json.dumps(data).encode()),
            "owner": world.executing_body.pk,
            "municipalities": [world.noordwijk.pk],
        },
    )
    assert response.status_code == 302
    imported = Rulebook.objects.get(version="2027.1")
    assert imported.status == Rulebook.Status.DRAFT
    assert list(imported.municipalities.all()) == [world.noordwijk]
    assert imported.rules.count() == 2 and imported.bonuses.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "The file is not valid JSON"),
        (b"\xff\xfe\x00", "not a text file in UTF-8"),
        (b"[1, 2]", "one JSON object"),
        (
            json.dumps(
                {
                    "format": "sroi-rulebook/1",
                    "name": "X",
                    "version": "1",
                    "valid_from": "2027-01-01",
                    "rules": [
                        {"code": "a", "block": "job", "kind": "annual", "rate": "1"},
                        {"code": "b", "block": "job", "kind": "annual", "rate": "abc"},
                    ],
                }
            ).encode(),
            "rules[1].rate: not a decimal: &#x27;abc&#x27;",
        ),
        (
            json.dumps(
                {"format": "sroi-rulebook/1", "name": "X", "version": "1", "valid_from": "x"}
            ).encode(),
            "valid_from: expected a date as YYYY-MM-DD",
        ),
        (
            json.dumps(
                {
                    "format": "sroi-rulebook/1",
                    "name": "X",
                    "version": "1",
                    "valid_from": "2027-01-01",
                    "rules": [{"code": "a", "block": "job", "kind": "annual", "rat": "1"}],
                }
            ).encode(),
            "rules[0].rat: unknown field",
        ),
        (b'{"format": "x", "rules": NaN}', "The file is not valid JSON: NaN is not a number"),
    ],
)
def test_import_errors_are_shown_with_their_path(client, world, content, message):
    response = post(
        client,
        world.adviser,
        reverse("placements:rulebook_import"),
        {
            "file": _upload(content),
            "owner": world.executing_body.pk,
            "municipalities": [world.noordwijk.pk],
        },
    )
    assert response.status_code == 200
    assert message in response.text
    assert not Rulebook.objects.exists()


def test_import_offers_only_the_advisers_organisations(client, world):
    other = f.MunicipalityFactory(name="Elders")
    response = get(client, world.adviser_katwijk, reverse("placements:rulebook_import"))
    form = response.context["form"]
    assert list(form.fields["municipalities"].queryset) == [world.katwijk]
    assert list(form.fields["owner"].queryset) == [world.katwijk]
    response = get(client, world.adviser, reverse("placements:rulebook_import"))
    owners = set(response.context["form"].fields["owner"].queryset)
    assert owners == {world.noordwijk, world.katwijk, world.executing_body}
    assert other not in owners


# --- Query budgets ---------------------------------------------------------------------------


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(client, world):
    client.force_login(world.adviser)
    url = reverse("placements:rulebook_list")
    for _ in range(3):
        f.RulebookFactory(owner=world.executing_body, municipalities=[world.noordwijk])
    few = _count_queries(client, url)
    for n in range(27):
        rb = f.RulebookFactory(
            owner=world.executing_body,
            municipalities=[world.noordwijk, world.katwijk],
            based_on=Rulebook.objects.first(),
        )
        if n % 3 == 0:
            f.ObligationFactory(contract__municipality=world.noordwijk, rulebook=rb)
    many = _count_queries(client, url)
    assert few == many


def test_detail_query_count_does_not_grow_with_rules(client, world, draft):
    client.force_login(world.adviser)
    url = reverse("placements:rulebook_detail", args=[draft.pk])
    few = _count_queries(client, url)
    for n in range(30):
        Rule.objects.create(
            rulebook=draft,
            code=f"purchase-{n}",
            label=f"Inkoop {n}",
            block="social_purchase",
            kind="percentage",
            percent=D("50"),
            variant=f"v{n}",
        )
        Bonus.objects.create(rulebook=draft, code=f"b-{n}", label="B", amount=D("1"))
    many = _count_queries(client, url)
    assert few == many


def test_import_of_a_valid_rulebook_for_a_date(client, world):
    """The imported rulebook keeps the date from the file."""
    data = {
        "format": "sroi-rulebook/1",
        "name": "Nieuw",
        "version": "1",
        "valid_from": "2028-01-01",
        "rules": [{"code": "a", "label": "A", "block": "job", "kind": "annual", "rate": "1000.00"}],
    }
    post(
        client,
        world.adviser,
        reverse("placements:rulebook_import"),
        {
            "file": _upload(json.dumps(data).encode()),
            "owner": world.noordwijk.pk,
            "municipalities": [world.noordwijk.pk],
        },
    )
    assert Rulebook.objects.get(name="Nieuw").valid_from == date(2028, 1, 1)
