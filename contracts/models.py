"""Contractors, contracts, SROI policies, obligations and settlements.

Models hold data and database constraints only; every write goes through ``contracts.services``
and every read through ``contracts.selectors``.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]

kvk_validator = RegexValidator(
    r"^[0-9]{8}$", _("A KvK number consists of exactly 8 digits."), code="invalid_kvk"
)


class PsoLevel(models.TextChoices):
    """Prestatieladder Socialer Ondernemen levels."""

    NONE = "", _("Not certified")
    ASPIRANT = "aspirant", _("Aspirant")
    BASISTREDE = "basistrede", _("Basistrede")
    TREDE_1 = "trede_1", _("Trede 1")
    TREDE_2 = "trede_2", _("Trede 2")
    TREDE_3 = "trede_3", _("Trede 3")
    PSO_30_PLUS = "30_plus", _("PSO 30+")


def pso_level_covering(level, valid_from, valid_until, start, end) -> str:
    """``level`` when a certificate valid ``valid_from``..``valid_until`` covers the whole period
    ``start``..``end`` (both ends inclusive), else ``""``."""
    if not level or not valid_from or not valid_until:
        return ""
    if valid_from <= start and end <= valid_until:
        return level
    return ""


class Contractor(models.Model):
    name = models.CharField(_("name"), max_length=200)
    kvk_number = models.CharField(
        _("KvK number"), max_length=8, unique=True, validators=[kvk_validator]
    )
    street_address = models.CharField(_("address"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    pso_level = models.CharField(
        _("PSO level"), max_length=20, choices=PsoLevel.choices, blank=True, default=""
    )
    pso_valid_from = models.DateField(_("PSO certificate valid from"), null=True, blank=True)
    pso_valid_until = models.DateField(_("PSO certificate valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contractor")
        verbose_name_plural = _("contractors")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pso_valid_until__isnull=True)
                | Q(pso_valid_from__isnull=True)
                | Q(pso_valid_until__gte=F("pso_valid_from")),
                name="contractor_pso_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.pso_level and not (self.pso_valid_from and self.pso_valid_until):
            errors["pso_valid_until"] = _("A PSO level needs the certificate's validity dates.")
        if (
            self.pso_valid_from
            and self.pso_valid_until
            and self.pso_valid_until < self.pso_valid_from
        ):
            errors["pso_valid_until"] = _("The certificate cannot end before it starts.")
        if errors:
            raise ValidationError(errors)

    def pso_level_certified_for(self, start, end) -> str:
        """The PSO level if certified for the whole period ``start``..``end``, else ``""``."""
        return pso_level_covering(
            self.pso_level, self.pso_valid_from, self.pso_valid_until, start, end
        )


class ContractorContact(models.Model):
    contractor = models.ForeignKey(
        Contractor, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("contractor")
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("e-mail address"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    function = models.CharField(_("function"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("contact person")
        verbose_name_plural = _("contact persons")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContractorUser(models.Model):
    """Links a portal user to exactly one contractor."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="contractor_link",
        verbose_name=_("user"),
    )
    contractor = models.ForeignKey(
        Contractor, on_delete=models.PROTECT, related_name="users", verbose_name=_("contractor")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("contractor user")
        verbose_name_plural = _("contractor users")

    def __str__(self) -> str:
        return f"{self.user} ({self.contractor})"


class PolicyBase(models.TextChoices):
    CONTRACT_VALUE = "contract_value", _("Contract value excl. VAT")
    LABOUR_COST = "labour_cost", _("Labour cost")


class SroiPolicy(models.Model):
    """A municipality's SROI policy, versioned by the date it takes effect."""

    municipality = models.ForeignKey(
        "sroi.Organisation",
        on_delete=models.PROTECT,
        related_name="sroi_policies",
        limit_choices_to={"kind": "municipality"},
        verbose_name=_("municipality"),
    )
    valid_from = models.DateField(_("valid from"))
    threshold = models.DecimalField(
        _("threshold excl. VAT"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    default_percentage = models.DecimalField(
        _("default percentage"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS
    )
    base = models.CharField(
        _("base"), max_length=20, choices=PolicyBase.choices, default=PolicyBase.CONTRACT_VALUE
    )
    reduced_percentage = models.DecimalField(
        _("reduced percentage"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT_VALIDATORS,
        help_text=_("Allowed only with a written justification, e.g. 2% for low labour share."),
    )
    reduced_labour_share_below = models.DecimalField(
        _("reduced percentage applies below labour share (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT_VALIDATORS,
    )
    grace_days = models.PositiveIntegerField(_("grace period (days)"), default=90)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SROI policy")
        verbose_name_plural = _("SROI policies")
        ordering = ["municipality__name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "valid_from"], name="policy_one_version_per_date"
            ),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="policy_threshold_gte_0"),
            models.CheckConstraint(
                condition=Q(default_percentage__gte=0) & Q(default_percentage__lte=100),
                name="policy_default_percentage_0_100",
            ),
            models.CheckConstraint(
                condition=Q(reduced_percentage__isnull=True)
                | (Q(reduced_percentage__gte=0) & Q(reduced_percentage__lte=100)),
                name="policy_reduced_percentage_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.municipality} – {self.valid_from:%d-%m-%Y}"


class PsoDiscount(models.Model):
    policy = models.ForeignKey(
        SroiPolicy, on_delete=models.CASCADE, related_name="pso_discounts", verbose_name=_("policy")
    )
    level = models.CharField(
        _("PSO level"), max_length=20, choices=[c for c in PsoLevel.choices if c[0]]
    )
    discount_percentage = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS
    )

    class Meta:
        verbose_name = _("PSO discount")
        verbose_name_plural = _("PSO discounts")
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="pso_discount_unique_level"),
            models.CheckConstraint(
                condition=Q(discount_percentage__gte=0) & Q(discount_percentage__lte=100),
                name="pso_discount_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.discount_percentage}%"


class Contract(models.Model):
    class Kind(models.TextChoices):
        WORKS = "works", _("Works")
        SUPPLIES = "supplies", _("Supplies")
        SERVICES = "services", _("Services")

    municipality = models.ForeignKey(
        "sroi.Organisation",
        on_delete=models.PROTECT,
        related_name="contracts",
        limit_choices_to={"kind": "municipality"},
        verbose_name=_("commissioning municipality"),
    )
    reference = models.CharField(_("reference"), max_length=50)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    contractor = models.ForeignKey(
        Contractor, on_delete=models.PROTECT, related_name="contracts", verbose_name=_("contractor")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value_excl_vat = models.DecimalField(
        _("value excl. VAT"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    labour_cost = models.DecimalField(
        _("labour cost"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    award_date = models.DateField(_("award date"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    procurement_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contracts_responsible",
        verbose_name=_("responsible procurement officer"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-award_date", "reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "reference"], name="contract_reference_per_municipality"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="contract_end_after_start"
            ),
            models.CheckConstraint(condition=Q(value_excl_vat__gte=0), name="contract_value_gte_0"),
            models.CheckConstraint(
                condition=Q(labour_cost__isnull=True) | Q(labour_cost__gte=0),
                name="contract_labour_cost_gte_0",
            ),
        ]
        indexes = [
            models.Index(fields=["municipality", "award_date"]),
            models.Index(fields=["contractor", "award_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.title}"

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = _("The end date cannot be before the start date.")
        if self.award_date and self.end_date and self.end_date < self.award_date:
            errors["end_date"] = _("The end date cannot be before the award date.")
        if (
            self.labour_cost is not None
            and self.value_excl_vat is not None
            and self.labour_cost > self.value_excl_vat
        ):
            errors["labour_cost"] = _("The labour cost cannot exceed the contract value.")
        if errors:
            raise ValidationError(errors)


class Obligation(models.Model):
    """The SROI obligation of a contract, computed at award and frozen with its rulebook."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SETTLED = "settled", _("Settled")

    class Deviation(models.TextChoices):
        NONE = "", _("None")
        REDUCED_PERCENTAGE = "reduced_percentage", _("Reduced percentage")
        CUSTOM_PERCENTAGE = "custom_percentage", _("Other percentage")
        EXEMPTION = "exemption", _("Exemption")

    contract = models.OneToOneField(
        Contract, on_delete=models.PROTECT, related_name="obligation", verbose_name=_("contract")
    )
    policy = models.ForeignKey(
        SroiPolicy, on_delete=models.PROTECT, related_name="obligations", verbose_name=_("policy")
    )
    rulebook = models.ForeignKey(
        "placements.Rulebook",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="obligations",
        verbose_name=_("rulebook"),
        help_text=_("Frozen at award: later rulebook versions never change this obligation."),
    )
    base = models.CharField(_("base"), max_length=20, choices=PolicyBase.choices)
    base_amount = models.DecimalField(
        _("base amount"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    percentage = models.DecimalField(
        _("percentage"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS
    )
    pso_level = models.CharField(
        _("PSO level applied"), max_length=20, choices=PsoLevel.choices, blank=True, default=""
    )
    pso_discount = models.DecimalField(
        _("PSO discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=PERCENT_VALIDATORS,
    )
    # The contractor's PSO certificate as registered at award, whether or not it gave a
    # discount: a recompute judges the (possibly changed) contract period against these facts,
    # never against a certificate entered later.
    pso_certificate_level = models.CharField(
        _("PSO certificate level at award"),
        max_length=20,
        choices=PsoLevel.choices,
        blank=True,
        default="",
    )
    pso_valid_from = models.DateField(
        _("PSO certificate valid from (at award)"), null=True, blank=True
    )
    pso_valid_until = models.DateField(
        _("PSO certificate valid until (at award)"), null=True, blank=True
    )
    amount = models.DecimalField(
        _("required amount"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    deviation = models.CharField(
        _("deviation"), max_length=30, choices=Deviation.choices, blank=True, default=""
    )
    deviation_reason = models.TextField(_("reason for deviation"), blank=True)
    explanation = models.JSONField(_("explanation"), default=list, blank=True)
    window_start = models.DateField(_("counting window start"))
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agreed by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("obligation")
        verbose_name_plural = _("obligations")
        ordering = ["deadline"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="obligation_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(base_amount__gte=0), name="obligation_base_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(percentage__gte=0) & Q(percentage__lte=100),
                name="obligation_percentage_0_100",
            ),
            models.CheckConstraint(
                condition=Q(pso_discount__gte=0) & Q(pso_discount__lte=100),
                name="obligation_pso_discount_0_100",
            ),
            models.CheckConstraint(
                condition=Q(deadline__gte=F("window_start")),
                name="obligation_deadline_after_window_start",
            ),
            models.CheckConstraint(
                condition=Q(deviation="") | ~Q(deviation_reason=""),
                name="obligation_deviation_needs_reason",
            ),
            models.CheckConstraint(
                condition=Q(pso_valid_until__isnull=True)
                | Q(pso_valid_from__isnull=True)
                | Q(pso_valid_until__gte=F("pso_valid_from")),
                name="obligation_pso_dates_ordered",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        from django.contrib.humanize.templatetags.humanize import intcomma

        return f"{self.contract.reference}: € {intcomma(self.amount)}"

    def pso_level_certified_for(self, start, end) -> str:
        """The PSO level of the certificate recorded at award if it covers the whole period
        ``start``..``end``, else ``""``."""
        return pso_level_covering(
            self.pso_certificate_level, self.pso_valid_from, self.pso_valid_until, start, end
        )


class ObligationChange(models.Model):
    """A recorded change of an obligation (the change history): its amount or deadline, its
    agreement, its rulebook, or the values of its contributions."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Computed at award")
        RECOMPUTED = "recomputed", _("Recomputed after contract change")
        DEVIATION = "deviation", _("Deviation agreed")
        AGREED = "agreed", _("Agreed")
        RULEBOOK_ASSIGNED = "rulebook_assigned", _("Rulebook assigned")
        REVALUED = "revalued", _("Contributions revalued")
        DEADLINE_EXTENDED = "deadline_extended", _("Deadline extended")
        SETTLED = "settled", _("Settled")

    obligation = models.ForeignKey(
        Obligation, on_delete=models.CASCADE, related_name="changes", verbose_name=_("obligation")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    old_amount = models.DecimalField(
        _("old amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    new_amount = models.DecimalField(
        _("new amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    old_deadline = models.DateField(_("old deadline"), null=True, blank=True)
    new_deadline = models.DateField(_("new deadline"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("obligation change")
        verbose_name_plural = _("obligation changes")
        ordering = ["obligation", "changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.changed_at:%d-%m-%Y})"


class Settlement(models.Model):
    """A decision on an obligation at (or after) its deadline."""

    class Decision(models.TextChoices):
        FULFILLED = "fulfilled", _("Fulfilled")
        EXTENSION = "extension", _("Extension (remedy period)")
        FINE = "fine", _("Fine / deduction")
        BUY_OUT = "buy_out", _("Buy-out")
        WAIVER = "waiver", _("Waiver (best efforts proven)")

    FINAL_DECISIONS = (Decision.FULFILLED, Decision.FINE, Decision.BUY_OUT, Decision.WAIVER)

    obligation = models.ForeignKey(
        Obligation,
        on_delete=models.PROTECT,
        related_name="settlements",
        verbose_name=_("obligation"),
    )
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices)
    required_amount = models.DecimalField(
        _("required amount"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    realised_amount = models.DecimalField(
        _("realised amount"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    shortfall = models.DecimalField(
        _("shortfall"), max_digits=14, decimal_places=2, validators=NON_NEGATIVE
    )
    amount = models.DecimalField(
        _("fine or buy-out amount"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=NON_NEGATIVE,
    )
    new_deadline = models.DateField(_("new deadline"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["obligation", "decided_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["obligation"],
                condition=~Q(decision="extension"),
                name="settlement_one_final_decision",
            ),
            models.CheckConstraint(
                condition=~Q(decision="extension") | Q(new_deadline__isnull=False),
                name="settlement_extension_needs_deadline",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(shortfall__gte=0), name="settlement_amounts_gte_0"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="settlement_reason_required"),
        ]

    def __str__(self) -> str:
        return f"{self.obligation.contract.reference}: {self.get_decision_display()}"


class ContractorInvitation(models.Model):
    """An e-mail invitation for a contractor's contact person to the portal.

    Only a SHA-256 hash of the link's token is stored, never the token itself: whoever reads
    the database cannot use an open invitation. An invitation is used at most once and expires
    after ``settings.INVITATION_VALID_DAYS``; inviting the same address again revokes the
    earlier open invitation. Written only by ``contracts.invitations``.
    """

    contractor = models.ForeignKey(
        Contractor,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("contractor"),
    )
    email = models.EmailField(_("e-mail address"))
    full_name = models.CharField(_("full name"), max_length=150)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by user"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contractor invitation")
        verbose_name_plural = _("contractor invitations")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="invitation_expires_after_creation",
            ),
        ]
        indexes = [models.Index(fields=["contractor", "email"])]

    def __str__(self) -> str:
        return f"{self.contractor} – {self.email}"

    def is_open(self, now) -> bool:
        """Neither accepted nor revoked, and not expired at ``now``."""
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
