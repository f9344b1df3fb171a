"""The machinery of the URL-walking access test (``tests/sroi/test_url_access.py``).

* :func:`url_patterns` lists every URL pattern of a urlconf, recursively (admin, auth and i18n
  included), with its full route, name and path-converter kwargs;
* :func:`build_foreign_set` builds, for one municipality and one contractor, a complete set of
  objects whose texts carry distinctive markers, sorted by who may see them;
* :func:`walk` requests every pattern as one persona (GET and an empty POST), filling every
  kwarg with the id of an object of a foreign set, and returns what went wrong: a 500, a
  response that contains a forbidden marker, a write to the database, a session that turned
  out not to work, or a kwarg nobody mapped to a foreign value (so a new view cannot slip
  through unnoticed).

Nothing here asserts: the walker returns a list of readable failure lines, so the tests can
report all failures of a persona at once and the meta-test can check that a leak is caught.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests import factories as f

# --- Marker categories -----------------------------------------------------------------------

#: Contractor-level data (name, contact persons): every municipal staff member may see any
#: contractor (they pick one when entering a contract); nobody else but the contractor.
CONTRACTOR = "contractor"
#: Data of one municipality's contracts (contracts, obligations, plans, contributions, policies,
#: rulebooks, flags, reports, the contractor's portal users): its staff and the contractor.
MUNICIPAL = "municipal"
#: Candidates' personal data and evidence: the adviser serving the municipality and the
#: contractor that reported the candidate, nobody else (not even the municipality's officers).
PERSONAL = "personal"

CATEGORIES = (CONTRACTOR, MUNICIPAL, PERSONAL)


# --- URL patterns ----------------------------------------------------------------------------

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>")


@dataclass(frozen=True)
class Pattern:
    """One URL pattern, with the chain of patterns (from the root) that leads to it."""

    route: str  # the full route as written, e.g. "contracts/<int:pk>/edit/"
    name: str  # "namespace:name", or "" for an unnamed pattern
    kwargs: tuple[str, ...]  # the named parameters, in order
    parts: tuple[object, ...]  # RoutePattern / RegexPattern objects, root first
    callback: Callable

    @property
    def label(self) -> str:
        return self.name or self.route

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def _pattern_kwargs(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return [m.group("parameter") for m in _ROUTE_PARAM.finditer(str(pattern))]
    if isinstance(pattern, RegexPattern):
        return _REGEX_GROUP.findall(str(pattern))
    raise TypeError(f"Unknown pattern type {type(pattern).__name__}")


def url_patterns(urlconf=None) -> list[Pattern]:
    """Every URL pattern of ``urlconf`` (the project's by default), recursively."""
    found: list[Pattern] = []

    def visit(resolver: URLResolver, parts: tuple, namespace: str) -> None:
        for entry in resolver.url_patterns:
            chain = (*parts, entry.pattern)
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                visit(entry, chain, ns)
            elif isinstance(entry, URLPattern):
                name = entry.name or ""
                if name and namespace:
                    name = f"{namespace}:{name}"
                kwargs = tuple(k for part in chain for k in _pattern_kwargs(part))
                route = "".join(str(part) for part in chain)
                found.append(Pattern(route, name, kwargs, chain, entry.callback))

    visit(get_resolver(urlconf), (), "")
    return found


def _fill_regex(regex: str, values: dict) -> str:
    """A concrete path for a (simple) regex pattern: anchors dropped, groups filled."""
    out = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    for name in _REGEX_GROUP.findall(out):
        start = out.index(f"(?P<{name}>")
        depth, end = 0, start
        for end in range(start, len(out)):
            if out[end] == "(" and (end == 0 or out[end - 1] != "\\"):
                depth += 1
            elif out[end] == ")" and out[end - 1] != "\\":
                depth -= 1
                if depth == 0:
                    break
        out = out[:start] + str(values[name]) + out[end + 1 :]
    return out.replace("\\", "")


def build_url(pattern: Pattern, values: dict) -> str:
    """The concrete URL of ``pattern`` with ``values`` for its kwargs."""
    path = ""
    for part in pattern.parts:
        if isinstance(part, RoutePattern):
            path += _ROUTE_PARAM.sub(
                lambda m: str(values[m.group("parameter")]),
                str(part),
            )
        else:
            path += _fill_regex(str(part), values)
    return "/" + path


def resolves_to(url: str, pattern: Pattern, urlconf=None) -> bool:
    """Whether ``url`` really reaches ``pattern`` (and not an earlier, broader one)."""
    try:
        match = resolve(urlsplit(url).path, urlconf)
    except Resolver404:
        return False
    return match.func is pattern.callback or match.route == pattern.route


# --- The foreign world -----------------------------------------------------------------------

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class ForeignSet:
    """The objects of one contractor in one municipality, and the markers in their texts.

    ``values`` holds everything a URL kwarg may be filled with: primary keys by object name
    (``values["contract"]``), tokens and other strings. ``objects`` the objects themselves.
    """

    tag: str
    municipality: object
    contractor: object
    objects: dict[str, object] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    markers: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CATEGORIES})

    def add(self, name: str, obj):
        self.objects[name] = obj
        self.values[name] = obj.pk
        return obj

    def mark(self, category: str, text: str) -> str:
        """A distinctive marker text of this set, registered under ``category``."""
        marker = f"{text}-{self.tag}-ZK8"
        self.markers[category].add(marker)
        return marker

    def markers_of(self, *categories: str) -> set[str]:
        return set().union(*(self.markers[c] for c in categories or CATEGORIES))


def build_foreign_set(
    world, *, tag: str, municipality, contractor, contractor_user, officer, initials: str
) -> ForeignSet:
    """A complete set of objects of ``contractor`` in ``municipality``, built directly (the
    walker needs every state, not a realistic history): contracts, an agreed obligation with a
    deviation, a settled obligation, plans of approach with items, contributions in each status,
    a candidate with personal data and evidence, a rulebook owned by the municipality, the
    municipality's policy, portal users and an invitation, flags, a report schedule with a
    delivery, an export log entry, and a pending upload."""
    from auditlog.models import LogEntry
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from contracts import importing
    from contracts.invitations import hash_token
    from contracts.models import (
        ContractorContact,
        ContractorInvitation,
        ObligationChange,
        PsoDiscount,
        Settlement,
        SroiPolicy,
    )
    from placements.models import Contribution, Evidence, PlanItem, PlanOfApproach
    from reporting.models import ExportLog, Flag, ReportDelivery, ReportSchedule, SentReminder
    from sroi.models import Membership

    fs = ForeignSet(tag=tag, municipality=municipality, contractor=contractor)
    fs.add("municipality", municipality)
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    # Contractor level: visible to every municipal staff member, not to other contractors.
    contractor.name = fs.mark(CONTRACTOR, "FOREIGN-CONTRACTOR")
    contractor.street_address = fs.mark(CONTRACTOR, "FOREIGN-STREET")
    contractor.save()
    fs.add("contractor", contractor)
    fs.add(
        "contractor_contact",
        ContractorContact.objects.create(
            contractor=contractor,
            name=fs.mark(CONTRACTOR, "FOREIGN-CONTACT"),
            email=f"contact-{tag.lower()}-zk8@example.nl",
        ),
    )

    # The municipality's policy (built by the world fixture) and rulebook.
    policy = SroiPolicy.objects.get(municipality=municipality, valid_from=date(2020, 1, 1))
    policy.notes = fs.mark(MUNICIPAL, "FOREIGN-POLICY-NOTE")
    policy.save()
    fs.add("policy", policy)
    fs.add("pso_discount", PsoDiscount.objects.filter(policy=policy).first())
    rulebook = f.RulebookFactory(
        name=fs.mark(MUNICIPAL, "FOREIGN-RULEBOOK"),
        owner=municipality,
        municipalities=[municipality],
    )
    fs.add("rulebook", rulebook)
    rule = rulebook.rules.order_by("pk").first()
    rule.label = fs.mark(MUNICIPAL, "FOREIGN-RULE")
    rule.save()
    fs.add("rule", rule)
    bonus = rulebook.bonuses.order_by("pk").first()
    bonus.label = fs.mark(MUNICIPAL, "FOREIGN-BONUS")
    bonus.save()
    fs.add("bonus", bonus)

    # An open contract with an agreed obligation (with a deviation).
    contract = f.ContractFactory(
        municipality=municipality,
        contractor=contractor,
        reference=fs.mark(MUNICIPAL, "FOREIGN-REF"),
        title=fs.mark(MUNICIPAL, "FOREIGN-CONTRACT"),
        description=fs.mark(MUNICIPAL, "FOREIGN-CONTRACT-DESCRIPTION"),
        procurement_officer=officer,
    )
    fs.add("contract", contract)
    obligation = f.RuledObligationFactory(
        contract=contract,
        rulebook=rulebook,
        deviation="custom_percentage",
        deviation_reason=fs.mark(MUNICIPAL, "FOREIGN-DEVIATION"),
        agreed_at=now,
        agreed_by=world.adviser,
    )
    fs.add("obligation", obligation)
    fs.add(
        "obligation_change",
        ObligationChange.objects.create(
            obligation=obligation,
            kind=ObligationChange.Kind.DEVIATION,
            reason=fs.mark(MUNICIPAL, "FOREIGN-CHANGE-REASON"),
            changed_by=world.adviser,
        ),
    )

    # Plans of approach: a returned first version and a submitted second one.
    returned = PlanOfApproach.objects.create(
        obligation=obligation,
        version=1,
        status=PlanOfApproach.Status.RETURNED,
        review_comment=fs.mark(MUNICIPAL, "FOREIGN-PLAN-COMMENT"),
        submitted_by=contractor_user,
        submitted_at=now,
    )
    fs.add("plan_returned", returned)
    plan = PlanOfApproach.objects.create(
        obligation=obligation,
        version=2,
        status=PlanOfApproach.Status.SUBMITTED,
        submitted_by=contractor_user,
        submitted_at=now,
    )
    fs.add("plan", plan)
    for version in (returned, plan):
        PlanItem.objects.create(
            plan=version,
            block="job",
            planned_count=2,
            planned_start=date(2026, 3, 1),
            planned_end=date(2026, 12, 31),
            description=fs.mark(MUNICIPAL, f"FOREIGN-PLAN-ITEM{version.version}"),
        )
    fs.add("plan_item", plan.items.get())

    # A candidate with personal data, and a contribution in each status.
    candidate = f.CandidateFactory(
        contractor=contractor,
        initials=initials,
        target_group="other",
        target_group_note=fs.mark(PERSONAL, "FOREIGN-TARGET-NOTE"),
        confirmed=True,
    )
    fs.markers[PERSONAL].add(initials)
    fs.add("candidate", candidate)
    statuses = {
        "contribution": (Contribution.Status.SUBMITTED, ""),
        "contribution_approved": (Contribution.Status.APPROVED, ""),
        "contribution_rejected": (
            Contribution.Status.REJECTED,
            fs.mark(MUNICIPAL, "FOREIGN-REJECT-REASON"),
        ),
        "contribution_returned": (
            Contribution.Status.RETURNED,
            fs.mark(MUNICIPAL, "FOREIGN-RETURN-REASON"),
        ),
    }
    for name, (status, reason) in statuses.items():
        fs.add(
            name,
            f.ContributionFactory(
                obligation=obligation,
                candidate=candidate,
                status=status,
                status_reason=reason,
                description=fs.mark(MUNICIPAL, f"FOREIGN-{name.upper().replace('_', '-')}"),
                submitted_by=contractor_user,
            ),
        )
    content = MINIMAL_PDF + fs.mark(PERSONAL, "FOREIGN-EVIDENCE-CONTENT").encode() + b"\n"
    evidence = Evidence(
        contribution=fs.objects["contribution"],
        kind=Evidence.Kind.EMPLOYMENT_CONTRACT,
        original_name=fs.mark(PERSONAL, "FOREIGN-EVIDENCE-NAME") + ".pdf",
        content_type="application/pdf",
        size=len(content),
        uploaded_by=contractor_user,
    )
    evidence.file.save("evidence.pdf", ContentFile(content), save=False)
    evidence.save()
    fs.add("evidence", evidence)

    # A settled obligation on an older contract.
    old_contract = f.ContractFactory(
        municipality=municipality,
        contractor=contractor,
        overdue=True,
        reference=fs.mark(MUNICIPAL, "FOREIGN-OLD-REF"),
        title=fs.mark(MUNICIPAL, "FOREIGN-OLD-CONTRACT"),
    )
    fs.add("contract_settled", old_contract)
    settled = f.ObligationFactory(contract=old_contract, status="settled")
    fs.add("obligation_settled", settled)
    fs.add(
        "settlement",
        Settlement.objects.create(
            obligation=settled,
            decision=Settlement.Decision.FINE,
            required_amount=settled.amount,
            realised_amount=Decimal("0"),
            shortfall=settled.amount,
            amount=Decimal("1234.00"),
            reason=fs.mark(MUNICIPAL, "FOREIGN-SETTLEMENT-REASON"),
            decided_by=world.adviser,
        ),
    )

    # Monitoring: an open flag and an acknowledged one with a note; a reminder sent.
    fs.add(
        "flag",
        Flag.objects.create(
            kind="behind_schedule",
            severity=2,
            municipality=municipality,
            contract=contract,
            obligation=obligation,
            details={"note": fs.mark(MUNICIPAL, "FOREIGN-FLAG-DETAIL")},
            first_seen=now,
            last_seen=now,
        ),
    )
    fs.add(
        "flag_acknowledged",
        Flag.objects.create(
            kind="overdue",
            severity=3,
            municipality=municipality,
            contract=old_contract,
            obligation=settled,
            first_seen=now,
            last_seen=now,
            acknowledged_at=now,
            acknowledged_by=world.adviser,
            acknowledge_note=fs.mark(MUNICIPAL, "FOREIGN-FLAG-NOTE"),
        ),
    )
    fs.add(
        "sent_reminder",
        SentReminder.objects.create(obligation=obligation, kind="deadline_near", occasion="x"),
    )

    # Portal users and an open invitation: shown to staff of municipalities the contractor
    # works in.
    portal_user = f.ContractorUserFactory(
        contractor=contractor,
        user__email=f"foreign-user-{tag.lower()}-zk8@example.nl",
        user__full_name=fs.mark(MUNICIPAL, "FOREIGN-PORTAL-USER"),
    )
    fs.markers[MUNICIPAL].add(portal_user.user.email)
    fs.add("contractor_user", portal_user)
    fs.add("portal_user", portal_user.user)
    raw_token = f"invitation-token-{tag.lower()}-" + "x" * 40
    invitation = ContractorInvitation.objects.create(
        contractor=contractor,
        email=f"invitee-{tag.lower()}-zk8@example.nl",
        full_name=fs.mark(MUNICIPAL, "FOREIGN-INVITEE"),
        invited_by=world.adviser,
        token_hash=hash_token(raw_token),
        created_at=now,
        expires_at=now + timedelta(days=3650),
    )
    fs.markers[MUNICIPAL].add(invitation.email)
    fs.add("invitation", invitation)
    # A URL is given the stored hash, never the real token: whoever reads the database (or
    # guesses) must not get in; the real token is the invitee's secret.
    fs.values["invitation_token"] = invitation.token_hash

    # Reports: a schedule with a delivery, an export log entry.
    schedule = ReportSchedule.objects.create(
        municipality=municipality, recipients=f"schedule-{tag.lower()}-zk8@example.nl"
    )
    fs.markers[MUNICIPAL].add(schedule.recipients)
    fs.add("report_schedule", schedule)
    fs.add(
        "report_delivery",
        ReportDelivery.objects.create(
            schedule=schedule,
            period="2026-Q3",
            recipients=schedule.recipients,
            error=fs.mark(MUNICIPAL, "FOREIGN-DELIVERY-ERROR"),
        ),
    )
    export = ExportLog.objects.create(
        user=officer,
        actor=officer.email,
        kind=ExportLog.Kind.XLSX,
        scope=fs.mark(MUNICIPAL, "FOREIGN-EXPORT-SCOPE"),
        period_kind="year",
        period_to=date(2026, 12, 31),
        as_of=date(2026, 11, 26),
    )
    export.municipalities.set([municipality])
    fs.add("export_log", export)

    # Users, memberships and groups of the municipality, for the admin.
    fs.add("officer", officer)
    fs.add("membership", Membership.objects.filter(user=officer).first())
    fs.add("group", Group.objects.order_by("pk").first())

    # A pending spreadsheet upload (contract import and bulk reporting share the store) of
    # somebody else: a token that is not in the persona's session.
    fs.values["upload_token"] = importing.PENDING_UPLOADS.store(
        fs.mark(MUNICIPAL, "FOREIGN-UPLOAD").encode()
    )

    # Second factors and login attempts of the municipality's officer, for the admin.
    device = TOTPDevice.objects.create(
        user=officer, name=fs.mark(MUNICIPAL, "FOREIGN-DEVICE"), confirmed=True
    )
    fs.add("totp_device", device)
    recovery = StaticDevice.objects.create(user=officer, name="recovery codes", confirmed=True)
    StaticToken.objects.create(device=recovery, token="foreign1")
    fs.add("static_device", recovery)
    attempt = {
        "username": officer.email,
        "ip_address": "192.0.2.1",
        "user_agent": fs.mark(MUNICIPAL, "FOREIGN-AGENT"),
        "http_accept": "text/html",
        "path_info": "/accounts/login/",
    }
    fs.add(
        "access_attempt",
        AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=1),
    )
    fs.add("access_log", AccessLog.objects.create(**attempt))
    fs.add("access_failure_log", AccessFailureLog.objects.create(**attempt))

    # The audit trail of the contract (its entries hold the contract's texts).
    entry = LogEntry.objects.get_for_object(contract).order_by("pk").first()
    if entry is not None:
        fs.add("log_entry", entry)
    fs.values["contract_content_type"] = ContentType.objects.get_for_model(contract).pk
    fs.values["password_reset_uid"] = urlsafe_base64_encode(force_bytes(portal_user.user.pk))
    return fs


# --- Walking ---------------------------------------------------------------------------------

#: Statuses that turn a request away (a redirect, a client error, a refused change).
REFUSED = frozenset({301, 302, 303, 307, 308, 400, 403, 404, 405, 409})

#: Tables that may be written while walking: logs of reads and requests, and sessions.
WRITABLE_TABLES = frozenset(
    {
        "django_session",
        "auditlog_logentry",  # reads of candidate data are logged (action "accessed")
        "reporting_exportlog",  # every report shown or exported is logged
        "reporting_exportlog_municipalities",
        "axes_accessattempt",
        "axes_accesslog",
        "axes_accessfailurelog",
    }
)

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`"\[]?(\w+)', re.IGNORECASE)

#: Routes (matched with fnmatch on the route and the name) where a logged-in persona may be
#: sent to a login or two-factor page: the authentication pages themselves and the admin
#: (which sends non-staff users to its own login page).
AUTH_ROUTES = (
    "admin/*",
    "accounts/*",
    "*login*",
    "*logout*",
    "*two*factor*",
    "*2fa*",
    "*otp*",
    "*mfa*",
)

#: Redirect targets that mean "log in (again)" or "second factor first".
LOGIN_TARGETS = re.compile(r"login|two.?factor|2fa|otp|mfa|verify", re.IGNORECASE)

KwargsMap = dict[tuple[str, str], object]


@dataclass
class Persona:
    name: str
    user: object | None  # None: anonymous
    targets: tuple[str, ...]  # foreign sets whose ids fill the kwargs
    forbidden: frozenset[str]  # markers that must never appear in a response
    #: Targets whose objects the persona may change (e.g. an officer's own municipality, walked
    #: for personal data only): requests with their ids may write. Any other request may not.
    may_change: frozenset[str] = frozenset()


class WriteRecorder:
    """Records INSERT/UPDATE/DELETE statements on business tables (an execute wrapper)."""

    def __init__(self):
        self.tables: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        match = _WRITE.match(sql)
        if match and match.group(1).lower() not in WRITABLE_TABLES:
            self.tables.append(match.group(1))
        return execute(sql, params, many, context)


def response_text(response) -> str:
    """Everything a response reveals, lower-cased: headers and body; the members of a zip file
    (an xlsx workbook) unpacked."""
    data = b"".join(response.streaming_content) if response.streaming else response.content
    chunks = [data]
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                chunks.extend(archive.read(name) for name in archive.namelist())
        except zipfile.BadZipFile:
            pass
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    return (headers + "\n" + b"\n".join(chunks).decode("utf-8", "replace")).lower()


def lookup_kwarg(kwargs_map: KwargsMap, pattern: Pattern, kwarg: str):
    """The entry of ``kwargs_map`` for (pattern, kwarg); keys are (name or route glob, kwarg)."""
    for (key, name), value in kwargs_map.items():
        if name == kwarg and (
            (pattern.name and fnmatchcase(pattern.name, key)) or fnmatchcase(pattern.route, key)
        ):
            return value
    return None


def _is_auth_route(pattern: Pattern) -> bool:
    return any(
        fnmatchcase(pattern.route, glob) or (pattern.name and fnmatchcase(pattern.name, glob))
        for glob in AUTH_ROUTES
    )


@dataclass
class Walk:
    """One persona's walk over the URL patterns; :meth:`run` returns the failures."""

    client: object
    persona: Persona
    foreign_sets: dict[str, ForeignSet]
    kwargs_map: KwargsMap
    resolve_value: Callable[[object, Pattern, str, ForeignSet], list]
    list_query: Callable[[ForeignSet], dict] | None = None
    #: (URL name or route glob) → tables a request may write (to the persona's own account)
    allowed_writes: dict[str, frozenset[str]] = field(default_factory=dict)
    urlconf: object = None
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def fail(self, method: str, url: str, pattern: Pattern, problem: str) -> None:
        self.failures.append(f"{self.persona.name}: {method} {url} [{pattern.label}]: {problem}")

    def login(self) -> None:
        if self.persona.user is not None:
            self.client.force_login(self.persona.user)

    def session_ok(self) -> bool:
        return self.persona.user is None or "_auth_user_id" in self.client.session

    def run(self, patterns: Iterable[Pattern]) -> list[str]:
        self.login()
        for pattern in patterns:
            if not pattern.kwargs:
                self.request_all(pattern, {}, may_write=False)
                continue
            for tag in self.persona.targets:
                for values in self.values_for(pattern, self.foreign_sets[tag]):
                    self.request_all(pattern, values, may_write=tag in self.persona.may_change)
        return self.failures

    def values_for(self, pattern: Pattern, fs: ForeignSet) -> list[dict]:
        """Every combination of the values to try for the pattern's kwargs."""
        whole = lookup_kwarg(self.kwargs_map, pattern, "*")
        if whole is not None:
            # One entry for all kwargs at once (they only make sense together).
            try:
                return list(self.resolve_value(whole, pattern, "*", fs))
            except LookupError as exc:
                self.failures.append(f"{pattern.label!r}: {exc}")
                return []
        choices = []
        for kwarg in pattern.kwargs:
            entry = lookup_kwarg(self.kwargs_map, pattern, kwarg)
            if entry is None:
                self.failures.append(
                    f"new view {pattern.label!r} ({pattern.route}) has kwarg {kwarg!r}: add it "
                    "to tests/sroi/test_url_access.py FOREIGN_KWARGS (the id or value of an "
                    "object of the foreign set that the persona must not reach)"
                )
                return []
            try:
                choices.append([(kwarg, v) for v in self.resolve_value(entry, pattern, kwarg, fs)])
            except LookupError as exc:
                self.failures.append(f"{pattern.label!r} kwarg {kwarg!r}: {exc}")
                return []
        return [dict(combination) for combination in itertools.product(*choices)]

    def request_all(self, pattern: Pattern, values: dict, *, may_write: bool) -> None:
        url = build_url(pattern, values)
        if not resolves_to(url, pattern, self.urlconf):
            self.fail("GET", url, pattern, "the built URL does not reach this pattern")
            return
        self.request("get", url, pattern, may_write)
        self.request("post", url, pattern, may_write)
        if not pattern.kwargs and self.list_query is not None:
            # List pages, exports: also with another municipality's / contractor's ids as filters.
            query = self.list_query(self.foreign_sets[self.persona.targets[0]])
            self.request("get", f"{url}?{urlencode(query)}", pattern, may_write)

    def request(self, method: str, url: str, pattern: Pattern, may_write: bool = False) -> None:
        recorder = WriteRecorder()
        self.requests += 1
        try:
            with connection.execute_wrapper(recorder):
                response = getattr(self.client, method)(url)
        except Exception as exc:  # noqa: BLE001 - every exception is a finding
            self.fail(method.upper(), url, pattern, f"raised {type(exc).__name__}: {exc}")
            self.login()
            return
        status = response.status_code
        allowed = set().union(
            *(
                tables
                for glob, tables in self.allowed_writes.items()
                if (pattern.name and fnmatchcase(pattern.name, glob))
                or fnmatchcase(pattern.route, glob)
            )
        )
        written = {table for table in recorder.tables if table.lower() not in allowed}
        if written and not may_write:
            tables = ", ".join(sorted(written))
            self.fail(method.upper(), url, pattern, f"wrote to {tables} (status {status})")
        text = response_text(response)
        leaked = sorted(m for m in self.persona.forbidden if m.lower() in text)
        if leaked:
            self.fail(method.upper(), url, pattern, f"{status} with foreign data {leaked}")
        if status >= 500:
            exc_info = getattr(response, "exc_info", None)
            detail = f": {exc_info[0].__name__}: {exc_info[1]}" if exc_info else ""
            self.fail(method.upper(), url, pattern, f"status {status}{detail}")
        elif status == 200:
            pass  # checked for markers above
        elif status in REFUSED:
            location = response.get("Location", "")
            if (
                self.persona.user is not None
                and status in (301, 302, 303, 307, 308)
                and LOGIN_TARGETS.search(urlsplit(location).path)
                and not _is_auth_route(pattern)
            ):
                self.fail(
                    method.upper(),
                    url,
                    pattern,
                    f"logged-in persona sent to {location}: the session does not work "
                    "(two-factor verification missing?), so this URL was not tested",
                )
        else:
            self.fail(method.upper(), url, pattern, f"unexpected status {status}")
        if settings.SESSION_COOKIE_NAME in response.cookies and not self.session_ok():
            self.login()  # logged out by the request (logout, password change …)
