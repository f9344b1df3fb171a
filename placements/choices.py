"""Django choices for the engine's enumerations, with translatable labels.

The values must equal those of ``placements.valuation`` (a test checks that they do).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Block(models.TextChoices):
    JOB = "job", _("Job")
    WORK_EXPERIENCE = "work_experience", _("Work-experience place")
    INTERNSHIP = "internship", _("Internship")
    BBL = "bbl", _("BBL apprenticeship")
    SOCIAL_PURCHASE = "social_purchase", _("Purchase from social enterprise")
    SOCIAL_ACTIVITY = "social_activity", _("Social activity")
    TRAINING = "training", _("Training")


class TargetGroup(models.TextChoices):
    PARTICIPATIEWET = "participatiewet", "Participatiewet"
    WW = "ww", "WW"
    WIA = "wia", "WIA/WGA/WAZ/IOAW/IOAZ"
    WAJONG = "wajong", "Wajong"
    BANENAFSPRAAK = "banenafspraak", _("Banenafspraak (doelgroepregister)")
    NUG = "nug", _("Non-benefit jobseeker (NUG)")
    STATUSHOUDER = "statushouder", _("Statushouder")
    EARLY_SCHOOL_LEAVER = "early_school_leaver", _("Early school leaver")
    PRAKTIJKONDERWIJS_VSO = "praktijkonderwijs_vso", _("Praktijkonderwijs/VSO")
    STUDENT = "student", _("BOL/BBL student")
    OTHER = "other", _("Other (with justification)")


class RuleKind(models.TextChoices):
    ANNUAL = "annual", _("Annual rate")
    MONTHLY = "monthly", _("Monthly rate")
    FIXED = "fixed", _("Fixed amount")
    PERCENTAGE = "percentage", _("Percentage of invoice")
    HOURLY = "hourly", _("Hourly rate")
    ACTUAL_COST = "actual_cost", _("Actual cost")
