"""Demo data for development and demonstrations (``manage.py seed_demo``).

DEVELOPMENT ONLY: every demo user gets the same, printed password.

Builds the situation of domain.md: Noordwijk, Katwijk and the HLTSamen municipalities, one
executing body with the SROI adviser, example policies and the example rulebook, about twenty
contractors, sixty contracts in every state relative to today and about two hundred
contributions in every status. Everything that carries a business rule goes through the real
services (``create_contract`` computes the obligation, ``submit_contribution`` values a
contribution with the engine, ``settle_obligation`` decides), so the numbers are the ones the
application itself would produce. A fixed random seed makes the data the same on every run.

Idempotent: organisations, policies, rulebooks, users and contractors are looked up by their
natural keys; contracts are only created when no demo contract (reference ``DEMO-…``) exists.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from contracts import services as contract_services
from contracts.models import (
    Contract,
    Contractor,
    ContractorContact,
    ContractorUser,
    Obligation,
    PolicyBase,
    PsoDiscount,
    Settlement,
    SroiPolicy,
)
from contracts.obligation_calc import Deviation
from placements import services as placement_services
from placements import valuation
from placements.models import Candidate, Contribution, Rulebook
from placements.rulebooks import store_engine_rulebook

from . import services
from .models import Organisation, Role, User
from .permissions import clear_scope_cache, requires_two_factor

SEED = 2026
DEMO_PASSWORD = "demo-sroi-2026"  # noqa: S105 - development-only, printed on purpose
ADMIN_URL = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/"
REFERENCE_PREFIX = "DEMO-"
CENT = Decimal("0.01")

MUNICIPALITIES = (
    ("Noordwijk", "NWK"),
    ("Katwijk", "KWK"),
    ("Hillegom", "HLG"),
    ("Lisse", "LIS"),
    ("Teylingen", "TEY"),
)
SHARED_SERVICE = "HLTSamen"
SHARED_SERVICE_SERVES = ("Hillegom", "Lisse", "Teylingen")
EXECUTING_BODY = "SROI-coördinatie Noordwijk"

PSO_DISCOUNTS = {
    "aspirant": Decimal("5"),
    "basistrede": Decimal("10"),
    "trede_1": Decimal("15"),
    "trede_2": Decimal("20"),
    "trede_3": Decimal("25"),
    "30_plus": Decimal("30"),
}
POLICY_NOTES = (
    "VOORBEELD (demogegevens): drempel € 100.000 excl. btw, 5% van de opdrachtwaarde, 2% bij een "
    "arbeidsaandeel onder 30% (alleen met schriftelijke onderbouwing), 90 dagen uitlooptermijn, "
    "PSO-kortingen per trede. Geen vastgesteld beleid."
)

# (name, e-mail slug, city, PSO level or "")
CONTRACTORS = (
    ("Bouwbedrijf Van der Meer B.V.", "vandermeer", "Noordwijk", "trede_2"),
    ("Groenvoorziening De Vries", "devriesgroen", "Katwijk", ""),
    ("Wegenbouw Duinstreek B.V.", "duinstreek", "Noordwijkerhout", "trede_1"),
    ("Installatietechniek Jansen", "jansen", "Lisse", ""),
    ("Schoonmaakbedrijf Bakker & Zn.", "bakker", "Hillegom", "30_plus"),
    ("Bollenstreek Infra B.V.", "bollenstreekinfra", "Sassenheim", ""),
    ("Timmerfabriek Kuijpers", "kuijpers", "Voorhout", ""),
    ("Elektro Visser B.V.", "elektrovisser", "Katwijk", "basistrede"),
    ("Hoveniersbedrijf Van Dijk", "vandijk", "Noordwijk", ""),
    ("Rioleringstechniek Smit", "smit", "Leiden", ""),
    ("Schilderwerken Mulder", "mulder", "Lisse", "aspirant"),
    ("Dakwerken De Boer", "deboer", "Hillegom", ""),
    ("Vervoersbedrijf Kustlijn B.V.", "kustlijn", "Katwijk", "trede_3"),
    ("ICT-Diensten Rijnland", "rijnlandict", "Leiden", ""),
    ("Catering Het Zilt", "hetzilt", "Noordwijk", ""),
    ("Beveiliging Holland Rijnland", "hrbeveiliging", "Leiden", ""),
    ("Straatmakers Hendriks", "hendriks", "Teylingen", ""),
    ("Meubelmakerij Bos", "bos", "Sassenheim", ""),
    ("Civiel Techniek Peters B.V.", "peters", "Haarlem", "trede_1"),
    ("Kantoorinrichting Dekker", "dekker", "Katwijk", ""),
)
EXPIRED_PSO_INDEX = 10  # Schilderwerken Mulder: certificate ran out, so no discount applies
CONTRACTOR_USER_INDEXES = (0, 1)  # portal users for Van der Meer and De Vries

STREETS = (
    "Hoofdstraat",
    "Industrieweg",
    "Bedrijvenpark",
    "Duinweg",
    "Kanaalweg",
    "Stationsweg",
    "Havenstraat",
    "Bollenlaan",
    "Zeeweg",
    "Molenwerf",
)
FIRST_NAMES = (
    "Anouk",
    "Bram",
    "Carla",
    "Dirk",
    "Esther",
    "Frank",
    "Ilse",
    "Joost",
    "Karin",
    "Maarten",
    "Nicole",
    "Pieter",
    "Sanne",
    "Thijs",
    "Wendy",
)
LAST_NAMES = (
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
)
FUNCTIONS = ("Directeur", "Projectleider", "HR-adviseur", "Bedrijfsleider", "Office manager")

TITLES = {
    Contract.Kind.WORKS: (
        "Reconstructie Hoofdstraat",
        "Vervanging riolering",
        "Onderhoud bruggen en kademuren",
        "Herinrichting stationsomgeving",
        "Nieuwbouw sporthal",
        "Renovatie gemeentehuis",
        "Aanleg fietspad langs de duinen",
        "Groot onderhoud wegen",
    ),
    Contract.Kind.SERVICES: (
        "Groenonderhoud openbare ruimte",
        "Schoonmaak gemeentelijke gebouwen",
        "Leerlingenvervoer",
        "Beheer ICT-werkplekken",
        "Beveiliging evenementen",
        "Catering raadhuis",
        "Onderhoud openbare verlichting",
    ),
    Contract.Kind.SUPPLIES: (
        "Levering kantoormeubilair",
        "Levering straatmeubilair",
        "Levering werkkleding",
        "Levering laptops",
        "Levering strooizout",
    ),
}
VALUE_RANGES = {  # euros, excl. VAT
    Contract.Kind.WORKS: (180_000, 2_400_000),
    Contract.Kind.SERVICES: (120_000, 1_100_000),
    Contract.Kind.SUPPLIES: (100_000, 600_000),
}

# How many contracts in which state (60 in total).
SCENARIOS = (
    ("below_threshold", 6),
    ("deviation", 1),
    ("fresh", 5),
    ("on_track", 10),
    ("behind", 9),
    ("deadline_near", 4),
    ("overdue", 8),
    ("fulfilled", 6),
    ("settled_fulfilled", 3),
    ("settled_fine", 3),
    ("settled_buy_out", 2),
    ("settled_waiver", 2),
    ("extension", 1),
)
CONTRIBUTIONS_TARGET = 200
BEHIND_MARGIN = Decimal("0.10")

JOB_GROUPS = (
    "participatiewet",
    "participatiewet",
    "participatiewet",
    "ww",
    "wia",
    "wajong",
    "banenafspraak",
    "banenafspraak",
    "nug",
    "statushouder",
    "early_school_leaver",
    "praktijkonderwijs_vso",
    "other",
)
YOUNG_GROUPS = ("student", "early_school_leaver", "praktijkonderwijs_vso")
BLOCK_WEIGHTS = (
    ("job", 34),
    ("work_experience", 14),
    ("internship", 12),
    ("bbl", 10),
    ("social_purchase", 14),
    ("social_activity", 10),
    ("training", 6),
)
SOCIAL_ENTERPRISES = (
    "Sociaal Werkbedrijf DZB Leiden",
    "Kringloop Duin- en Bollenstreek",
    "Groenwerk Bollenstreek (sociale onderneming)",
    "Koffiebranderij Het Werkpaleis",
)
SUBCONTRACTORS = ("Grondwerk Zwetsloot", "Stratenmakers Noord", "Installatie Van Rijn")
RETURN_REASONS = (
    "Graag de getekende arbeidsovereenkomst toevoegen als bewijs.",
    "Het aantal uren per week ontbreekt in de onderbouwing; graag aanvullen.",
    "Graag de factuur van de sociale onderneming meesturen.",
)
REJECT_REASONS = (
    "De kandidaat viel op de startdatum niet onder een doelgroep.",
    "Dubbel gemeld: deze inzet is al eerder ingediend en goedgekeurd.",
    "De inzet valt buiten de looptijd van deze opdracht.",
)
SETTLEMENT_REASONS = {
    Settlement.Decision.FULFILLED: "Alle bijdragen geverifieerd; de verplichting is gerealiseerd.",
    Settlement.Decision.FINE: (
        "Tekort na herinneringen niet ingelopen; boete ter hoogte van het tekort, verrekend met "
        "de laatste termijnbetaling."
    ),
    Settlement.Decision.BUY_OUT: "Opdrachtnemer koopt het resterende tekort af conform bestek.",
    Settlement.Decision.WAIVER: (
        "Aantoonbaar inspanning geleverd (vacatures gemeld bij Servicepunt Werk, geen geschikte "
        "kandidaten); tekort kwijtgescholden."
    ),
    Settlement.Decision.EXTENSION: "Herstelperiode van vier maanden; plan van aanpak ontvangen.",
}


@dataclass
class DemoUser:
    role: str
    email: str
    organisation: str


@dataclass
class DemoResult:
    created: bool
    today: date
    counts: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    users: list[DemoUser] = field(default_factory=list)


# --- States ----------------------------------------------------------------------------------


def elapsed_fraction(obligation: Obligation, today: date) -> Decimal:
    total = (obligation.deadline - obligation.window_start).days
    if total <= 0:
        return Decimal(1)
    done = (today - obligation.window_start).days
    return min(max(Decimal(done) / Decimal(total), Decimal(0)), Decimal(1))


STATES = ("on_track", "behind", "overdue", "fulfilled", "settled")


def obligation_state(obligation: Obligation, realised: Decimal, today: date) -> str:
    """The monitoring state of an obligation, as the demo reports it.

    ``settled`` (final decision), ``overdue`` (deadline passed, not settled), ``fulfilled``
    (realised ≥ required, not settled), else ``behind`` (the realised share of the obligation
    trails the elapsed share of the counting window by more than 10 points) or ``on_track``.
    """
    if obligation.status == Obligation.Status.SETTLED:
        return "settled"
    if realised >= obligation.amount:
        return "fulfilled"
    if obligation.deadline < today:
        return "overdue"
    share = realised / obligation.amount if obligation.amount else Decimal(1)
    behind = share < elapsed_fraction(obligation, today) - BEHIND_MARGIN
    return "behind" if behind else "on_track"


def state_counts(today: date) -> dict[str, int]:
    """Demo contracts per state (and settlements per decision)."""
    from contracts.selectors import with_progress

    contracts = Contract.objects.filter(reference__startswith=REFERENCE_PREFIX)
    counts: Counter[str] = Counter(dict.fromkeys(STATES, 0))
    counts["below_threshold (no obligation)"] = contracts.filter(obligation__isnull=True).count()
    obligations = with_progress(Obligation.objects.filter(contract__in=contracts))
    for obligation in obligations:
        counts[obligation_state(obligation, obligation.realised, today)] += 1
    settlements = Settlement.objects.filter(obligation__contract__in=contracts)
    for decision in settlements.values_list("decision", flat=True):
        counts[f"settlement: {decision}"] += 1
    counts["with a deviation"] = obligations.exclude(deviation="").count()
    return dict(counts)


# --- Entry point -----------------------------------------------------------------------------


@transaction.atomic
def seed(*, today: date | None = None) -> DemoResult:
    today = today or date.today()
    rng = random.Random(SEED)  # noqa: S311 - demo data, not security
    password_hash = make_password(DEMO_PASSWORD)

    orgs = _organisations()
    municipalities = [orgs[name] for name, _code in MUNICIPALITIES]
    _policies(municipalities)
    admin = _superuser(password_hash)
    _rulebooks(orgs[EXECUTING_BODY], municipalities)
    contractors = _contractors(rng)
    users = _users(admin, orgs, contractors, password_hash)
    _two_factor_devices(users.values())

    created = not Contract.objects.filter(reference__startswith=REFERENCE_PREFIX).exists()
    if created:
        _Builder(rng, today, orgs, contractors, users).build()
    result = DemoResult(created=created, today=today, users=_user_table(users))
    result.counts = demo_counts()
    result.states = state_counts(today)
    return result


def demo_counts() -> dict[str, int]:
    contracts = Contract.objects.filter(reference__startswith=REFERENCE_PREFIX)
    return {
        "municipalities": Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).count(),
        "organisations": Organisation.objects.count(),
        "users": User.objects.count(),
        "contractors": Contractor.objects.count(),
        "policies": SroiPolicy.objects.count(),
        "rulebooks": Rulebook.objects.count(),
        "contracts": contracts.count(),
        "obligations": Obligation.objects.filter(contract__in=contracts).count(),
        "settlements": Settlement.objects.filter(obligation__contract__in=contracts).count(),
        "candidates": Candidate.objects.count(),
        "contributions": Contribution.objects.filter(obligation__contract__in=contracts).count(),
    }


# --- Organisations, policies, rulebooks ------------------------------------------------------


def _organisation(name: str, kind: str) -> Organisation:
    org, _ = Organisation.objects.get_or_create(name=name, defaults={"kind": kind})
    return org


def _organisations() -> dict[str, Organisation]:
    orgs = {name: _organisation(name, Organisation.Kind.MUNICIPALITY) for name, _ in MUNICIPALITIES}
    hlt = _organisation(SHARED_SERVICE, Organisation.Kind.SHARED_SERVICE)
    body = _organisation(EXECUTING_BODY, Organisation.Kind.EXECUTING_BODY)
    _serve(hlt, [orgs[name] for name in SHARED_SERVICE_SERVES])
    _serve(body, list(orgs.values()))
    orgs[SHARED_SERVICE] = hlt
    orgs[EXECUTING_BODY] = body
    return orgs


def _serve(body: Organisation, municipalities: list[Organisation]) -> None:
    missing = [m for m in municipalities if not body.serves.filter(pk=m.pk).exists()]
    if missing:
        body.serves.add(*missing)


def _policies(municipalities: list[Organisation]) -> None:
    for municipality in municipalities:
        policy = SroiPolicy.objects.filter(
            municipality=municipality, valid_from=date(2020, 1, 1)
        ).first()
        if policy is None:
            policy = SroiPolicy(
                municipality=municipality,
                valid_from=date(2020, 1, 1),
                threshold=Decimal("100000.00"),
                default_percentage=Decimal("5.00"),
                base=PolicyBase.CONTRACT_VALUE,
                reduced_percentage=Decimal("2.00"),
                reduced_labour_share_below=Decimal("30.00"),
                grace_days=90,
                notes=POLICY_NOTES,
            )
            policy.full_clean()
            policy.save()
        for level, percentage in PSO_DISCOUNTS.items():
            if not PsoDiscount.objects.filter(policy=policy, level=level).exists():
                discount = PsoDiscount(policy=policy, level=level, discount_percentage=percentage)
                discount.full_clean()
                discount.save()


def _rulebooks(owner: Organisation, municipalities: list[Organisation]) -> None:
    """The example rulebook (public values, ``is_example``) as published, plus the same values
    as version 2020.1 so contracts awarded before 2026 also have a rulebook frozen on them."""
    example = valuation.example_rulebook()
    earlier = replace(example, version="2020.1", valid_from=date(2020, 1, 1))
    stored = {}
    for engine_rulebook in (earlier, example):
        rulebook = Rulebook.objects.filter(
            owner=owner, name=engine_rulebook.name, version=engine_rulebook.version
        ).first()
        if rulebook is None:
            rulebook = store_engine_rulebook(
                engine_rulebook,
                owner=owner,
                municipalities=municipalities,
                status=Rulebook.Status.PUBLISHED,
            )
        stored[engine_rulebook.version] = rulebook
    current = stored[example.version]
    if current.based_on_id is None:
        current.based_on = stored[earlier.version]
        current.save(update_fields=["based_on"])


# --- Users -----------------------------------------------------------------------------------


def _user(email: str, full_name: str, password_hash: str, *, superuser: bool = False) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    user = User(email=email, full_name=full_name, is_superuser=superuser, is_staff=superuser)
    user.password = password_hash  # one hash for all demo users: hashing is slow on purpose
    user.full_clean()
    user.save()
    return user


def _superuser(password_hash: str) -> User:
    return _user("admin@demo.sroi.nl", "Demo-beheerder (superuser)", password_hash, superuser=True)


STAFF_USERS = (
    # (e-mail, full name, role, organisation)
    ("adviseur@demo.sroi.nl", "Sanne de Adviseur", Role.ADVISER, EXECUTING_BODY),
    ("inkoper@noordwijk.demo.sroi.nl", "Pieter Inkoop", Role.PROCUREMENT_OFFICER, "Noordwijk"),
    ("inkoper@katwijk.demo.sroi.nl", "Karin Inkoop", Role.PROCUREMENT_OFFICER, "Katwijk"),
    ("raad@noordwijk.demo.sroi.nl", "Joost Raadslid", Role.COUNCIL_VIEWER, "Noordwijk"),
    ("beheer@demo.sroi.nl", "Wendy Beheer", Role.FUNCTIONAL_ADMIN, EXECUTING_BODY),
)


def _users(admin, orgs, contractors, password_hash) -> dict[str, User]:
    users = {"admin": admin}
    for email, name, role, org_name in STAFF_USERS:
        user = _user(email, name, password_hash)
        services.grant_role(acting_user=admin, user=user, organisation=orgs[org_name], role=role)
        users[email] = user
    for index in CONTRACTOR_USER_INDEXES:
        contractor = contractors[index]
        slug = CONTRACTORS[index][1]
        email = f"opdrachtnemer@{slug}.demo.sroi.nl"
        user = _user(email, f"Portaal {contractor.name}", password_hash)
        link = ContractorUser.objects.filter(user=user).first()
        if link is None:
            link = ContractorUser(user=user, contractor=contractor)
            link.full_clean()
            link.save()
        services.sync_user_access(user)
        users[email] = user
    return users


DEMO_EMAIL_SUFFIXES = ("@demo.sroi.nl", ".demo.sroi.nl")


def is_demo_email(email: str) -> bool:
    return email.lower().endswith(DEMO_EMAIL_SUFFIXES)


def _two_factor_devices(users) -> None:
    """Every demo user who must log in with a second factor gets a confirmed authenticator
    with their own random key, so the demo works on a machine without a phone:
    ``manage.py demo_otp_code <e-mail>`` prints the current code."""
    for user in users:
        clear_scope_cache(user)
        if requires_two_factor(user) and not TOTPDevice.objects.filter(user=user).exists():
            TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)


def current_totp_code(user: User) -> tuple[str, int]:
    """The demo user's current 6-digit code and the seconds it stays valid."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        raise LookupError("no authenticator")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    remaining = device.step - (int(totp.time) - device.t0) % device.step
    return f"{totp.token():0{device.digits}d}", remaining


def _user_table(users: dict[str, User]) -> list[DemoUser]:
    rows = [DemoUser(str(Role(role).label), email, org) for email, _n, role, org in STAFF_USERS]
    for index in CONTRACTOR_USER_INDEXES:
        name, slug = CONTRACTORS[index][:2]
        rows.append(DemoUser("Opdrachtnemer (portaal)", f"opdrachtnemer@{slug}.demo.sroi.nl", name))
    rows.append(DemoUser("Superuser (operator)", users["admin"].email, "–"))
    return rows


# --- Contractors -----------------------------------------------------------------------------


def _kvk_numbers(rng: random.Random, n: int) -> list[str]:
    numbers: list[str] = []
    while len(numbers) < n:
        number = f"{rng.randint(10_000_000, 99_999_999)}"
        if number not in numbers:
            numbers.append(number)
    return numbers


def _contractors(rng: random.Random) -> list[Contractor]:
    kvk_numbers = _kvk_numbers(rng, len(CONTRACTORS))
    result = []
    for index, (name, slug, city, pso_level) in enumerate(CONTRACTORS):
        street = f"{rng.choice(STREETS)} {rng.randint(1, 180)}"
        postal_code = f"{rng.randint(2150, 2240)} {rng.choice('ABCDEGHJKLMNPRST')}"
        postal_code += rng.choice("ABCDEGHJKLMNPRSTVWXZ")
        contacts = [
            (f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", rng.choice(FUNCTIONS))
            for _ in range(rng.randint(1, 2))
        ]
        phone = f"0{rng.choice(['71', '252', '23'])}-{rng.randint(1_000_000, 9_999_999)}"
        contractor = Contractor.objects.filter(kvk_number=kvk_numbers[index]).first()
        if contractor is None:
            pso_from, pso_until = None, None
            if pso_level:
                pso_from, pso_until = date(2021, 1, 1), date(2029, 12, 31)
                if index == EXPIRED_PSO_INDEX:
                    pso_until = date(2023, 6, 30)
            contractor = Contractor(
                name=name,
                kvk_number=kvk_numbers[index],
                street_address=street,
                postal_code=postal_code,
                city=city,
                pso_level=pso_level,
                pso_valid_from=pso_from,
                pso_valid_until=pso_until,
            )
            contractor.full_clean()
            contractor.save()
        for contact_name, function in contacts:
            if not ContractorContact.objects.filter(
                contractor=contractor, name=contact_name
            ).exists():
                email_name = contact_name.split(" ")[0].lower()
                contact = ContractorContact(
                    contractor=contractor,
                    name=contact_name,
                    function=function,
                    email=f"{email_name}@{slug}.example.nl",
                    phone=phone,
                )
                contact.full_clean()
                contact.save()
        result.append(contractor)
    return result


# --- Contracts, contributions, settlements ---------------------------------------------------


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


class _Builder:
    def __init__(self, rng, today, orgs, contractors, users):
        self.rng = rng
        self.today = today
        self.orgs = orgs
        self.contractors = contractors
        self.adviser = users["adviseur@demo.sroi.nl"]
        self.officers = {
            "Noordwijk": users["inkoper@noordwijk.demo.sroi.nl"],
            "Katwijk": users["inkoper@katwijk.demo.sroi.nl"],
        }
        self.portal_users = {
            contractors[i].pk: users[f"opdrachtnemer@{CONTRACTORS[i][1]}.demo.sroi.nl"]
            for i in CONTRACTOR_USER_INDEXES
        }
        self.codes: set[str] = set(Candidate.objects.values_list("code", flat=True))
        self.contribution_count = 0
        self.open_obligations: list[Obligation] = []
        self.sequence = Counter()

    # -- contracts --

    def build(self) -> None:
        scenarios = [name for name, count in SCENARIOS for _ in range(count)]
        self.rng.shuffle(scenarios)
        planned = []
        for scenario in scenarios:
            contract, obligation = self._contract(scenario)
            planned.append((scenario, contract, obligation))
        # Award order is how they would have come in; agree, then contributions.
        for scenario, _contract, obligation in planned:
            if obligation is None:
                continue
            if scenario != "fresh":
                contract_services.agree_obligation(acting_user=self.adviser, obligation=obligation)
            self._contributions(scenario, obligation)
        self._top_up_count()
        for scenario, _contract, obligation in planned:
            if obligation is not None:
                self._settle(scenario, obligation)

    def _dates(self, scenario: str) -> tuple[date, date, date]:
        rng, today = self.rng, self.today
        if scenario == "fresh":
            award = today - timedelta(days=rng.randint(3, 45))
            start = award + timedelta(days=rng.randint(7, 30))
            end = start + timedelta(days=rng.randint(365, 900))
        elif scenario in ("on_track", "fulfilled", "deviation"):
            award = today - timedelta(days=rng.randint(150, 720))
            start = award + timedelta(days=rng.randint(14, 60))
            end = today + timedelta(days=rng.randint(90, 720))
        elif scenario == "behind":
            award = today - timedelta(days=rng.randint(300, 720))
            start = award + timedelta(days=rng.randint(14, 60))
            end = today + timedelta(days=rng.randint(60, 400))
        elif scenario == "deadline_near":
            award = today - timedelta(days=rng.randint(400, 900))
            start = award + timedelta(days=rng.randint(14, 45))
            end = today - timedelta(days=rng.randint(30, 80))
        elif scenario == "below_threshold":
            award = today - timedelta(days=rng.randint(10, 1750))
            start = award + timedelta(days=rng.randint(7, 45))
            end = start + timedelta(days=rng.randint(60, 500))
        elif scenario == "overdue":  # the deadline (end + 90 days) has passed
            award = today - timedelta(days=rng.randint(600, 1500))
            start = award + timedelta(days=rng.randint(14, 60))
            end = min(
                start + timedelta(days=rng.randint(270, 720)),
                today - timedelta(days=rng.randint(100, 300)),
            )
        elif scenario == "extension":
            end = today - timedelta(days=rng.randint(100, 200))
            start = end - timedelta(days=rng.randint(270, 540))
            award = start - timedelta(days=rng.randint(14, 60))
        else:  # settled: awarded 2022-2023, deadline long passed
            award = today - timedelta(days=rng.randint(1100, 1750))
            start = award + timedelta(days=rng.randint(14, 60))
            end = start + timedelta(days=rng.randint(300, 700))
        return award, start, end

    def _contract(self, scenario: str) -> tuple[Contract, Obligation | None]:
        rng = self.rng
        muni_name, code = rng.choice(MUNICIPALITIES)
        municipality = self.orgs[muni_name]
        kind = rng.choice(list(Contract.Kind))
        if scenario == "deviation":
            kind = Contract.Kind.SUPPLIES
        weights = [3 if i in CONTRACTOR_USER_INDEXES else 1 for i in range(len(self.contractors))]
        contractor = rng.choices(self.contractors, weights=weights)[0]
        award, start, end = self._dates(scenario)
        if scenario == "below_threshold":
            value = Decimal(rng.randrange(25_000, 95_000, 500))
        else:
            low, high = VALUE_RANGES[kind]
            value = Decimal(rng.randrange(low, high, 1_000))
        labour_share = Decimal(rng.randint(25, 70))
        deviation = None
        if scenario == "deviation":
            labour_share = Decimal(22)
            deviation = Deviation(
                kind=Obligation.Deviation.REDUCED_PERCENTAGE,
                reason=(
                    "Leveringsopdracht met een arbeidsaandeel van 22% (onder 30%): verlaagd "
                    "percentage volgens beleid, schriftelijk onderbouwd door de inkoper."
                ),
            )
        self.sequence[(code, award.year)] += 1
        reference = f"{REFERENCE_PREFIX}{code}-{award.year}-{self.sequence[(code, award.year)]:03d}"
        title = f"{rng.choice(TITLES[kind])} {muni_name}"
        officer = self.officers.get(muni_name)
        contract, obligation = contract_services.create_contract(
            acting_user=officer or self.adviser,
            deviation=deviation,
            municipality=municipality,
            reference=reference,
            title=title,
            description="Demogegevens: fictieve opdracht.",
            contractor=contractor,
            kind=kind,
            value_excl_vat=_money(value),
            labour_cost=_money(value * labour_share / 100),
            award_date=award,
            start_date=start,
            end_date=end,
            procurement_officer=officer,
        )
        return contract, obligation

    # -- contributions --

    def _target(self, scenario: str, obligation: Obligation) -> Decimal:
        rng = self.rng
        elapsed = elapsed_fraction(obligation, self.today)

        def between(lo, hi) -> Decimal:
            return Decimal(str(round(rng.uniform(lo, hi), 3)))

        if scenario in ("on_track", "deviation"):
            return min(elapsed + between(0.05, 0.25), Decimal("0.95"))
        if scenario == "behind":
            return elapsed * between(0.1, 0.4)
        if scenario == "deadline_near":
            return between(0.55, 0.85)
        if scenario in ("fulfilled", "settled_fulfilled"):
            return between(1.0, 1.15)
        if scenario == "settled_waiver":
            return between(0.6, 0.9)
        if scenario == "fresh":
            return Decimal(0)
        return between(0.25, 0.8)  # overdue, fine, buy-out, extension

    def _reporter(self, obligation: Obligation) -> User:
        return self.portal_users.get(obligation.contract.contractor_id, self.adviser)

    def _contributions(self, scenario: str, obligation: Obligation) -> None:
        if scenario == "fresh":
            return
        if scenario in ("on_track", "behind", "deadline_near", "overdue", "deviation"):
            self.open_obligations.append(obligation)
        goal = _money(obligation.amount * self._target(scenario, obligation))
        approved = Decimal("0.00")
        for _ in range(self.rng.randint(2, 5)):
            contribution = self._submit(obligation)
            if contribution is None:
                break
            fits = approved + contribution.value <= goal
            status = self._status(fits, settled=scenario.startswith("settled"))
            self._review(contribution, status)
            if status == Contribution.Status.APPROVED:
                approved += contribution.value
        if approved < goal:
            invoice = (goal - approved).quantize(Decimal(1), rounding=ROUND_CEILING)
            contribution = self._submit(obligation, purchase_amount=invoice)
            if contribution is not None:
                self._review(contribution, Contribution.Status.APPROVED)

    def _status(self, fits: bool, *, settled: bool) -> str:
        roll = self.rng.random()
        S = Contribution.Status
        if settled:  # nothing left pending on a closed obligation
            return S.APPROVED if fits and roll >= 0.1 else S.REJECTED
        if fits:
            if roll < 0.08:
                return S.RETURNED
            if roll < 0.14:
                return S.REJECTED
            if roll < 0.22:
                return S.SUBMITTED
            return S.APPROVED
        return S.SUBMITTED if roll < 0.6 else (S.RETURNED if roll < 0.85 else S.REJECTED)

    def _review(self, contribution: Contribution, status: str) -> None:
        S = Contribution.Status
        if status == S.APPROVED:
            candidate = contribution.candidate
            if candidate is not None and candidate.eligibility_confirmed_at is None:
                # Eligibility is confirmed by the adviser, not by the contractor alone.
                placement_services.confirm_eligibility(
                    acting_user=self.adviser, candidate=candidate
                )
                contribution.candidate.refresh_from_db()
            placement_services.approve_contribution(
                acting_user=self.adviser, contribution=contribution
            )
        elif status == S.REJECTED:
            placement_services.reject_contribution(
                acting_user=self.adviser,
                contribution=contribution,
                reason=self.rng.choice(REJECT_REASONS),
            )
        elif status == S.RETURNED:
            placement_services.return_contribution(
                acting_user=self.adviser,
                contribution=contribution,
                reason=self.rng.choice(RETURN_REASONS),
            )

    def _period(self, obligation: Obligation) -> tuple[date, date] | None:
        first = obligation.window_start
        last = min(self.today, obligation.deadline)
        if (last - first).days < 14:
            return None
        return first, last

    def _day(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max((last - first).days, 0)))

    def _submit(self, obligation, *, purchase_amount: Decimal | None = None):
        period = self._period(obligation)
        if period is None:
            return None
        first, last = period
        if purchase_amount is not None:
            inputs = self._purchase(first, last, purchase_amount, variant="register")
        else:
            blocks, weights = zip(*BLOCK_WEIGHTS, strict=True)
            block = self.rng.choices(blocks, weights=weights)[0]
            if block in placement_services.PERSON_BLOCKS and (last - first).days < 45:
                block = "social_purchase"
            inputs = self._inputs(block, obligation, first, last)
        contribution = placement_services.submit_contribution(
            acting_user=self._reporter(obligation), obligation=obligation, **inputs
        )
        self.contribution_count += 1
        return contribution

    def _purchase(self, first, last, amount: Decimal, variant: str) -> dict:
        enterprise = self.rng.choice(SOCIAL_ENTERPRISES)
        return {
            "block": "social_purchase",
            "variant": variant,
            "start_date": self._day(first, last),
            "invoiced_amount": _money(amount),
            "social_enterprise": enterprise,
            "description": f"Inkoop bij {enterprise}",
        }

    def _inputs(self, block: str, obligation: Obligation, first: date, last: date) -> dict:
        rng = self.rng
        contractor = obligation.contract.contractor
        latest_start = last - timedelta(days=30)
        if block == "social_purchase":
            amount = Decimal(rng.randrange(1_500, 30_000, 50))
            return self._purchase(first, last, amount, rng.choice(("register", "other")))
        if block in ("social_activity", "training"):
            hours = Decimal(rng.randint(8, 120 if block == "social_activity" else 60))
            what = "Gastlessen en bedrijfsbezoeken" if block == "social_activity" else "Training"
            return {
                "block": block,
                "start_date": self._day(first, last),
                "hours": hours,
                "description": f"{what} ({hours} uur)",
            }
        start = self._day(first, latest_start)
        inputs = {"block": block, "start_date": start}
        if block == "job":
            group = rng.choice(JOB_GROUPS)
            inputs["hours_per_week"] = Decimal(rng.choice((16, 20, 24, 32, 36, 38)))
            inputs["permanent_contract"] = rng.random() < 0.25
            end = start + timedelta(days=rng.randint(120, 700))
            inputs["description"] = "Dienstverband"
        elif block == "work_experience":
            group = rng.choice(("participatiewet", "ww", "statushouder", "nug", "wia"))
            inputs["hours_per_week"] = Decimal(rng.choice((16, 24, 32)))
            end = start + timedelta(days=rng.randint(60, 270))
            inputs["description"] = "Werkervaringsplek"
        elif block == "internship":
            group = rng.choice(YOUNG_GROUPS)
            inputs["variant"] = rng.choice(("mbo1-2", "mbo3-4-hbo"))
            end = start + timedelta(days=rng.randint(70, 200))
            inputs["description"] = "Stage"
        else:  # bbl
            group = "student"
            end = start + timedelta(days=rng.randint(180, 700))
            inputs["description"] = "BBL-leerbaan"
        inputs["end_date"] = max(start, min(end, last))
        inputs["candidate"] = self._candidate(contractor, group, block)
        if rng.random() < 0.15:
            inputs["delivered_by"] = rng.choice(SUBCONTRACTORS)
        return inputs

    def _candidate(self, contractor: Contractor, group: str, block: str) -> Candidate:
        rng = self.rng
        prefix = settings.SROI_CANDIDATE_CODE_PREFIX.strip().rstrip("-")
        while True:
            body = "".join(
                rng.choice(placement_services.CODE_ALPHABET)
                for _ in range(placement_services.CODE_LENGTH)
            )
            code = f"{prefix}-{body}" if prefix else body
            if code not in self.codes:
                self.codes.add(code)
                break
        letters = "ABCDEFGHIJKLMNPRSTVW"
        initials = ".".join(rng.choice(letters) for _ in range(rng.randint(1, 3))) + "."
        if group in YOUNG_GROUPS:
            birth_year = self.today.year - rng.randint(16, 24)
        else:
            birth_year = self.today.year - rng.randint(19, 63)
        years = None
        if group in ("participatiewet", "ww"):
            top = 8 if group == "participatiewet" else 2
            years = Decimal(rng.randint(0, top * 2)) / 2
        candidate = Candidate(
            contractor=contractor,
            code=code,
            initials=initials,
            birth_year=birth_year,
            target_group=group,
            years_on_benefit=years,
            target_group_note=(
                "Langdurig werkzoekend zonder uitkering, verwezen door Servicepunt Werk."
                if group == "other"
                else ""
            ),
        )
        candidate.full_clean()
        candidate.save()
        return candidate

    def _top_up_count(self) -> None:
        """A few more submitted (not yet reviewed) reports so there are about 200."""
        while self.contribution_count < CONTRIBUTIONS_TARGET and self.open_obligations:
            obligation = self.rng.choice(self.open_obligations)
            if self._submit(obligation) is None:
                self.open_obligations.remove(obligation)

    # -- settlements --

    def _settle(self, scenario: str, obligation: Obligation) -> None:
        D = Settlement.Decision
        decision = {
            "settled_fulfilled": D.FULFILLED,
            "settled_fine": D.FINE,
            "settled_buy_out": D.BUY_OUT,
            "settled_waiver": D.WAIVER,
            "extension": D.EXTENSION,
        }.get(scenario)
        if decision is None:
            return
        kwargs = {}
        if decision == D.EXTENSION:
            kwargs["new_deadline"] = self.today + timedelta(days=120)
        if decision == D.BUY_OUT:
            realised = contract_services.realised_amount(obligation)
            shortfall = max(obligation.amount - realised, Decimal("0.00"))
            kwargs["amount"] = (shortfall * Decimal("0.9")).quantize(CENT)
        contract_services.settle_obligation(
            acting_user=self.adviser,
            obligation=obligation,
            decision=decision,
            reason=SETTLEMENT_REASONS[decision],
            today=self.today,
            **kwargs,
        )
