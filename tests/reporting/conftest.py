"""A reporting dataset over the ``world`` personas, built with the shared factories.

The expected figures in the tests are computed from the objects created here with plain
Python (``Dataset.expected``), never with the report code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.models import Obligation, Settlement
from placements.models import Contribution
from tests import factories as f

D = Decimal
AS_OF = date(2026, 11, 20)
FINAL = {"fulfilled", "fine", "buy_out", "waiver"}


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english_ui(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@dataclass
class Dataset:
    world: object
    contracts: list = field(default_factory=list)
    contributions: list = field(default_factory=list)
    settlements: list = field(default_factory=list)

    # -- independent expectations (plain Python over the created objects) -------------------

    def in_period(self, contract, start, end, as_of=AS_OF) -> bool:
        return (start is None or contract.award_date >= start) and contract.award_date <= min(
            end, as_of
        )

    def expected(self, municipality, start, end, as_of=AS_OF) -> dict:
        eod = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
        # Europe/Amsterdam: midnight is 23:00 UTC in winter; every timestamp below avoids
        # the hours in between, so comparing with the UTC day boundary minus one hour is safe.
        eod -= timedelta(hours=1)
        contracts = [
            c
            for c in self.contracts
            if c.municipality_id == municipality.pk and self.in_period(c, start, end, as_of)
        ]
        ids = {c.pk for c in contracts}
        obligations = {
            c.pk: o for c in contracts if (o := Obligation.objects.filter(contract=c).first())
        }
        contributions = [
            x
            for x in self.contributions
            if x.obligation.contract_id in ids and x.submitted_at < eod
        ]

        def decided(x):
            return x.reviewed_at is None or x.reviewed_at < eod

        rejected = [x for x in contributions if x.status == "rejected" and decided(x)]
        approved = [x for x in contributions if x.status == "approved" and decided(x)]
        settlements = [
            s for s in self.settlements if s.obligation.contract_id in ids and s.decided_at < eod
        ]
        settled_contracts = {s.obligation.contract_id for s in settlements if s.decision in FINAL}
        people = {}
        for x in approved:
            if x.candidate is not None:
                people.setdefault((x.candidate.target_group, x.block), set()).add(x.candidate_id)
        return {
            "contracts": len(contracts),
            "with_obligation": sum(1 for o in obligations.values() if o.deviation != "exemption"),
            "exempted": sum(1 for o in obligations.values() if o.deviation == "exemption"),
            "without_obligation": len(contracts) - len(obligations),
            # The world's policies: threshold EUR 100,000 excl. VAT.
            "findings": sum(
                1
                for c in contracts
                if c.pk not in obligations and c.value_excl_vat >= D("100000.00")
            ),
            "required": sum((o.amount for o in obligations.values()), D("0")),
            "reported": sum((x.value for x in contributions if x not in rejected), D("0")),
            "realised": sum((x.value for x in approved), D("0")),
            "settled": sum(
                (o.amount for pk, o in obligations.items() if pk in settled_contracts), D("0")
            ),
            "settled_count": len(settled_contracts),
            "fines": sum((s.amount for s in settlements if s.decision == "fine"), D("0")),
            "buy_outs": sum((s.amount for s in settlements if s.decision == "buy_out"), D("0")),
            "people": {key: len(v) for key, v in people.items()},
            "people_total": len({x.candidate_id for x in approved if x.candidate is not None}),
            "contribution_rows": len(contributions),
        }


def add_contribution(data, obligation, value, status, *, candidate=None, block="job", **dates):
    submitted = dates.get("submitted", at(date(2026, 4, 1)))
    reviewed = dates.get("reviewed", at(date(2026, 5, 1)) if status != "submitted" else None)
    x = f.ContributionFactory(
        obligation=obligation,
        value=D(value),
        status=status,
        status_reason="Reden" if status in ("rejected", "returned") else "",
        candidate=candidate,
        block=block,
    )
    Contribution.objects.filter(pk=x.pk).update(submitted_at=submitted, reviewed_at=reviewed)
    x.refresh_from_db()
    data.contributions.append(x)
    return x


def add_settlement(data, obligation, decision, amount, decided, adviser, **extra):
    s = Settlement.objects.create(
        obligation=obligation,
        decision=decision,
        required_amount=obligation.amount,
        realised_amount=D("0"),
        shortfall=obligation.amount,
        amount=D(amount),
        reason="Besluit",
        decided_by=adviser,
        **extra,
    )
    Settlement.objects.filter(pk=s.pk).update(decided_at=decided)
    s.refresh_from_db()
    data.settlements.append(s)
    return s


@pytest.fixture
def dataset(world) -> Dataset:
    """Noordwijk (2026 and one 2025 contract) and Katwijk, in every state the report counts."""
    w = world
    data = Dataset(world=w)

    def contract(municipality, award, value="500000.00", contractor=None, **kw):
        c = f.ContractFactory(
            municipality=municipality,
            contractor=contractor or w.contractor_a,
            award_date=award,
            start_date=award,
            end_date=award + timedelta(days=400),
            value_excl_vat=D(value),
            **kw,
        )
        data.contracts.append(c)
        return c

    nw, kw = w.noordwijk, w.katwijk
    a = w.contractor_a
    p1 = f.CandidateFactory(contractor=a, target_group="participatiewet")
    p2 = f.CandidateFactory(contractor=a, target_group="ww", initials="Q.Z.", birth_year=1961)
    p3 = f.CandidateFactory(contractor=a, target_group="wajong")

    # Noordwijk, 2026 --------------------------------------------------------------------
    c1 = contract(nw, date(2026, 2, 10))
    o1 = f.ObligationFactory(contract=c1, amount=D("25000.00"))
    add_contribution(data, o1, "10000.00", "approved", candidate=p1, block="job")
    add_contribution(data, o1, "5000.00", "approved", candidate=p1, block="internship")
    add_contribution(data, o1, "4000.50", "approved", candidate=p2, block="job")
    add_contribution(data, o1, "3000.00", "submitted", candidate=p3)
    add_contribution(data, o1, "2000.00", "rejected", candidate=p3)
    add_contribution(data, o1, "1000.25", "returned", candidate=None, block="social_purchase")
    # Approved, but only after the as-of date: reported then, not realised.
    add_contribution(
        data, o1, "700.00", "approved", candidate=p3, reviewed=at(AS_OF + timedelta(days=2))
    )
    # Rejected after the as-of date: still reported on the as-of date.
    add_contribution(
        data, o1, "300.00", "rejected", candidate=None, reviewed=at(AS_OF + timedelta(days=2))
    )
    # Submitted after the as-of date: not in the report at all.
    add_contribution(
        data, o1, "999.00", "submitted", candidate=p1, submitted=at(AS_OF + timedelta(days=1))
    )

    c2 = contract(nw, date(2026, 5, 5))
    f.ObligationFactory(
        contract=c2, amount=D("0.00"), deviation="exemption", deviation_reason="Geen arbeid"
    )
    contract(nw, date(2026, 8, 1))  # above the threshold without an obligation: a finding
    contract(nw, date(2026, 8, 15), value="50000.00")  # below the threshold: rightly without
    c5 = contract(nw, date(2026, 3, 1), contractor=w.contractor_b)
    o5 = f.ObligationFactory(contract=c5, amount=D("12000.00"))
    add_contribution(data, o5, "2000.00", "approved", candidate=None, block="social_activity")
    add_settlement(data, o5, "fine", "8000.00", at(date(2026, 10, 1)), w.adviser)
    c6 = contract(nw, date(2026, 7, 1), contractor=w.contractor_b)
    o6 = f.ObligationFactory(contract=c6, amount=D("6000.00"))
    add_settlement(
        data,
        o6,
        "extension",
        "0",
        at(date(2026, 9, 1)),
        w.adviser,
        new_deadline=o6.deadline + timedelta(days=90),
    )
    add_settlement(data, o6, "buy_out", "5500.00", at(date(2026, 11, 1)), w.adviser)
    c7 = contract(nw, date(2026, 1, 20))
    o7 = f.ObligationFactory(contract=c7, amount=D("3000.00"))
    # Decided after the as-of date: not settled yet on the as-of date.
    add_settlement(data, o7, "waiver", "0", at(AS_OF + timedelta(days=3)), w.adviser)
    # Awarded after the as-of date: not known on the as-of date.
    c8 = contract(nw, AS_OF + timedelta(days=2))
    f.ObligationFactory(contract=c8, amount=D("77777.00"))

    # Noordwijk, 2025 --------------------------------------------------------------------
    c9 = contract(nw, date(2025, 6, 1))
    o9 = f.ObligationFactory(contract=c9, amount=D("9000.00"))
    add_contribution(
        data, o9, "4500.00", "approved", candidate=p2, block="bbl", submitted=at(date(2025, 9, 1))
    )

    # Katwijk ----------------------------------------------------------------------------
    k1 = contract(w.katwijk, date(2026, 4, 1), contractor=w.contractor_b)
    ok1 = f.ObligationFactory(contract=k1, amount=D("40000.00"))
    pk = f.CandidateFactory(contractor=w.contractor_b, target_group="statushouder")
    add_contribution(data, ok1, "31000.00", "approved", candidate=pk, block="job")
    add_settlement(data, ok1, "buy_out", "9000.00", at(date(2026, 6, 1)), w.adviser)
    contract(kw, date(2026, 9, 9))  # a Katwijk finding
    return data
