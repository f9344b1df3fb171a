"""Forms and the filter of the rulebook screens: a new version, a rule, a bonus, the JSON import
and the filter of the rulebook list.

They validate what a user can get wrong at the field; ``placements.services`` writes and has
the valuation engine check the rule or bonus again (its messages are put on the form by the
view).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from contracts.models import Obligation
from sroi import permissions
from sroi.models import Organisation
from sroi.permissions import Action, get_scope

from .choices import Block, TargetGroup
from .models import Bonus, Rule, Rulebook

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
#: A rulebook is a small document; anything much bigger is not one.
MAX_IMPORT_BYTES = 1024 * 1024


class DateInput(forms.DateInput):
    """A native date picker; the value travels as ISO 8601 whatever the language."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DecimalInput(forms.NumberInput):
    def __init__(self, attrs=None):
        super().__init__(attrs={"step": "0.01", "inputmode": "decimal", **(attrs or {})})


def _check_date(day: date | None) -> date | None:
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        raise forms.ValidationError(
            _("Enter a date between %(first)s and %(last)s.")
            % {"first": f"{EARLIEST_DATE:%d-%m-%Y}", "last": f"{LATEST_DATE:%d-%m-%Y}"}
        )
    return day


# --- New version -----------------------------------------------------------------------------


class RulebookVersionForm(forms.Form):
    """The version label and start date of a new draft copied from ``source``."""

    version = forms.CharField(
        label=_("Version"),
        max_length=50,
        help_text=_("E.g. 2027.1. Unique for this rulebook."),
    )
    valid_from = forms.DateField(
        label=_("Valid from"),
        widget=DateInput,
        help_text=_(
            "Once published, obligations awarded from this date on are agreed with this version."
        ),
    )

    def __init__(self, *args, source: Rulebook, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source

    def clean_version(self):
        version = " ".join(self.cleaned_data["version"].split())
        if not version:
            raise forms.ValidationError(_("Enter a version."))
        taken = Rulebook.objects.filter(
            owner_id=self.source.owner_id, name=self.source.name, version=version
        ).exists()
        if taken:
            raise forms.ValidationError(
                _("This rulebook already has a version %(version)s.") % {"version": version}
            )
        return version

    def clean_valid_from(self):
        return _check_date(self.cleaned_data["valid_from"])


# --- Rules and bonuses -----------------------------------------------------------------------


class _CodeUniqueMixin:
    """The code is unique within the rulebook (the database says so too, less politely)."""

    def __init__(self, *args, rulebook: Rulebook, **kwargs):
        super().__init__(*args, **kwargs)
        self.rulebook = rulebook

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        model = self._meta.model
        others = model.objects.filter(rulebook=self.rulebook, code=code)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("This rulebook already has an item with this code."))
        return code

    def item_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class RuleForm(_CodeUniqueMixin, forms.ModelForm):
    target_groups = forms.MultipleChoiceField(
        label=_("Target groups"),
        choices=TargetGroup.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any target group."),
    )

    class Meta:
        model = Rule
        fields = (
            "code",
            "label",
            "block",
            "kind",
            "rate",
            "target_groups",
            "variant",
            "min_years_on_benefit",
            "max_years_on_benefit",
            "fte_hours",
            "min_hours_per_week",
            "max_years",
            "min_duration_days",
            "percent",
        )
        widgets = {
            "rate": DecimalInput(attrs={"min": "0"}),
            "min_years_on_benefit": DecimalInput(attrs={"min": "0"}),
            "max_years_on_benefit": DecimalInput(attrs={"min": "0"}),
            "fte_hours": DecimalInput(attrs={"min": "0", "max": "168"}),
            "min_hours_per_week": DecimalInput(attrs={"min": "0", "max": "168"}),
            "max_years": DecimalInput(attrs={"min": "0"}),
            "percent": DecimalInput(attrs={"min": "0", "max": "100"}),
            "min_duration_days": forms.NumberInput(attrs={"min": "1"}),
        }
        help_texts = {
            "code": _("Letters, digits and hyphens, e.g. job-pw-ge2. Unique in the rulebook."),
            "label": _("Shown in the value explanations."),
            "rate": _(
                "In euros: per year (annual rate), per month (monthly rate), per contribution "
                "(fixed amount) or per hour (hourly rate). 0 for percentage and actual-cost "
                "rules."
            ),
            "variant": _(
                "Optional, e.g. mbo1-2: only contributions that ask for exactly this variant "
                "match the rule."
            ),
            "min_years_on_benefit": _("Optional lower bound (inclusive)."),
            "max_years_on_benefit": _("Optional upper bound (exclusive)."),
            "fte_hours": _(
                "Annual and monthly rates are pro rata by hours per week against this full-time "
                "week. Empty: not pro rata."
            ),
            "min_hours_per_week": _("Annual and monthly rules only: below this the value is zero."),
            "max_years": _("Annual and monthly rules only: the years counted at most."),
            "min_duration_days": _("Fixed amounts only: the minimum duration in days."),
            "percent": _(
                "Percentage-of-invoice and actual-cost rules only (actual cost: empty means 100)."
            ),
        }


class BonusForm(_CodeUniqueMixin, forms.ModelForm):
    blocks = forms.MultipleChoiceField(
        label=_("Blocks"),
        choices=Block.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any block."),
    )
    target_groups = forms.MultipleChoiceField(
        label=_("Target groups"),
        choices=TargetGroup.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any target group."),
    )

    class Meta:
        model = Bonus
        fields = (
            "code",
            "label",
            "amount",
            "blocks",
            "target_groups",
            "min_age",
            "max_age",
            "requires_permanent_contract",
        )
        widgets = {
            "amount": DecimalInput(attrs={"min": "0"}),
            "min_age": forms.NumberInput(attrs={"min": "0", "max": "120"}),
            "max_age": forms.NumberInput(attrs={"min": "0", "max": "120"}),
        }
        help_texts = {
            "code": _("Letters, digits and hyphens, e.g. age-50-plus. Unique in the rulebook."),
            "amount": _("In euros, added to the contribution's value when every condition holds."),
            "min_age": _("Optional; the age in the year the contribution starts (inclusive)."),
            "max_age": _("Optional (inclusive)."),
        }


# --- Import ----------------------------------------------------------------------------------


def owner_choices(user):
    """Organisations that may own a rulebook this user imports: a municipality they manage
    rulebooks for, or a body that serves only such municipalities (their executing body)."""
    scope = get_scope(user)
    if scope.is_superuser:
        return Organisation.objects.filter(is_active=True)
    managed = scope.municipalities_for(Action.MANAGE_RULEBOOK)
    if not managed:
        return Organisation.objects.none()
    outside = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).exclude(
        pk__in=managed
    )
    bodies = (
        Organisation.objects.exclude(kind=Organisation.Kind.MUNICIPALITY)
        .filter(serves__in=managed)
        .exclude(serves__in=outside)
        .values("pk")
    )
    return Organisation.objects.filter(
        Q(pk__in=managed) | Q(pk__in=bodies), is_active=True
    ).order_by("name")


class RulebookImportForm(forms.Form):
    file = forms.FileField(
        label=_("Rulebook file (JSON)"),
        help_text=_(
            "A file in the format sroi-rulebook/1, e.g. one exported here. It is stored as a "
            "new draft."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    owner = forms.ModelChoiceField(
        label=_("Owner organisation"), queryset=Organisation.objects.none()
    )
    municipalities = forms.ModelMultipleChoiceField(
        label=_("Applies to municipalities"),
        queryset=Organisation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices(user)
        self.fields["municipalities"].queryset = permissions.municipalities_visible_to(
            user, Action.MANAGE_RULEBOOK
        ).order_by("name")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is too large for a rulebook (at most 1 MB)."))
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                _("The file is not a text file in UTF-8: choose a JSON rulebook.")
            ) from None
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError(
                _("The file is not valid JSON: %(error)s") % {"error": exc}
            ) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("The file must hold one JSON object (a rulebook)."))
        bad = _invalid_character(data)
        if bad is not None:
            raise forms.ValidationError(
                _("The file contains an invalid character (U+%(code)04X) at %(path)s.")
                % {"code": ord(bad[1]), "path": bad[0] or _("the top level")}
            )
        self.cleaned_data["data"] = data
        return upload


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _invalid_character(data) -> tuple[str, str] | None:
    """The first character no database column may hold, with its path in the document: NUL
    and other control characters (PostgreSQL refuses NUL in text) and lone surrogates (from a
    JSON escape such as ``\\ud800``, which cannot be encoded at all). Iterative: a deeply
    nested document must not exhaust the stack."""
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            for char in value:
                category = unicodedata.category(char)
                if category == "Cs" or (category == "Cc" and char not in "\t\n\r"):
                    return path, char
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append((f"{path}.{key}" if path else key, item))
                stack.append((path, key))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


# --- The list's filter -----------------------------------------------------------------------


class RulebookFilter(django_filters.FilterSet):
    """Filter of the rulebook list; the queryset comes scoped to the user."""

    YES_NO = (("yes", _("Yes")), ("no", _("No")))

    q = django_filters.CharFilter(label=_("Search"), method="filter_q")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Rulebook.Status.choices, empty_label=_("All")
    )
    municipality = django_filters.ModelChoiceFilter(
        label=_("Municipality"),
        field_name="municipalities",
        queryset=None,
        empty_label=_("All municipalities"),
    )
    is_example = django_filters.ChoiceFilter(
        label=_("Example values"), choices=YES_NO, method="filter_example", empty_label=_("All")
    )
    in_use = django_filters.ChoiceFilter(
        label=_("In use"), choices=YES_NO, method="filter_in_use", empty_label=_("All")
    )

    class Meta:
        model = Rulebook
        fields = ("q", "status", "municipality", "is_example", "in_use")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.filters["municipality"].queryset = permissions.municipalities_visible_to(
            request.user
        ).order_by("name")
        self.form.fields["q"].help_text = _("Name, version or owner")

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(name__icontains=value) | Q(version__icontains=value) | Q(owner__name__icontains=value)
        )

    def filter_example(self, qs, name, value):
        return qs.filter(is_example=(value == "yes"))

    def filter_in_use(self, qs, name, value):
        used = Exists(Obligation.objects.filter(rulebook=OuterRef("pk")))
        return qs.filter(used if value == "yes" else ~used)
