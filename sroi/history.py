"""Selectors for the audit history of one object, as the adviser sees it (``sroi.views_history``).

An object's history is its own audit entries (``sroi.audit``) together with those of the
objects that belong to it:

* a contract or obligation: the contract, its obligation, the obligation's settlements, its
  plans of approach and their items;
* a contribution: the contribution, its evidence and its candidate (entries of the candidate
  never hold personal data, see ``sroi.audit``);
* a rulebook: the rulebook, its rules and bonuses;
* a policy: the policy and its PSO discounts.

Child objects that have been deleted since are found through their "created" entry, which
names the parent (``changes[<foreign key>][1]``), so a deleted rule stays in its rulebook's
history. Access: ``Action.VIEW_AUDIT`` (advisers, within their municipalities, and
superusers); anyone else gets a 404 from :func:`history_target`, never a 403.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from auditlog.models import LogEntry
from dateutil import parser as date_parser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .permissions import (
    Action,
    can,
    contracts_visible_to,
    contributions_visible_to,
    obligations_visible_to,
    policies_visible_to,
    rulebooks_visible_to,
)

#: What each kind of log entry is called on the history page.
ACTION_LABELS = {
    LogEntry.Action.CREATE: gettext_lazy("created"),
    LogEntry.Action.UPDATE: gettext_lazy("changed"),
    LogEntry.Action.DELETE: gettext_lazy("deleted"),
    LogEntry.Action.ACCESS: gettext_lazy("viewed"),
}

KINDS = ("contract", "obligation", "contribution", "rulebook", "policy")
EMPTY = "–"


# --- Access ----------------------------------------------------------------------------------


def _visible_for_audit(user, kind: str) -> QuerySet:
    if kind == "contract":
        return contracts_visible_to(user, action=Action.VIEW_AUDIT).select_related("obligation")
    if kind == "obligation":
        return obligations_visible_to(user, action=Action.VIEW_AUDIT).select_related("contract")
    if kind == "contribution":
        return contributions_visible_to(user, action=Action.VIEW_AUDIT)
    if kind == "rulebook":
        return rulebooks_visible_to(user, action=Action.VIEW_AUDIT)
    if kind == "policy":
        return policies_visible_to(user, action=Action.VIEW_AUDIT).select_related("municipality")
    raise Http404


def history_target(*, user, kind: str, pk: int) -> Model:
    """The object whose history ``user`` asks for; 404 when the user may not see its history
    (or it does not exist), so ids cannot be probed."""
    obj = _visible_for_audit(user, kind).filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def kind_of(obj) -> str | None:
    from contracts.models import Contract, Obligation, SroiPolicy
    from placements.models import Contribution, Rulebook

    for kind, model in (
        ("contract", Contract),
        ("obligation", Obligation),
        ("contribution", Contribution),
        ("rulebook", Rulebook),
        ("policy", SroiPolicy),
    ):
        if isinstance(obj, model):
            return kind
    return None


def may_view_history(user, obj) -> bool:
    """Whether ``user`` may see the history of ``obj`` (a rulebook belongs to several
    municipalities: one query; the others are decided from loaded attributes)."""
    kind = kind_of(obj)
    if kind is None or obj.pk is None:
        return False
    if kind == "rulebook":
        return rulebooks_visible_to(user, action=Action.VIEW_AUDIT).filter(pk=obj.pk).exists()
    return can(user, Action.VIEW_AUDIT, obj)


def history_url(user, obj) -> str:
    """The history page of ``obj`` for ``user``, or "" when they may not see it."""
    if not may_view_history(user, obj):
        return ""
    return reverse("history:object_history", args=[kind_of(obj), obj.pk])


# --- Entries ---------------------------------------------------------------------------------


def own_filter(obj: Model) -> Q:
    return Q(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


def children_filter(model: type[Model], fk: str, parent_ids) -> Q:
    """Entries of ``model`` rows whose ``fk`` points to one of ``parent_ids``: the live rows
    and, through their "created" entry, the deleted ones."""
    parent_ids = [pk for pk in parent_ids if pk is not None]
    if not parent_ids:
        return Q(pk__in=[])
    content_type = ContentType.objects.get_for_model(model)
    live = model._base_manager.filter(**{f"{fk}__in": parent_ids}).values("pk")
    created = LogEntry.objects.filter(
        content_type=content_type,
        action=LogEntry.Action.CREATE,
        **{f"changes__{fk}__1__in": [str(pk) for pk in parent_ids]},
    ).values("object_id")
    return Q(content_type=content_type) & (Q(object_id__in=live) | Q(object_id__in=created))


def _obligation_family(contract_id: int, obligation_ids: list[int]) -> Q:
    from contracts.models import Contract, Obligation, Settlement
    from placements.models import PlanItem, PlanOfApproach

    plan_ids = list(
        PlanOfApproach.objects.filter(obligation_id__in=obligation_ids).values_list("pk", flat=True)
    )
    return (
        Q(content_type=ContentType.objects.get_for_model(Contract), object_id=contract_id)
        | children_filter(Obligation, "contract", [contract_id])
        | children_filter(Settlement, "obligation", obligation_ids)
        | children_filter(PlanOfApproach, "obligation", obligation_ids)
        | children_filter(PlanItem, "plan", plan_ids)
    )


def history_filter(obj: Model) -> Q:
    """Which log entries make up the history of ``obj`` (see the module docstring)."""
    from contracts.models import Obligation, PsoDiscount
    from placements.models import Bonus, Candidate, Evidence, Rule

    kind = kind_of(obj)
    if kind in ("contract", "obligation"):
        contract_id = obj.pk if kind == "contract" else obj.contract_id
        obligation_ids = list(
            Obligation.objects.filter(contract_id=contract_id).values_list("pk", flat=True)
        )
        return _obligation_family(contract_id, obligation_ids)
    if kind == "contribution":
        q = own_filter(obj) | children_filter(Evidence, "contribution", [obj.pk])
        if obj.candidate_id is not None:
            # The candidate's changes (eligibility, anonymisation) matter to every adviser
            # handling them; reads of the candidate do not: a candidate can be reported in
            # several municipalities, and who in another municipality looked at them is not
            # this adviser's business. Reads on this contribution are its own entries.
            q |= Q(
                content_type=ContentType.objects.get_for_model(Candidate),
                object_id=obj.candidate_id,
            ) & ~Q(action=LogEntry.Action.ACCESS)
        return q
    if kind == "rulebook":
        return (
            own_filter(obj)
            | children_filter(Rule, "rulebook", [obj.pk])
            | children_filter(Bonus, "rulebook", [obj.pk])
        )
    if kind == "policy":
        return own_filter(obj) | children_filter(PsoDiscount, "policy", [obj.pk])
    raise TypeError(f"No history for {type(obj).__name__}")


def history_entries(obj: Model) -> QuerySet[LogEntry]:
    """The log entries of ``obj``'s history, newest first."""
    return (
        LogEntry.objects.filter(history_filter(obj))
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )


# --- Display ---------------------------------------------------------------------------------


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class HistoryRow:
    when: datetime
    who: str
    is_system: bool
    what: str
    action: int
    subject_kind: str
    subject: str
    changes: list[FieldChange] = field(default_factory=list)


def actor_label(entry: LogEntry) -> str:
    """The actor's name and e-mail, the e-mail kept on the entry when the account is gone, or
    "" for a background job (shown as "system")."""
    actor = entry.actor
    if actor is not None:
        if actor.full_name and actor.full_name != actor.email:
            return f"{actor.full_name} ({actor.email})"
        return actor.email
    return entry.actor_email or ""


def _model_field(model, name: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _is_empty(value) -> bool:
    return value is None or value in ("None", "", "null")


def _format_datetime(value: str, *, date_only: bool) -> str:
    try:
        parsed = date_parser.parse(value)
    except (ValueError, OverflowError, TypeError):
        return str(value)
    if date_only:
        return parsed.strftime("%d-%m-%Y")
    if timezone.is_naive(parsed):  # auditlog stores datetimes as naive UTC
        parsed = timezone.make_aware(parsed, UTC)
    return timezone.localtime(parsed).strftime("%d-%m-%Y %H:%M")


def _choice_label(choices: dict, value) -> str:
    if isinstance(value, str) and value.startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if isinstance(items, list):
            return ", ".join(str(choices.get(item, item)) for item in items) or EMPTY
    return str(choices.get(value, value))


def _display(model_field, value, related: dict) -> str:
    if _is_empty(value):
        return EMPTY
    if model_field is None:
        return str(value)
    if model_field.is_relation and (model_field.many_to_one or model_field.one_to_one):
        target = related.get((model_field.related_model, str(value)))
        return str(target) if target is not None else f"#{value}"
    choices = getattr(model_field, "flatchoices", None) or getattr(
        getattr(model_field, "base_field", None), "flatchoices", None
    )
    if choices:
        return _choice_label(dict(choices), value)
    internal = model_field.get_internal_type()
    if internal == "BooleanField":
        return _("yes") if str(value) == "True" else _("no")
    if internal == "DateTimeField":
        return _format_datetime(value, date_only=False)
    if internal == "DateField":
        return _format_datetime(value, date_only=True)
    if internal == "DecimalField":
        return _format_decimal(value, model_field.decimal_places)
    if internal == "JSONField":
        return _format_json(value)
    return str(value)


def _format_decimal(value, decimal_places: int) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return number_format(number, decimal_pos=decimal_places, force_grouping=True)


def _format_json(value) -> str:
    """A JSON value as text: a list of lines (an explanation) as the lines themselves."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if isinstance(data, list) and all(isinstance(item, str) for item in data):
        return " · ".join(data) or EMPTY
    return json.dumps(data, ensure_ascii=False)


def _is_shown(model_field) -> bool:
    """Reverse relations (auditlog lists them on create as "app.Model.None") and the primary
    key are noise; fields no longer on the model are still shown under their stored name."""
    if model_field is None:
        return True
    if getattr(model_field, "primary_key", False):
        return False
    return bool(getattr(model_field, "concrete", False) or model_field.many_to_many)


def _m2m_change(label: str, values: dict) -> FieldChange:
    objects = ", ".join(str(o) for o in values.get("objects", [])) or EMPTY
    if values.get("operation") == "add":
        return FieldChange(label, EMPTY, _("added: %(objects)s") % {"objects": objects})
    return FieldChange(label, _("removed: %(objects)s") % {"objects": objects}, EMPTY)


def _related_objects(entries: list[LogEntry]) -> dict:
    """The objects foreign keys in ``entries`` point to, one query per related model."""
    wanted: dict[type[Model], set[str]] = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class()
        for name, values in (entry.changes_dict or {}).items():
            model_field = _model_field(model, name)
            if (
                model_field is None
                or not model_field.is_relation
                or not (model_field.many_to_one or model_field.one_to_one)
                or not isinstance(values, list | tuple)
            ):
                continue
            wanted[model_field.related_model].update(str(v) for v in values if not _is_empty(v))
    related = {}
    for model, pks in wanted.items():
        valid = []
        for pk in pks:
            try:
                valid.append(model._meta.pk.to_python(pk))
            except ValidationError:  # a legacy value that is no key: shown as is
                pass
        for obj in model._base_manager.filter(pk__in=valid):
            related[(model, str(obj.pk))] = obj
    return related


def entry_changes(entry: LogEntry, related: dict) -> list[FieldChange]:
    """Each changed field of ``entry`` with its verbose name and readable old and new value
    (choices by label, foreign keys by the object they point to, dates as dd-mm-yyyy)."""
    model = entry.content_type.model_class()
    changes = []
    for name, values in (entry.changes_dict or {}).items():
        model_field = _model_field(model, name)
        if not _is_shown(model_field):
            continue
        label = capfirst(str(getattr(model_field, "verbose_name", name)))
        if isinstance(values, dict):
            if values.get("type") == "m2m":
                changes.append(_m2m_change(label, values))
            continue
        if not isinstance(values, list | tuple) or len(values) != 2:
            continue
        old, new = (_display(model_field, v, related) for v in values)
        changes.append(FieldChange(label, old, new))
    return changes


def history_rows(entries) -> list[HistoryRow]:
    """Display rows for one page of entries (one query per related model for the foreign
    keys' labels, never one per entry)."""
    entries = list(entries)
    related = _related_objects(entries)
    rows = []
    for entry in entries:
        model = entry.content_type.model_class()
        who = actor_label(entry)
        rows.append(
            HistoryRow(
                when=entry.timestamp,
                who=who or _("system"),
                is_system=not who,
                what=str(ACTION_LABELS.get(entry.action, entry.get_action_display())),
                action=entry.action,
                subject_kind=capfirst(str(model._meta.verbose_name)) if model else "",
                subject=entry.object_repr,
                changes=entry_changes(entry, related),
            )
        )
    return rows


def back_url(obj) -> str:
    """The adviser's page of ``obj`` to return to."""
    kind = kind_of(obj)
    if kind == "contract":
        return reverse("contracts:contract_detail", args=[obj.pk])
    if kind == "obligation":
        return reverse("contracts:contract_detail", args=[obj.contract_id]) + "#obligation"
    if kind == "contribution":
        return reverse("placements:contribution_detail", args=[obj.pk])
    if kind == "rulebook":
        return reverse("placements:rulebook_detail", args=[obj.pk])
    return reverse("contracts:policy_list")
