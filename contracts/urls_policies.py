"""URLs of the policy screens (included under the namespace ``contracts``)."""

from django.urls import path

from . import views_policies

urlpatterns = [
    path("policies/", views_policies.policy_list, name="policy_list"),
    path(
        "policies/<int:pk>/new-version/",
        views_policies.policy_new_version,
        name="policy_new_version",
    ),
    path("policies/<int:pk>/edit/", views_policies.policy_edit, name="policy_edit"),
]
