"""The contribution list, the verification queue, the review of one contribution and the
download of evidence; included under the ``placements`` namespace at ``/contributions/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.contribution_list, name="contribution_list"),
    path("verification/", views.verification_queue, name="verification_queue"),
    path("<int:pk>/", views.contribution_detail, name="contribution_detail"),
    path("<int:pk>/approve/", views.contribution_approve, name="contribution_approve"),
    path("<int:pk>/reject/", views.contribution_reject, name="contribution_reject"),
    path("<int:pk>/return/", views.contribution_return, name="contribution_return"),
    path(
        "<int:pk>/confirm-eligibility/",
        views.contribution_confirm_eligibility,
        name="contribution_confirm_eligibility",
    ),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence_download"),
]
