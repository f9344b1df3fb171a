"""Forms of the contractor portal. They validate input; ``placements.portal`` composes the
services that write.

The report form asks only what the chosen block needs, derived from the obligation's frozen
rulebook (:class:`placements.portal.BlockSpec`): the variants its rules distinguish (e.g. an
internship at MBO 1-2 or MBO 3-4/HBO), the invoiced amount for a percentage rule, hours for an
hourly rule, the actual cost for an actual-cost rule.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contracts.forms_adviser import BasePlanItemFormSet, DateInput, PlanItemForm

from .choices import Block, TargetGroup
from .models import Candidate, Evidence
from .portal import BlockSpec
from .services import MINIMUM_AGE
from .validators import contains_bsn_like_number, validate_evidence_file, validate_initials

NON_NEGATIVE = [MinValueValidator(Decimal("0"))]
EVIDENCE_ACCEPT = "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg"
NEW_CANDIDATE_FIELDS = (
    "initials",
    "birth_year",
    "target_group",
    "years_on_benefit",
    "target_group_note",
)
#: The contribution inputs the form may hold, besides the block and the candidate.
INPUT_FIELDS = (
    "start_date",
    "end_date",
    "hours_per_week",
    "permanent_contract",
    "invoiced_amount",
    "hours",
    "actual_cost",
    "variant",
    "description",
    "delivered_by",
    "social_enterprise",
)
START_LABELS = {
    Block.SOCIAL_PURCHASE: _("Invoice date"),
    Block.SOCIAL_ACTIVITY: _("Date"),
    Block.TRAINING: _("Date"),
}
BSN_MESSAGE = _("Do not enter a BSN or other identifying number here.")


class CandidateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Candidate) -> str:
        parts = [obj.code, obj.initials or "–", str(obj.birth_year or "–")]
        if obj.target_group:
            parts.append(str(obj.get_target_group_display()))
        return " · ".join(parts)


def _money(label, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=14,
        decimal_places=2,
        validators=NON_NEGATIVE,
        localize=True,
        **kwargs,
    )


class ContributionForm(forms.Form):
    """Report (or change) one contribution of the block described by ``spec``.

    ``candidates``: the contractor's own candidates to choose from (person blocks); a new one
    can be registered with the minimum details instead. ``with_evidence`` adds an optional
    evidence upload, checked by content like ``placements.services.add_evidence`` does.
    ``previewed_value`` carries the value the user last saw: submitting with a different value
    (or without a preview) shows the value again instead of storing it.
    """

    previewed_value = forms.DecimalField(
        required=False, widget=forms.HiddenInput, max_digits=14, decimal_places=2
    )

    def __init__(self, *args, spec: BlockSpec, candidates=None, with_evidence=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        block = spec.block
        fields = self.fields
        if spec.is_person_block:
            fields["candidate"] = CandidateChoiceField(
                label=_("Candidate"),
                queryset=candidates if candidates is not None else Candidate.objects.none(),
                required=False,
                empty_label=_("— register a new candidate below —"),
                help_text=_("One of your candidates, shown by pseudonymous code."),
            )
            latest = timezone.localdate().year - MINIMUM_AGE
            fields["initials"] = forms.CharField(
                label=_("Initials"),
                required=False,
                max_length=10,
                help_text=_("For example A.B. Never a name or BSN."),
            )
            fields["birth_year"] = forms.IntegerField(
                label=_("Birth year"), required=False, min_value=1900, max_value=latest
            )
            fields["target_group"] = forms.ChoiceField(
                label=_("Target group"),
                required=False,
                choices=[("", "—"), *TargetGroup.choices],
            )
            fields["years_on_benefit"] = forms.DecimalField(
                label=_("Years on benefit"),
                required=False,
                max_digits=4,
                decimal_places=1,
                min_value=0,
                max_value=Decimal("99.9"),
                localize=True,
                help_text=_("At the start of the placement, for Participatiewet or WW."),
            )
            fields["target_group_note"] = forms.CharField(
                label=_("Justification for target group 'other'"),
                required=False,
                max_length=300,
                help_text=_("Only for 'other'. No personal data."),
            )
        if spec.has_variants:
            choices = [(v, label if v else _("Standard")) for v, label in spec.variants]
            required = "" not in dict(spec.variants)
            fields["variant"] = forms.ChoiceField(
                label=_("Variant"),
                choices=[("", "—"), *choices] if required else choices,
                required=required,
                help_text=_("The rulebook values these differently."),
            )
        if block == Block.SOCIAL_PURCHASE:
            fields["social_enterprise"] = forms.CharField(
                label=_("Social enterprise"), max_length=200
            )
        fields["start_date"] = forms.DateField(
            label=START_LABELS.get(block, _("Start date")), widget=DateInput()
        )
        if spec.is_person_block:
            fields["end_date"] = forms.DateField(
                label=_("End date"),
                widget=DateInput(),
                required=block != Block.JOB,
                help_text=_("Leave empty for an ongoing job: only the period worked counts.")
                if block == Block.JOB
                else "",
            )
            fields["hours_per_week"] = forms.DecimalField(
                label=_("Hours per week"),
                max_digits=5,
                decimal_places=2,
                min_value=0,
                max_value=168,
                localize=True,
            )
        if spec.permanent_contract:
            fields["permanent_contract"] = forms.BooleanField(
                label=_("Permanent contract"), required=False
            )
        extra = spec.extra_inputs
        if block == Block.SOCIAL_PURCHASE or "invoiced_amount" in extra:
            fields["invoiced_amount"] = _money(_("Invoiced amount excl. VAT (€)"), required=False)
        if "actual_cost" in extra:
            fields["actual_cost"] = _money(_("Actual cost (€)"), required=False)
        if "hours" in extra:
            fields["hours"] = forms.DecimalField(
                label=_("Hours"),
                required=False,
                max_digits=9,
                decimal_places=2,
                validators=NON_NEGATIVE,
                localize=True,
            )
        fields["description"] = forms.CharField(
            label=_("Description"),
            max_length=300,
            required=block in (Block.SOCIAL_ACTIVITY, Block.TRAINING),
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text=_("No personal data."),
        )
        fields["delivered_by"] = forms.CharField(
            label=_("Delivered by (subcontractor)"),
            max_length=200,
            required=False,
            help_text=_("Leave empty when your company delivered it."),
        )
        if with_evidence:
            fields["evidence_kind"] = forms.ChoiceField(
                label=_("Kind of evidence"),
                choices=Evidence.Kind.choices,
                initial=spec.evidence_kind,
                required=False,  # not on the page before the value is shown: the block's default
            )
            fields["evidence_file"] = forms.FileField(
                label=_("Evidence (PDF, PNG or JPEG, at most 10 MB)"),
                required=False,
                widget=forms.ClearableFileInput(attrs={"accept": EVIDENCE_ACCEPT}),
                help_text=_("Optional now; you can also add evidence later."),
            )
        # Keep the hidden value last.
        fields["previewed_value"] = fields.pop("previewed_value")

    # --- Field checks --------------------------------------------------------------------------

    def clean_initials(self):
        value = self.cleaned_data.get("initials", "")
        if not value:
            return ""
        try:
            return validate_initials(value)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["initials"]) from exc

    def clean_evidence_file(self):
        uploaded = self.cleaned_data.get("evidence_file")
        if uploaded:
            try:
                validate_evidence_file(uploaded, max_bytes=settings.EVIDENCE_MAX_BYTES)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["file"]) from exc
        return uploaded

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date cannot be before the start date."))
        for name in ("description", "delivered_by", "social_enterprise", "target_group_note"):
            if contains_bsn_like_number(data.get(name) or ""):
                self.add_error(name, BSN_MESSAGE)
        if self.spec.is_person_block:
            self._clean_candidate(data)
        needed = self.spec.inputs_by_variant.get(data.get("variant") or "", set())
        for name in sorted(needed):
            if name in self.fields and data.get(name) is None and not self.has_error(name):
                self.add_error(name, _("This field is required for this block."))
        return data

    def _clean_candidate(self, data: dict) -> None:
        new_given = any(data.get(name) not in (None, "") for name in NEW_CANDIDATE_FIELDS)
        if data.get("candidate") is not None:
            if new_given:
                self.add_error(
                    None,
                    _("Choose one of your candidates or register a new one, not both."),
                )
            return
        if self.has_error("candidate"):
            return
        for name in ("initials", "birth_year", "target_group"):
            if data.get(name) in (None, "") and not self.has_error(name):
                self.add_error(name, _("Required for a new candidate."))
        if data.get("target_group") == TargetGroup.OTHER and not data.get("target_group_note"):
            self.add_error(
                "target_group_note", _("The target group 'other' needs a justification.")
            )

    # --- What the services get -----------------------------------------------------------------

    def inputs(self) -> dict:
        """The contribution inputs (without the candidate) for the services; what this block
        does not ask is empty."""
        data = self.cleaned_data
        inputs = {"block": self.spec.block}
        for name in INPUT_FIELDS:
            default = False if name == "permanent_contract" else None
            if name in ("variant", "description", "delivered_by", "social_enterprise"):
                default = ""
            inputs[name] = data.get(name, default) if name in self.fields else default
        return inputs

    @property
    def candidate(self) -> Candidate | None:
        return self.cleaned_data.get("candidate")

    def new_candidate(self) -> dict | None:
        """The details of a new candidate, or ``None`` (an existing one, or no person block)."""
        if not self.spec.is_person_block or self.cleaned_data.get("candidate") is not None:
            return None
        return {name: self.cleaned_data.get(name) for name in NEW_CANDIDATE_FIELDS}

    @property
    def evidence_file(self):
        return self.cleaned_data.get("evidence_file") or None

    @property
    def evidence_kind(self) -> str:
        return self.cleaned_data.get("evidence_kind") or self.spec.evidence_kind

    def candidate_fields(self):
        return [self[name] for name in NEW_CANDIDATE_FIELDS if name in self.fields]

    def input_fields(self):
        skip = {"candidate", "previewed_value", "evidence_kind", "evidence_file"}
        return [bf for bf in self if bf.name not in skip and bf.name not in NEW_CANDIDATE_FIELDS]


def initial_from(contribution) -> dict:
    """The edit form's initial values: the contribution as stored."""
    initial = {name: getattr(contribution, name) for name in INPUT_FIELDS}
    initial["candidate"] = contribution.candidate_id
    return initial


class EvidenceForm(forms.Form):
    """Upload one more evidence file to an open contribution."""

    kind = forms.ChoiceField(label=_("Kind of evidence"), choices=Evidence.Kind.choices)
    file = forms.FileField(
        label=_("File (PDF, PNG or JPEG, at most 10 MB)"),
        widget=forms.ClearableFileInput(attrs={"accept": EVIDENCE_ACCEPT}),
        help_text=_("Judged by its content; the file name is not kept."),
    )

    def clean_file(self):
        uploaded = self.cleaned_data.get("file")
        if uploaded:
            try:
                validate_evidence_file(uploaded, max_bytes=settings.EVIDENCE_MAX_BYTES)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["file"]) from exc
        return uploaded


PortalPlanItemFormSet = forms.formset_factory(
    PlanItemForm,
    formset=BasePlanItemFormSet,
    extra=3,
    max_num=20,
    validate_max=True,
    can_delete=True,
    can_delete_extra=False,
)
