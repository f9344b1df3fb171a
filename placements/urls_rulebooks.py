"""URLs of the rulebook screens, included under the ``placements`` namespace at
``/contributions/``."""

from django.urls import path

from . import views_rulebooks as views

urlpatterns = [
    path("rulebooks/", views.rulebook_list, name="rulebook_list"),
    path("rulebooks/import/", views.rulebook_import, name="rulebook_import"),
    path("rulebooks/<int:pk>/", views.rulebook_detail, name="rulebook_detail"),
    path(
        "rulebooks/<int:pk>/new-version/",
        views.rulebook_new_version,
        name="rulebook_new_version",
    ),
    path("rulebooks/<int:pk>/publish/", views.rulebook_publish, name="rulebook_publish"),
    path("rulebooks/<int:pk>/export.json", views.rulebook_export, name="rulebook_export"),
    path("rulebooks/<int:pk>/rules/new/", views.rule_create, name="rulebook_rule_create"),
    path(
        "rulebooks/<int:pk>/rules/<int:item_pk>/edit/",
        views.rule_edit,
        name="rulebook_rule_edit",
    ),
    path(
        "rulebooks/<int:pk>/rules/<int:item_pk>/delete/",
        views.rule_delete,
        name="rulebook_rule_delete",
    ),
    path("rulebooks/<int:pk>/bonuses/new/", views.bonus_create, name="rulebook_bonus_create"),
    path(
        "rulebooks/<int:pk>/bonuses/<int:item_pk>/edit/",
        views.bonus_edit,
        name="rulebook_bonus_edit",
    ),
    path(
        "rulebooks/<int:pk>/bonuses/<int:item_pk>/delete/",
        views.bonus_delete,
        name="rulebook_bonus_delete",
    ),
]
