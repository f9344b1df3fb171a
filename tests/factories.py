"""factory_boy factories with traits, shared by all tests. No database dumps."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from contracts.models import (
    Contract,
    Contractor,
    ContractorUser,
    Obligation,
    PsoDiscount,
    SroiPolicy,
)
from placements.models import Bonus, Candidate, Contribution, Rule, Rulebook
from sroi.models import Membership, Organisation, Role, User

TODAY = date(2026, 11, 26)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.nl")
    full_name = factory.Faker("name", locale="nl_NL")
    password = factory.django.Password("correct-horse-battery")


class MunicipalityFactory(DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Gemeente {n}")
    kind = Organisation.Kind.MUNICIPALITY


class ServiceBodyFactory(DjangoModelFactory):
    class Meta:
        skip_postgeneration_save = True
        model = Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Uitvoeringsorganisatie {n}")
    kind = Organisation.Kind.EXECUTING_BODY

    @factory.post_generation
    def serves(self, create, extracted, **kwargs):
        if create and extracted:
            self.serves.set(extracted)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(MunicipalityFactory)
    role = Role.PROCUREMENT_OFFICER


class ContractorFactory(DjangoModelFactory):
    class Meta:
        model = Contractor

    name = factory.Sequence(lambda n: f"Aannemer {n} B.V.")
    kvk_number = factory.Sequence(lambda n: f"{10000000 + n:08d}")
    city = "Noordwijk"

    class Params:
        pso_trede_2 = factory.Trait(
            pso_level="trede_2",
            pso_valid_from=date(2020, 1, 1),
            pso_valid_until=date(2030, 12, 31),
        )


class ContractorUserFactory(DjangoModelFactory):
    class Meta:
        model = ContractorUser

    user = factory.SubFactory(UserFactory)
    contractor = factory.SubFactory(ContractorFactory)


class PolicyFactory(DjangoModelFactory):
    class Meta:
        skip_postgeneration_save = True
        model = SroiPolicy
        django_get_or_create = ("municipality", "valid_from")

    municipality = factory.SubFactory(MunicipalityFactory)
    valid_from = date(2020, 1, 1)
    threshold = Decimal("100000.00")
    default_percentage = Decimal("5.00")
    reduced_percentage = Decimal("2.00")
    reduced_labour_share_below = Decimal("30.00")
    grace_days = 90

    @factory.post_generation
    def discounts(self, create, extracted, **kwargs):
        if not create:
            return
        values = extracted if extracted is not None else {"trede_2": Decimal("20")}
        for level, pct in values.items():
            PsoDiscount.objects.get_or_create(
                policy=self, level=level, defaults={"discount_percentage": pct}
            )


class RulebookFactory(DjangoModelFactory):
    class Meta:
        skip_postgeneration_save = True
        model = Rulebook

    name = "Rekenregels"
    version = factory.Sequence(lambda n: f"v{n}")
    owner = factory.SubFactory(ServiceBodyFactory)
    valid_from = date(2020, 1, 1)
    status = Rulebook.Status.PUBLISHED

    @factory.post_generation
    def municipalities(self, create, extracted, **kwargs):
        if create and extracted:
            self.municipalities.set(extracted)

    @factory.post_generation
    def with_rules(self, create, extracted, **kwargs):
        """Default rules: a Participatiewet job at 40,000/year and a social activity."""
        if not create or extracted is False:
            return
        Rule.objects.create(
            rulebook=self,
            code="job-pw",
            label="Baan Participatiewet",
            block="job",
            kind="annual",
            rate=Decimal("40000"),
            target_groups=["participatiewet"],
            min_hours_per_week=Decimal("12"),
            max_years=Decimal("2"),
        )
        Rule.objects.create(
            rulebook=self,
            code="activity",
            label="Sociale activiteit",
            block="social_activity",
            kind="hourly",
            rate=Decimal("100"),
            fte_hours=None,
        )
        Bonus.objects.create(
            rulebook=self,
            code="permanent",
            label="Vast contract",
            amount=Decimal("10000"),
            blocks=["job"],
            requires_permanent_contract=True,
        )


class ContractFactory(DjangoModelFactory):
    """A contract; ``ContractFactory(overdue=True)`` etc. for the usual states."""

    class Meta:
        model = Contract

    municipality = factory.SubFactory(MunicipalityFactory)
    reference = factory.Sequence(lambda n: f"2026-{n:04d}")
    title = factory.Sequence(lambda n: f"Onderhoud openbare ruimte {n}")
    contractor = factory.SubFactory(ContractorFactory)
    kind = Contract.Kind.WORKS
    value_excl_vat = Decimal("500000.00")
    award_date = date(2026, 1, 15)
    start_date = date(2026, 2, 1)
    end_date = date(2027, 1, 31)

    class Params:
        overdue = factory.Trait(
            award_date=date(2024, 1, 15), start_date=date(2024, 2, 1), end_date=date(2025, 6, 30)
        )
        below_threshold = factory.Trait(value_excl_vat=Decimal("50000.00"))


class ObligationFactory(DjangoModelFactory):
    """An obligation written directly (for selector and permission tests). Services compute
    real ones; use ``contracts.services.create_contract`` when the computation matters."""

    class Meta:
        model = Obligation

    contract = factory.SubFactory(ContractFactory)
    policy = factory.SubFactory(
        PolicyFactory, municipality=factory.SelfAttribute("..contract.municipality")
    )
    rulebook = None
    base = "contract_value"
    base_amount = factory.SelfAttribute("contract.value_excl_vat")
    percentage = Decimal("5.00")
    amount = factory.LazyAttribute(
        lambda o: (o.base_amount * o.percentage / 100).quantize(Decimal("0.01"))
    )
    window_start = factory.SelfAttribute("contract.award_date")
    deadline = factory.LazyAttribute(lambda o: o.contract.end_date + timedelta(days=90))


class CandidateFactory(DjangoModelFactory):
    class Meta:
        model = Candidate

    contractor = factory.SubFactory(ContractorFactory)
    code = factory.Sequence(lambda n: f"K-T{n:05d}")
    initials = "A.B."
    birth_year = 1985
    target_group = "participatiewet"
    years_on_benefit = Decimal("3.0")

    class Params:
        # Eligibility confirmed by the municipality's side: placements can be approved.
        confirmed = factory.Trait(
            eligibility_confirmed_at=factory.LazyFunction(
                lambda: datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
            )
        )


class ContributionFactory(DjangoModelFactory):
    class Meta:
        model = Contribution

    obligation = factory.SubFactory(ObligationFactory)
    block = "job"
    candidate = factory.SubFactory(
        CandidateFactory, contractor=factory.SelfAttribute("..obligation.contract.contractor")
    )
    start_date = date(2026, 3, 1)
    end_date = date(2027, 2, 28)
    hours_per_week = Decimal("24")
    value = Decimal("10000.00")
    status = Contribution.Status.SUBMITTED

    class Params:
        approved = factory.Trait(status=Contribution.Status.APPROVED)
        rejected = factory.Trait(status=Contribution.Status.REJECTED, status_reason="Geen bewijs")


class RuledObligationFactory(ObligationFactory):
    """An obligation with a published rulebook (``RulebookFactory``'s default rules) frozen on
    it, applying to the contract's municipality: ready for contributions to be valued."""

    class Meta:
        skip_postgeneration_save = True

    rulebook = factory.SubFactory(RulebookFactory)

    @factory.post_generation
    def rulebook_applies(self, create, extracted, **kwargs):
        if create and self.rulebook is not None:
            self.rulebook.municipalities.add(self.contract.municipality)
