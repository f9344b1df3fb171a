"""URLs of the audit history pages (namespace ``history``), included from ``sroi.urls``."""

from django.urls import path

from . import views_history

app_name = "history"

urlpatterns = [
    path(
        "<str:kind>/<int:pk>/",
        views_history.object_history,
        name="object_history",
    ),
]
