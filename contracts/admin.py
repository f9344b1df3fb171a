"""Thin admin for contractors, policies, contracts, obligations and settlements.

Rows are scoped by ``sroi.admin_scoping.ScopedAdminMixin``. Writes that carry business rules go
through ``contracts.services`` (a new contract gets its obligation computed, a change recomputes
it, a settlement is decided by ``settle_obligation``); the forms run the same service in a
rolled-back savepoint during ``clean()`` so every service error shows on the form. Computed
values are read-only; obligations, contracts, contributions and settlements are never deleted
here except by a superuser.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.forms.models import construct_instance
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from sroi import permissions
from sroi.admin_scoping import (
    ReadOnlyInlineMixin,
    ScopedAdminMixin,
    ScopedInlineMixin,
    scoped_via,
    validate_with_service,
)
from sroi.models import Membership, Organisation, Role, User
from sroi.permissions import Action, get_scope

from . import selectors, services
from .models import (
    Contract,
    Contractor,
    ContractorContact,
    ContractorUser,
    Obligation,
    ObligationChange,
    PsoDiscount,
    Settlement,
    SroiPolicy,
)
from .obligation_calc import Deviation

RELATED_ONLY = admin.RelatedOnlyFieldListFilter


def _explanation_html(lines) -> str:
    return format_html_join("", "<div>{}</div>", ((line,) for line in lines or ())) or "–"


# --- Contractors -----------------------------------------------------------------------------


PSO_FIELDS = ("pso_level", "pso_valid_from", "pso_valid_until")
CONTRACTOR_FIELDS = ("name", "kvk_number", "street_address", "postal_code", "city", *PSO_FIELDS)


def may_change_pso(user, contractor: Contractor | None) -> bool:
    """The PSO level and certificate dates drive the discount on obligations, so only an SROI
    adviser (Action.AGREE_OBLIGATION) sets them, and for an existing contractor only one whose
    municipalities include every municipality the contractor has a contract in (a PSO level
    counts wherever the contractor works). Superusers always."""
    scope = get_scope(user)
    if scope.is_superuser:
        return True
    agree = scope.municipalities_for(Action.AGREE_OBLIGATION)
    if not agree:
        return False
    if contractor is None or contractor.pk is None:
        return True
    worked_in = set(
        Contract.objects.filter(contractor=contractor).values_list("municipality_id", flat=True)
    )
    return worked_in <= agree


class ContractorAdminForm(forms.ModelForm):
    """Contractor details, saved through ``create_contractor`` / ``update_contractor`` (run
    here in a rolled-back savepoint first, so their errors show on the form)."""

    acting_user = None

    class Meta:
        model = Contractor
        fields = CONTRACTOR_FIELDS

    def service_fields(self) -> dict:
        return {n: self.cleaned_data.get(n) for n in CONTRACTOR_FIELDS if n in self.fields}

    def changes(self) -> dict:
        return {n: self.cleaned_data.get(n) for n in self.changed_data if n in CONTRACTOR_FIELDS}

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.acting_user is None:
            return cleaned
        if self.instance.pk is None:
            fields = self.service_fields()
            validate_with_service(
                self,
                lambda: services.create_contractor(acting_user=self.acting_user, **fields),
            )
        elif changes := self.changes():
            contractor = Contractor.objects.get(pk=self.instance.pk)
            validate_with_service(
                self,
                lambda: services.update_contractor(
                    acting_user=self.acting_user, contractor=contractor, **changes
                ),
            )
        return cleaned

    def _post_clean(self):
        # The services validate the contractor (``full_clean``) in ``clean()`` already;
        # validating the instance again would show every error twice.
        self.instance = construct_instance(self, self.instance, self._meta.fields)


class ContractorUserForm(forms.ModelForm):
    class Meta:
        model = ContractorUser
        fields = ("user", "contractor", "is_active")

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user.is_superuser or Membership.objects.filter(user=user, is_active=True).exists():
            raise ValidationError(_("A staff user cannot be a contractor's portal user as well."))
        return user


def _sync_contractor_users(users) -> None:
    from sroi.services import sync_user_access

    for user in {u.pk: u for u in users}.values():
        sync_user_access(user)


class ContractorContactInline(ScopedInlineMixin, admin.TabularInline):
    model = ContractorContact
    fields = ("name", "function", "email", "phone")
    extra = 0
    superuser_delete_only = False  # contact details may be removed by whoever edits them


class ContractorUserInline(ScopedInlineMixin, admin.TabularInline):
    model = ContractorUser
    form = ContractorUserForm
    fields = ("user", "is_active", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Contractor)
class ContractorAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Contractors are saved through ``contracts.services``. The PSO fields are read-only for
    everybody but the SROI adviser (:func:`may_change_pso`)."""

    visible_to = permissions.contractors_visible_to
    form = ContractorAdminForm
    list_display = ("name", "kvk_number", "city", "pso_level", "pso_valid_until")
    list_filter = ("pso_level",)
    search_fields = ("name", "kvk_number", "city")
    readonly_fields = ("created_at",)
    inlines = [ContractorContactInline, ContractorUserInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not may_change_pso(request.user, obj):
            fields += [name for name in PSO_FIELDS if name not in fields]
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            contractor = services.create_contractor(
                acting_user=request.user, **form.service_fields()
            )
            obj.pk, obj.created_at = contractor.pk, contractor.created_at
            obj._state.adding = False
            obj._state.db = contractor._state.db
            return
        changes = form.changes()
        if not changes:
            return
        if set(changes) & set(PSO_FIELDS) and not may_change_pso(request.user, obj):
            raise PermissionDenied  # the form never offers them; a forged post gets nothing
        services.update_contractor(
            acting_user=request.user,
            contractor=Contractor.objects.get(pk=obj.pk),
            **changes,
        )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is ContractorUser:
            _sync_contractor_users(
                [f.instance.user for f in formset.forms if f.instance.pk and f.has_changed()]
            )


@admin.register(ContractorContact)
class ContractorContactAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = scoped_via("contractor", permissions.contractors_visible_to)
    list_display = ("name", "contractor", "function", "email", "phone")
    search_fields = ("name", "email", "contractor__name")
    autocomplete_fields = ("contractor",)
    list_select_related = ("contractor",)
    superuser_delete_only = False


def contractor_users_managed_by(user, qs, action=Action.VIEW):
    """Portal users of the contractors ``user`` manages (``sroi.selectors``): those with a
    contract in a municipality where ``user`` is functional administrator."""
    from sroi import selectors as sroi_selectors

    return qs.filter(
        contractor__in=sroi_selectors.manageable_contractors(user=user).values("pk"),
        user__in=sroi_selectors.user_list(user=user).values("pk"),
    )


@admin.register(ContractorUser)
class ContractorUserAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Linking a user to a contractor gives them the contractor's portal: only for users and
    contractors within the functional administrator's municipalities."""

    visible_to = contractor_users_managed_by
    form = ContractorUserForm
    list_display = ("user", "contractor", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("user__email", "contractor__name", "contractor__kvk_number")
    autocomplete_fields = ("user", "contractor")
    list_select_related = ("user", "contractor")
    readonly_fields = ("created_at",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from sroi import selectors as sroi_selectors

        if db_field.name == "contractor":
            kwargs["queryset"] = sroi_selectors.manageable_contractors(user=request.user)
        elif db_field.name == "user":
            kwargs["queryset"] = sroi_selectors.manageable_users(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _sync_contractor_users([obj.user])


# --- Policies --------------------------------------------------------------------------------


class PsoDiscountInline(ScopedInlineMixin, admin.TabularInline):
    model = PsoDiscount
    extra = 0

    def _policy_in_use(self, obj) -> bool:
        return obj is not None and obj.pk is not None and obj.obligations.exists()

    def has_add_permission(self, request, obj=None):
        return not self._policy_in_use(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._policy_in_use(obj) and super().has_change_permission(request, obj)


POLICY_TERMS = (
    "municipality",
    "valid_from",
    "threshold",
    "default_percentage",
    "base",
    "reduced_percentage",
    "reduced_labour_share_below",
    "grace_days",
)


@admin.register(SroiPolicy)
class SroiPolicyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = permissions.policies_visible_to
    change_action = Action.MANAGE_POLICY
    list_display = (
        "municipality",
        "valid_from",
        "threshold",
        "default_percentage",
        "base",
        "reduced_percentage",
        "grace_days",
    )
    list_filter = (("municipality", RELATED_ONLY), "base")
    search_fields = ("municipality__name", "notes")
    list_select_related = ("municipality",)
    date_hierarchy = "valid_from"
    inlines = [PsoDiscountInline]

    def get_readonly_fields(self, request, obj=None):
        fields = ["created_at"]
        if obj is not None and obj.pk and obj.obligations.exists():
            # Obligations were computed with these terms: add a new version instead.
            fields += list(POLICY_TERMS)
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "municipality":
            kwargs["queryset"] = permissions.municipalities_visible_to(
                request.user, Action.MANAGE_POLICY
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(PsoDiscount)
class PsoDiscountAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = scoped_via("policy", permissions.policies_visible_to)
    change_action = Action.MANAGE_POLICY
    list_display = ("policy", "level", "discount_percentage")
    list_filter = ("level",)
    search_fields = ("policy__municipality__name",)
    list_select_related = ("policy__municipality",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "policy":
            kwargs["queryset"] = permissions.policies_visible_to(
                request.user, action=Action.MANAGE_POLICY
            ).filter(obligations__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Contracts -------------------------------------------------------------------------------


class ContractAdminForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded with the recomputed obligation when the value or dates change."),
    )
    acting_user = None

    class Meta:
        model = Contract
        fields = services.CONTRACT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.acting_user
        if user is None:
            return
        if "municipality" in self.fields:
            self.fields["municipality"].queryset = permissions.municipalities_visible_to(
                user, Action.CREATE_CONTRACT
            )
        if "procurement_officer" in self.fields:
            munis = get_scope(user).municipalities() if not user.is_superuser else None
            officers = User.objects.filter(
                memberships__role=Role.PROCUREMENT_OFFICER, memberships__is_active=True
            )
            if munis is not None:
                orgs = Organisation.objects.filter(Q(pk__in=munis) | Q(serves__in=munis))
                officers = officers.filter(memberships__organisation__in=orgs)
            keep = Q(pk__in=officers.values("pk"))
            if self.instance.procurement_officer_id:
                keep |= Q(pk=self.instance.procurement_officer_id)
            self.fields["procurement_officer"].queryset = User.objects.filter(keep)

    def _fields(self) -> dict:
        return {n: self.cleaned_data.get(n) for n in services.CONTRACT_FIELDS if n in self.fields}

    def changes(self) -> dict:
        return {n: self.cleaned_data[n] for n in self.changed_data if n in services.CONTRACT_FIELDS}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.instance.pk is None:
            fields = self._fields()
            validate_with_service(
                self, lambda: services.create_contract(acting_user=self.acting_user, **fields)
            )
        elif changes := self.changes():
            validate_with_service(
                self,
                lambda: services.update_contract(
                    acting_user=self.acting_user,
                    contract=self.instance,
                    reason=cleaned.get("change_reason", ""),
                    **changes,
                ),
            )
        return cleaned


@admin.register(Contract)
class ContractAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = permissions.contracts_visible_to
    change_action = Action.CHANGE_CONTRACT
    form = ContractAdminForm
    list_display = (
        "reference",
        "title",
        "municipality",
        "contractor",
        "kind",
        "value_excl_vat",
        "award_date",
        "end_date",
        "obligation_amount",
    )
    list_filter = (("municipality", RELATED_ONLY), "kind", "award_date")
    search_fields = ("reference", "title", "contractor__name", "contractor__kvk_number")
    list_select_related = ("municipality", "contractor", "obligation")
    date_hierarchy = "award_date"
    autocomplete_fields = ("contractor",)
    readonly_fields = ("obligation_summary", "created_at", "updated_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "municipality",
                    "reference",
                    "title",
                    "description",
                    "contractor",
                    "kind",
                    "procurement_officer",
                )
            },
        ),
        (
            _("Value and dates"),
            {
                "fields": (
                    "value_excl_vat",
                    "labour_cost",
                    "award_date",
                    "start_date",
                    "end_date",
                    "change_reason",
                )
            },
        ),
        (_("SROI obligation"), {"fields": ("obligation_summary", "created_at", "updated_at")}),
    )

    @admin.display(description=_("required amount"))
    def obligation_amount(self, obj):
        obligation = getattr(obj, "obligation", None)
        return obligation.amount if obligation is not None else "–"

    @admin.display(description=_("obligation"))
    def obligation_summary(self, obj):
        obligation = Obligation.objects.filter(contract_id=obj.pk).first() if obj.pk else None
        if obligation is None:
            return _("No SROI obligation (computed when the contract is saved).")
        return _explanation_html(obligation.explanation)

    def save_model(self, request, obj, form, change):
        if not change:
            contract, _obligation = services.create_contract(
                acting_user=request.user, **form._fields()
            )
            obj.pk = contract.pk
            obj.created_at, obj.updated_at = contract.created_at, contract.updated_at
            obj._state.adding = False
            obj._state.db = contract._state.db
        elif changes := form.changes():
            services.update_contract(
                acting_user=request.user,
                contract=obj,
                reason=form.cleaned_data.get("change_reason", ""),
                **changes,
            )


# --- Obligations -----------------------------------------------------------------------------


class ObligationChangeInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ObligationChange
    fields = (
        "changed_at",
        "kind",
        "old_amount",
        "new_amount",
        "old_deadline",
        "new_deadline",
        "reason",
        "changed_by",
    )
    readonly_fields = fields
    ordering = ("changed_at", "pk")


class SettlementInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Settlement
    fields = (
        "decided_at",
        "decision",
        "required_amount",
        "realised_amount",
        "shortfall",
        "amount",
        "new_deadline",
        "reason",
        "decided_by",
    )
    readonly_fields = fields


DEVIATION_FIELDS = ("deviation", "percentage", "deviation_reason")


class ObligationAdminForm(forms.ModelForm):
    acting_user = None

    class Meta:
        model = Obligation
        fields = DEVIATION_FIELDS

    def deviation(self) -> Deviation:
        kind = self.cleaned_data.get("deviation") or ""
        return Deviation(
            kind=kind,
            percentage=self.cleaned_data.get("percentage") if kind == "custom_percentage" else None,
            reason=self.cleaned_data.get("deviation_reason") or "",
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.has_changed():
            return cleaned
        if "percentage" in self.changed_data and cleaned.get("deviation") != "custom_percentage":
            self.add_error(
                "percentage",
                _("Choose the deviation 'Other percentage' to set a percentage of your own."),
            )
            return cleaned
        deviation = self.deviation()
        validate_with_service(
            self,
            lambda: services.agree_obligation(
                acting_user=self.acting_user, obligation=self.instance, deviation=deviation
            ),
        )
        return cleaned


OBLIGATION_COMPUTED = (
    "contract",
    "policy",
    "rulebook",
    "base",
    "base_amount",
    "pso_level",
    "pso_discount",
    "amount",
    "explanation_text",
    "window_start",
    "deadline",
    "status",
    "agreed_at",
    "agreed_by",
    "created_at",
    "updated_at",
)


@admin.register(Obligation)
class ObligationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = permissions.obligations_visible_to
    change_action = Action.AGREE_OBLIGATION
    form = ObligationAdminForm
    list_display = (
        "contract",
        "municipality",
        "contractor",
        "amount",
        "realised",
        "deadline",
        "status",
        "deviation",
        "agreed_at",
    )
    list_filter = (
        "status",
        "deviation",
        ("contract__municipality", RELATED_ONLY),
        "deadline",
    )
    search_fields = ("contract__reference", "contract__title", "contract__contractor__name")
    list_select_related = ("contract__municipality", "contract__contractor")
    date_hierarchy = "deadline"
    readonly_fields = OBLIGATION_COMPUTED
    fieldsets = (
        (
            None,
            {"fields": ("contract", "policy", "rulebook", "status", "agreed_at", "agreed_by")},
        ),
        (
            _("Computed obligation"),
            {
                "fields": (
                    "base",
                    "base_amount",
                    "pso_level",
                    "pso_discount",
                    "amount",
                    "explanation_text",
                    "window_start",
                    "deadline",
                )
            },
        ),
        (
            _("Deviation (recomputes the amount; needs a reason)"),
            {"fields": DEVIATION_FIELDS},
        ),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    inlines = [SettlementInline, ObligationChangeInline]
    actions = ["agree_selected"]

    def get_queryset(self, request):
        return selectors.with_progress(super().get_queryset(request))

    def has_add_permission(self, request):
        # An obligation is computed when its contract is entered (or by the adviser's
        # "missing obligation" action), never typed in.
        return False

    @admin.display(description=_("municipality"), ordering="contract__municipality__name")
    def municipality(self, obj):
        return obj.contract.municipality

    @admin.display(description=_("contractor"), ordering="contract__contractor__name")
    def contractor(self, obj):
        return obj.contract.contractor

    @admin.display(description=_("realised"), ordering="realised")
    def realised(self, obj):
        realised = getattr(obj, "realised", None)
        # SQLite returns sums unquantised (e.g. 47764.8100000000): show cents.
        return realised.quantize(Decimal("0.01")) if realised is not None else None

    @admin.display(description=_("explanation"))
    def explanation_text(self, obj):
        return _explanation_html(obj.explanation)

    def save_model(self, request, obj, form, change):
        if form.has_changed():
            services.agree_obligation(
                acting_user=request.user, obligation=obj, deviation=form.deviation()
            )

    @admin.action(description=_("Agree the selected obligations"), permissions=["change"])
    def agree_selected(self, request, queryset):
        done = 0
        for obligation in queryset:
            try:
                services.agree_obligation(acting_user=request.user, obligation=obligation)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{obligation}: {exc}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(n)d obligation(s) agreed.") % {"n": done})


@admin.register(ObligationChange)
class ObligationChangeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = scoped_via("obligation", permissions.obligations_visible_to)
    list_display = (
        "obligation",
        "kind",
        "old_amount",
        "new_amount",
        "old_deadline",
        "new_deadline",
        "changed_by",
        "changed_at",
    )
    list_filter = ("kind",)
    search_fields = ("obligation__contract__reference", "reason")
    list_select_related = ("obligation__contract", "changed_by")
    date_hierarchy = "changed_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Settlements -----------------------------------------------------------------------------


class SettlementAdminForm(forms.ModelForm):
    amount = forms.DecimalField(
        label=_("fine or buy-out amount"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        help_text=_("Empty: the shortfall."),
    )
    acting_user = None

    class Meta:
        model = Settlement
        fields = ("obligation", "decision", "amount", "new_deadline", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.acting_user is not None and "obligation" in self.fields:
            self.fields["obligation"].queryset = permissions.obligations_visible_to(
                self.acting_user, action=Action.SETTLE_OBLIGATION
            ).filter(status=Obligation.Status.OPEN)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "obligation": data["obligation"],
            "decision": data["decision"],
            "reason": data.get("reason") or "",
            "amount": data.get("amount"),
            "new_deadline": data.get("new_deadline"),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.instance.pk:
            return cleaned
        kwargs = self.service_kwargs()
        validate_with_service(
            self, lambda: services.settle_obligation(acting_user=self.acting_user, **kwargs)
        )
        return cleaned

    def _post_clean(self):
        # The settlement is built by the service (required, realised, shortfall, who);
        # model validation of the half-filled instance would only report those as missing.
        pass


@admin.register(Settlement)
class SettlementAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = permissions.settlements_visible_to
    change_action = Action.SETTLE_OBLIGATION
    form = SettlementAdminForm
    list_display = (
        "obligation",
        "decision",
        "required_amount",
        "realised_amount",
        "shortfall",
        "amount",
        "new_deadline",
        "decided_by",
        "decided_at",
    )
    list_filter = ("decision", ("obligation__contract__municipality", RELATED_ONLY))
    search_fields = ("obligation__contract__reference", "obligation__contract__title", "reason")
    list_select_related = ("obligation__contract", "decided_by")
    date_hierarchy = "decided_at"
    autocomplete_fields = ("obligation",)
    readonly_fields = (
        "required_amount",
        "realised_amount",
        "shortfall",
        "decided_by",
        "decided_at",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.pk:
            return [f.name for f in self.model._meta.fields]
        return self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # A decision is final and on record; a new decision is a new settlement.
        if obj is not None and obj.pk:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        settlement = services.settle_obligation(acting_user=request.user, **form.service_kwargs())
        obj.pk = settlement.pk
        obj.__dict__.update({k: v for k, v in settlement.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
