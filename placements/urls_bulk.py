"""URLs of bulk reporting by spreadsheet (``/contributions/portal/bulk/…``, namespace
``placements``)."""

from django.urls import path

from . import views_bulk as views

urlpatterns = [
    path("portal/bulk/", views.bulk_upload, name="portal_bulk_upload"),
    path("portal/bulk/template.xlsx", views.bulk_template, name="portal_bulk_template"),
    path("portal/bulk/<str:token>/", views.bulk_preview, name="portal_bulk_preview"),
    path("portal/bulk/<str:token>/confirm/", views.bulk_confirm, name="portal_bulk_confirm"),
    path("portal/bulk/<str:token>/result/", views.bulk_result, name="portal_bulk_result"),
]
