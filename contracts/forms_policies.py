"""Forms and the filter of the policy screens: a policy version's terms, its PSO discounts (a
formset with one row per PSO level) and the filter of the version list.

They validate what a user can get wrong and say so at the field; ``contracts.policy_services``
writes and checks again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from sroi import permissions
from sroi.permissions import Action

from .forms import DateInput, MoneyInput
from .models import Obligation, PsoLevel, SroiPolicy
from .policy_services import MAX_GRACE_DAYS, POLICY_TERMS, PSO_LEVELS, policy_term_errors

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
PSO_LABELS = dict(PsoLevel.choices)


class PercentInput(forms.NumberInput):
    def __init__(self, attrs=None):
        super().__init__(
            attrs={
                "step": "0.01",
                "min": "0",
                "max": "100",
                "inputmode": "decimal",
                **(attrs or {}),
            }
        )


class PolicyForm(forms.ModelForm):
    """The date and terms of a version. ``municipality`` is fixed by the version it starts
    from; ``policy`` is the version being changed (``None`` for a new version); ``versions``
    are the municipality's version dates, for the checks on the date."""

    class Meta:
        model = SroiPolicy
        fields = ("valid_from", *POLICY_TERMS)
        widgets = {
            "valid_from": DateInput,
            "threshold": MoneyInput,
            "default_percentage": PercentInput,
            "reduced_percentage": PercentInput,
            "reduced_labour_share_below": PercentInput,
            "grace_days": forms.NumberInput(attrs={"min": "0", "max": str(MAX_GRACE_DAYS)}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "valid_from": _(
                "The first award date this version applies to. Obligations that exist already "
                "keep the version they were computed with."
            ),
            "threshold": _("Contracts from this value (excl. VAT, in euros) get an obligation."),
            "default_percentage": _("Between 0 and 100."),
            "reduced_percentage": _(
                "Optional, e.g. 2 when labour is a small share of the contract. Applied only by "
                "the adviser, with a written justification."
            ),
            "reduced_labour_share_below": _(
                "Optional: the reduced percentage applies only when labour is below this share "
                "of the contract value (e.g. 30)."
            ),
            "grace_days": _("Days after the contract's end date until the SROI deadline."),
            "notes": _("E.g. the council decision this version is based on."),
        }

    def __init__(self, *args, policy: SroiPolicy | None = None, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.versions = sorted(versions)
        for name in ("default_percentage", "reduced_percentage", "reduced_labour_share_below"):
            self.fields[name].validators += [
                MinValueValidator(Decimal("0")),
                MaxValueValidator(Decimal("100")),
            ]
        self.fields["threshold"].validators.append(MinValueValidator(Decimal("0")))
        self.fields["grace_days"].validators.append(MaxValueValidator(MAX_GRACE_DAYS))

    def clean_valid_from(self):
        day = self.cleaned_data["valid_from"]
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise forms.ValidationError(
                _("Enter a date between %(first)s and %(last)s.")
                % {"first": f"{EARLIEST_DATE:%d-%m-%Y}", "last": f"{LATEST_DATE:%d-%m-%Y}"}
            )
        own = self.policy.valid_from if self.policy is not None else None
        others = [v for v in self.versions if v != own]
        if day in others:
            raise forms.ValidationError(
                _("This municipality already has a version with this date.")
            )
        if self.policy is None:
            if others and day <= others[-1]:
                raise forms.ValidationError(
                    _(
                        "A new version must take effect after the latest version, which takes "
                        "effect on %(date)s."
                    )
                    % {"date": f"{others[-1]:%d-%m-%Y}"}
                )
        else:
            before = [v for v in others if v < own]
            after = [v for v in others if v > own]
            if (before and day <= before[-1]) or (after and day >= after[0]):
                raise forms.ValidationError(
                    _(
                        "Versions keep their order: the date must lie between the previous "
                        "version (%(previous)s) and the next one (%(next)s)."
                    )
                    % {
                        "previous": f"{before[-1]:%d-%m-%Y}" if before else "–",
                        "next": f"{after[0]:%d-%m-%Y}" if after else "–",
                    }
                )
        return day

    def clean(self):
        cleaned = super().clean()
        for field, message in policy_term_errors(cleaned).items():
            if field in cleaned or field in self.fields:
                self.add_error(field, message)
        return cleaned

    def terms(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name != "valid_from"}


class PsoDiscountForm(forms.Form):
    """One PSO level's discount; empty means no discount for that level."""

    level = forms.ChoiceField(choices=[(v, v) for v in PSO_LEVELS], widget=forms.HiddenInput)
    discount_percentage = forms.DecimalField(
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        widget=PercentInput,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        level = self.initial.get("level") or self.data.get(self.add_prefix("level"))
        self.fields["discount_percentage"].label = _("%(level)s: discount (%%)") % {
            "level": PSO_LABELS.get(level, level)
        }


class BasePsoDiscountFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        levels = [f.cleaned_data.get("level") for f in self.forms]
        if sorted(levels) != sorted(PSO_LEVELS):
            raise forms.ValidationError(_("Every PSO level appears exactly once."))

    def discounts(self) -> dict[str, Decimal | None]:
        return {
            f.cleaned_data["level"]: f.cleaned_data.get("discount_percentage") for f in self.forms
        }


PsoDiscountFormSet = forms.formset_factory(
    PsoDiscountForm,
    formset=BasePsoDiscountFormSet,
    extra=0,
    max_num=len(PSO_LEVELS),
    absolute_max=len(PSO_LEVELS),
    validate_max=True,
    min_num=len(PSO_LEVELS),
    validate_min=True,
)


def pso_discount_formset(data=None, *, policy: SroiPolicy | None = None) -> PsoDiscountFormSet:
    """One row per PSO level, prefilled with ``policy``'s discounts."""
    current = {}
    if policy is not None:
        current = {d.level: d.discount_percentage for d in policy.pso_discounts.all()}
    initial = [{"level": level, "discount_percentage": current.get(level)} for level in PSO_LEVELS]
    return PsoDiscountFormSet(data, initial=initial, prefix="pso")


# --- The list's filter -----------------------------------------------------------------------


class PolicyFilter(django_filters.FilterSet):
    """Filter of the version list; the queryset comes scoped to the user."""

    IN_USE_CHOICES = (("yes", _("In use by obligations")), ("no", _("Not used yet")))

    q = django_filters.CharFilter(label=_("Search"), method="filter_q")
    municipality = django_filters.ModelChoiceFilter(
        label=_("Municipality"), queryset=None, empty_label=_("All municipalities")
    )
    in_use = django_filters.ChoiceFilter(
        label=_("Use"), choices=IN_USE_CHOICES, method="filter_in_use", empty_label=_("All")
    )

    class Meta:
        model = SroiPolicy
        fields = ("q", "municipality", "in_use")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.filters["municipality"].queryset = permissions.municipalities_visible_to(
            request.user, Action.MANAGE_POLICY
        ).order_by("name")
        self.form.fields["q"].help_text = _("Municipality or notes")

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(municipality__name__icontains=value) | Q(notes__icontains=value))

    def filter_in_use(self, qs, name, value):
        used = Exists(Obligation.objects.filter(policy=OuterRef("pk")))
        if value == "yes":
            return qs.filter(used)
        if value == "no":
            return qs.filter(~used)
        return qs
