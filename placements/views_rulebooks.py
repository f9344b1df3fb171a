"""Rulebook screens: the versions, one rulebook's rules and bonuses, a new version, editing a
draft's rules and bonuses, publishing, and JSON export and import.

Staff who may see a rulebook (``sroi.permissions.rulebooks_visible_to``) read it; changes are
for the adviser (``Action.MANAGE_RULEBOOK`` for every municipality the rulebook applies to):
others get a 403. Contractor users and users without a role get a 404 (these are back-office
screens), as does a rulebook outside the user's municipalities.

A rulebook that an obligation uses is frozen: agreed obligations keep the rulebook they were
agreed under, so changes go into a new version. Writes go through ``placements.services``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts.models import Obligation
from sroi.permissions import Action, get_scope

from . import selectors, services, valuation
from .choices import Block, TargetGroup
from .filters import ordering_for, sort_headers
from .forms import add_service_errors
from .forms_rulebooks import (
    BonusForm,
    RulebookFilter,
    RulebookImportForm,
    RulebookVersionForm,
    RuleForm,
)
from .models import Bonus, Rule, Rulebook
from .rulebooks import to_engine

PAGE_SIZE = 25
RULEBOOK_SORTS = {
    "name": ("name", "-valid_from", "pk"),
    "valid_from": ("valid_from", "name", "pk"),
    "status": ("status", "name", "pk"),
    "in_use": ("in_use", "name", "pk"),
}
DEFAULT_RULEBOOK_SORT = "name"
BLOCK_NAMES = dict(Block.choices)
TARGET_GROUP_NAMES = dict(TargetGroup.choices)


# --- Access ----------------------------------------------------------------------------------


def _require_staff(user) -> None:
    scope = get_scope(user)
    if not (scope.is_superuser or scope.municipalities_by_role):
        raise Http404


def _manageable(user) -> frozenset[int] | None:
    """Municipality ids whose rulebooks ``user`` may change; ``None``: all (superuser)."""
    scope = get_scope(user)
    return None if scope.is_superuser else scope.municipalities_for(Action.MANAGE_RULEBOOK)


def _may_manage(user, rulebook: Rulebook) -> bool:
    """The same rule as the services: MANAGE_RULEBOOK for every municipality it applies to."""
    allowed = _manageable(user)
    if allowed is None:
        return True
    ids = {m.pk for m in rulebook.municipalities.all()}
    return bool(ids) and ids <= allowed


def _rulebook(user, pk: int, *, manage: bool = False) -> Rulebook:
    """A rulebook the user may see (404 otherwise), and change when ``manage`` (403)."""
    _require_staff(user)
    rulebook = selectors.rulebook_get(user=user, pk=pk)
    if manage and not _may_manage(user, rulebook):
        raise PermissionDenied
    return rulebook


def _usage(user) -> dict:
    """Annotations: ``in_use`` (obligations of the user's municipalities agreed under the
    rulebook) and ``frozen`` (any obligation at all uses it, which is what freezes it)."""
    scope = get_scope(user)
    condition = None
    if not scope.is_superuser:
        condition = Q(obligations__contract__municipality_id__in=scope.municipalities())
    return {
        "in_use": Count("obligations", filter=condition, distinct=True),
        "frozen": Exists(Obligation.objects.filter(rulebook=OuterRef("pk"))),
    }


# --- Readable rules and bonuses --------------------------------------------------------------


def _num(value) -> str:
    value = Decimal(value)
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    else:
        value = value.normalize()
    return number_format(value, use_l10n=True, force_grouping=True)


def _groups(values, names) -> str:
    return ", ".join(str(names.get(v, v)) for v in values) if values else _("any")


def _rule_row(rule: Rule, lang: str) -> dict:
    conditions = []
    low, high = rule.min_years_on_benefit, rule.max_years_on_benefit
    if low is not None and high is not None:
        conditions.append(
            _("years on benefit: %(low)s to under %(high)s")
            % {"low": _num(low), "high": _num(high)}
        )
    elif low is not None:
        conditions.append(_("years on benefit: at least %(low)s") % {"low": _num(low)})
    elif high is not None:
        conditions.append(_("years on benefit: under %(high)s") % {"high": _num(high)})
    if rule.variant:
        conditions.append(_("variant “%(variant)s”") % {"variant": rule.variant})
    if rule.min_hours_per_week is not None:
        conditions.append(
            _("at least %(hours)s hours per week") % {"hours": _num(rule.min_hours_per_week)}
        )
    if rule.max_years is not None:
        conditions.append(
            _("counted for at most %(years)s year(s)") % {"years": _num(rule.max_years)}
        )
    if rule.min_duration_days is not None:
        conditions.append(_("lasting at least %(days)s days") % {"days": rule.min_duration_days})
    try:
        engine_rule = valuation.Rule(**{name: getattr(rule, name) for name in services.RULE_FIELDS})
        value = engine_rule.describe(lang)
    except (valuation.ValuationError, TypeError, ValueError):
        value = None
    return {
        "rule": rule,
        "block": BLOCK_NAMES.get(rule.block, rule.block),
        "kind": rule.get_kind_display(),
        "target_groups": _groups(rule.target_groups, TARGET_GROUP_NAMES),
        "conditions": conditions,
        "value": value,
    }


def _bonus_row(bonus: Bonus) -> dict:
    if bonus.min_age is not None and bonus.max_age is not None:
        ages = _("%(low)s to %(high)s years old") % {"low": bonus.min_age, "high": bonus.max_age}
    elif bonus.min_age is not None:
        ages = _("%(low)s years or older") % {"low": bonus.min_age}
    elif bonus.max_age is not None:
        ages = _("up to %(high)s years old") % {"high": bonus.max_age}
    else:
        ages = _("any age")
    return {
        "bonus": bonus,
        "blocks": _groups(bonus.blocks, BLOCK_NAMES),
        "target_groups": _groups(bonus.target_groups, TARGET_GROUP_NAMES),
        "ages": ages,
    }


def _engine_language() -> str:
    lang = (get_language() or "nl")[:2]
    return lang if lang in ("nl", "en") else "nl"


def _problems(rulebook: Rulebook) -> list[str]:
    """What the engine finds wrong with the rulebook as it stands (empty when valid)."""
    try:
        to_engine(rulebook)
    except valuation.RulebookError as exc:
        return list(exc.errors)
    return []


# --- List ------------------------------------------------------------------------------------


@login_required
def rulebook_list(request):
    user = request.user
    _require_staff(user)
    filterset = RulebookFilter(
        request.GET or None, queryset=selectors.rulebook_list(user=user), request=request
    )
    sort, ordering = ordering_for(request.GET.get("sort"), RULEBOOK_SORTS, DEFAULT_RULEBOOK_SORT)
    S = Rulebook.Status
    totals = filterset.qs.order_by().aggregate(
        count=Count("pk", distinct=True),
        published=Count("pk", filter=Q(status=S.PUBLISHED), distinct=True),
        draft=Count("pk", filter=Q(status=S.DRAFT), distinct=True),
        examples=Count("pk", filter=Q(is_example=True), distinct=True),
    )
    qs = filterset.qs.annotate(**_usage(user)).order_by(*ordering)
    paginator = Paginator(qs, PAGE_SIZE)
    paginator.count = totals["count"]  # known from the aggregate: saves a COUNT query
    page = paginator.get_page(request.GET.get("page"))
    rows = [(rb, _may_manage(user, rb)) for rb in page.object_list]
    may_import = _manageable(user) is None or bool(_manageable(user))
    return render(
        request,
        "placements/rulebook_list.html",
        {
            "filter": filterset,
            "page": page,
            "rows": rows,
            "totals": totals,
            "sort": sort,
            "headers": sort_headers(sort, RULEBOOK_SORTS),
            "may_import": may_import,
        },
    )


# --- Detail ----------------------------------------------------------------------------------


def _detail(request, rulebook: Rulebook, *, publish_problems=None, status=200):
    user = request.user
    usage = (
        selectors.rulebook_list(user=user)
        .filter(pk=rulebook.pk)
        .prefetch_related(None)
        .annotate(**_usage(user))
        .values("in_use", "frozen")
        .first()
    )
    may_manage = _may_manage(user, rulebook)
    editable = may_manage and not usage["frozen"]
    lang = _engine_language()
    is_draft = rulebook.status == Rulebook.Status.DRAFT
    return render(
        request,
        "placements/rulebook_detail.html",
        {
            "rulebook": rulebook,
            "municipalities": list(rulebook.municipalities.all()),
            "in_use": usage["in_use"],
            "frozen": usage["frozen"],
            "may_manage": may_manage,
            "editable": editable,
            "may_publish": may_manage and is_draft,
            "rules": [_rule_row(r, lang) for r in rulebook.rules.all()],
            "bonuses": [_bonus_row(b) for b in rulebook.bonuses.all()],
            "problems": _problems(rulebook) if is_draft or editable else [],
            "publish_problems": publish_problems or [],
        },
        status=status,
    )


@login_required
def rulebook_detail(request, pk: int):
    return _detail(request, _rulebook(request.user, pk))


# --- New version -----------------------------------------------------------------------------


@login_required
def rulebook_new_version(request, pk: int):
    user = request.user
    source = _rulebook(user, pk, manage=True)
    if request.method == "POST":
        form = RulebookVersionForm(request.POST, source=source)
        if form.is_valid():
            try:
                created = services.create_rulebook_version(
                    acting_user=user,
                    based_on=source,
                    version=form.cleaned_data["version"],
                    valid_from=form.cleaned_data["valid_from"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Draft version %(version)s has been created with the rules and bonuses "
                        "of version %(source)s. Change what needs changing, then publish it."
                    )
                    % {"version": created.version, "source": source.version},
                )
                return redirect("placements:rulebook_detail", pk=created.pk)
    else:
        form = RulebookVersionForm(source=source, initial={"valid_from": timezone.localdate()})
    return render(
        request, "placements/rulebook_version_form.html", {"source": source, "form": form}
    )


# --- Publish ---------------------------------------------------------------------------------


@login_required
@require_POST
def rulebook_publish(request, pk: int):
    user = request.user
    rulebook = _rulebook(user, pk, manage=True)
    try:
        services.publish_rulebook(acting_user=user, rulebook=rulebook)
    except ValidationError as exc:
        return _detail(request, rulebook, publish_problems=exc.messages)
    messages.success(
        request,
        _(
            "Version %(version)s has been published. Obligations awarded from %(date)s on are "
            "agreed with it; agreed obligations keep the rulebook they were agreed under."
        )
        % {"version": rulebook.version, "date": f"{rulebook.valid_from:%d-%m-%Y}"},
    )
    return redirect("placements:rulebook_detail", pk=rulebook.pk)


# --- Rules and bonuses -----------------------------------------------------------------------

ITEMS = {
    "rule": {
        "model": Rule,
        "form": RuleForm,
        "save": lambda user, rb, data, item: services.save_rule(
            acting_user=user, rulebook=rb, rule_data=data, rule=item
        ),
        "delete": lambda user, item: services.delete_rule(acting_user=user, rule=item),
        "related": "rules",
        "anchor": "rules-heading",
    },
    "bonus": {
        "model": Bonus,
        "form": BonusForm,
        "save": lambda user, rb, data, item: services.save_bonus(
            acting_user=user, rulebook=rb, bonus_data=data, bonus=item
        ),
        "delete": lambda user, item: services.delete_bonus(acting_user=user, bonus=item),
        "related": "bonuses",
        "anchor": "bonuses-heading",
    },
}


def _frozen_message(in_use: bool) -> str:
    if in_use:
        return _(
            "This rulebook is used by obligations and is frozen: agreed obligations keep the "
            "rulebook they were agreed under. Create a new version to change values."
        )
    return ""


def _item(rulebook: Rulebook, kind: str, item_pk: int | None):
    if item_pk is None:
        return None
    model = ITEMS[kind]["model"]
    return get_object_or_404(model.objects.filter(rulebook=rulebook), pk=item_pk)


def _detail_url(rulebook: Rulebook, kind: str) -> str:
    return reverse("placements:rulebook_detail", args=[rulebook.pk]) + "#" + ITEMS[kind]["anchor"]


def _item_form(request, pk: int, kind: str, item_pk: int | None = None):
    user = request.user
    rulebook = _rulebook(user, pk, manage=True)
    item = _item(rulebook, kind, item_pk)
    config = ITEMS[kind]
    frozen = _frozen_message(rulebook.obligations.exists())
    context = {"rulebook": rulebook, "kind": kind, "item": item, "frozen": frozen}
    if frozen:
        status = 409 if request.method == "POST" else 200
        return render(request, "placements/rulebook_item_form.html", context, status=status)
    original_code = item.code if item else None
    instance = item if item is not None else config["model"](rulebook=rulebook)
    if request.method == "POST":
        form = config["form"](request.POST, instance=instance, rulebook=rulebook)
        if form.is_valid():
            try:
                saved = config["save"](user, rulebook, form.item_data(), item)
            except ValidationError as exc:
                if getattr(exc, "code", None) == "frozen":
                    context["frozen"] = " ".join(exc.messages)
                    return render(
                        request, "placements/rulebook_item_form.html", context, status=409
                    )
                add_service_errors(form, exc)
            else:
                messages.success(request, _("“%(code)s” has been saved.") % {"code": saved.code})
                return redirect(_detail_url(rulebook, kind))
    else:
        form = config["form"](instance=instance, rulebook=rulebook)
    context.update({"form": form, "original_code": original_code})
    return render(request, "placements/rulebook_item_form.html", context)


def _item_delete(request, pk: int, kind: str, item_pk: int):
    user = request.user
    rulebook = _rulebook(user, pk, manage=True)
    item = _item(rulebook, kind, item_pk)
    frozen = _frozen_message(rulebook.obligations.exists())
    error = ""
    if request.method == "POST" and not frozen:
        try:
            ITEMS[kind]["delete"](user, item)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("“%(code)s” has been deleted.") % {"code": item.code})
            return redirect(_detail_url(rulebook, kind))
    return render(
        request,
        "placements/rulebook_item_delete.html",
        {"rulebook": rulebook, "kind": kind, "item": item, "frozen": frozen, "error": error},
        status=409 if request.method == "POST" and (frozen or error) else 200,
    )


@login_required
def rule_create(request, pk: int):
    return _item_form(request, pk, "rule")


@login_required
def rule_edit(request, pk: int, item_pk: int):
    return _item_form(request, pk, "rule", item_pk)


@login_required
def rule_delete(request, pk: int, item_pk: int):
    return _item_delete(request, pk, "rule", item_pk)


@login_required
def bonus_create(request, pk: int):
    return _item_form(request, pk, "bonus")


@login_required
def bonus_edit(request, pk: int, item_pk: int):
    return _item_form(request, pk, "bonus", item_pk)


@login_required
def bonus_delete(request, pk: int, item_pk: int):
    return _item_delete(request, pk, "bonus", item_pk)


# --- Export and import -----------------------------------------------------------------------


@login_required
def rulebook_export(request, pk: int):
    user = request.user
    rulebook = _rulebook(user, pk)
    try:
        data = services.export_rulebook_json(acting_user=user, rulebook=rulebook)
    except ValidationError as exc:
        messages.error(
            request,
            _("This rulebook cannot be exported until its problems are fixed: %(problems)s")
            % {"problems": " ".join(exc.messages)},
        )
        return redirect("placements:rulebook_detail", pk=rulebook.pk)
    filename = f"{slugify(rulebook.name) or 'rulebook'}-{slugify(rulebook.version)}.json"
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def rulebook_import(request):
    user = request.user
    _require_staff(user)
    allowed = _manageable(user)
    if allowed is not None and not allowed:
        raise PermissionDenied
    if request.method == "POST":
        form = RulebookImportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            try:
                rulebook = services.import_rulebook_json(
                    acting_user=user,
                    data=form.cleaned_data["data"],
                    owner=form.cleaned_data["owner"],
                    municipalities=form.cleaned_data["municipalities"],
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    add_service_errors(form, exc)
                else:
                    form.add_error("file", exc.messages)
            else:
                messages.success(
                    request,
                    _("Version %(version)s of “%(name)s” has been imported as a draft.")
                    % {"version": rulebook.version, "name": rulebook.name},
                )
                return redirect("placements:rulebook_detail", pk=rulebook.pk)
    else:
        form = RulebookImportForm(user=user)
    return render(request, "placements/rulebook_import.html", {"form": form})
