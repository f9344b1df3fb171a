"""Property tests of the report form and the dashboard's flag forms (hypothesis): any query
string gives a valid report period or a message on the form, never an exception; the report
pages and downloads answer 200, 400 or 404, never 500.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporting.forms import ReportForm
from reporting.forms_dashboard import AcknowledgeFlagForm, DashboardFilterForm, SnoozeFlagForm
from tests.contracts.test_forms_properties import date_input, number_input, text_input

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TODAY = date(2026, 11, 26)


class _Municipality:
    def __init__(self, pk, name):
        self.pk, self.name = pk, name


MUNICIPALITIES = [_Municipality(1, "Noordwijk"), _Municipality(2, "Katwijk")]
any_value = st.one_of(number_input, text_input, date_input)


@PROPERTY_SETTINGS
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "municipality": st.one_of(st.sampled_from(["1", "2", "all", "3"]), any_value),
            "period": st.one_of(st.sampled_from(["all", "year", "quarter", "custom"]), any_value),
            "year": st.one_of(
                st.sampled_from(["9999", "10000", "1999", str(10**30), "-1", "2026"]), any_value
            ),
            "quarter": st.one_of(st.sampled_from(["1", "4", "5", "0"]), any_value),
            "date_from": date_input,
            "date_to": date_input,
            "as_of": date_input,
        },
    )
)
def test_report_form(data):
    form = ReportForm(data, municipalities=MUNICIPALITIES, today=TODAY)
    if form.is_valid():
        period = form.cleaned_data["report_period"]
        assert period is not None
        assert period.start is None or period.start <= period.end
        assert form.cleaned_data["as_of"] <= TODAY
    else:
        assert form.errors
        for field, messages in form.errors.items():
            assert field == "__all__" or field in form.fields
            assert all(m.strip() for m in messages)


@pytest.mark.parametrize(
    ("year", "quarter"), [("9999", "4"), ("10000", "1"), (str(10**30), "1"), ("99999", "")]
)
def test_a_year_beyond_the_calendar_is_a_message(year, quarter):
    """Minimal failing inputs of the property: year 9999, quarter 4 (its end is computed from
    1 January 10000) and year 10**30 raised ValueError/OverflowError: a 500 on the report."""
    period = "quarter" if quarter else "year"
    form = ReportForm(
        {"period": period, "year": year, "quarter": quarter},
        municipalities=MUNICIPALITIES,
        today=TODAY,
    )
    assert not form.is_valid()
    assert "year" in form.errors


@PROPERTY_SETTINGS
@given(note=text_input, until=date_input, municipality=any_value, snoozed=any_value)
def test_dashboard_forms(note, until, municipality, snoozed):
    ack = AcknowledgeFlagForm({"note": note})
    assert ack.is_valid() or ack.errors["note"]
    if ack.is_valid():
        assert "\x00" not in ack.cleaned_data["note"]
    snooze = SnoozeFlagForm({"until": until}, today=TODAY)
    assert snooze.is_valid() or snooze.errors["until"]
    dashboard = DashboardFilterForm(
        {"municipality": municipality, "snoozed": snoozed}, municipalities=MUNICIPALITIES
    )
    assert dashboard.selected  # an invalid filter shows all the user's municipalities


@pytest.mark.parametrize(
    "params",
    [
        {"period": "year", "year": "10000"},
        {"period": "quarter", "year": "9999", "quarter": "4"},
        {"period": "year", "year": str(10**30)},
        {"period": "custom", "date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"as_of": "0001-01-01"},
        {"municipality": "\x00"},
        {"period": "quarter", "year": "2026", "quarter": "99999999999999999999"},
    ],
)
@pytest.mark.parametrize("name", ["reporting:report", "reporting:export_csv"])
def test_report_pages_never_answer_500(client, world, params, name):
    client.force_login(world.adviser)
    response = client.get(reverse(name), params)
    assert response.status_code in (200, 400, 404)
