"""Audit entries cannot be added, changed or deleted through the application, superusers
included; users' and roles' history is in the (scoped) Django admin (``sroi.admin_audit``)."""

from __future__ import annotations

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from sroi import services
from sroi.admin_audit import ReadOnlyLogEntryAdmin
from sroi.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def superuser():
    return f.UserFactory(email="operator@example.nl", is_superuser=True, is_staff=True)


@pytest.fixture
def entry(world):
    contract = f.ContractFactory(municipality=world.noordwijk)
    return LogEntry.objects.get_for_object(contract).get()


def test_the_logentry_admin_is_the_read_only_one():
    assert isinstance(admin.site._registry[LogEntry], ReadOnlyLogEntryAdmin)


@pytest.mark.parametrize("persona", ["superuser", "functional_admin", "adviser"])
def test_nobody_may_add_change_or_delete_entries(world, superuser, entry, persona):
    user = superuser if persona == "superuser" else getattr(world, persona)
    request = RequestFactory().get("/admin/auditlog/logentry/")
    request.user = user
    model_admin = admin.site._registry[LogEntry]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.get_actions(request) == {}


def test_admin_urls_refuse_changes_even_for_a_superuser(client, superuser, entry):
    client.force_login(superuser)
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 200
    change = reverse("admin:auditlog_logentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200  # read-only view
    before = (entry.object_repr, entry.changes)
    assert client.post(change, {"object_repr": "tampered"}).status_code == 403
    delete = reverse("admin:auditlog_logentry_delete", args=[entry.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:auditlog_logentry_add")).status_code == 403
    bulk = client.post(
        reverse("admin:auditlog_logentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    entry.refresh_from_db()
    assert (entry.object_repr, entry.changes) == before


@pytest.mark.parametrize("persona", ["functional_admin", "adviser"])
def test_only_superusers_get_the_list_of_all_entries(client, world, entry, persona):
    user = getattr(world, persona)
    services.sync_user_access(user)
    client.force_login(user)
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 403
    change = reverse("admin:auditlog_logentry_change", args=[entry.pk])
    assert client.get(change).status_code in (403, 302)


def test_user_history_in_the_admin_shows_roles_and_groups(client, world):
    services.sync_user_access(world.functional_admin)
    user = f.UserFactory(email="nieuw.lid@example.nl", full_name="Nieuw Lid")
    with set_actor(world.functional_admin):
        services.grant_role(
            acting_user=world.functional_admin,
            user=user,
            organisation=world.executing_body,
            role=Role.COUNCIL_VIEWER,
        )
    client.force_login(world.functional_admin)
    response = client.get(reverse("admin:sroi_user_history", args=[user.pk]))
    assert response.status_code == 200
    rows = response.context["rows"]
    kinds = {(r.subject_kind, r.what) for r in rows}
    assert ("Membership", "created") in kinds
    groups = [c for r in rows if r.subject_kind == "User" for c in r.changes]
    assert any(c.new.startswith("added: ") for c in groups)
    assert all(r.who.endswith("(beheer@example.nl)") for r in rows if r.subject_kind != "User")
    html = response.content.decode()
    assert "<style" not in html.split("</head>")[-1]


def test_user_history_is_scoped_like_the_user_admin(client, world, superuser):
    services.sync_user_access(world.functional_admin)
    client.force_login(world.functional_admin)
    response = client.get(reverse("admin:sroi_user_history", args=[superuser.pk]))
    assert response.status_code in (302, 404)  # "does not exist" for the admin
    assert "rows" not in (response.context or {})
