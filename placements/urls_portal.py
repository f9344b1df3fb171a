"""URLs of the contractor portal (``/contributions/portal/…``, namespace ``placements``)."""

from django.urls import path

from . import views_portal as views

urlpatterns = [
    path("portal/", views.home, name="portal_home"),
    path("portal/candidates/", views.candidates, name="portal_candidates"),
    path("portal/report/", views.report_start, name="portal_report_start"),
    path("portal/obligations/<int:pk>/", views.obligation_detail, name="portal_obligation"),
    path("portal/obligations/<int:pk>/plan/", views.plan, name="portal_plan"),
    path("portal/obligations/<int:pk>/report/", views.report, name="portal_report"),
    path("portal/contributions/<int:pk>/", views.contribution_detail, name="portal_contribution"),
    path(
        "portal/contributions/<int:pk>/edit/",
        views.contribution_edit,
        name="portal_contribution_edit",
    ),
    path(
        "portal/contributions/<int:pk>/evidence/",
        views.evidence_upload,
        name="portal_evidence_upload",
    ),
]
