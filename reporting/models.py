"""Council reporting: delivery schedules, deliveries (one per period) and the export log."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_RECIPIENTS = 20


def split_recipients(value: str) -> list[str]:
    """``"a@x.nl, b@y.nl"`` -> ``["a@x.nl", "b@y.nl"]`` (empty parts dropped)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def validate_recipients(value: str) -> None:
    addresses = split_recipients(value)
    if not addresses:
        raise ValidationError(_("Enter at least one e-mail address."), code="required")
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError(
            _("Enter at most %(max)d e-mail addresses."),
            code="too_many",
            params={"max": MAX_RECIPIENTS},
        )
    invalid = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(address)
    if invalid:
        raise ValidationError(
            _("Not a valid e-mail address: %(addresses)s. Separate addresses with commas."),
            code="invalid",
            params={"addresses": ", ".join(invalid)},
        )


class Coverage(models.TextChoices):
    """Which contracts a scheduled quarterly report covers (by award date)."""

    ALL = "all", _("All contracts awarded up to the end of the quarter")
    YEAR_TO_DATE = (
        "year_to_date",
        _("Contracts awarded from 1 January up to the end of the quarter"),
    )
    QUARTER = "quarter", _("Contracts awarded in the quarter")


class ReportSchedule(models.Model):
    """A municipality's standing order: e-mail the report to these recipients every quarter."""

    class Frequency(models.TextChoices):
        QUARTERLY = "quarterly", _("Quarterly")

    municipality = models.ForeignKey(
        "sroi.Organisation",
        on_delete=models.PROTECT,
        related_name="report_schedules",
        limit_choices_to={"kind": "municipality"},
        verbose_name=_("municipality"),
    )
    recipients = models.TextField(
        _("recipients"),
        validators=[validate_recipients],
        help_text=_("E-mail addresses, separated by commas."),
    )
    frequency = models.CharField(
        _("frequency"), max_length=20, choices=Frequency.choices, default=Frequency.QUARTERLY
    )
    coverage = models.CharField(
        _("contracts covered"), max_length=20, choices=Coverage.choices, default=Coverage.ALL
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    last_sent_period = models.CharField(
        _("last period sent"), max_length=10, blank=True, help_text=_("For example 2026-Q3.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        ordering = ["municipality__name", "pk"]

    def __str__(self) -> str:
        return f"{self.municipality} – {self.get_frequency_display()}"

    @property
    def recipient_list(self) -> list[str]:
        return split_recipients(self.recipients)


class ReportDelivery(models.Model):
    """One scheduled report for one period. The unique constraint is what makes the job send a
    period once, however often it runs: the row is created (and committed) before the e-mail
    goes out. ``sent_at`` stays empty when sending failed; ``error`` then says why."""

    schedule = models.ForeignKey(
        ReportSchedule,
        on_delete=models.PROTECT,
        related_name="deliveries",
        verbose_name=_("schedule"),
    )
    period = models.CharField(_("period"), max_length=10)
    recipients = models.TextField(_("recipients"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period"], name="report_delivery_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.municipality} {self.period}"


class ExportLog(models.Model):
    """Who looked at or downloaded which report, when. Never contains personal data."""

    class Kind(models.TextChoices):
        SCREEN = "screen", _("On screen")
        XLSX = "xlsx", _("Excel download")
        CSV = "csv", _("CSV download")
        COMMAND = "command", _("Management command")
        SCHEDULED = "scheduled", _("Scheduled e-mail")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    actor = models.CharField(
        _("by"),
        max_length=254,
        help_text=_("The user's e-mail address, or the command or job that exported."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    municipalities = models.ManyToManyField(
        "sroi.Organisation", related_name="+", verbose_name=_("municipalities")
    )
    scope = models.CharField(_("scope"), max_length=500)
    table = models.CharField(_("table"), max_length=30, blank=True)
    period_kind = models.CharField(_("period kind"), max_length=20)
    period_from = models.DateField(_("period from"), null=True, blank=True)
    period_to = models.DateField(_("period to"))
    as_of = models.DateField(_("as of"))
    contract_rows = models.PositiveIntegerField(_("contract rows"), default=0)
    contribution_rows = models.PositiveIntegerField(_("contribution rows"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("export log entry")
        verbose_name_plural = _("export log")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor} – {self.get_kind_display()} – {self.scope}"
