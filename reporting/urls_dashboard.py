"""The adviser's dashboard and its flag actions (namespace ``reporting``, under /reports/).

Included by ``reporting/urls.py``."""

from django.urls import path

from . import views_dashboard as views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("flags/<int:pk>/acknowledge/", views.flag_acknowledge, name="flag_acknowledge"),
    path("flags/<int:pk>/snooze/", views.flag_snooze, name="flag_snooze"),
]
