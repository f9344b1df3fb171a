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


# --- Monitoring -------------------------------------------------------------------------------


class FlagKind(models.TextChoices):
    NO_APPROVED_PLAN = "no_approved_plan", _("No approved plan of approach")
    BEHIND_SCHEDULE = "behind_schedule", _("Behind schedule")
    NO_RECENT_REPORT = "no_recent_report", _("No recent report")
    DEADLINE_NEAR = "deadline_near", _("Deadline near")
    OVERDUE = "overdue", _("Overdue")
    VERIFICATION_WAITING = "verification_waiting", _("Contributions waiting for verification")
    MISSING_OBLIGATION = "missing_obligation", _("Above the threshold without obligation")
    UNEXPLAINED_DEVIATION = "unexplained_deviation", _("Deviation without a reason")


class FlagSeverity(models.IntegerChoices):
    INFO = 1, _("Info")
    WARNING = 2, _("Warning")
    CRITICAL = 3, _("Critical")


class Flag(models.Model):
    """A finding of the monitoring job about one contract/obligation. At most one open flag per
    contract and kind (enforced by the database); a flag whose condition has cleared is resolved,
    and a later recurrence opens a new one."""

    kind = models.CharField(_("kind"), max_length=40, choices=FlagKind.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=FlagSeverity.choices)
    municipality = models.ForeignKey(
        "sroi.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("municipality"),
    )
    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.CASCADE,
        related_name="flags",
        verbose_name=_("contract"),
    )
    obligation = models.ForeignKey(
        "contracts.Obligation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="flags",
        verbose_name=_("obligation"),
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledge_note = models.TextField(_("note"), blank=True)
    snoozed_until = models.DateField(_("snoozed until"), null=True, blank=True)

    class Meta:
        verbose_name = _("flag")
        verbose_name_plural = _("flags")
        ordering = ["-severity", "first_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="flag_one_open_per_contract_and_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["municipality", "resolved_at", "severity"]),
            models.Index(fields=["kind", "resolved_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.contract_id}"


class NotificationPreference(models.Model):
    """Per-user e-mail choices (the daily digest can be switched off)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    digest_opt_out = models.BooleanField(_("no daily digest"), default=False)
    last_digest_at = models.DateTimeField(_("last digest sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class SentReminder(models.Model):
    """A reminder e-mail to a contractor, recorded so the same occasion is never sent twice."""

    obligation = models.ForeignKey(
        "contracts.Obligation",
        on_delete=models.CASCADE,
        related_name="reminders",
        verbose_name=_("obligation"),
    )
    kind = models.CharField(_("kind"), max_length=40, choices=FlagKind.choices)
    occasion = models.CharField(
        _("occasion"),
        max_length=60,
        help_text=_("What the reminder is about, e.g. the deadline or the flag's first day."),
    )
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sent reminder")
        verbose_name_plural = _("sent reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["obligation", "kind", "occasion"], name="reminder_once_per_occasion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.occasion})"
