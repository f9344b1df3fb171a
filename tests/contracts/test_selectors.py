"""contracts.selectors: what each persona sees, progress annotations and query budgets."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from contracts import selectors
from contracts.models import Settlement
from placements.models import Contribution
from sroi.models import Role, User
from sroi.permissions import Action
from tests import factories as f

D = Decimal


def fresh(user):
    return User.objects.get(pk=user.pk)


@pytest.fixture
def data(world):
    """n1: Noordwijk/A (officer_noordwijk responsible), n2: Noordwijk/B, k1: Katwijk/A, each
    with an obligation; n3: Noordwijk/B below the threshold, without obligation."""
    colleague = f.UserFactory(email="collega.noordwijk@example.nl")
    f.MembershipFactory(user=colleague, organisation=world.noordwijk, role=Role.PROCUREMENT_OFFICER)
    n1 = f.ContractFactory(
        municipality=world.noordwijk,
        contractor=world.contractor_a,
        procurement_officer=world.officer_noordwijk,
    )
    n2 = f.ContractFactory(municipality=world.noordwijk, contractor=world.contractor_b)
    k1 = f.ContractFactory(municipality=world.katwijk, contractor=world.contractor_a)
    n3 = f.ContractFactory(
        municipality=world.noordwijk, contractor=world.contractor_b, below_threshold=True
    )
    obligations = {c: f.ObligationFactory(contract=c) for c in (n1, n2, k1)}
    return {
        "world": world,
        "colleague": colleague,
        "contracts": {"n1": n1, "n2": n2, "k1": k1, "n3": n3},
        "obligations": {k: obligations[c] for k, c in (("n1", n1), ("n2", n2), ("k1", k1))},
    }


VISIBLE = {
    "officer_noordwijk": {"n1", "n2", "n3"},  # the owner of n1
    "colleague": {"n1", "n2", "n3"},  # another officer of Noordwijk
    "officer_katwijk": {"k1"},
    "council_noordwijk": {"n1", "n2", "n3"},
    "council_katwijk": {"k1"},
    "adviser": {"n1", "n2", "n3", "k1"},
    "contractor_a_user": {"n1", "k1"},
    "contractor_b_user": {"n2", "n3"},
    "outsider": set(),
    "anonymous": set(),
}


def user_of(data, name):
    if name == "anonymous":
        return AnonymousUser()
    if name == "colleague":
        return fresh(data["colleague"])
    return fresh(getattr(data["world"], name))


@pytest.mark.parametrize("name", sorted(VISIBLE))
def test_contract_list_per_persona(data, name):
    user = user_of(data, name)
    expected = {data["contracts"][k] for k in VISIBLE[name]}
    assert set(selectors.contract_list(user=user)) == expected


@pytest.mark.parametrize("name", sorted(VISIBLE))
def test_obligation_list_per_persona(data, name):
    user = user_of(data, name)
    expected = {data["obligations"][k] for k in VISIBLE[name] if k != "n3"}
    assert set(selectors.obligation_list(user=user)) == expected


@pytest.mark.parametrize("name", sorted(VISIBLE))
def test_get_returns_visible_and_404s_the_rest(data, name):
    user = user_of(data, name)
    for key, contract in data["contracts"].items():
        if key in VISIBLE[name]:
            assert selectors.contract_get(user=user, pk=contract.pk) == contract
        else:
            with pytest.raises(Http404):
                selectors.contract_get(user=user, pk=contract.pk)
    for key, obligation in data["obligations"].items():
        if key in VISIBLE[name]:
            assert selectors.obligation_get(user=user, pk=obligation.pk) == obligation
        else:
            with pytest.raises(Http404):
                selectors.obligation_get(user=user, pk=obligation.pk)


def test_get_of_nonexistent_pk_is_404(data):
    with pytest.raises(Http404):
        selectors.contract_get(user=fresh(data["world"].adviser), pk=999_999)


@pytest.mark.parametrize("name", ["council_noordwijk", "contractor_a_user"])
def test_get_for_change_is_404_for_read_only_personas(data, name):
    user = user_of(data, name)
    n1 = data["contracts"]["n1"]
    assert selectors.contract_get(user=user, pk=n1.pk) == n1
    with pytest.raises(Http404):
        selectors.contract_get(user=user, pk=n1.pk, action=Action.CHANGE_CONTRACT)
    with pytest.raises(Http404):
        selectors.obligation_get(
            user=user, pk=data["obligations"]["n1"].pk, action=Action.SETTLE_OBLIGATION
        )


def test_filtered_queryset_stays_scoped(data):
    """A view passing its own (filtered) queryset cannot widen what the user sees."""
    from contracts.models import Contract

    user = fresh(data["world"].officer_katwijk)
    qs = Contract.objects.filter(value_excl_vat__gte=0)
    assert set(selectors.contract_list(user=user, qs=qs)) == {data["contracts"]["k1"]}


def test_obligation_history_hidden_from_outsiders(data):
    obligation = data["obligations"]["n1"]
    obligation.changes.create(kind="created", new_amount=obligation.amount)
    world = data["world"]
    assert (
        selectors.obligation_history(user=fresh(world.adviser), obligation=obligation).count() == 1
    )
    assert (
        selectors.obligation_history(
            user=fresh(world.contractor_a_user), obligation=obligation
        ).count()
        == 1
    )
    for name in ("officer_katwijk", "contractor_b_user", "outsider"):
        assert not selectors.obligation_history(
            user=fresh(getattr(world, name)), obligation=obligation
        ).exists()
    assert not selectors.obligation_history(user=AnonymousUser(), obligation=obligation).exists()


def test_settlement_list_scoped(data):
    world = data["world"]
    s = Settlement.objects.create(
        obligation=data["obligations"]["n1"],
        decision=Settlement.Decision.WAIVER,
        required_amount=D("25000"),
        realised_amount=D("0"),
        shortfall=D("25000"),
        reason="Inzet aangetoond",
        decided_by=world.adviser,
    )
    assert list(selectors.settlement_list(user=fresh(world.council_noordwijk))) == [s]
    assert list(selectors.settlement_list(user=fresh(world.contractor_a_user))) == [s]
    assert not selectors.settlement_list(user=fresh(world.council_katwijk)).exists()
    assert not selectors.settlement_list(user=fresh(world.outsider)).exists()


# --- Progress annotations ---------------------------------------------------------------------


def contribute(obligation, value, status, **kwargs):
    if status in (Contribution.Status.REJECTED, Contribution.Status.RETURNED):
        kwargs.setdefault("status_reason", "Bewijs ontbreekt")
    return f.ContributionFactory(obligation=obligation, value=D(value), status=status, **kwargs)


def test_with_progress_reported_and_realised(data):
    S = Contribution.Status
    n1, n2, k1 = (data["obligations"][k] for k in ("n1", "n2", "k1"))
    contribute(n1, "1000.00", S.SUBMITTED)
    contribute(n1, "2000.00", S.APPROVED)
    contribute(n1, "3000.50", S.APPROVED)
    contribute(n1, "400.25", S.RETURNED)
    contribute(n1, "700.00", S.REJECTED)
    contribute(k1, "123.45", S.APPROVED)
    contribute(k1, "99.99", S.REJECTED)
    # n2: only a rejected one
    contribute(n2, "5000.00", S.REJECTED)

    # n1: reported = 1,000.00 + 2,000.00 + 3,000.50 + 400.25 = 6,400.75 (rejected 700 excluded)
    #     realised = 2,000.00 + 3,000.50 = 5,000.50
    # k1: reported = realised = 123.45;  n2: 0.00 / 0.00
    expected = {
        n1.pk: (D("6400.75"), D("5000.50")),
        n2.pk: (D("0.00"), D("0.00")),
        k1.pk: (D("123.45"), D("123.45")),
    }
    got = {
        o.pk: (o.reported, o.realised)
        for o in selectors.obligation_list(user=fresh(data["world"].adviser))
    }
    assert got == expected

    # the same figures reach a contractor user (filtered on their own obligations only)
    got_a = {
        o.pk: (o.reported, o.realised)
        for o in selectors.obligation_list(user=fresh(data["world"].contractor_a_user))
    }
    assert got_a == {n1.pk: expected[n1.pk], k1.pk: expected[k1.pk]}

    detail = selectors.obligation_get(user=fresh(data["world"].council_noordwijk), pk=n1.pk)
    assert (detail.reported, detail.realised) == expected[n1.pk]


def test_with_progress_without_contributions_is_zero_not_none(data):
    for o in selectors.obligation_list(user=fresh(data["world"].adviser)):
        assert o.reported == D("0.00") and o.realised == D("0.00")


# --- Query budgets ----------------------------------------------------------------------------


def make_obligations(world, n):
    rulebook = f.RulebookFactory(municipalities=[world.noordwijk, world.katwijk])
    for i in range(n):
        municipality = world.noordwijk if i % 2 else world.katwijk
        contractor = world.contractor_a if i % 3 else world.contractor_b
        contract = f.ContractFactory(municipality=municipality, contractor=contractor)
        obligation = f.ObligationFactory(contract=contract, rulebook=rulebook)
        contribute(obligation, "100.00", Contribution.Status.APPROVED)
        contribute(obligation, "50.00", Contribution.Status.SUBMITTED)


def render_obligations(user) -> list:
    return [
        (
            o.contract.reference,
            o.contract.municipality.name,
            o.contract.contractor.name,
            o.policy.valid_from,
            o.rulebook.version if o.rulebook else None,
            o.reported,
            o.realised,
        )
        for o in selectors.obligation_list(user=user)
    ]


def render_contracts(user) -> list:
    rows = []
    for c in selectors.contract_list(user=user):
        obligation = getattr(c, "obligation", None)
        rows.append(
            (
                c.reference,
                c.municipality.name,
                c.contractor.name,
                c.procurement_officer.email if c.procurement_officer else "",
                obligation.amount if obligation else None,
            )
        )
    return rows


def count_queries(func, user) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as ctx:
        rows = func(user)
    return len(ctx.captured_queries), rows


@pytest.mark.parametrize("persona", ["adviser", "officer_noordwijk", "contractor_a_user"])
def test_obligation_list_query_budget_is_constant(world, persona):
    make_obligations(world, 3)
    small, rows_small = count_queries(render_obligations, fresh(getattr(world, persona)))
    make_obligations(world, 27)
    large, rows_large = count_queries(render_obligations, fresh(getattr(world, persona)))
    assert len(rows_large) > len(rows_small) > 0
    assert large == small
    # scope (≤ 3) + the list itself
    assert small <= 4
    # each row carries its own sums: 100 approved, 150 reported
    assert {(r[5], r[6]) for r in rows_large} == {(D("150.00"), D("100.00"))}


def test_contract_list_query_budget_is_constant(world, django_assert_num_queries):
    make_obligations(world, 3)
    f.ContractFactory(municipality=world.noordwijk, below_threshold=True)  # no obligation
    small, rows_small = count_queries(render_contracts, fresh(world.adviser))
    assert len(rows_small) == 4
    make_obligations(world, 27)
    for _ in range(5):
        f.ContractFactory(
            municipality=world.katwijk,
            below_threshold=True,
            procurement_officer=world.officer_katwijk,
        )
    adviser = fresh(world.adviser)
    with django_assert_num_queries(small):
        rows_large = render_contracts(adviser)
    assert len(rows_large) == 3 + 1 + 27 + 5


# --- Exact cents -----------------------------------------------------------------------------


def cents_exact(value) -> bool:
    return isinstance(value, Decimal) and value.as_tuple().exponent == -2


def test_with_progress_returns_exact_cents(data):
    S = Contribution.Status
    n1, n2 = data["obligations"]["n1"], data["obligations"]["n2"]
    contribute(n1, "46684.93", S.APPROVED)
    # 0.10 + 0.20 is not 0.30 in floating point
    contribute(n1, "0.10", S.APPROVED)
    contribute(n1, "0.20", S.SUBMITTED)
    rows = {o.pk: o for o in selectors.obligation_list(user=fresh(data["world"].adviser))}
    for row in rows.values():
        assert cents_exact(row.reported), row.reported
        assert cents_exact(row.realised), row.realised
    assert str(rows[n1.pk].realised) == "46685.03"
    assert str(rows[n1.pk].reported) == "46685.23"
    assert str(rows[n2.pk].realised) == str(rows[n2.pk].reported) == "0.00"


def test_realised_amount_and_with_progress_agree(data):
    from contracts.services import realised_amount

    S = Contribution.Status
    values = ["0.10", "0.20", "0.30", "46684.93", "23232.88", "0.01", "99999.99"]
    n1, k1 = data["obligations"]["n1"], data["obligations"]["k1"]
    for value in values:
        contribute(n1, value, S.APPROVED)
        contribute(k1, value, S.SUBMITTED)
    contribute(k1, "12.34", S.APPROVED)
    contribute(n1, "500.00", S.REJECTED)
    rows = {o.pk: o for o in selectors.obligation_list(user=fresh(data["world"].adviser))}
    for obligation in data["obligations"].values():
        row = rows[obligation.pk]
        realised = realised_amount(obligation)
        assert cents_exact(realised)
        assert realised == row.realised
        assert str(realised) == str(row.realised)
        assert row.realised <= row.reported  # realised ⊆ reported
    # 0.10 + 0.20 + 0.30 + 46,684.93 + 23,232.88 + 0.01 + 99,999.99 = 169,918.41
    assert realised_amount(n1) == D("169918.41")
    assert rows[k1.pk].reported == D("169930.75")  # the same plus 12.34 approved
