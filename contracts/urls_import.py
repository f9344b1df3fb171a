"""URLs of the spreadsheet import (included under the namespace ``contracts``)."""

from django.urls import path

from . import views_import

urlpatterns = [
    path("import/", views_import.import_contracts, name="import_contracts"),
    path("import/template.xlsx", views_import.import_template, name="import_template"),
    path("import/<str:token>/", views_import.import_preview, name="import_preview"),
    path("import/<str:token>/confirm/", views_import.import_confirm, name="import_confirm"),
    path("import/<str:token>/result/", views_import.import_result, name="import_result"),
]
