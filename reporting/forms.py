"""The report form: which municipality (only those the user may export), which period, as of
which date. The same form validates the screen and the downloads, so a parameter the screen
refuses is refused by the downloads too."""

from __future__ import annotations

from datetime import date

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from . import periods
from .periods import Period

ALL = "all"
PERIOD_CHOICES = (
    (periods.ALL, _("All years")),
    (periods.YEAR, _("Year")),
    (periods.QUARTER, _("Quarter")),
    (periods.CUSTOM, _("Custom period")),
)
QUARTER_CHOICES = ((1, "Q1"), (2, "Q2"), (3, "Q3"), (4, "Q4"))
FIRST_YEAR = 2000
#: The last year a report can cover (dates beyond are typing mistakes, and a period ending in
#: year 10000 cannot be computed at all).
LAST_YEAR = 2099


def _date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ReportForm(forms.Form):
    municipality = forms.ChoiceField(label=_("Municipality"))
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES)
    year = forms.IntegerField(
        label=_("Year"), min_value=FIRST_YEAR, max_value=LAST_YEAR, required=False
    )
    quarter = forms.TypedChoiceField(
        label=_("Quarter"), choices=QUARTER_CHOICES, coerce=int, required=False
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=_date_input(),
        help_text=_("Custom period only."),
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=_date_input(), help_text=_("Custom period only.")
    )
    as_of = forms.DateField(
        label=_("As of"),
        required=False,
        widget=_date_input(),
        help_text=_("Figures as known at the end of this day."),
    )

    def __init__(self, data, *, municipalities, today: date):
        """``data``: the query string (missing or empty values get defaults);
        ``municipalities``: those the user may export (``selectors.reportable_municipalities``)."""
        self.municipalities = {str(m.pk): m for m in municipalities}
        self.today = today
        single = next(iter(self.municipalities)) if len(self.municipalities) == 1 else None
        values = {
            "municipality": single or ALL,
            "period": periods.ALL,
            "year": str(today.year),
            "quarter": str(periods.quarter_of(today)),
            "as_of": today.isoformat(),
        }
        values.update({k: v for k, v in (data or {}).items() if k in self.base_fields and v})
        if single and values["municipality"] == ALL:
            values["municipality"] = single  # "all I may see" is this one municipality
        super().__init__(values)
        choices = [(ALL, _("All my municipalities"))] if len(self.municipalities) > 1 else []
        choices += [(pk, m.name) for pk, m in self.municipalities.items()]
        self.fields["municipality"].choices = choices
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(
                Column("municipality", css_class="col-md-4"),
                Column("period", css_class="col-md-3"),
                Column("year", css_class="col-md-2"),
                Column("quarter", css_class="col-md-3"),
            ),
            Row(
                Column("date_from", css_class="col-md-4"),
                Column("date_to", css_class="col-md-4"),
                Column("as_of", css_class="col-md-4"),
            ),
        )

    def clean_as_of(self):
        as_of = self.cleaned_data["as_of"] or self.today
        if as_of > self.today:
            raise forms.ValidationError(_("The figures of a future date are not known yet."))
        return as_of

    def clean(self):
        data = super().clean()
        kind, as_of = data.get("period"), data.get("as_of")
        if kind is None or as_of is None:
            return data
        period: Period | None = None
        if kind == periods.ALL:
            period = periods.all_period(as_of)
        elif kind in (periods.YEAR, periods.QUARTER):
            year = data.get("year")
            if year is None:
                self.add_error("year", _("Choose a year."))
            elif kind == periods.YEAR:
                period = periods.year_period(year)
            elif data.get("quarter") is None:
                self.add_error("quarter", _("Choose a quarter."))
            else:
                period = periods.quarter_period(year, data["quarter"])
        else:
            start, end = data.get("date_from"), data.get("date_to")
            if start is None:
                self.add_error("date_from", _("Enter the first day of the period."))
            if end is None:
                self.add_error("date_to", _("Enter the last day of the period."))
            if start and end:
                if end < start:
                    self.add_error("date_to", _("The period cannot end before it starts."))
                else:
                    period = periods.custom_period(start, end)
        if period is not None and period.start is not None and as_of < period.start:
            self.add_error("as_of", _("The as-of date cannot be before the period starts."))
            period = None
        data["report_period"] = period
        return data

    @property
    def selected_municipality(self):
        """The chosen municipality, or ``None`` for all the user may see."""
        value = self.cleaned_data["municipality"]
        return None if value == ALL else self.municipalities[value]
