"""Access control, URL by URL: every URL pattern of the project (the Django admin, auth and
i18n included) is requested as each persona, GET and an empty POST, with the ids of objects
the persona must not see. A response passes when it turns the persona away (redirect, 400,
403, 404, 405) or is a 200 that contains none of the foreign markers; a 500, a marker in a
response (xlsx and csv downloads unpacked), a write to the database or a broken session fails.

New views are covered without anyone remembering to add them: a URL kwarg that has no entry in
:data:`FOREIGN_KWARGS` (or an admin model without one in :data:`FOREIGN_ADMIN_OBJECTS`) fails
the test and says what to add. The machinery is in ``tests/sroi/url_walker.py``.

The foreign world: contractor A works in Noordwijk, contractor B in Katwijk, each with a full
set of objects (``url_walker.build_foreign_set``) whose texts carry markers in three
categories: contractor-level (every municipal staff member may see any contractor), municipal
(the municipality's staff and the contractor) and personal (the adviser and the contractor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.test import Client
from django.urls import include, path

from contracts.models import Contract
from sroi import services as sroi_services

from . import url_walker as uw

# --- What fills each URL kwarg ---------------------------------------------------------------

ADMIN_OBJECT = "<the foreign object of the admin's model>"

#: (URL name or route, fnmatch glob) and kwarg → the name of a value of the foreign set
#: (``ForeignSet.values``), a tuple of such names (each is requested), a callable
#: ``(foreign_set) -> value``, or :data:`ADMIN_OBJECT`. Every kwarg of every URL pattern must
#: match an entry here.
FOREIGN_KWARGS: dict[tuple[str, str], object] = {
    # Back office: contracts and obligations.
    ("contracts:contract_detail", "pk"): ("contract", "contract_settled"),
    ("contracts:contract_edit", "pk"): "contract",
    ("contracts:obligation_detail", "pk"): ("obligation", "obligation_settled"),
    ("contracts:obligation_agree", "pk"): "obligation",
    ("contracts:obligation_settle", "pk"): "obligation",
    ("contracts:plan_review", "pk"): "obligation",
    ("contracts:plan_enter", "pk"): "obligation",
    ("contracts:import_*", "token"): "upload_token",
    ("contracts:policy_*", "pk"): "policy",
    ("contracts:contractor_*", "pk"): "contractor",
    ("contracts:contractor_user_*", "user_pk"): "contractor_user",
    ("contracts:contractor_invitation_*", "invitation_pk"): "invitation",
    # Verification and rulebooks.
    ("placements:contribution_*", "pk"): ("contribution", "contribution_approved"),
    ("placements:evidence_download", "pk"): "evidence",
    ("placements:rulebook_*", "pk"): "rulebook",
    ("placements:rulebook_rule_*", "item_pk"): "rule",
    ("placements:rulebook_bonus_*", "item_pk"): "bonus",
    # The contractor portal.
    ("placements:portal_obligation", "pk"): ("obligation", "obligation_settled"),
    ("placements:portal_plan", "pk"): "obligation",
    ("placements:portal_report", "pk"): "obligation",
    ("placements:portal_contribution", "pk"): ("contribution", "contribution_rejected"),
    ("placements:portal_contribution_edit", "pk"): "contribution_returned",
    ("placements:portal_evidence_upload", "pk"): ("contribution", "contribution_returned"),
    ("placements:portal_accept_invitation", "token"): "invitation_token",
    ("placements:portal_bulk_*", "token"): "upload_token",
    # Monitoring.
    ("reporting:flag_*", "pk"): "flag",
    # An object's audit history: kind and id together.
    ("history:object_history", "*"): lambda fs: history_kwargs(fs),
    # Django's auth views: another user's reset link with a made-up token.
    ("password_reset_confirm", "uidb64"): "password_reset_uid",
    ("password_reset_confirm", "token"): lambda fs: "c0ffee-0123456789abcdef",
    # The Django admin.
    ("admin:view_on_site", "content_type_id"): "contract_content_type",
    ("admin:view_on_site", "object_id"): "contract",
    ("admin:app_list", "app_label"): lambda fs: "placements",
    ("admin:auth_user_password_change", "id"): "portal_user",
    ("admin:otp_totp_totpdevice_*", "pk"): "totp_device",
    ("admin/*", "url"): lambda fs: "no-such-page/",
    ("admin*", "object_id"): ADMIN_OBJECT,
}

#: For the admin's object URLs: ``app_label.model_name`` → the name of the foreign value.
FOREIGN_ADMIN_OBJECTS: dict[str, str] = {
    "auth.group": "group",
    "auditlog.logentry": "log_entry",
    "sroi.user": "officer",
    "sroi.membership": "membership",
    "sroi.organisation": "municipality",
    "contracts.contractor": "contractor",
    "contracts.contractorcontact": "contractor_contact",
    "contracts.contractoruser": "contractor_user",
    "contracts.sroipolicy": "policy",
    "contracts.psodiscount": "pso_discount",
    "contracts.contract": "contract",
    "contracts.obligation": "obligation",
    "contracts.obligationchange": "obligation_change",
    "contracts.settlement": "settlement",
    "placements.rulebook": "rulebook",
    "placements.rule": "rule",
    "placements.bonus": "bonus",
    "placements.candidate": "candidate",
    "placements.contribution": "contribution",
    "placements.evidence": "evidence",
    "reporting.reportschedule": "report_schedule",
    "reporting.reportdelivery": "report_delivery",
    "reporting.exportlog": "export_log",
    "otp_totp.totpdevice": "totp_device",
    "otp_static.staticdevice": "static_device",
    "axes.accessattempt": "access_attempt",
    "axes.accesslog": "access_log",
    "axes.accessfailurelog": "access_failure_log",
}

#: Audit history kinds (``sroi.history.KINDS``) → the foreign value of that kind.
HISTORY_OBJECTS = {
    "contract": "contract",
    "obligation": "obligation",
    "contribution": "contribution",
    "rulebook": "rulebook",
    "policy": "policy",
}


def history_kwargs(fs: uw.ForeignSet) -> list[dict]:
    from sroi.history import KINDS

    unknown = [kind for kind in KINDS if kind not in HISTORY_OBJECTS]
    if unknown:
        raise LookupError(
            f"audit history kinds {unknown}: add them to tests/sroi/test_url_access.py "
            "HISTORY_OBJECTS"
        )
    return [{"kind": kind, "pk": fs.values[HISTORY_OBJECTS[kind]]} for kind in KINDS]


_ADMIN_MODEL_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")


def resolve_value(entry, pattern: uw.Pattern, kwarg: str, fs: uw.ForeignSet) -> list:
    """The values to try for one kwarg (``LookupError`` with advice when there is none)."""
    if entry == ADMIN_OBJECT:
        match = _ADMIN_MODEL_ROUTE.match(pattern.route)
        label = f"{match['app']}.{match['model']}" if match else pattern.route
        if label not in FOREIGN_ADMIN_OBJECTS:
            raise LookupError(
                f"admin model {label!r} has object URLs: add it to "
                "tests/sroi/test_url_access.py FOREIGN_ADMIN_OBJECTS (and build a foreign "
                "object of it in url_walker.build_foreign_set)"
            )
        entry = FOREIGN_ADMIN_OBJECTS[label]
    if callable(entry):
        value = entry(fs)
        return value if kwarg == "*" else [value]
    names = entry if isinstance(entry, tuple) else (entry,)
    missing = [name for name in names if name not in fs.values]
    if missing:
        raise LookupError(
            f"the foreign set has no value {missing}: build it in url_walker.build_foreign_set"
        )
    return [fs.values[name] for name in names]


def list_query(fs: uw.ForeignSet) -> dict:
    """Filters tried on every page without kwargs: the foreign set's ids, all years."""
    return {
        "municipality": fs.values["municipality"],
        "contractor": fs.values["contractor"],
        "contract": fs.values["contract"],
        "obligation": fs.values["obligation"],
        "period": "all",
    }


# --- Personas --------------------------------------------------------------------------------

A, B = "A", "B"  # contractor A in Noordwijk, contractor B in Katwijk
ALL = uw.CATEGORIES


@dataclass(frozen=True)
class PersonaSpec:
    """Who (a ``world`` attribute, or None for anonymous), whose ids to try, which markers
    (foreign set → categories) must never reach them, and in which target set their role lets
    them change things (requests with those ids may write; all others must not)."""

    user: str | None
    targets: tuple[str, ...]
    forbidden: tuple[tuple[str, tuple[str, ...]], ...]
    may_change: tuple[str, ...] = ()


PERSONAS: dict[str, PersonaSpec] = {
    "anonymous": PersonaSpec(None, (B,), ((A, ALL), (B, ALL))),
    "outsider": PersonaSpec("outsider", (A,), ((A, ALL), (B, ALL))),
    "contractor A": PersonaSpec("contractor_a_user", (B,), ((B, ALL),)),
    "contractor B": PersonaSpec("contractor_b_user", (A,), ((A, ALL),)),
    # Staff of Noordwijk: Katwijk's data is foreign; personal data even in Noordwijk.
    "officer Noordwijk": PersonaSpec(
        "officer_noordwijk",
        (B, A),
        ((B, (uw.MUNICIPAL, uw.PERSONAL)), (A, (uw.PERSONAL,))),
        may_change=(A,),  # e.g. deactivate a portal user of a contractor working in Noordwijk
    ),
    "council Noordwijk": PersonaSpec(
        "council_noordwijk",
        (B, A),
        ((B, (uw.MUNICIPAL, uw.PERSONAL)), (A, (uw.PERSONAL,))),
    ),
    "adviser Katwijk": PersonaSpec("adviser_katwijk", (A,), ((A, (uw.MUNICIPAL, uw.PERSONAL)),)),
    # Adviser in Katwijk and council viewer in Noordwijk: the two scopes must not mix.
    "adviser Katwijk + council Noordwijk": PersonaSpec("mixed_user", (A,), ((A, (uw.PERSONAL,)),)),
    # Serves both municipalities, but never sees candidates' personal data.
    "functional admin": PersonaSpec(
        "functional_admin",
        (B,),
        ((A, (uw.PERSONAL,)), (B, (uw.PERSONAL,))),
        may_change=(B,),  # memberships and policies of the municipalities served
    ),
}

#: Requests that may write, to the persona's own account only: (URL name or route glob) →
#: tables. Everything else must not write, whatever the persona sends.
ALLOWED_WRITES: dict[str, frozenset[str]] = {
    # Opening the set-up page prepares an unconfirmed authenticator for the user.
    "two_factor_enrol": frozenset({"otp_totp_totpdevice"}),
    # The persona's own e-mail preferences.
    "reporting:preferences": frozenset({"reporting_notificationpreference"}),
}

#: Models whose row counts must be the same before and after a walk.
COUNTED_APPS = ("sroi", "contracts", "placements", "reporting")


@pytest.fixture(autouse=True)
def _walk_settings(settings):
    # Two empty login POSTs per walk are not an attack; the lockout has its own tests.
    settings.AXES_ENABLED = False


@pytest.fixture
def foreign(world):
    """The two foreign sets, and every persona's role groups and staff flag in place (so the
    admin is walked as these users really see it)."""
    for name in ("officer_katwijk",) + tuple(s.user for s in PERSONAS.values() if s.user):
        sroi_services.sync_user_access(getattr(world, name))
    return {
        A: uw.build_foreign_set(
            world,
            tag=A,
            municipality=world.noordwijk,
            contractor=world.contractor_a,
            contractor_user=world.contractor_a_user,
            officer=world.officer_noordwijk,
            initials="J.W.Y.",
        ),
        B: uw.build_foreign_set(
            world,
            tag=B,
            municipality=world.katwijk,
            contractor=world.contractor_b,
            contractor_user=world.contractor_b_user,
            officer=world.officer_katwijk,
            initials="Q.X.Z.",
        ),
    }


def make_persona(world, foreign_sets, name: str) -> uw.Persona:
    spec = PERSONAS[name]
    forbidden = set()
    for tag, categories in spec.forbidden:
        forbidden |= foreign_sets[tag].markers_of(*categories)
    user = getattr(world, spec.user) if spec.user else None
    return uw.Persona(name, user, spec.targets, frozenset(forbidden), frozenset(spec.may_change))


def new_walk(world, foreign_sets, name: str, urlconf=None, kwargs_map=None) -> uw.Walk:
    return uw.Walk(
        client=Client(raise_request_exception=False),
        persona=make_persona(world, foreign_sets, name),
        foreign_sets=foreign_sets,
        kwargs_map=FOREIGN_KWARGS if kwargs_map is None else kwargs_map,
        resolve_value=resolve_value,
        list_query=list_query,
        allowed_writes=ALLOWED_WRITES,
        urlconf=urlconf,
    )


def row_counts() -> dict[str, int]:
    """Rows per model, except logs and what the persona may write to their own account."""
    skip = uw.WRITABLE_TABLES.union(*ALLOWED_WRITES.values())
    return {
        model._meta.label: model._default_manager.count()
        for app in COUNTED_APPS
        for model in apps.get_app_config(app).get_models()
        if model._meta.db_table not in skip
    }


def sanity_failures(walk: uw.Walk, *, relogin: bool = True) -> list[str]:
    """A logged-in persona must really be logged in (and past any second-factor step): the
    home page answers 200, and for staff the admin index too. Otherwise every URL would be
    'turned away' for the wrong reason."""
    user = walk.persona.user
    if user is None:
        return []
    if relogin:
        walk.login()
    problems = []
    checks = [("/", "home page")] + ([("/admin/", "admin index")] if user.is_staff else [])
    for url, what in checks:
        response = walk.client.get(url)
        if response.status_code != 200:
            problems.append(
                f"{walk.persona.name}: the {what} {url} answers {response.status_code} "
                f"({response.get('Location', '')}): the persona's session does not work"
            )
    return problems


# --- Tests -----------------------------------------------------------------------------------


def test_every_url_kwarg_has_a_foreign_value():
    """Fails as soon as a view with an unmapped kwarg is added (without building anything)."""
    missing = []
    for pattern in uw.url_patterns():
        if uw.lookup_kwarg(FOREIGN_KWARGS, pattern, "*") is not None:
            continue
        for kwarg in pattern.kwargs:
            entry = uw.lookup_kwarg(FOREIGN_KWARGS, pattern, kwarg)
            if entry is None:
                missing.append(f"{pattern.label} ({pattern.route}): {kwarg}")
            elif entry == ADMIN_OBJECT:
                match = _ADMIN_MODEL_ROUTE.match(pattern.route)
                if not match or f"{match['app']}.{match['model']}" not in FOREIGN_ADMIN_OBJECTS:
                    missing.append(f"{pattern.label}: admin model not in FOREIGN_ADMIN_OBJECTS")
    assert not missing, "add to FOREIGN_KWARGS / FOREIGN_ADMIN_OBJECTS:\n" + "\n".join(missing)


def test_the_walker_sees_the_whole_project():
    """The pattern list is complete: the admin, auth, i18n and every app are in it, and every
    pattern can be built into a URL that reaches it."""
    patterns = uw.url_patterns()
    routes = {p.route for p in patterns}
    for expected in (
        "admin/placements/candidate/<path:object_id>/change/",
        "accounts/login/",
        "i18n/setlang/",
        "contracts/<int:pk>/",
        "contributions/portal/obligations/<int:pk>/",
        "reports/export.xlsx",
    ):
        assert expected in routes
    assert len(patterns) > 200


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_no_url_shows_a_persona_foreign_data(world, foreign, persona):
    walk = new_walk(world, foreign, persona)
    problems = sanity_failures(walk)
    assert not problems, "\n".join(problems)
    before = row_counts()
    patterns = uw.url_patterns()
    failures = walk.run(patterns)
    # Still logged in (and verified) at the end: no part of the walk ran as anonymous.
    failures += [f"after the walk: {line}" for line in sanity_failures(walk, relogin=False)]
    after = row_counts()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if changed and not walk.persona.may_change:
        failures.append(f"{persona}: row counts changed during the walk: {changed}")
    print(f"{persona}: {len(patterns)} patterns, {walk.requests} requests")  # shown with -s
    assert walk.requests > 400
    assert not failures, f"{len(failures)} access-control failure(s):\n" + "\n".join(failures)


# --- The walker itself -----------------------------------------------------------------------

#: Pages where those who may see the foreign set do see its markers: the positive control
#: that keeps the walk meaningful (a foreign world that no page shows would pass vacuously).
SHOWN_TO_ADVISER = {
    "contracts:contract_detail",
    "contracts:contract_list",
    "contracts:contractor_users",
    "contracts:plan_review",
    "placements:contribution_detail",
    "placements:evidence_download",
    "placements:verification_queue",
    "placements:rulebook_detail",
    "reporting:dashboard",
    "reporting:report",
    "reporting:export_xlsx",
    "reporting:export_csv",
    "history:object_history",
}
SHOWN_TO_CONTRACTOR = {
    "placements:portal_home",
    "placements:portal_candidates",
    "placements:portal_obligation",
    "placements:portal_plan",
    "placements:portal_contribution",
    "placements:evidence_download",
}


def test_the_foreign_markers_reach_those_who_may_see_them(world, foreign):
    """Walked as the adviser (serving both municipalities) and as contractor B itself, with
    every marker of contractor B's set 'forbidden', the walk must find them on the pages that
    show these objects: the markers and the kwargs really point at the foreign set."""
    everything = frozenset(foreign[B].markers_of())
    for user, expected in (
        (world.adviser, SHOWN_TO_ADVISER),
        (world.contractor_b_user, SHOWN_TO_CONTRACTOR),
    ):
        walk = new_walk(world, foreign, "contractor A")
        walk.persona = uw.Persona("owner", user, (B,), everything, frozenset({B}))
        failures = walk.run(p for p in uw.url_patterns() if p.name in expected)
        shown = {line.split(" [")[1].split("]")[0] for line in failures if "foreign data" in line}
        assert shown == expected, sorted(expected - shown)
        assert not [line for line in failures if "foreign data" not in line], failures


def _leaky_contract_view(request, pk):
    """A view that forgets to scope: any contract, to anybody."""
    contract = get_object_or_404(Contract, pk=pk)
    return HttpResponse(f"<h1>{contract.title}</h1>")


def _leaky_list_view(request):
    return HttpResponse(", ".join(Contract.objects.values_list("title", flat=True)))


class LeakyUrlconf:
    """The project's URLs plus two views that leak (a urlconf may be any object with
    ``urlpatterns``)."""

    urlpatterns = [
        path("leak/contract/<int:pk>/", _leaky_contract_view, name="leaky_contract"),
        path("leak/contracts/", _leaky_list_view, name="leaky_list"),
        path("", include("sroi.urls")),
    ]


def test_the_walker_reports_leaks_and_unmapped_kwargs(world, foreign, settings):
    settings.ROOT_URLCONF = LeakyUrlconf
    leaky = [p for p in uw.url_patterns() if p.route.startswith("leak/")]
    assert {p.name for p in leaky} == {"leaky_contract", "leaky_list"}

    # Unmapped: the new view's kwarg is reported with the advice, and nothing else is wrong.
    walk = new_walk(world, foreign, "contractor A")
    failures = walk.run(leaky)
    assert any(
        "new view 'leaky_contract'" in line and "kwarg 'pk'" in line and "FOREIGN_KWARGS" in line
        for line in failures
    ), failures
    assert any("leaky_list" in line and "FOREIGN-CONTRACT-B-ZK8" in line for line in failures)

    # Mapped: the leak of contractor B's contract to contractor A is reported.
    mapped = {**FOREIGN_KWARGS, ("leaky_contract", "pk"): "contract"}
    failures = new_walk(world, foreign, "contractor A", kwargs_map=mapped).run(leaky)
    contract = foreign[B].objects["contract"]
    assert any(
        f"GET /leak/contract/{contract.pk}/" in line and "FOREIGN-CONTRACT-B-ZK8" in line
        for line in failures
    ), failures

    # The adviser serving both municipalities may see it all: no false alarm.
    clean = new_walk(world, foreign, "contractor A", kwargs_map=mapped)
    clean.persona = uw.Persona("adviser", world.adviser, (B,), frozenset())
    assert clean.run(leaky) == []


def test_the_walker_reports_a_500_and_a_write(world, foreign, settings):
    calls = []

    def broken(request):
        raise RuntimeError("boom")

    def writes(request):
        calls.append(request.method)
        Contract.objects.filter(pk=foreign[B].objects["contract"].pk).update(title="changed")
        return HttpResponse("ok")

    class Urlconf:
        urlpatterns = [
            path("broken/", broken),
            path("writes/", writes),
            path("", include("sroi.urls")),  # the error page links home
        ]

    settings.ROOT_URLCONF = Urlconf
    patterns = [p for p in uw.url_patterns(Urlconf) if p.route in ("broken/", "writes/")]
    failures = new_walk(world, foreign, "anonymous", urlconf=Urlconf).run(patterns)
    assert any("GET /broken/" in line and "status 500" in line for line in failures), failures
    assert any(
        "POST /writes/" in line and "wrote to contracts_contract" in line for line in failures
    ), failures
    assert calls == ["GET", "POST", "GET"]


def test_the_walker_stays_logged_in_and_notices_a_session_that_does_not_work(world, foreign):
    logout_and_list = [
        p
        for p in uw.url_patterns()
        if p.name in ("logout", "admin:logout", "contracts:contract_list")
    ]
    walk = new_walk(world, foreign, "officer Noordwijk")
    assert walk.run(logout_and_list) == []
    assert walk.session_ok()
    assert sanity_failures(walk, relogin=False) == []

    # A staff session without the second factor is turned away everywhere: that must not pass.
    unverified = getattr(Client, "force_login_without_two_factor", None)
    if unverified is None:
        pytest.skip("tests/conftest.py has no force_login_without_two_factor")
    walk = new_walk(world, foreign, "officer Noordwijk")
    walk.login = lambda: unverified(walk.client, world.officer_noordwijk)
    assert sanity_failures(walk)
    failures = walk.run(p for p in logout_and_list if p.name == "contracts:contract_list")
    assert any("the session does not work" in line for line in failures), failures
