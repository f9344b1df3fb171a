"""Forms of the back office: entering and changing a contract, adding a contractor.

Forms validate what a user can get wrong and say so at the field; the services
(``contracts.services``) do the writing and check permissions again.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sroi import permissions
from sroi.models import Role, User
from sroi.permissions import Action

from . import selectors
from .models import Contract, Contractor, kvk_validator

# Anything at or above this is a typo, not a municipal contract (the column holds 12 digits
# before the decimal point).
MAX_AMOUNT = Decimal("1000000000000")
# Dates outside this range are typing mistakes (e.g. 2062 for 2026, or 0202).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

DATE_FIELDS = ("award_date", "start_date", "end_date")
# A change of any of these recomputes the obligation: the user gives a reason.
REASON_FIELDS = (
    "municipality",
    "contractor",
    "value_excl_vat",
    "labour_cost",
    "award_date",
    "start_date",
    "end_date",
)


class DateInput(forms.DateInput):
    """A native date picker; the value travels as ISO 8601 whatever the language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class MoneyInput(forms.NumberInput):
    def __init__(self, attrs=None):
        super().__init__(
            attrs={"step": "0.01", "min": "0", "inputmode": "decimal", **(attrs or {})}
        )


class ContractorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Contractor) -> str:
        parts = [obj.name, f"KvK {obj.kvk_number}"]
        if obj.city:
            parts.append(obj.city)
        return " – ".join(parts)


class OfficerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name()


class ContractForm(forms.ModelForm):
    """Enter or change a contract. ``user`` limits the choices to what they may do."""

    contractor = ContractorChoiceField(
        label=_("Contractor"),
        queryset=Contractor.objects.none(),
        help_text=_("Not in the list? Add the contractor below."),
    )
    procurement_officer = OfficerChoiceField(
        label=_("Responsible procurement officer"),
        queryset=User.objects.none(),
        required=False,
    )
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Required when the value, the dates, the municipality or the contractor change: "
            "the obligation is recomputed and the reason is kept in its history."
        ),
    )

    class Meta:
        model = Contract
        fields = (
            "municipality",
            "reference",
            "title",
            "description",
            "contractor",
            "kind",
            "value_excl_vat",
            "labour_cost",
            "award_date",
            "start_date",
            "end_date",
            "procurement_officer",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "value_excl_vat": MoneyInput,
            "labour_cost": MoneyInput,
            "award_date": DateInput,
            "start_date": DateInput,
            "end_date": DateInput,
        }
        help_texts = {
            "reference": _("The municipality's own contract number; unique per municipality."),
            "value_excl_vat": _("The total contract value in euros, excluding VAT."),
            "labour_cost": _(
                "Needed when the policy computes SROI over the labour cost or for a reduced "
                "percentage."
            ),
            "award_date": _("The policy in force on this date applies."),
        }

    def __init__(self, *args, user, saving: bool = True, **kwargs):
        """``saving=False`` for a preview: the reason for a change is asked only when saving."""
        super().__init__(*args, **kwargs)
        self.user = user
        self.saving = saving
        is_edit = self.instance.pk is not None
        municipalities = permissions.municipalities_visible_to(
            user, Action.CREATE_CONTRACT
        ).order_by("name")
        if is_edit:
            # The current municipality stays selectable even if the user may only change it.
            municipalities = permissions.municipalities_visible_to(user).filter(
                Q(pk__in=municipalities.values("pk")) | Q(pk=self.instance.municipality_id)
            )
        self.fields["municipality"].queryset = municipalities.order_by("name")
        self.fields["municipality"].empty_label = None if len(municipalities) == 1 else "---------"
        self.fields["contractor"].queryset = selectors.contractor_list(user=user).order_by("name")
        officer_munis = [m.pk for m in municipalities]
        officers = User.objects.filter(
            Q(pk=user.pk)
            | Q(
                memberships__role=Role.PROCUREMENT_OFFICER,
                memberships__is_active=True,
                memberships__organisation_id__in=officer_munis,
            ),
            is_active=True,
        )
        if is_edit and self.instance.procurement_officer_id:
            officers = User.objects.filter(
                Q(pk__in=officers.values("pk")) | Q(pk=self.instance.procurement_officer_id)
            )
        self.fields["procurement_officer"].queryset = officers.distinct().order_by(
            "full_name", "email"
        )
        if not is_edit:
            del self.fields["change_reason"]
            self.fields["procurement_officer"].initial = user.pk
            if len(municipalities) == 1:
                self.fields["municipality"].initial = municipalities[0].pk
        for name in ("value_excl_vat", "labour_cost"):
            self.fields[name].max_digits = None  # our own, clearer check below
            self.fields[name].validators = [
                v for v in self.fields[name].validators if type(v).__name__ != "DecimalValidator"
            ]

    # -- field checks --

    def clean_reference(self):
        return (self.cleaned_data.get("reference") or "").strip()

    def _clean_amount(self, name):
        value = self.cleaned_data.get(name)
        if value is None:
            return value
        if value < 0:
            raise forms.ValidationError(_("The amount cannot be negative."), code="negative")
        if value >= MAX_AMOUNT:
            raise forms.ValidationError(
                _("This amount is implausibly large; check the number of digits."),
                code="too_large",
            )
        if value != value.quantize(Decimal("0.01")):
            raise forms.ValidationError(
                _("Enter the amount in whole cents (at most 2 decimals)."), code="cents"
            )
        return value

    def clean_value_excl_vat(self):
        return self._clean_amount("value_excl_vat")

    def clean_labour_cost(self):
        return self._clean_amount("labour_cost")

    def _clean_date(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and not (EARLIEST_DATE <= value <= LATEST_DATE):
            raise forms.ValidationError(
                _("Enter a date between %(start)s and %(end)s.")
                % {
                    "start": EARLIEST_DATE.strftime("%d-%m-%Y"),
                    "end": LATEST_DATE.strftime("%d-%m-%Y"),
                },
                code="out_of_range",
            )
        return value

    def clean_award_date(self):
        return self._clean_date("award_date")

    def clean_start_date(self):
        return self._clean_date("start_date")

    def clean_end_date(self):
        return self._clean_date("end_date")

    # -- combined checks --

    def clean(self):
        cleaned = super().clean()
        award, start, end = (cleaned.get(n) for n in DATE_FIELDS)
        if award and start and start < award:
            self.add_error("start_date", _("The start date cannot be before the award date."))
        # end >= start, end >= award and labour cost <= value are checked by Contract.clean()
        # (run by the ModelForm), with the messages shown at the field.
        municipality, reference = cleaned.get("municipality"), cleaned.get("reference")
        if municipality and reference:
            duplicates = selectors.contract_list(user=self.user).filter(
                municipality=municipality, reference__iexact=reference
            )
            if self.instance.pk:
                duplicates = duplicates.exclude(pk=self.instance.pk)
            if duplicates.exists():
                self.add_error(
                    "reference",
                    forms.ValidationError(
                        _("%(municipality)s already has a contract with reference %(reference)s.")
                        % {"municipality": municipality, "reference": reference},
                        code="duplicate_reference",
                    ),
                )
        if self.saving and "change_reason" in self.fields and self.needs_reason():
            if not (cleaned.get("change_reason") or "").strip():
                self.add_error(
                    "change_reason",
                    forms.ValidationError(
                        _("Give a reason: the change recomputes the obligation."),
                        code="reason_required",
                    ),
                )
        return cleaned

    def fields_with_errors(self) -> list:
        """The bound fields that have errors, for the summary above the form."""
        return [self[name] for name in self.fields if name in self.errors]

    def needs_reason(self) -> bool:
        return self.instance.pk is not None and any(
            name in self.changed_data for name in REASON_FIELDS
        )

    def contract_fields(self) -> dict:
        """The cleaned contract fields, as the services take them."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def changed_contract_fields(self) -> dict:
        return {
            name: self.cleaned_data[name] for name in self.Meta.fields if name in self.changed_data
        }


def normalise_kvk(value: str) -> str:
    """Accept what people type ("1234 5678", "12.34.56.78") and keep the 8 digits."""
    return re.sub(r"[\s.\-]", "", value or "")


class ContractorForm(forms.Form):
    """The minimum to add a contractor while entering a contract."""

    name = forms.CharField(label=_("Name"), max_length=200)
    kvk_number = forms.CharField(
        label=_("KvK number"),
        max_length=20,
        help_text=_("8 digits, from the Chamber of Commerce register."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    city = forms.CharField(label=_("City"), max_length=100, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the contractor's name."), code="required")
        return name

    def clean_kvk_number(self):
        kvk = normalise_kvk(self.cleaned_data["kvk_number"])
        kvk_validator(kvk)
        existing = selectors.contractor_list(user=self.user).filter(kvk_number=kvk).first()
        if existing is not None:
            raise forms.ValidationError(
                _("%(name)s already has this KvK number: choose it in the list above.")
                % {"name": existing.name},
                code="duplicate_kvk",
            )
        return kvk

    def clean_city(self):
        return self.cleaned_data.get("city", "").strip()
