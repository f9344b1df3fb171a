"""Forms of the adviser's decisions on an obligation: agreeing it (with a deviation), reviewing
its plan of approach and settling it. They validate input; ``contracts.services`` and
``placements.plans`` write."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from placements.choices import Block

from .models import Obligation, Settlement
from .obligation_calc import Deviation

D = Obligation.Deviation
#: More people than any contract places is a typing mistake (and must fit the column).
MAX_PLANNED_PEOPLE = 100_000
TEXTAREA = forms.Textarea(attrs={"rows": 3})


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class AgreeObligationForm(forms.Form):
    deviation = forms.ChoiceField(
        label=_("Agreement"), widget=forms.RadioSelect, choices=(), required=False
    )
    percentage = forms.DecimalField(
        label=_("Other percentage"),
        required=False,
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Only for 'other percentage'."),
    )
    reason = forms.CharField(
        label=_("Reason for the deviation"),
        required=False,
        max_length=2000,
        widget=TEXTAREA,
        help_text=_("Required for every deviation from the policy; it is kept on record."),
    )

    def __init__(self, *args, obligation: Obligation, **kwargs):
        self.obligation = obligation
        kwargs.setdefault(
            "initial",
            {
                "deviation": obligation.deviation,
                "percentage": (
                    obligation.percentage if obligation.deviation == D.CUSTOM_PERCENTAGE else None
                ),
                "reason": obligation.deviation_reason,
            },
        )
        super().__init__(*args, **kwargs)
        policy = obligation.policy
        reduced_label = _("Reduced percentage")
        if policy.reduced_percentage is not None:
            reduced_label = _("Reduced percentage (%(percentage)s%% under the policy)") % {
                "percentage": number_format(policy.reduced_percentage.normalize())
            }
        choices = [
            ("", _("As computed under the policy, without deviation")),
            (D.REDUCED_PERCENTAGE, reduced_label),
            (D.CUSTOM_PERCENTAGE, _("Other percentage")),
            (D.EXEMPTION, _("Exemption (no obligation)")),
        ]
        if policy.reduced_percentage is None:
            choices = [c for c in choices if c[0] != D.REDUCED_PERCENTAGE]
        self.fields["deviation"].choices = choices

    def clean(self):
        data = super().clean()
        kind = data.get("deviation") or ""
        reason = (data.get("reason") or "").strip()
        data["reason"] = reason
        if kind and not reason:
            self.add_error("reason", _("A deviation needs a recorded reason."))
        if kind == D.CUSTOM_PERCENTAGE and data.get("percentage") is None:
            self.add_error("percentage", _("Enter the percentage that applies."))
        if kind == D.REDUCED_PERCENTAGE:
            self._check_reduced_percentage()
        return data

    def _check_reduced_percentage(self) -> None:
        """The policy's condition for the reduced percentage, explained in the user's language
        (the service checks it again and has the final word)."""
        policy, contract = self.obligation.policy, self.obligation.contract
        below = policy.reduced_labour_share_below
        if below is None:
            return
        if contract.labour_cost is None or not contract.value_excl_vat:
            self.add_error(
                "deviation",
                _(
                    "The reduced percentage applies only when the labour cost is known: "
                    "enter the contract's labour cost first."
                ),
            )
            return
        share = contract.labour_cost * 100 / contract.value_excl_vat
        if share >= below:
            self.add_error(
                "deviation",
                _(
                    "The reduced percentage applies only when labour is below %(below)s%% of "
                    "the contract value; here it is %(share)s%%."
                )
                % {
                    "below": number_format(below.normalize()),
                    "share": number_format(share, 1),
                },
            )

    def to_deviation(self) -> Deviation | None:
        """The deviation to pass to ``agree_obligation``; ``None`` keeps the obligation as it is
        (agreeing without change)."""
        kind = self.cleaned_data.get("deviation") or ""
        percentage = self.cleaned_data.get("percentage")
        reason = self.cleaned_data["reason"]
        current = self.obligation
        if kind == current.deviation and (
            not kind
            or (
                reason == current.deviation_reason
                and (kind != D.CUSTOM_PERCENTAGE or percentage == current.percentage)
            )
        ):
            return None
        return Deviation(
            kind=kind,
            percentage=percentage if kind == D.CUSTOM_PERCENTAGE else None,
            reason=reason if kind else "",
        )


class SettleObligationForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), widget=forms.RadioSelect, choices=Settlement.Decision.choices
    )
    new_deadline = forms.DateField(
        label=_("New deadline"),
        required=False,
        widget=DateInput(),
        help_text=_("Only for an extension (remedy period)."),
    )
    amount = forms.DecimalField(
        label=_("Fine or buy-out amount (€)"),
        required=False,
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        localize=True,
        help_text=_("Only for a fine or buy-out; defaults to the shortfall."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=4000,
        widget=TEXTAREA,
        error_messages={"required": _("A settlement decision needs a reason.")},
    )

    def __init__(self, *args, shortfall: Decimal, **kwargs):
        self.shortfall = shortfall
        kwargs.setdefault("initial", {"amount": shortfall})
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        DEC = Settlement.Decision
        if decision == DEC.EXTENSION and not data.get("new_deadline"):
            self.add_error("new_deadline", _("An extension needs a new deadline."))
        if decision in (DEC.FINE, DEC.BUY_OUT):
            if data.get("amount") is None:
                data["amount"] = self.shortfall
        else:
            data["amount"] = None
        if decision != DEC.EXTENSION:
            data["new_deadline"] = None
        return data


class PlanReviewForm(forms.Form):
    """Approve or return the current plan of approach; returning needs a comment."""

    APPROVE = "approve"
    RETURN = "return"

    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=((APPROVE, _("Approve the plan")), (RETURN, _("Return it with a comment"))),
    )
    comment = forms.CharField(
        label=_("Comment for the contractor"),
        required=False,
        max_length=4000,
        widget=TEXTAREA,
        help_text=_("Required when you return the plan."),
    )

    def clean(self):
        data = super().clean()
        data["comment"] = (data.get("comment") or "").strip()
        if data.get("decision") == self.RETURN and not data["comment"]:
            self.add_error("comment", _("Say what the contractor must change."))
        return data


class PlanItemForm(forms.Form):
    """One line of a plan of approach entered by the adviser on the contractor's behalf."""

    block = forms.ChoiceField(label=_("Block"), choices=[("", "—"), *Block.choices])
    planned_count = forms.IntegerField(
        label=_("People"), required=False, min_value=0, max_value=MAX_PLANNED_PEOPLE
    )
    planned_amount = forms.DecimalField(
        label=_("Amount (€)"),
        required=False,
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        localize=True,
    )
    planned_start = forms.DateField(label=_("From"), widget=DateInput())
    planned_end = forms.DateField(label=_("Until"), widget=DateInput())
    description = forms.CharField(label=_("Description"), required=False, max_length=300)

    def clean(self):
        data = super().clean()
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end < start:
            self.add_error("planned_end", _("The end cannot be before the start."))
        if data.get("planned_count") is None and data.get("planned_amount") is None:
            if not self.has_error("planned_count") and not self.has_error("planned_amount"):
                raise ValidationError(_("Plan a number of people, an amount, or both."))
        return data


class BasePlanItemFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        if not any(form.cleaned_data and not form.cleaned_data.get("DELETE") for form in self):
            raise ValidationError(_("A plan needs at least one line."))


PlanItemFormSet = forms.formset_factory(
    PlanItemForm,
    formset=BasePlanItemFormSet,
    extra=3,
    max_num=20,
    validate_max=True,
    can_delete=True,
    can_delete_extra=False,
)
