"""Accepting an invitation to the contractor portal; included under the ``placements``
namespace (``/contributions/portal/invitation/<token>/``)."""

from django.urls import path

from . import views_invitations as views

urlpatterns = [
    path(
        "portal/invitation/<str:token>/",
        views.accept_invitation,
        name="portal_accept_invitation",
    ),
]
