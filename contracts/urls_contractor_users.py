"""A contractor's portal users and invitations (staff screen); included under the
``contracts`` namespace at ``/contracts/contractors/<pk>/users/``."""

from django.urls import path

from . import views_contractor_users as views

urlpatterns = [
    path("contractors/<int:pk>/users/", views.contractor_users, name="contractor_users"),
    path(
        "contractors/<int:pk>/users/<int:user_pk>/deactivate/",
        views.contractor_user_deactivate,
        name="contractor_user_deactivate",
    ),
    path(
        "contractors/<int:pk>/users/<int:user_pk>/reactivate/",
        views.contractor_user_reactivate,
        name="contractor_user_reactivate",
    ),
    path(
        "contractors/<int:pk>/invitations/<int:invitation_pk>/resend/",
        views.contractor_invitation_resend,
        name="contractor_invitation_resend",
    ),
    path(
        "contractors/<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.contractor_invitation_revoke,
        name="contractor_invitation_revoke",
    ),
]
