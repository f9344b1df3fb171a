"""Thin admin for rulebooks, candidates, contributions and evidence.

Rows are scoped by ``sroi.admin_scoping.ScopedAdminMixin``; candidates and evidence (personal
data) exist only for roles that may see personal data. Every write goes through
``placements.services``: contributions are valued by the engine with the obligation's frozen
rulebook and reviewed with ``approve/reject/return_contribution``; rules and bonuses are saved
with the engine's checks and never in a rulebook that an obligation uses.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, F, OuterRef, Q
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from contracts.models import Contractor, Obligation
from sroi import permissions
from sroi.admin_audit import PersonalDataReadsAdminMixin
from sroi.admin_scoping import (
    ScopedAdminMixin,
    ScopedInlineMixin,
    scoped_via,
    validate_with_service,
)
from sroi.models import Organisation
from sroi.permissions import Action, get_scope

from . import services, valuation
from .models import Bonus, Candidate, Contribution, Evidence, Rule, Rulebook
from .validators import validate_evidence_file

RELATED_ONLY = admin.RelatedOnlyFieldListFilter


def _lines_html(lines) -> str:
    return format_html_join("", "<div>{}</div>", ((line,) for line in lines or ())) or "–"


def _frozen(rulebook) -> bool:
    return rulebook is not None and rulebook.pk is not None and rulebook.obligations.exists()


# --- Rulebooks -------------------------------------------------------------------------------


class EngineCheckedForm(forms.ModelForm):
    """Checks one rule or bonus with the engine's own validation while the form is open."""

    engine_class = None
    engine_fields: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = {n: cleaned.get(n) for n in self.engine_fields if n in cleaned}
        for name in ("target_groups", "blocks"):
            if name in values:
                values[name] = values[name] or []
        for name in ("variant",):
            if name in values:
                values[name] = values[name] or ""
        try:
            self.engine_class(**values)
        except (valuation.RulebookError, TypeError) as exc:
            raise ValidationError(str(exc)) from exc
        return cleaned


class RuleForm(EngineCheckedForm):
    engine_class = valuation.Rule
    engine_fields = services.RULE_FIELDS

    class Meta:
        model = Rule
        fields = services.RULE_FIELDS


class BonusForm(EngineCheckedForm):
    engine_class = valuation.Bonus
    engine_fields = services.BONUS_FIELDS

    class Meta:
        model = Bonus
        fields = services.BONUS_FIELDS


class FrozenAwareInline(ScopedInlineMixin, admin.TabularInline):
    extra = 0
    superuser_delete_only = False  # deleting goes through delete_rule/delete_bonus

    def has_add_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(obj) and super().has_change_permission(request, obj)


class RuleInline(FrozenAwareInline):
    model = Rule
    form = RuleForm
    fields = services.RULE_FIELDS


class BonusInline(FrozenAwareInline):
    model = Bonus
    form = BonusForm
    fields = services.BONUS_FIELDS


def _owner_choices(user):
    """Municipalities the user manages rulebooks for, and bodies serving only those."""
    scope = get_scope(user)
    if scope.is_superuser:
        return Organisation.objects.all()
    allowed = scope.municipalities_for(Action.MANAGE_RULEBOOK)
    bodies = (
        Organisation.objects.exclude(kind=Organisation.Kind.MUNICIPALITY)
        .filter(serves__isnull=False)
        .exclude(serves__in=Organisation.objects.exclude(pk__in=allowed))
    )
    return Organisation.objects.filter(Q(pk__in=allowed) | Q(pk__in=bodies.values("pk")))


class RulebookForm(forms.ModelForm):
    acting_user = None

    class Meta:
        model = Rulebook
        fields = ("name", "version", "owner", "municipalities", "valid_from", "is_example")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.acting_user is None:
            return
        if "owner" in self.fields:
            self.fields["owner"].queryset = _owner_choices(self.acting_user)
        if "municipalities" in self.fields:
            self.fields["municipalities"].queryset = permissions.municipalities_visible_to(
                self.acting_user, Action.MANAGE_RULEBOOK
            )


@admin.register(Rulebook)
class RulebookAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = permissions.rulebooks_visible_to
    change_action = Action.MANAGE_RULEBOOK
    form = RulebookForm
    list_display = ("name", "version", "owner", "valid_from", "status", "is_example", "in_use")
    list_filter = ("status", "is_example", ("owner", RELATED_ONLY))
    search_fields = ("name", "version")
    list_select_related = ("owner",)
    filter_horizontal = ("municipalities",)
    date_hierarchy = "valid_from"
    inlines = [RuleInline, BonusInline]
    actions = ["publish_selected"]

    def get_readonly_fields(self, request, obj=None):
        fields = ["status", "based_on", "created_at"]
        if _frozen(obj):
            fields += ["name", "version", "owner", "municipalities", "valid_from", "is_example"]
        return fields

    def get_queryset(self, request):
        used = Obligation.objects.filter(rulebook=OuterRef("pk"))
        return super().get_queryset(request).annotate(used_by_obligations=Exists(used))

    @admin.display(description=_("used by obligations"), boolean=True)
    def in_use(self, obj) -> bool:
        return obj.used_by_obligations

    def save_formset(self, request, form, formset, change):
        if formset.model not in (Rule, Bonus):
            return super().save_formset(request, form, formset, change)
        rulebook = form.instance
        is_rule = formset.model is Rule
        fields = services.RULE_FIELDS if is_rule else services.BONUS_FIELDS
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                if is_rule:
                    services.delete_rule(acting_user=request.user, rule=deleted.instance)
                else:
                    services.delete_bonus(acting_user=request.user, bonus=deleted.instance)
        for item_form in formset.forms:
            if item_form in formset.deleted_forms or not item_form.has_changed():
                continue
            data = {n: item_form.cleaned_data.get(n) for n in fields}
            item = item_form.instance if item_form.instance.pk else None
            if is_rule:
                services.save_rule(
                    acting_user=request.user, rulebook=rulebook, rule_data=data, rule=item
                )
            else:
                services.save_bonus(
                    acting_user=request.user, rulebook=rulebook, bonus_data=data, bonus=item
                )
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description=_("Publish the selected rulebooks"), permissions=["change"])
    def publish_selected(self, request, queryset):
        for rulebook in queryset:
            try:
                services.publish_rulebook(acting_user=request.user, rulebook=rulebook)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{rulebook}: {exc}", messages.WARNING)
            else:
                self.message_user(request, _("%(rb)s published.") % {"rb": rulebook})


class RulebookItemAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Rules and bonuses on their own; saved and deleted through the rulebook services."""

    visible_to = scoped_via("rulebook", permissions.rulebooks_visible_to)
    change_action = Action.MANAGE_RULEBOOK
    autocomplete_fields = ("rulebook",)
    list_select_related = ("rulebook",)
    superuser_delete_only = False

    def has_change_permission(self, request, obj=None):
        if obj is not None and _frozen(obj.rulebook):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and _frozen(obj.rulebook):
            return False
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rulebook":
            kwargs["queryset"] = permissions.rulebooks_visible_to(
                request.user, action=Action.MANAGE_RULEBOOK
            ).filter(obligations__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _save(self, request, rulebook, data, item):
        raise NotImplementedError

    def _delete(self, request, item):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        data = {n: form.cleaned_data.get(n) for n in self.item_fields}
        saved = self._save(request, form.cleaned_data["rulebook"], data, obj if change else None)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._delete(request, obj)


@admin.register(Rule)
class RuleAdmin(RulebookItemAdmin):
    form = RuleForm
    item_fields = services.RULE_FIELDS
    fields = ("rulebook", *services.RULE_FIELDS)
    list_display = ("code", "label", "rulebook", "block", "kind", "rate", "percent", "variant")
    list_filter = ("block", "kind")
    search_fields = ("code", "label", "rulebook__name")

    def _save(self, request, rulebook, data, item):
        return services.save_rule(
            acting_user=request.user, rulebook=rulebook, rule_data=data, rule=item
        )

    def _delete(self, request, item):
        services.delete_rule(acting_user=request.user, rule=item)


@admin.register(Bonus)
class BonusAdmin(RulebookItemAdmin):
    form = BonusForm
    item_fields = services.BONUS_FIELDS
    fields = ("rulebook", *services.BONUS_FIELDS)
    list_display = ("code", "label", "rulebook", "amount", "min_age", "max_age")
    list_filter = ("requires_permanent_contract",)
    search_fields = ("code", "label", "rulebook__name")

    def _save(self, request, rulebook, data, item):
        return services.save_bonus(
            acting_user=request.user, rulebook=rulebook, bonus_data=data, bonus=item
        )

    def _delete(self, request, item):
        services.delete_bonus(acting_user=request.user, bonus=item)


# --- Candidates ------------------------------------------------------------------------------


def _birth_year(candidate) -> str:
    """A birth year as written ("1970"), never localized as a number ("1.970")."""
    if candidate is None or candidate.birth_year is None:
        return "–"
    return str(candidate.birth_year)


def _reportable_contractors(user):
    scope = get_scope(user)
    if scope.is_superuser:
        return Contractor.objects.all()
    contracts = permissions.contracts_visible_to(user, action=Action.REPORT_CONTRIBUTION)
    return Contractor.objects.filter(pk__in=contracts.values("contractor_id"))


CANDIDATE_FIELDS = (
    "contractor",
    "initials",
    "birth_year",
    "target_group",
    "years_on_benefit",
    "target_group_note",
)


class CandidateForm(forms.ModelForm):
    acting_user = None

    class Meta:
        model = Candidate
        fields = CANDIDATE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "birth_year" in self.fields:
            # A year, not a quantity: never "1.970" (USE_THOUSAND_SEPARATOR is on).
            field = self.fields["birth_year"]
            field.localize = False
            field.widget = forms.NumberInput(attrs={"min": 1900, "step": 1})
            field.widget.is_localized = False
        if self.acting_user is not None and "contractor" in self.fields:
            self.fields["contractor"].queryset = _reportable_contractors(self.acting_user)

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in CANDIDATE_FIELDS}

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.instance.pk:
            kwargs = self.service_kwargs()
            validate_with_service(
                self, lambda: services.create_candidate(acting_user=self.acting_user, **kwargs)
            )
        return cleaned


@admin.register(Candidate)
class CandidateAdmin(PersonalDataReadsAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Pseudonymous candidates: code, initials, birth year, target group. Created through
    ``create_candidate`` (which generates the code and checks the details); a stored
    candidate is not edited here."""

    visible_to = permissions.candidates_visible_to  # the contractor's own; advisers via use
    personal_data = True
    form = CandidateForm
    list_display = (
        "code",
        "contractor",
        "target_group",
        "birth_year_display",
        "eligibility_confirmed_at",
        "anonymised_at",
    )
    list_filter = ("target_group", ("contractor", RELATED_ONLY))
    search_fields = ("code",)
    list_select_related = ("contractor",)
    readonly_fields = (
        "code",
        "birth_year_display",
        "eligibility_confirmed_at",
        "eligibility_confirmed_by",
        "anonymised_at",
        "created_at",
    )

    @admin.display(description=_("birth year"), ordering="birth_year")
    def birth_year_display(self, obj) -> str:
        return _birth_year(obj)

    def get_fields(self, request, obj=None):
        fields = [n for n in super().get_fields(request, obj) if n != "birth_year_display"]
        if obj is not None and obj.pk:
            # A stored candidate is shown read-only: the year unlocalized, not "1.970".
            fields = ["birth_year_display" if n == "birth_year" else n for n in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.pk:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        candidate = services.create_candidate(acting_user=request.user, **form.service_kwargs())
        obj.pk, obj.code, obj.created_at = candidate.pk, candidate.code, candidate.created_at
        obj._state.adding = False


# --- Contributions ---------------------------------------------------------------------------

REVIEW_CHOICES = [
    ("", "—"),
    ("approve", _("Approve")),
    ("return", _("Return for more information")),
    ("reject", _("Reject")),
]
OPEN_STATUSES = (Contribution.Status.SUBMITTED, Contribution.Status.RETURNED)


class ContributionForm(forms.ModelForm):
    review = forms.ChoiceField(label=_("review"), choices=REVIEW_CHOICES, required=False)
    review_reason = forms.CharField(
        label=_("reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required to reject or return; shown to the contractor."),
    )
    acting_user = None

    class Meta:
        model = Contribution
        fields = ("obligation", *services.CONTRIBUTION_INPUTS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.acting_user
        if user is None:
            return
        if "obligation" in self.fields:
            self.fields["obligation"].queryset = permissions.obligations_visible_to(
                user, action=Action.REPORT_CONTRIBUTION
            ).filter(status=Obligation.Status.OPEN)
        if "candidate" in self.fields:
            self.fields["candidate"].queryset = permissions.candidates_visible_to(user)

    def inputs(self) -> dict:
        return {
            n: self.cleaned_data.get(n) for n in services.CONTRIBUTION_INPUTS if n in self.fields
        }

    def changed_inputs(self) -> dict:
        return {
            n: self.cleaned_data.get(n)
            for n in self.changed_data
            if n in services.CONTRIBUTION_INPUTS
        }

    def run_services(self, acting_user):
        """Submit or update, then review: the same calls for the dry run and the save."""
        contribution = self.instance
        if contribution.pk is None:
            contribution = services.submit_contribution(
                acting_user=acting_user, obligation=self.cleaned_data["obligation"], **self.inputs()
            )
        elif changes := self.changed_inputs():
            contribution = services.update_contribution(
                acting_user=acting_user, contribution=contribution, **changes
            )
        review = self.cleaned_data.get("review")
        reason = self.cleaned_data.get("review_reason") or ""
        if review == "approve":
            contribution = services.approve_contribution(
                acting_user=acting_user, contribution=contribution
            )
        elif review == "reject":
            contribution = services.reject_contribution(
                acting_user=acting_user, contribution=contribution, reason=reason
            )
        elif review == "return":
            contribution = services.return_contribution(
                acting_user=acting_user, contribution=contribution, reason=reason
            )
        return contribution

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("review") in ("reject", "return") and not cleaned.get("review_reason"):
            self.add_error("review_reason", _("Give a reason."))
            return cleaned
        validate_with_service(self, lambda: self.run_services(self.acting_user))
        return cleaned

    def _post_clean(self):
        # The services build and validate the contribution (value, status, who); validating
        # the half-built instance here would only duplicate their checks.
        pass


CONTRIBUTION_COMPUTED = (
    "value",
    "rule_code",
    "explanation",
    "status",
    "status_reason",
    "submitted_by",
    "submitted_at",
    "reviewed_by",
    "reviewed_at",
    "updated_at",
)


# Parts of explanations stored before explanations were stripped of personal data: the
# inputs line named the target group, years on benefit and birth year, and an age bonus the
# age and birth year. A line with one of them is not shown to a user without personal data.
_LEGACY_PERSONAL_DATA = re.compile(
    r"\b(geboortejaar|birth year) \d|\b(uitkeringsjaren|years on benefit) \d"
    r"|^(Invoer|Inputs): .*\b(doelgroep|target group) \S"
    r"|\((?:.*, )?(doelgroep|target group) \S"
    r"|\b(leeftijd|age) \d+ \("
)


def _public_explanation(lines) -> list[str]:
    """The explanation for a user who may not see the candidate's personal data."""
    withheld = _("(line with personal data withheld)")
    return [withheld if _LEGACY_PERSONAL_DATA.search(line) else line for line in lines or ()]


@admin.register(Contribution)
class ContributionAdmin(PersonalDataReadsAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Contributions. A user with ``VIEW_PERSONAL_DATA`` on a contribution (the adviser of its
    municipality) sees its candidate's details; anybody else who may see the contribution (a
    council viewer, a procurement officer, an adviser of another municipality who is a
    council viewer here) sees the pseudonymous code only, decided per object."""

    visible_to = permissions.contributions_visible_to
    change_action = Action.REVIEW_CONTRIBUTION
    form = ContributionForm
    list_display = (
        "__str__",
        "obligation",
        "block",
        "candidate_code",
        "status",
        "value",
        "start_date",
        "submitted_at",
    )
    list_filter = (
        "status",
        "block",
        ("obligation__contract__municipality", RELATED_ONLY),
        "start_date",
    )
    search_fields = (
        "obligation__contract__reference",
        "candidate__code",
        "description",
        "delivered_by",
    )
    # Not the candidate: the changelist shows the code only and never loads the details.
    list_select_related = ("obligation__contract",)
    date_hierarchy = "start_date"
    autocomplete_fields = ("obligation", "candidate")
    actions = ["approve_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(candidate_code=F("candidate__code"))

    def personal_data_shown(self, request, objects, *, change_form: bool) -> list:
        """The changelist shows codes only; the change page the details of a candidate the
        user may see (recorded in the audit trail)."""
        return [
            o.candidate
            for o in objects
            if change_form
            and o.candidate_id is not None
            and self.shows_personal_data(request, o)
            and o.candidate.anonymised_at is None
        ]

    def shows_personal_data(self, request, obj) -> bool:
        """May this user see the candidate details of ``obj`` (a new one: the user picks)?"""
        if obj is None or obj.pk is None:
            return True
        cache = request.__dict__.setdefault("_sroi_contribution_personal_data", {})
        if obj.pk not in cache:
            cache[obj.pk] = (
                permissions.contributions_visible_to(request.user, action=Action.VIEW_PERSONAL_DATA)
                .filter(pk=obj.pk)
                .exists()
            )
        return cache[obj.pk]

    def get_fieldsets(self, request, obj=None):
        personal = self.shows_personal_data(request, obj)
        inputs = ["obligation"]
        for name in services.CONTRIBUTION_INPUTS:
            if name != "candidate":
                inputs.append(name)
            elif personal:
                inputs += ["candidate", "candidate_details"] if obj is not None else ["candidate"]
            else:
                inputs.append("candidate_code")
        explanation = "explanation" if personal else "public_explanation"
        review = ["review", "review_reason"] if obj is not None else []
        return (
            (None, {"fields": inputs}),
            (
                _("Value (computed by the rulebook)"),
                {"fields": ("value", "rule_code", explanation)},
            ),
            (
                _("Review"),
                {
                    "fields": [
                        "status",
                        "status_reason",
                        *review,
                        "submitted_by",
                        "submitted_at",
                        "reviewed_by",
                        "reviewed_at",
                        "updated_at",
                    ]
                },
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        fields = [*CONTRIBUTION_COMPUTED, "public_explanation", "candidate_code"]
        if obj is not None:
            fields += ["obligation", "candidate_details"]
            if obj.status not in OPEN_STATUSES:
                fields += list(services.CONTRIBUTION_INPUTS)
        return fields

    @admin.display(description=_("candidate"), ordering="candidate__code")
    def candidate_code(self, obj) -> str:
        code = getattr(obj, "candidate_code", None)
        if code is None and obj.candidate_id is not None:
            code = Candidate.objects.filter(pk=obj.candidate_id).values_list("code", flat=True)
            code = code.first()
        return code or "–"

    @admin.display(description=_("candidate details"))
    def candidate_details(self, obj) -> str:
        """Only in the fieldsets of a user who may see them (see ``get_fieldsets``)."""
        candidate = obj.candidate
        if candidate is None:
            return "–"
        details = [
            candidate.initials or "–",
            _birth_year(candidate),
            candidate.get_target_group_display() or "–",
        ]
        return f"{candidate.code}: " + ", ".join(str(d) for d in details)

    @admin.display(description=_("explanation"))
    def explanation(self, obj):
        return _lines_html(obj.value_explanation)

    @admin.display(description=_("explanation"))
    def public_explanation(self, obj):
        return _lines_html(_public_explanation(obj.value_explanation))

    def save_model(self, request, obj, form, change):
        contribution = form.run_services(request.user)
        obj.pk = contribution.pk
        obj._state.adding = False

    @admin.action(description=_("Approve the selected contributions"), permissions=["change"])
    def approve_selected(self, request, queryset):
        done = 0
        for contribution in queryset:
            try:
                services.approve_contribution(acting_user=request.user, contribution=contribution)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{contribution}: {exc}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(n)d contribution(s) approved.") % {"n": done})


# --- Evidence --------------------------------------------------------------------------------


class EvidenceForm(forms.ModelForm):
    acting_user = None

    class Meta:
        model = Evidence
        fields = ("contribution", "kind", "file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.acting_user is not None and "contribution" in self.fields:
            self.fields["contribution"].queryset = permissions.contributions_visible_to(
                self.acting_user, action=Action.REVIEW_CONTRIBUTION
            ).filter(status__in=OPEN_STATUSES)

    def clean_file(self):
        uploaded = self.cleaned_data.get("file")
        if uploaded:
            try:
                validate_evidence_file(uploaded, max_bytes=settings.EVIDENCE_MAX_BYTES)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from exc
            uploaded.seek(0)
        return uploaded

    def _post_clean(self):
        pass  # the service fills in name, type, size and uploader


@admin.register(Evidence)
class EvidenceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Evidence is added through ``add_evidence`` (content-type sniffing, size limit) and is
    never edited; files are served only by the application's own checked download view."""

    visible_to = permissions.evidence_visible_to
    personal_data = True
    form = EvidenceForm
    list_display = (
        "original_name",
        "contribution",
        "kind",
        "content_type",
        "size",
        "uploaded_by",
        "uploaded_at",
    )
    list_filter = ("kind", "content_type")
    search_fields = ("original_name", "contribution__obligation__contract__reference")
    list_select_related = ("contribution__obligation__contract", "uploaded_by")
    autocomplete_fields = ("contribution",)
    date_hierarchy = "uploaded_at"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("contribution", "kind", "file")
        return (
            "contribution",
            "kind",
            "original_name",
            "content_type",
            "size",
            "uploaded_by",
            "uploaded_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.pk:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        evidence = services.add_evidence(
            acting_user=request.user,
            contribution=form.cleaned_data["contribution"],
            uploaded_file=form.cleaned_data["file"],
            kind=form.cleaned_data["kind"],
        )
        obj.pk = evidence.pk
        obj._state.adding = False
