"""E-mail preferences (namespace ``reporting``, under /reports/). Included by
``reporting/urls.py``: ``urlpatterns = [*report_urlpatterns, *preferences_urlpatterns]``."""

from django.urls import path

from . import views_preferences

urlpatterns = [
    path("preferences/", views_preferences.preferences, name="preferences"),
]
