"""Rulebooks, pseudonymous candidates, contributions and their evidence.

Candidates are pseudonymous by design: a generated code, initials, birth year, target group and
years on benefit. There is no field for a BSN or a name, and there never will be.
"""

from decimal import Decimal

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.signals import setting_changed
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .choices import Block, RuleKind, TargetGroup

NON_NEGATIVE = [MinValueValidator(Decimal("0"))]
PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class PrivateStorage(LazyObject):
    """File storage outside any public web root; files are served only through views."""

    def _setup(self):
        self._wrapped = FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)


private_storage = PrivateStorage()


def get_private_storage() -> PrivateStorage:
    """Callable storage: keeps the machine-specific location out of migrations."""
    return private_storage


@receiver(setting_changed)
def _reset_private_storage(*, setting, **kwargs):
    """Tests override PRIVATE_MEDIA_ROOT per test; let the storage follow."""
    if setting == "PRIVATE_MEDIA_ROOT":
        private_storage._wrapped = empty


class Rulebook(models.Model):
    """A versioned table of effort values. Once an obligation uses it, it is frozen."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=50)
    owner = models.ForeignKey(
        "sroi.Organisation",
        on_delete=models.PROTECT,
        related_name="rulebooks",
        verbose_name=_("owner organisation"),
    )
    municipalities = models.ManyToManyField(
        "sroi.Organisation",
        related_name="applicable_rulebooks",
        limit_choices_to={"kind": "municipality"},
        verbose_name=_("applies to municipalities"),
    )
    valid_from = models.DateField(_("valid from"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    is_example = models.BooleanField(
        _("example values"),
        default=False,
        help_text=_("Public example values, not (yet) adopted by a council decision."),
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("based on"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rulebook")
        verbose_name_plural = _("rulebooks")
        ordering = ["name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name", "version"], name="rulebook_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Rule(models.Model):
    rulebook = models.ForeignKey(
        Rulebook, on_delete=models.CASCADE, related_name="rules", verbose_name=_("rulebook")
    )
    code = models.SlugField(_("code"), max_length=60)
    label = models.CharField(_("label"), max_length=200)
    block = models.CharField(_("block"), max_length=30, choices=Block.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices)
    rate = models.DecimalField(
        _("rate"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE
    )
    target_groups = models.JSONField(
        _("target groups"), default=list, blank=True, help_text=_("Empty: any target group.")
    )
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    min_years_on_benefit = models.DecimalField(
        _("minimum years on benefit"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_years_on_benefit = models.DecimalField(
        _("maximum years on benefit (exclusive)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
    )
    fte_hours = models.DecimalField(
        _("full-time hours per week"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("36"),
    )
    min_hours_per_week = models.DecimalField(
        _("minimum hours per week"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_years = models.DecimalField(
        _("counts at most (years)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    min_duration_days = models.PositiveIntegerField(
        _("minimum duration (days)"), null=True, blank=True
    )
    percent = models.DecimalField(
        _("percentage"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT_VALIDATORS,
    )

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["rulebook", "block", "code"]
        constraints = [
            models.UniqueConstraint(fields=["rulebook", "code"], name="rule_code_per_rulebook"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="rule_rate_gte_0"),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | (Q(percent__gte=0) & Q(percent__lte=100)),
                name="rule_percent_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.label}"


class Bonus(models.Model):
    rulebook = models.ForeignKey(
        Rulebook, on_delete=models.CASCADE, related_name="bonuses", verbose_name=_("rulebook")
    )
    code = models.SlugField(_("code"), max_length=60)
    label = models.CharField(_("label"), max_length=200)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=NON_NEGATIVE
    )
    blocks = models.JSONField(_("blocks"), default=list, blank=True)
    target_groups = models.JSONField(_("target groups"), default=list, blank=True)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    requires_permanent_contract = models.BooleanField(_("permanent contract only"), default=False)

    class Meta:
        verbose_name = _("bonus")
        verbose_name_plural = _("bonuses")
        ordering = ["rulebook", "code"]
        constraints = [
            models.UniqueConstraint(fields=["rulebook", "code"], name="bonus_code_per_rulebook"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="bonus_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.label}"


class Candidate(models.Model):
    """A person placed by a contractor, pseudonymous: never a name or BSN."""

    contractor = models.ForeignKey(
        "contracts.Contractor",
        on_delete=models.PROTECT,
        related_name="candidates",
        verbose_name=_("contractor"),
    )
    code = models.CharField(_("pseudonymous code"), max_length=20, unique=True, editable=False)
    initials = models.CharField(_("initials"), max_length=10, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    target_group = models.CharField(
        _("target group"), max_length=30, choices=TargetGroup.choices, blank=True
    )
    years_on_benefit = models.DecimalField(
        _("years on benefit"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    target_group_note = models.CharField(
        _("justification for target group 'other'"), max_length=300, blank=True
    )
    eligibility_confirmed_at = models.DateTimeField(
        _("eligibility confirmed at"), null=True, blank=True
    )
    eligibility_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("eligibility confirmed by"),
    )
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(years_on_benefit__isnull=True) | Q(years_on_benefit__gte=0),
                name="candidate_years_on_benefit_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Contribution(models.Model):
    """A reported contribution (placement, purchase, activity …) towards an obligation."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        RETURNED = "returned", _("Returned for more information")

    obligation = models.ForeignKey(
        "contracts.Obligation",
        on_delete=models.PROTECT,
        related_name="contributions",
        verbose_name=_("obligation"),
    )
    block = models.CharField(_("block"), max_length=30, choices=Block.choices)
    candidate = models.ForeignKey(
        Candidate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contributions",
        verbose_name=_("candidate"),
    )
    delivered_by = models.CharField(
        _("delivered by (subcontractor)"),
        max_length=200,
        blank=True,
        help_text=_("Leave empty when the contractor delivered it."),
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    hours_per_week = models.DecimalField(
        _("hours per week"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    permanent_contract = models.BooleanField(_("permanent contract"), default=False)
    social_enterprise = models.CharField(_("social enterprise"), max_length=200, blank=True)
    invoiced_amount = models.DecimalField(
        _("invoiced amount excl. VAT"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    hours = models.DecimalField(
        _("hours"), max_digits=9, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE
    )
    actual_cost = models.DecimalField(
        _("actual cost"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    rule_code = models.CharField(_("rule applied"), max_length=60, blank=True)
    value = models.DecimalField(
        _("value"), max_digits=14, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE
    )
    value_explanation = models.JSONField(_("value explanation"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    status_reason = models.TextField(_("reason"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contribution")
        verbose_name_plural = _("contributions")
        ordering = ["-start_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contribution_end_after_start",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="contribution_value_gte_0"),
            models.CheckConstraint(
                condition=(Q(hours_per_week__isnull=True) | Q(hours_per_week__gte=0))
                & (Q(invoiced_amount__isnull=True) | Q(invoiced_amount__gte=0))
                & (Q(hours__isnull=True) | Q(hours__gte=0))
                & (Q(actual_cost__isnull=True) | Q(actual_cost__gte=0)),
                name="contribution_inputs_gte_0",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "returned"]) | ~Q(status_reason=""),
                name="contribution_rejection_needs_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["obligation", "status"]),
            models.Index(fields=["status", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_block_display()} ({self.start_date:%d-%m-%Y})"


def evidence_upload_to(instance, filename: str) -> str:
    # The stored name never contains the uploaded name: no personal data in paths.
    import uuid

    return f"evidence/{instance.contribution_id}/{uuid.uuid4().hex}"


class Evidence(models.Model):
    class Kind(models.TextChoices):
        EMPLOYMENT_CONTRACT = "employment_contract", _("Employment contract")
        INTERNSHIP_AGREEMENT = "internship_agreement", _("Internship agreement")
        INVOICE = "invoice", _("Invoice")
        OTHER = "other", _("Other")

    contribution = models.ForeignKey(
        Contribution,
        on_delete=models.CASCADE,
        related_name="evidence",
        verbose_name=_("contribution"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    file = models.FileField(_("file"), storage=get_private_storage, upload_to=evidence_upload_to)
    original_name = models.CharField(_("original file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        # Neutral on purpose: the uploaded file name often holds a person's name, and this text
        # ends up in the audit trail (object_repr), admin messages and logs.
        return gettext("Evidence %(number)s (%(kind)s)") % {
            "number": self.pk or "–",
            "kind": self.get_kind_display(),
        }


@receiver(post_delete, sender=Evidence)
def _delete_evidence_file(sender, instance: Evidence, **kwargs) -> None:
    """A deleted evidence row takes its stored file along, once the delete is committed (a
    rolled-back delete keeps the file its row still points to)."""
    name = instance.file.name
    if not name:
        return
    storage = instance.file.storage
    transaction.on_commit(lambda: storage.delete(name), using=kwargs.get("using"))


class PlanOfApproach(models.Model):
    """A contractor's plan of approach for an obligation: which blocks, how many, when.

    Versioned: every (re)submission is a new version; the current plan of an obligation is its
    latest version. The adviser approves it or returns it with a comment.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        RETURNED = "returned", _("Returned")

    obligation = models.ForeignKey(
        "contracts.Obligation",
        on_delete=models.PROTECT,
        related_name="plans",
        verbose_name=_("obligation"),
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan of approach")
        verbose_name_plural = _("plans of approach")
        ordering = ["obligation", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["obligation", "version"], name="plan_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="plan_version_gte_1"),
            models.CheckConstraint(
                condition=~Q(status="returned") | ~Q(review_comment=""),
                name="plan_return_needs_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.obligation_id} v{self.version} ({self.get_status_display()})"


class PlanItem(models.Model):
    """One line of a plan of approach: a block, how many people and/or what amount, when."""

    plan = models.ForeignKey(
        PlanOfApproach, on_delete=models.CASCADE, related_name="items", verbose_name=_("plan")
    )
    block = models.CharField(_("block"), max_length=30, choices=Block.choices)
    planned_count = models.PositiveIntegerField(_("planned people"), null=True, blank=True)
    planned_amount = models.DecimalField(
        _("planned amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
    )
    planned_start = models.DateField(_("planned start"))
    planned_end = models.DateField(_("planned end"))
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["plan", "planned_start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end__gte=F("planned_start")), name="plan_item_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(planned_amount__isnull=True) | Q(planned_amount__gte=0),
                name="plan_item_amount_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_block_display()} ({self.planned_start:%d-%m-%Y})"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValidationError({"planned_end": _("The end cannot be before the start.")})
