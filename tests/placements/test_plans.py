"""Plans of approach: submitted by the contractor (or the adviser on their behalf), approved or
returned by the adviser, resubmitted as a new version."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from contracts.models import Obligation
from placements import plans
from placements.models import PlanItem, PlanOfApproach
from tests import factories as f

P = PlanOfApproach.Status


def item(**overrides):
    data = {
        "block": "job",
        "planned_count": 2,
        "planned_amount": Decimal("40000.00"),
        "planned_start": date(2026, 3, 1),
        "planned_end": date(2026, 12, 31),
        "description": "Twee banen via het WSP",
    }
    data.update(overrides)
    return data


@pytest.fixture
def data(world):
    obligation_a = f.ObligationFactory(
        contract__municipality=world.noordwijk, contract__contractor=world.contractor_a
    )
    obligation_b = f.ObligationFactory(
        contract__municipality=world.katwijk, contract__contractor=world.contractor_b
    )
    return SimpleNamespace(world=world, a=obligation_a, b=obligation_b)


def submit(data, user=None, obligation=None, items=None):
    return plans.submit_plan(
        acting_user=user or data.world.contractor_a_user,
        obligation=obligation or data.a,
        items=items if items is not None else [item(), item(block="bbl", planned_count=1)],
    )


# --- Submitting ------------------------------------------------------------------------------


def test_contractor_submits_version_1(data):
    plan = submit(data)
    plan.refresh_from_db()
    assert (plan.version, plan.status) == (1, P.SUBMITTED)
    assert plan.submitted_by == data.world.contractor_a_user
    assert plan.submitted_at is not None
    assert [i.block for i in plan.items.order_by("pk")] == ["job", "bbl"]
    assert plan.items.first().planned_amount == Decimal("40000.00")


def test_adviser_submits_on_behalf_of_the_contractor(data):
    plan = submit(data, user=data.world.adviser)
    assert plan.submitted_by == data.world.adviser


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_b_user",
        "officer_noordwijk",
        "council_noordwijk",
        "officer_katwijk",
        "functional_admin",
        "outsider",
    ],
)
def test_others_cannot_submit(data, persona):
    with pytest.raises(PermissionDenied):
        submit(data, user=getattr(data.world, persona))
    assert not PlanOfApproach.objects.exists()


def test_anonymous_cannot_submit(data):
    with pytest.raises(PermissionDenied):
        submit(data, user=AnonymousUser())


def test_plan_needs_a_line(data):
    with pytest.raises(ValidationError, match="at least one line"):
        submit(data, items=[])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"planned_end": date(2026, 1, 1)}, "Line 1: planned end: The end cannot be before"),
        ({"planned_amount": Decimal("-1")}, "Line 1: planned amount:"),
        ({"planned_count": None, "planned_amount": None}, "Line 1: plan a number of people"),
        ({"block": "yacht"}, "Line 1: block:"),
        ({"planned_start": None}, "Line 1: planned start:"),
    ],
)
def test_bad_lines_are_refused_with_their_line_number(data, overrides, message):
    with pytest.raises(ValidationError) as exc:
        submit(data, items=[item(**overrides)])
    assert any(m.startswith(message) for m in exc.value.messages), exc.value.messages
    assert not PlanOfApproach.objects.exists()
    assert not PlanItem.objects.exists()


def test_second_line_error_names_line_2(data):
    with pytest.raises(ValidationError) as exc:
        submit(data, items=[item(), item(planned_end=date(2020, 1, 1))])
    assert exc.value.messages[0].startswith("Line 2:")


def test_unknown_item_field_is_a_programming_error(data):
    with pytest.raises(TypeError):
        submit(data, items=[item(bsn="123456782")])


def test_cannot_submit_while_a_plan_awaits_review(data):
    submit(data)
    with pytest.raises(ValidationError, match="waiting for the adviser"):
        submit(data)
    assert PlanOfApproach.objects.count() == 1


def test_cannot_submit_for_a_settled_obligation(data):
    Obligation.objects.filter(pk=data.a.pk).update(status=Obligation.Status.SETTLED)
    with pytest.raises(ValidationError, match="settled"):
        submit(data)


# --- Reviewing -------------------------------------------------------------------------------


def test_adviser_approves(data):
    plan = plans.approve_plan(acting_user=data.world.adviser, plan=submit(data))
    plan.refresh_from_db()
    assert plan.status == P.APPROVED
    assert plan.reviewed_by == data.world.adviser
    assert plan.reviewed_at is not None


def test_adviser_returns_with_comment_then_contractor_resubmits_version_2(data):
    first = submit(data)
    plans.return_plan(acting_user=data.world.adviser, plan=first, comment="Meer BBL-plekken graag")
    first.refresh_from_db()
    assert (first.status, first.review_comment) == (P.RETURNED, "Meer BBL-plekken graag")

    second = submit(data, items=[item(block="bbl", planned_count=3)])
    assert (second.version, second.status) == (2, P.SUBMITTED)
    assert plans.current_plan(user=data.world.adviser, obligation=data.a) == second
    # The returned version is kept, unchanged, as history.
    first.refresh_from_db()
    assert first.status == P.RETURNED
    assert first.items.count() == 2
    history = plans.plan_history(user=data.world.adviser, obligation=data.a)
    assert [p.version for p in history] == [2, 1]

    plans.approve_plan(acting_user=data.world.adviser, plan=second)
    # A revised plan after approval is a new version that needs approval again.
    third = submit(data)
    assert (third.version, third.status) == (3, P.SUBMITTED)


@pytest.mark.parametrize("comment", ["", "   "])
def test_return_needs_a_comment(data, comment):
    plan = submit(data)
    with pytest.raises(ValidationError) as exc:
        plans.return_plan(acting_user=data.world.adviser, plan=plan, comment=comment)
    assert "comment" in exc.value.message_dict
    plan.refresh_from_db()
    assert plan.status == P.SUBMITTED


@pytest.mark.parametrize(
    "persona",
    [
        "contractor_a_user",
        "contractor_b_user",
        "officer_noordwijk",
        "council_noordwijk",
        "officer_katwijk",
        "functional_admin",
        "outsider",
    ],
)
def test_only_the_adviser_reviews(data, persona):
    plan = submit(data)
    user = getattr(data.world, persona)
    with pytest.raises(PermissionDenied):
        plans.approve_plan(acting_user=user, plan=plan)
    with pytest.raises(PermissionDenied):
        plans.return_plan(acting_user=user, plan=plan, comment="nee")
    plan.refresh_from_db()
    assert plan.status == P.SUBMITTED


def test_adviser_of_another_municipality_cannot_review(data):
    from sroi.models import Role

    katwijk_adviser = f.UserFactory()
    f.MembershipFactory(user=katwijk_adviser, organisation=data.world.katwijk, role=Role.ADVISER)
    plan = submit(data)
    with pytest.raises(PermissionDenied):
        plans.approve_plan(acting_user=katwijk_adviser, plan=plan)


def test_a_reviewed_plan_cannot_be_reviewed_again(data):
    plan = plans.approve_plan(acting_user=data.world.adviser, plan=submit(data))
    with pytest.raises(ValidationError, match="Only a submitted plan"):
        plans.return_plan(acting_user=data.world.adviser, plan=plan, comment="toch niet")
    with pytest.raises(ValidationError, match="Only a submitted plan"):
        plans.approve_plan(acting_user=data.world.adviser, plan=plan)


def test_an_old_version_cannot_be_reviewed(data):
    first = submit(data)
    plans.return_plan(acting_user=data.world.adviser, plan=first, comment="aanvullen")
    submit(data)
    # Even forced back to submitted, the old version is superseded by version 2.
    PlanOfApproach.objects.filter(pk=first.pk).update(status=P.SUBMITTED)
    with pytest.raises(ValidationError, match="newer version"):
        plans.approve_plan(acting_user=data.world.adviser, plan=first)


# --- Reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("adviser", True),
        ("contractor_a_user", True),
        ("officer_noordwijk", True),
        ("council_noordwijk", True),
        ("contractor_b_user", False),
        ("officer_katwijk", False),
        ("outsider", False),
    ],
)
def test_current_plan_is_scoped(data, persona, sees):
    plan = submit(data)
    current = plans.current_plan(user=getattr(data.world, persona), obligation=data.a)
    assert (current == plan) == sees
    if not sees:
        assert current is None


def test_no_plan_yet(data):
    assert plans.current_plan(user=data.world.adviser, obligation=data.a) is None


def test_database_refuses_a_returned_plan_without_comment_and_reversed_dates(data):
    from django.db import IntegrityError, transaction

    plan = submit(data)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanOfApproach.objects.filter(pk=plan.pk).update(status=P.RETURNED, review_comment="")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanItem.objects.create(
            plan=plan, block="job", planned_start=date(2026, 2, 1), planned_end=date(2026, 1, 1)
        )
