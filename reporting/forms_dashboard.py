"""Forms of the adviser's dashboard: the filter, and acknowledging / snoozing a flag."""

from __future__ import annotations

from datetime import date, timedelta

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from .flag_services import MAX_SNOOZE, NOTE_MAX_LENGTH

ALL = ""


class DashboardFilterForm(forms.Form):
    """``?municipality=<id>`` (one of those the user advises; empty: all) and
    ``?snoozed=1``. An unknown municipality is an invalid choice, never another one's data."""

    municipality = forms.ChoiceField(label=_("Municipality"), required=False)
    snoozed = forms.BooleanField(label=_("Show snoozed flags"), required=False)

    def __init__(self, data, *, municipalities):
        self.municipalities = {str(m.pk): m for m in municipalities}
        super().__init__(data)
        self.fields["municipality"].choices = [(ALL, _("All my municipalities"))] + [
            (pk, m.name) for pk, m in self.municipalities.items()
        ]

    @property
    def selected(self) -> list:
        """The municipalities to show (all the user's when the filter is empty or invalid)."""
        value = self.cleaned_data.get("municipality") if self.is_valid() else None
        if value:
            return [self.municipalities[value]]
        return list(self.municipalities.values())

    @property
    def show_snoozed(self) -> bool:
        return bool(self.is_valid() and self.cleaned_data.get("snoozed"))


class AcknowledgeFlagForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What have you done or decided? Shown with the flag."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class SnoozeFlagForm(forms.Form):
    until = forms.DateField(
        label=_("Snooze until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("The flag is hidden from the dashboard until this date (at most one year)."),
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        widget = self.fields["until"].widget
        widget.attrs["min"] = (today + timedelta(days=1)).isoformat()
        widget.attrs["max"] = (today + MAX_SNOOZE).isoformat()
        self.helper = FormHelper()
        self.helper.form_tag = False
