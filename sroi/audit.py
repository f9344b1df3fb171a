"""The audit trail: every create, change and delete of the models below is recorded by
django-auditlog with who (from the request), when, and the old and new values.

Registered once, from ``SroiConfig.ready``.

Privacy (AVG): the audit trail must not become a second copy of personal data, so nothing
that identifies or describes a person is copied into a log entry's ``changes`` or
``object_repr``:

* a candidate's details (initials, birth year, target group, years on benefit, the note on
  target group "other") are left out entirely (not masked: auditlog's mask keeps half of a
  value). Its entries record *that* the candidate was created, changed or deleted, under its
  pseudonymous code (``Candidate.__str__``), with the non-personal fields (code, contractor,
  eligibility confirmation, anonymisation);
* a contribution's ``value_explanation`` is left out (it is derived from the inputs, which are
  logged, and older explanations named candidate details);
* evidence is logged without its uploaded file name (which often holds a person's name);
  ``Evidence.__str__`` is neutral (number and kind).

An update that changes only left-out fields writes no entry (auditlog logs changed fields).

Writes that bypass model signals (``bulk_create``, ``bulk_update``, ``QuerySet.update``) on an
audited model write their entries explicitly with :func:`log_created`, :func:`log_updated` or
:func:`audited_update` (same format, actor and correlation id as auditlog's own entries).
``QuerySet.delete()`` needs nothing: Django sends ``post_delete`` per row for a model with
receivers, so auditlog logs each deleted row.

Reads of candidates' personal data by staff are recorded with :func:`log_personal_data_read`
(one ``accessed`` entry per candidate shown, written with one query for a whole list).

Log entries are never edited or deleted by the application (see the read-only
``LogEntry`` admin in ``sroi.admin``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled, auditlog_value
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.db.models.signals import pre_save
from django.utils import timezone
from django.utils.encoding import smart_str

#: Candidate fields never written to the audit trail.
CANDIDATE_PERSONAL_FIELDS = (
    "initials",
    "birth_year",
    "target_group",
    "years_on_benefit",
    "target_group_note",
)


def register_audited_models() -> None:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from contracts.models import (
        Contract,
        Contractor,
        ContractorContact,
        ContractorInvitation,
        ContractorUser,
        Obligation,
        PsoDiscount,
        Settlement,
        SroiPolicy,
    )
    from placements.models import (
        Bonus,
        Candidate,
        Contribution,
        Evidence,
        PlanItem,
        PlanOfApproach,
        Rule,
        Rulebook,
    )
    from reporting.models import Flag

    from .models import Membership, Organisation, User

    auditlog.register(User, exclude_fields=["password", "last_login"], m2m_fields={"groups"})
    auditlog.register(Organisation, m2m_fields={"serves"})
    auditlog.register(Membership)
    for model in (
        Contractor,
        ContractorContact,
        ContractorUser,
        SroiPolicy,
        PsoDiscount,
        Contract,
        Obligation,
        Settlement,
        Rule,
        Bonus,
        PlanOfApproach,
        PlanItem,
    ):
        auditlog.register(model)
    auditlog.register(Rulebook, m2m_fields={"municipalities"})
    auditlog.register(ContractorInvitation, exclude_fields=["token_hash"])
    auditlog.register(Flag, include_fields=["acknowledged_at", "acknowledged_by", "snoozed_until"])
    auditlog.register(Candidate, exclude_fields=list(CANDIDATE_PERSONAL_FIELDS))
    auditlog.register(Contribution, exclude_fields=["value_explanation"])
    auditlog.register(Evidence, exclude_fields=["original_name"])
    # Two-factor devices: enrolment, confirmation and resets, with who did them. Only these
    # fields: the key, counters and throttling state are secrets or noise; recovery-code tokens
    # (StaticToken) are secrets and are not registered at all.
    for device_model in (TOTPDevice, StaticDevice):
        auditlog.register(device_model, include_fields=["user", "name", "confirmed"])


#: The models whose create, change and delete must be in the audit trail (issue 7): contracts,
#: obligations, contributions, candidates, rulebooks (+ rules, bonuses), policies (+ PSO
#: discounts), settlements, users and roles. ``tests/sroi/test_audit_coverage.py`` checks that
#: every one of them stays registered.
REQUIRED_AUDITED_MODELS = (
    "contracts.Contract",
    "contracts.Obligation",
    "contracts.Settlement",
    "contracts.SroiPolicy",
    "contracts.PsoDiscount",
    "placements.Contribution",
    "placements.Evidence",
    "placements.Candidate",
    "placements.PlanOfApproach",
    "placements.PlanItem",
    "placements.Rulebook",
    "placements.Rule",
    "placements.Bonus",
    "sroi.User",
    "sroi.Membership",
    "sroi.Organisation",
)


# --- Entries for writes that bypass model signals ---------------------------------------------


def _context() -> dict:
    """Actor, address and port of the running request (``AuditlogMiddleware``), if any."""
    try:
        data = auditlog_value.get()
    except LookupError:
        return {}
    if not _context_is_open(data):
        return {}
    actor = data.get("actor")
    return {
        "actor": actor if getattr(actor, "pk", None) is not None else None,
        "remote_addr": data.get("remote_addr"),
        "remote_port": data.get("remote_port"),
    }


def _context_is_open(data: dict) -> bool:
    """auditlog's ``set_actor`` never resets its context variable: after the request (or the
    ``with`` block) has ended, the stale actor stays readable in that thread. The block is open
    only while its ``pre_save`` receiver (keyed by ``signal_duid``) is connected."""
    duid = data.get("signal_duid")
    if duid is None:
        return False
    return any(key[0] == duid for key, *_ in pre_save.receivers)


def _disabled() -> bool:
    try:
        return bool(auditlog_disabled.get())
    except LookupError:
        return False


def _entry(instance: Model, action: int, changes, context: dict, now) -> LogEntry:
    pk = instance.pk
    actor = context.get("actor")
    return LogEntry(
        content_type=ContentType.objects.get_for_model(instance),
        object_pk=smart_str(pk),
        object_id=pk if isinstance(pk, int) else None,
        object_repr=smart_str(instance),
        action=action,
        changes=changes,
        serialized_data=LogEntry.objects._get_serialized_data_or_none(instance),
        cid=get_cid(),
        actor=actor,
        actor_email=getattr(actor, "email", None) if actor is not None else None,
        remote_addr=context.get("remote_addr"),
        remote_port=context.get("remote_port"),
        timestamp=now,
    )


def _write(entries: list[LogEntry]) -> list[LogEntry]:
    if entries:
        LogEntry.objects.bulk_create(entries)
    return entries


def _diff(old, new) -> dict | None:
    return model_instance_diff(old, new, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES)


def log_created(objects: Iterable[Model]) -> list[LogEntry]:
    """ "Created" entries for rows inserted with ``bulk_create`` (which sends no signals).
    One query for all of them. Objects of models not registered are skipped."""
    if _disabled():
        return []
    context, now = _context(), timezone.now()
    entries = []
    for obj in objects:
        if obj.pk is None or not auditlog.contains(type(obj)):
            continue
        changes = _diff(None, obj)
        if changes:
            entries.append(_entry(obj, LogEntry.Action.CREATE, changes, context, now))
    return _write(entries)


def snapshot(obj: Model) -> Model:
    """A copy of ``obj`` as it is now, to diff against after changing it in memory."""
    return copy.copy(obj)


def log_updated(pairs: Iterable[tuple[Model, Model]]) -> list[LogEntry]:
    """ "Changed" entries for ``(before, after)`` pairs written with ``bulk_update`` or
    ``QuerySet.update``; pairs without a change in a logged field write nothing."""
    if _disabled():
        return []
    context, now = _context(), timezone.now()
    entries = []
    for before, after in pairs:
        if not auditlog.contains(type(after)):
            continue
        changes = _diff(before, after)
        if changes:
            entries.append(_entry(after, LogEntry.Action.UPDATE, changes, context, now))
    return _write(entries)


def audited_update(queryset: QuerySet, **values) -> int:
    """``queryset.update(**values)`` that also writes a "changed" entry per updated row.
    The caller holds the transaction; the rows are read once before the update."""
    rows = list(queryset)
    count = queryset.model._default_manager.filter(pk__in=[r.pk for r in rows]).update(**values)
    pairs = []
    for row in rows:
        after = snapshot(row)
        for name, value in values.items():
            setattr(after, name, value)
        pairs.append((row, after))
    log_updated(pairs)
    return count


# --- Reads of personal data -------------------------------------------------------------------


def personal_data_reads_are_logged(user) -> bool:
    """Staff reads are logged; a contractor reading its own candidates is not."""
    from .permissions import get_scope

    scope = get_scope(user)
    return scope.is_superuser or bool(scope.municipalities_by_role)


def log_personal_data_read(user, instances: Iterable[Model]) -> list[LogEntry]:
    """One ``accessed`` entry per object shown (who, when, which object; never the data
    itself), all written with one query. Nothing for contractor users, nothing for objects
    without a primary key; each object once per call."""
    if not personal_data_reads_are_logged(user):
        return []
    context, now = _context(), timezone.now()
    if context.get("actor") is None and getattr(user, "pk", None) is not None:
        context["actor"] = user
    seen: set[tuple[type, object]] = set()
    entries = []
    for obj in instances:
        if obj is None or obj.pk is None or (type(obj), obj.pk) in seen:
            continue
        seen.add((type(obj), obj.pk))
        entries.append(_entry(obj, LogEntry.Action.ACCESS, None, context, now))
    return _write(entries)


def candidates_shown(contributions: Iterable[Model]) -> list[Model]:
    """The candidates whose details a page shows for these contributions: those the selectors
    loaded for this user (``personal_data_visible``) and that are not anonymised."""
    shown = []
    for contribution in contributions:
        if not getattr(contribution, "personal_data_visible", False):
            continue
        candidate = contribution.candidate
        if candidate is not None and candidate.anonymised_at is None:
            shown.append(candidate)
    return shown
