"""Council reports: on screen and as downloads (namespace ``reporting``, under /reports/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.ReportView.as_view(), name="report"),
    path("export.xlsx", views.export_xlsx, name="export_xlsx"),
    path("export.csv", views.export_csv, name="export_csv"),
]
