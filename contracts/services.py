"""Writes for contractors, contracts, obligations and settlements.

Every function is keyword-only, takes the ``acting_user``, checks permission through
``sroi.permissions``, validates with ``full_clean()`` and runs in one transaction.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sroi.permissions import Action, can, can_in_municipality

from .models import (
    Contract,
    Contractor,
    ContractorContact,
    Obligation,
    ObligationChange,
    Settlement,
    SroiPolicy,
)
from .obligation_calc import (
    ContractTerms,
    Deviation,
    ObligationComputation,
    ObligationInputError,
    PolicyTerms,
    compute_obligation,
)
from .selectors import REALISED_STATUSES, money_sum

# Contract fields whose change recomputes the obligation.
RECOMPUTE_FIELDS = (
    "municipality_id",
    "contractor_id",
    "value_excl_vat",
    "labour_cost",
    "award_date",
    "start_date",
    "end_date",
)
CONTRACT_FIELDS = (
    "municipality",
    "reference",
    "title",
    "description",
    "contractor",
    "kind",
    "value_excl_vat",
    "labour_cost",
    "award_date",
    "start_date",
    "end_date",
    "procurement_officer",
)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _lock_obligation(obligation_id: int, *related: str) -> Obligation:
    """Lock the obligation's row, then read it (with ``related``) under that lock.

    Only the obligation's own row is locked (``of=("self",)``): the contract's writers lock the
    contract first and the obligation after it (``update_contract``), so locking both here
    would deadlock with them. The read is a separate statement because PostgreSQL, after
    waiting for another writer, re-reads the locked row itself but not the rows joined to it:
    a contract changed meanwhile would otherwise be seen as it was.
    """
    list(
        Obligation.objects.select_for_update(of=("self",))
        .filter(pk=obligation_id)
        .values_list("pk", flat=True)
    )
    return Obligation.objects.select_related(*related).get(pk=obligation_id)


# --- Contractors -----------------------------------------------------------------------------


@transaction.atomic
def create_contractor(*, acting_user, contacts: list[dict] | None = None, **fields) -> Contractor:
    scope_ok = can_in_any_municipality(acting_user, Action.CREATE_CONTRACT)
    _require(scope_ok)
    contractor = Contractor(**fields)
    contractor.full_clean()
    contractor.save()
    for contact in contacts or []:
        c = ContractorContact(contractor=contractor, **contact)
        c.full_clean()
        c.save()
    return contractor


@transaction.atomic
def update_contractor(*, acting_user, contractor: Contractor, **fields) -> Contractor:
    _require(can_in_any_municipality(acting_user, Action.CHANGE_CONTRACT))
    for name, value in fields.items():
        setattr(contractor, name, value)
    contractor.full_clean()
    contractor.save()
    return contractor


def can_in_any_municipality(user, action: Action) -> bool:
    from sroi.permissions import get_scope

    scope = get_scope(user)
    return scope.is_superuser or bool(scope.municipalities_for(action))


# --- Policies --------------------------------------------------------------------------------


def policy_in_force(*, municipality_id: int, on_date: date) -> SroiPolicy | None:
    """The policy version of ``municipality`` in force on ``on_date`` (latest valid_from)."""
    return (
        SroiPolicy.objects.filter(municipality_id=municipality_id, valid_from__lte=on_date)
        .prefetch_related("pso_discounts")
        .order_by("-valid_from")
        .first()
    )


class PolicyVersions:
    """The policy versions of some municipalities, read once with their PSO discounts, that
    answer :func:`policy_in_force` for any contract of those municipalities without a query
    per contract (the spreadsheet import checks thousands of rows)."""

    def __init__(self, policies: Iterable[SroiPolicy]):
        self._by_municipality: dict[int, list[SroiPolicy]] = {}
        # Latest valid_from first; a municipality has one version per date (a constraint).
        for policy in sorted(policies, key=lambda p: p.valid_from, reverse=True):
            self._by_municipality.setdefault(policy.municipality_id, []).append(policy)

    @classmethod
    def load(cls, municipality_ids: Iterable[int], *, lock: bool = False) -> PolicyVersions:
        """Two queries. ``lock`` first locks every version of these municipalities (in primary
        key order) and then reads them under that lock: the bulk form of
        :func:`_lock_policy_in_force`, for obligations about to be computed with them."""
        ids = sorted(set(municipality_ids))
        if lock:
            list(
                SroiPolicy.objects.select_for_update()
                .filter(municipality_id__in=ids)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        policies = (
            SroiPolicy.objects.filter(municipality_id__in=ids)
            .order_by()
            .prefetch_related("pso_discounts")
        )
        return cls(policies)

    def in_force(self, *, municipality_id: int, on_date: date) -> SroiPolicy | None:
        for policy in self._by_municipality.get(municipality_id, ()):
            if policy.valid_from <= on_date:
                return policy
        return None


#: How often the version in force is looked up again when it changed while it was being locked.
POLICY_LOCK_ATTEMPTS = 3


def _lock_policy_in_force(*, municipality_id: int, on_date: date) -> SroiPolicy | None:
    """:func:`policy_in_force`, with that version's row locked and its terms and PSO discounts
    read again under the lock, for an obligation about to be computed with it.

    A version is changed only while no obligation uses it (``contracts.policy_services.
    update_policy`` locks it and refuses otherwise). With this lock the change either commits
    first and its new terms are read here, or it waits for this obligation and is refused;
    never an obligation computed with terms its version no longer holds.
    """
    policy = policy_in_force(municipality_id=municipality_id, on_date=on_date)
    for _attempt in range(POLICY_LOCK_ATTEMPTS):
        if policy is None:
            return None
        list(
            SroiPolicy.objects.select_for_update().filter(pk=policy.pk).values_list("pk", flat=True)
        )
        again = policy_in_force(municipality_id=municipality_id, on_date=on_date)
        if again is not None and again.pk == policy.pk:
            return again
        policy = again  # its date was changed meanwhile: lock the version in force now
    raise ValidationError(_("The SROI policy was changed at the same moment; try again."))


def policy_terms(policy: SroiPolicy) -> PolicyTerms:
    return PolicyTerms(
        valid_from=policy.valid_from,
        threshold=policy.threshold,
        default_percentage=policy.default_percentage,
        base=policy.base,
        grace_days=policy.grace_days,
        reduced_percentage=policy.reduced_percentage,
        reduced_labour_share_below=policy.reduced_labour_share_below,
        pso_discounts={d.level: d.discount_percentage for d in policy.pso_discounts.all()},
    )


def contract_terms(contract: Contract, *, pso_level: str | None = None) -> ContractTerms:
    """The contract as the obligation computation sees it. ``pso_level`` is the level certified
    for the whole contract period; by default the contractor's current certificate decides
    (at award), a recompute passes the level of the certificate recorded at award."""
    if pso_level is None:
        pso_level = contract.contractor.pso_level_certified_for(
            contract.start_date, contract.end_date
        )
    return ContractTerms(
        value_excl_vat=contract.value_excl_vat,
        labour_cost=contract.labour_cost,
        award_date=contract.award_date,
        start_date=contract.start_date,
        end_date=contract.end_date,
        pso_level=pso_level,
    )


def _pso_certificate_fields(contractor: Contractor) -> dict:
    """The contractor's PSO certificate as it is now: recorded on the obligation at award."""
    return {
        "pso_certificate_level": contractor.pso_level,
        "pso_valid_from": contractor.pso_valid_from,
        "pso_valid_until": contractor.pso_valid_until,
    }


def _recorded_pso_level(obligation: Obligation, contract: Contract) -> str:
    """The level of the certificate recorded at award, if it covers the whole (possibly
    changed) contract period."""
    return obligation.pso_level_certified_for(contract.start_date, contract.end_date)


def _no_policy_message(contract: Contract) -> str:
    return _("No SROI policy of %(municipality)s is in force on %(date)s.") % {
        "municipality": contract.municipality,
        "date": f"{contract.award_date:%d-%m-%Y}",
    }


def _compute(
    policy: SroiPolicy, contract: Contract, deviation: Deviation | None, *, pso_level: str | None
) -> ObligationComputation:
    try:
        return compute_obligation(
            policy_terms(policy), contract_terms(contract, pso_level=pso_level), deviation
        )
    except ObligationInputError as exc:
        raise ValidationError(str(exc)) from exc


@dataclass(frozen=True)
class ObligationPreview:
    policy: SroiPolicy | None
    computation: ObligationComputation | None
    error: str | None = None


def preview_obligation(
    contract: Contract,
    deviation: Deviation | None = None,
    *,
    policies: PolicyVersions | None = None,
) -> ObligationPreview:
    """What the obligation of an (unsaved) contract would be: for forms, before saving.
    ``policies`` (read once for many contracts) answers which version is in force without a
    query."""
    if policies is not None:
        policy = policies.in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        )
    else:
        policy = policy_in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        )
    return _preview_with(policy, contract, deviation)


def _preview_with(
    policy: SroiPolicy | None, contract: Contract, deviation: Deviation | None
) -> ObligationPreview:
    if policy is None:
        return ObligationPreview(None, None, _no_policy_message(contract))
    try:
        computation = compute_obligation(policy_terms(policy), contract_terms(contract), deviation)
    except ObligationInputError as exc:
        return ObligationPreview(policy, None, str(exc))
    return ObligationPreview(policy, computation)


# --- Contracts and obligations ---------------------------------------------------------------


@transaction.atomic
def create_contract(
    *, acting_user, deviation: Deviation | None = None, **fields
) -> tuple[Contract, Obligation | None]:
    """Enter an awarded contract; at or above the threshold its obligation is created."""
    unknown = set(fields) - set(CONTRACT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown contract fields: {sorted(unknown)}")
    contract = Contract(**fields)
    municipality_id = contract.municipality_id
    _require(
        municipality_id is not None
        and can_in_municipality(acting_user, Action.CREATE_CONTRACT, municipality_id)
    )
    if deviation is not None and deviation.kind:
        # Deviating from the policy is the adviser's decision, never the buyer's alone.
        _require(can_in_municipality(acting_user, Action.AGREE_OBLIGATION, municipality_id))
    contract.full_clean()
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        # The same contract entered at the same moment (a double submission): the error
        # full_clean() gives, now that the other one is committed.
        contract.validate_constraints()
        raise
    obligation = _create_obligation(contract, deviation, acting_user)
    return contract, obligation


def _create_obligation(
    contract: Contract, deviation: Deviation | None, acting_user
) -> Obligation | None:
    policy = _lock_policy_in_force(
        municipality_id=contract.municipality_id, on_date=contract.award_date
    )
    preview = _preview_with(policy, contract, deviation)
    if preview.error:
        raise ValidationError(preview.error)
    comp = preview.computation
    if not comp.applies:
        return None
    from placements.services import rulebook_in_force

    obligation = Obligation(
        contract=contract,
        policy=preview.policy,
        rulebook=rulebook_in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        ),
        **_pso_certificate_fields(contract.contractor),
        **_computed_fields(comp),
    )
    obligation.full_clean()
    obligation.save()
    ObligationChange.objects.create(
        obligation=obligation,
        kind=ObligationChange.Kind.CREATED,
        new_amount=obligation.amount,
        new_deadline=obligation.deadline,
        reason=comp.deviation_reason,
        details={"explanation": list(comp.explanation)},
        changed_by=acting_user,
    )
    return obligation


def _computed_fields(comp: ObligationComputation) -> dict:
    return {
        "base": comp.base,
        "base_amount": comp.base_amount,
        "percentage": comp.percentage,
        "pso_level": comp.pso_level,
        "pso_discount": comp.pso_discount,
        "amount": comp.amount,
        "deviation": comp.deviation,
        "deviation_reason": comp.deviation_reason,
        "explanation": list(comp.explanation),
        "window_start": comp.window_start,
        "deadline": comp.deadline,
    }


# --- Many contracts at once (the spreadsheet import) -------------------------------------------


class BulkRowError(Exception):
    """A row of :func:`create_contracts` was refused: ``key`` is the key the caller gave that
    row, ``error`` the :class:`ValidationError` or :class:`PermissionDenied` that
    :func:`create_contract` (or :func:`create_contractor`) raises for it."""

    def __init__(self, key: Hashable, error: Exception):
        super().__init__(str(error))
        self.key = key
        self.error = error


#: A contract's relations: given as instances read from the database, checked in memory.
CONTRACT_RELATIONS = ("municipality", "contractor", "procurement_officer")


def prepare_contract(*, acting_user, **fields) -> Contract:
    """The unsaved contract :func:`create_contract` would save, checked as it checks it
    (permission, fields, ``clean``) but without a query, for :func:`create_contracts`.

    Relations are the given saved instances (a municipality must be one: otherwise the field
    is validated by Django, with its query and message). What ``full_clean()`` would ask the
    database is answered elsewhere: uniqueness of the reference by :func:`create_contracts`
    for all rows at once; the check constraints (end after start, amounts not negative) are
    already covered by ``clean()`` and the field validators, and the database enforces them.
    """
    from sroi.models import Organisation

    unknown = set(fields) - set(CONTRACT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown contract fields: {sorted(unknown)}")
    contract = Contract(**fields)
    _require(
        contract.municipality_id is not None
        and can_in_municipality(acting_user, Action.CREATE_CONTRACT, contract.municipality_id)
    )
    known = []
    for name in CONTRACT_RELATIONS:
        related = fields.get(name)
        if related is None or related.pk is None:
            continue  # validated below: "cannot be null" where required, without a query
        if name == "municipality" and related.kind != Organisation.Kind.MUNICIPALITY:
            continue
        known.append(name)
    contract.full_clean(exclude=known, validate_unique=False, validate_constraints=False)
    return contract


@transaction.atomic
def create_contracts(
    *, acting_user, rows: Sequence[tuple[Hashable, dict]]
) -> list[tuple[Contract, Obligation | None]]:
    """:func:`create_contract` for many contracts at once (the spreadsheet import): the same
    checks, obligations, change records and audit trail, with a number of queries that does
    not grow with the number of rows (except that a database may split a long INSERT).

    ``rows`` are ``(key, fields)`` with ``fields`` as for :func:`create_contract` (no
    deviation). A ``contractor`` may be an unsaved :class:`Contractor`: a new one, checked as
    :func:`create_contractor` checks it and created once however many rows name it. A refused
    row raises :class:`BulkRowError` with its key; any failure rolls everything back.

    The writes come in the order of :func:`create_contract`: contractors, contracts, then,
    under a lock of the municipalities' policy versions (:meth:`PolicyVersions.load`), the
    obligations computed by the same function and their first change record, then the audit
    entries that auditlog's signals would write one by one (``sroi.audit.log_created``).
    """
    from sroi.audit import log_created

    rows = list(rows)
    if not rows:
        return []
    keys = [key for key, _fields in rows]
    contractors = _create_new_contractors(acting_user, rows)
    contracts = []
    for key, fields in rows:
        try:
            contracts.append(prepare_contract(acting_user=acting_user, **fields))
        except (ValidationError, PermissionDenied) as exc:
            raise BulkRowError(key, exc) from exc
    _check_references_unique(keys, contracts)
    try:
        with transaction.atomic():
            Contract.objects.bulk_create(contracts)
    except IntegrityError:
        # The same contract entered at the same moment: the error full_clean() gives, now
        # that the other one is committed.
        for contract in contracts:
            contract.pk = None
            contract._state.adding = True
        _check_references_unique(keys, contracts)
        raise
    # The audit entries as auditlog's signals write them on save: a contract's before it has
    # an obligation (known to have none, so the diff does not look it up).
    no_obligation = Contract.obligation.related
    for contract in contracts:
        no_obligation.set_cached_value(contract, None)
    log_created([*contractors, *contracts])
    obligations = _create_obligations(acting_user, keys, contracts)
    log_created([o for o in obligations if o is not None])
    return list(zip(contracts, obligations, strict=True))


def _create_new_contractors(acting_user, rows: list[tuple[Hashable, dict]]) -> list[Contractor]:
    """The unsaved contractors the rows name, each once: checked as :func:`create_contractor`
    checks them (the KvK number's uniqueness with one query for all) and inserted."""
    new: dict[int, tuple[Hashable, Contractor]] = {}
    for key, fields in rows:
        contractor = fields.get("contractor")
        if contractor is not None and contractor.pk is None:
            new.setdefault(id(contractor), (key, contractor))
    if not new:
        return []
    first_key = next(iter(new.values()))[0]
    if not can_in_any_municipality(acting_user, Action.CREATE_CONTRACT):
        raise BulkRowError(first_key, PermissionDenied())
    by_kvk: dict[str, Hashable] = {}
    for key, contractor in new.values():
        try:
            contractor.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise BulkRowError(key, exc) from exc
        if contractor.kvk_number in by_kvk:
            error = contractor.unique_error_message(Contractor, ("kvk_number",))
            raise BulkRowError(key, ValidationError({"kvk_number": [error]}))
        by_kvk[contractor.kvk_number] = key
    for kvks in lookup_chunks(sorted(by_kvk)):
        taken = Contractor.objects.filter(kvk_number__in=kvks)
        for kvk in taken.values_list("kvk_number", flat=True):
            key, contractor = next(v for v in new.values() if v[1].kvk_number == kvk)
            try:
                contractor.validate_unique()  # the message full_clean() gives
            except ValidationError as exc:
                raise BulkRowError(key, exc) from exc
    contractors = [contractor for _key, contractor in new.values()]
    Contractor.objects.bulk_create(contractors)
    return contractors


def lookup_chunks(values: list) -> list[list]:
    """``values`` cut into lists that fit the parameters of one query: all at once where the
    database sets no low limit (PostgreSQL), otherwise (SQLite) as many as Django allows."""
    limit = connection.features.max_query_params
    size = max(limit - 50, 1) if limit else max(len(values), 1)
    return [values[start : start + size] for start in range(0, len(values), size)]


_REFERENCE_FIELDS = ("municipality", "reference")


def _check_references_unique(keys: list[Hashable], contracts: list[Contract]) -> None:
    """The (municipality, reference) constraint for all contracts: within the rows, and
    against the database with one query (per :func:`lookup_chunks`)."""
    seen: set[tuple[int, str]] = set()
    for key, contract in zip(keys, contracts, strict=True):
        pair = (contract.municipality_id, contract.reference)
        if pair in seen:
            error = contract.unique_error_message(Contract, _REFERENCE_FIELDS)
            raise BulkRowError(key, ValidationError({NON_FIELD_ERRORS: [error]}))
        seen.add(pair)
    references = sorted({reference for _muni, reference in seen})
    municipalities = {muni for muni, _reference in seen}
    taken: set[tuple[int, str]] = set()
    for chunk in lookup_chunks(references):
        taken.update(
            Contract.objects.filter(
                municipality_id__in=municipalities, reference__in=chunk
            ).values_list("municipality_id", "reference")
        )
    for key, contract in zip(keys, contracts, strict=True):
        if (contract.municipality_id, contract.reference) in taken:
            try:
                contract.validate_constraints()  # the message full_clean() gives
            except ValidationError as exc:
                raise BulkRowError(key, exc) from exc
            error = contract.unique_error_message(Contract, _REFERENCE_FIELDS)
            raise BulkRowError(key, ValidationError({NON_FIELD_ERRORS: [error]}))


def _create_obligations(
    acting_user, keys: list[Hashable], contracts: list[Contract]
) -> list[Obligation | None]:
    """:func:`_create_obligation` for saved contracts: per contract its obligation (or
    ``None`` below the threshold), with the policy versions locked and read once."""
    municipality_ids = {contract.municipality_id for contract in contracts}
    policies = PolicyVersions.load(municipality_ids, lock=True)
    from placements.services import RulebookVersions

    rulebooks = RulebookVersions(municipality_ids)
    obligations: list[Obligation | None] = []
    for key, contract in zip(keys, contracts, strict=True):
        where = {"municipality_id": contract.municipality_id, "on_date": contract.award_date}
        preview = _preview_with(policies.in_force(**where), contract, None)
        if preview.error:
            raise BulkRowError(key, ValidationError(preview.error))
        comp = preview.computation
        if not comp.applies:
            obligations.append(None)
            continue
        obligation = Obligation(
            contract=contract,
            policy=preview.policy,
            rulebook=rulebooks.in_force(**where),
            **_pso_certificate_fields(contract.contractor),
            **_computed_fields(comp),
        )
        try:
            # The relations were just read or written; the check constraints are covered by
            # the field validators and the computation, and enforced by the database.
            obligation.full_clean(
                exclude=["contract", "policy", "rulebook"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            raise BulkRowError(key, exc) from exc
        obligations.append(obligation)
    created = [obligation for obligation in obligations if obligation is not None]
    Obligation.objects.bulk_create(created)
    ObligationChange.objects.bulk_create(
        ObligationChange(
            obligation=obligation,
            kind=ObligationChange.Kind.CREATED,
            new_amount=obligation.amount,
            new_deadline=obligation.deadline,
            reason=obligation.deviation_reason,
            details={"explanation": list(obligation.explanation)},
            changed_by=acting_user,
        )
        for obligation in created
    )
    return obligations


def _deviation_of(obligation: Obligation) -> Deviation | None:
    if not obligation.deviation:
        return None
    return Deviation(
        kind=obligation.deviation,
        percentage=obligation.percentage,
        reason=obligation.deviation_reason,
    )


@transaction.atomic
def update_contract(*, acting_user, contract: Contract, reason: str = "", **changes) -> Contract:
    """Change a contract; a change of value, dates, municipality or contractor recomputes its
    obligation with the facts of the award (see ``_recompute_obligation``), recorded with the
    old and new amount; a moved counting window revalues its contributions. A settled
    obligation is never recomputed."""
    unknown = set(changes) - set(CONTRACT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown contract fields: {sorted(unknown)}")
    contract = Contract.objects.select_for_update().select_related("contractor").get(pk=contract.pk)
    _require(can(acting_user, Action.CHANGE_CONTRACT, contract))
    if "municipality" in changes and changes["municipality"].pk != contract.municipality_id:
        _require(
            can_in_municipality(acting_user, Action.CREATE_CONTRACT, changes["municipality"].pk)
        )
    before = {name: getattr(contract, name) for name in RECOMPUTE_FIELDS}
    for name, value in changes.items():
        setattr(contract, name, value)
    contract.full_clean()
    contract.save()
    changed = {
        name: (before[name], getattr(contract, name))
        for name in RECOMPUTE_FIELDS
        if before[name] != getattr(contract, name)
    }
    if changed:
        _recompute_obligation(contract, changed, reason, acting_user)
    return contract


def _recompute_obligation(contract: Contract, changed: dict, reason: str, acting_user) -> None:
    """Recompute the obligation after a contract change, with the facts of the award.

    * The policy stays the one the obligation was computed with, unless the municipality or the
      award date changed: then the policy in force on the (new) award date applies. A policy
      version entered later (even a backdated one) never changes an existing obligation.
    * The PSO discount is judged by the certificate recorded at award (re-read only when the
      contractor changed), which must still cover the whole, possibly changed, contract period.
    * An agreed deviation stands; an extension granted by the adviser stands but never ends
      before the natural deadline of the changed contract.
    * A changed amount withdraws an earlier agreement (``agreed_at``/``agreed_by`` are cleared;
      the change records what was withdrawn): the adviser agrees the new amount again.
    * A changed counting window (award date or deadline) revalues the contributions.
    """
    obligation = (
        Obligation.objects.select_for_update(of=("self",))
        .select_related("policy")
        .filter(contract=contract)
        .first()
    )
    if obligation is not None and obligation.status == Obligation.Status.SETTLED:
        raise ValidationError(_("The obligation is settled; the contract can no longer change."))
    if obligation is None:
        # A contract that rises above the threshold gets its obligation now.
        _create_obligation(contract, None, acting_user)
        return
    moved = "municipality_id" in changed or "contractor_id" in changed
    if moved and obligation.contributions.exists():
        raise ValidationError(
            _(
                "Contributions have been reported on this obligation; the municipality and "
                "contractor can no longer change."
            )
        )
    policy = obligation.policy
    if "municipality_id" in changed or "award_date" in changed:
        policy = _lock_policy_in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        )
        if policy is None:
            raise ValidationError(_no_policy_message(contract))
    if "contractor_id" in changed:
        for name, value in _pso_certificate_fields(contract.contractor).items():
            setattr(obligation, name, value)
    comp = _compute(
        policy,
        contract,
        _deviation_of(obligation),
        pso_level=_recorded_pso_level(obligation, contract),
    )
    old_amount, old_deadline = obligation.amount, obligation.deadline
    old_window_start = obligation.window_start
    if not comp.applies:
        # Below the threshold now: the obligation stays (it may have contributions) at zero,
        # with the change on record for the adviser to settle.
        comp = _zero_computation(comp)
    fields = _computed_fields(comp)
    extension = (
        obligation.settlements.filter(decision=Settlement.Decision.EXTENSION)
        .order_by("-new_deadline")
        .values_list("new_deadline", flat=True)
        .first()
    )
    if extension is not None:
        # An extension granted by the adviser stands, but never ends before the natural
        # deadline of the changed contract.
        fields["deadline"] = max(extension, comp.deadline)
    for name, value in fields.items():
        setattr(obligation, name, value)
    policy_changed = policy.pk != obligation.policy_id
    obligation.policy = policy
    if "municipality_id" in changed:
        from placements.services import rulebook_in_force

        obligation.rulebook = rulebook_in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        )
    details = {
        "changed_fields": {k: [str(a), str(b)] for k, (a, b) in changed.items()},
        "explanation": list(comp.explanation),
        "policy": {"id": policy.pk, "valid_from": policy.valid_from.isoformat()},
        "policy_changed": policy_changed,
        "pso_certificate": {
            "level": obligation.pso_certificate_level,
            "valid_from": _iso(obligation.pso_valid_from),
            "valid_until": _iso(obligation.pso_valid_until),
        },
    }
    if obligation.agreed_at is not None and obligation.amount != old_amount:
        details["agreement_withdrawn"] = {
            "agreed_at": obligation.agreed_at.isoformat(),
            "agreed_by": obligation.agreed_by_id,
        }
        obligation.agreed_at = None
        obligation.agreed_by = None
    obligation.full_clean()
    obligation.save()
    ObligationChange.objects.create(
        obligation=obligation,
        kind=ObligationChange.Kind.RECOMPUTED,
        old_amount=old_amount,
        new_amount=obligation.amount,
        old_deadline=old_deadline,
        new_deadline=obligation.deadline,
        reason=reason,
        details=details,
        changed_by=acting_user,
    )
    if (obligation.window_start, obligation.deadline) != (old_window_start, old_deadline):
        from placements.revaluation import revalue_contributions

        revalue_contributions(obligation=obligation, acting_user=acting_user, reason=reason)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _zero_computation(comp: ObligationComputation) -> ObligationComputation:
    from dataclasses import replace

    return replace(comp, amount=Decimal("0.00"), percentage=Decimal("0"))


@transaction.atomic
def create_missing_obligation(
    *, acting_user, contract: Contract, deviation: Deviation | None = None
) -> Obligation | None:
    """For a contract at or above the threshold that has no obligation (a finding)."""
    # The contract's row lock makes a second, simultaneous call wait and then see the first.
    contract = Contract.objects.select_for_update(of=("self",)).get(pk=contract.pk)
    _require(can(acting_user, Action.AGREE_OBLIGATION, contract))
    if Obligation.objects.filter(contract=contract).exists():
        raise ValidationError(_("This contract already has an obligation."))
    return _create_obligation(contract, deviation, acting_user)


@transaction.atomic
def agree_obligation(
    *, acting_user, obligation: Obligation, deviation: Deviation | None = None
) -> Obligation:
    """The adviser agrees the obligation, optionally with a deviation (which needs a reason).

    The deviation is computed with the obligation's own policy and the PSO certificate recorded
    at award. An obligation without a rulebook gets the rulebook in force on the award date
    (when one is published and nothing has been reported yet), recorded as its own change.
    """
    obligation = _lock_obligation(obligation.pk, "contract__contractor")
    _require(can(acting_user, Action.AGREE_OBLIGATION, obligation))
    if obligation.status == Obligation.Status.SETTLED:
        raise ValidationError(_("A settled obligation cannot be changed."))
    old_amount = obligation.amount
    if deviation is not None:
        if deviation.kind and not deviation.reason.strip():
            raise ValidationError({"deviation_reason": _("A deviation needs a recorded reason.")})
        comp = _compute(
            obligation.policy,
            obligation.contract,
            deviation,
            pso_level=_recorded_pso_level(obligation, obligation.contract),
        )
        fields = _computed_fields(comp)
        fields.pop("deadline")
        for name, value in fields.items():
            setattr(obligation, name, value)
    obligation.agreed_at = timezone.now()
    obligation.agreed_by = acting_user
    obligation.full_clean()
    obligation.save()
    ObligationChange.objects.create(
        obligation=obligation,
        kind=(
            ObligationChange.Kind.DEVIATION
            if deviation is not None and deviation.kind
            else ObligationChange.Kind.AGREED
        ),
        old_amount=old_amount,
        new_amount=obligation.amount,
        reason=obligation.deviation_reason,
        details={"explanation": obligation.explanation},
        changed_by=acting_user,
    )
    if obligation.rulebook_id is None and not obligation.contributions.exists():
        from placements.services import rulebook_in_force

        rulebook = rulebook_in_force(
            municipality_id=obligation.contract.municipality_id,
            on_date=obligation.contract.award_date,
        )
        if rulebook is not None:
            _set_rulebook(
                obligation,
                rulebook,
                acting_user,
                _("Rulebook in force on the award date, assigned when the obligation was agreed."),
            )
    return obligation


@transaction.atomic
def assign_rulebook(
    *, acting_user, obligation: Obligation, rulebook=None, reason: str = ""
) -> Obligation:
    """Freeze a rulebook on an obligation that has none yet (e.g. created before the first
    rulebook was published) or whose rulebook has not been used.

    The adviser's decision (``AGREE_OBLIGATION``). Default: the published rulebook in force for
    the contract's municipality on the award date; an explicit ``rulebook`` must be published
    and apply to that municipality. Refused on a settled obligation and once contributions have
    been reported (their values were given by the current rulebook). Recorded as a change of
    kind ``rulebook_assigned``.
    """
    from placements.models import Rulebook
    from placements.services import rulebook_in_force

    obligation = _lock_obligation(obligation.pk, "contract__municipality", "rulebook")
    _require(can(acting_user, Action.AGREE_OBLIGATION, obligation))
    if obligation.status == Obligation.Status.SETTLED:
        raise ValidationError(_("A settled obligation cannot be changed."))
    if obligation.contributions.exists():
        raise ValidationError(
            _(
                "Contributions have been reported on this obligation; its rulebook can no "
                "longer change."
            )
        )
    contract = obligation.contract
    if rulebook is None:
        rulebook = rulebook_in_force(
            municipality_id=contract.municipality_id, on_date=contract.award_date
        )
        if rulebook is None:
            raise ValidationError(
                _("No published rulebook of %(municipality)s is in force on %(date)s.")
                % {"municipality": contract.municipality, "date": f"{contract.award_date:%d-%m-%Y}"}
            )
    elif not Rulebook.objects.filter(
        pk=rulebook.pk,
        status=Rulebook.Status.PUBLISHED,
        municipalities=contract.municipality_id,
    ).exists():
        raise ValidationError(
            {"rulebook": _("Choose a published rulebook that applies to this municipality.")}
        )
    if rulebook.pk == obligation.rulebook_id:
        raise ValidationError({"rulebook": _("The obligation already uses this rulebook.")})
    _set_rulebook(obligation, rulebook, acting_user, (reason or "").strip())
    return obligation


def _set_rulebook(obligation: Obligation, rulebook, acting_user, reason: str) -> None:
    old = obligation.rulebook
    obligation.rulebook = rulebook
    obligation.save(update_fields=["rulebook", "updated_at"])
    ObligationChange.objects.create(
        obligation=obligation,
        kind=ObligationChange.Kind.RULEBOOK_ASSIGNED,
        old_amount=obligation.amount,
        new_amount=obligation.amount,
        reason=reason,
        details={"old_rulebook": _rulebook_ref(old), "new_rulebook": _rulebook_ref(rulebook)},
        changed_by=acting_user,
    )


def _rulebook_ref(rulebook) -> dict | None:
    if rulebook is None:
        return None
    return {"id": rulebook.pk, "name": rulebook.name, "version": rulebook.version}


def realised_amount(obligation: Obligation) -> Decimal:
    """The approved value of ``obligation``, exact to the cent: the same figure (and the same
    expression) as ``realised`` of ``contracts.selectors.with_progress``."""
    from placements.models import Contribution

    return Contribution.objects.filter(
        obligation=obligation, status__in=REALISED_STATUSES
    ).aggregate(total=money_sum("value"))["total"]


#: Decisions on a shortfall at the deadline: never before it.
DECISIONS_AT_DEADLINE = (
    Settlement.Decision.FINE,
    Settlement.Decision.BUY_OUT,
    Settlement.Decision.WAIVER,
)


@transaction.atomic
def settle_obligation(
    *,
    acting_user,
    obligation: Obligation,
    decision: str,
    reason: str,
    amount: Decimal | None = None,
    new_deadline: date | None = None,
    today: date | None = None,
) -> Settlement:
    """Record a settlement decision. Locks the obligation so two advisers settling at once
    cannot both succeed; the database allows one final decision per obligation.

    Timing (``today`` defaults to the local date): a fine, buy-out or waiver decides a
    shortfall at the deadline and is allowed only on or after it; *fulfilled* may come earlier,
    but only when realised covers required; an extension is allowed any time.

    Values: every contribution is first revalued as of ``today`` (an open-ended one counts up
    to ``min(today, deadline)``), so realised is what has actually been performed; after an
    extension they are revalued again in the longer window. Each revaluation that changes a
    value is recorded in the change history.
    """
    from placements.revaluation import revalue_contributions

    obligation = _lock_obligation(obligation.pk, "contract")
    _require(can(acting_user, Action.SETTLE_OBLIGATION, obligation))
    if obligation.status == Obligation.Status.SETTLED:
        raise ValidationError(_("This obligation has already been settled."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("A settlement decision needs a reason.")})
    reason = reason.strip()
    today = today or timezone.localdate()
    D = Settlement.Decision
    errors: dict[str, str] = {}
    if decision not in D.values:
        errors["decision"] = _("Unknown decision.")
    elif decision in DECISIONS_AT_DEADLINE and today < obligation.deadline:
        errors["decision"] = _(
            "A fine, buy-out or waiver is decided at the deadline: not before %(deadline)s."
        ) % {"deadline": f"{obligation.deadline:%d-%m-%Y}"}
    if decision == D.EXTENSION:
        if new_deadline is None:
            errors["new_deadline"] = _("An extension needs a new deadline.")
        elif new_deadline <= obligation.deadline:
            errors["new_deadline"] = _("The new deadline must be after the current deadline.")
    if decision in (D.FINE, D.BUY_OUT) and amount is not None and amount < 0:
        errors["amount"] = _("The amount cannot be negative.")
    if errors:
        raise ValidationError(errors)

    revalue_contributions(
        obligation=obligation, acting_user=acting_user, reason=reason, as_of=today
    )
    realised = realised_amount(obligation)
    shortfall = max(obligation.amount - realised, Decimal("0.00"))
    if decision == D.FULFILLED and shortfall > 0:
        raise ValidationError(
            {"decision": _("There is a shortfall; the obligation is not fulfilled.")}
        )
    if decision in (D.FINE, D.BUY_OUT):
        if amount is None:
            amount = shortfall
    elif decision != D.EXTENSION:
        amount = Decimal("0.00")
    settlement = Settlement(
        obligation=obligation,
        decision=decision,
        required_amount=obligation.amount,
        realised_amount=realised,
        shortfall=shortfall,
        amount=amount or Decimal("0.00"),
        new_deadline=new_deadline if decision == D.EXTENSION else None,
        reason=reason,
        decided_by=acting_user,
    )
    settlement.full_clean()
    settlement.save()
    old_deadline = obligation.deadline
    if decision == D.EXTENSION:
        obligation.deadline = new_deadline
        kind = ObligationChange.Kind.DEADLINE_EXTENDED
    else:
        obligation.status = Obligation.Status.SETTLED
        kind = ObligationChange.Kind.SETTLED
    obligation.save(update_fields=["deadline", "status", "updated_at"])
    ObligationChange.objects.create(
        obligation=obligation,
        kind=kind,
        old_amount=obligation.amount,
        new_amount=obligation.amount,
        old_deadline=old_deadline,
        new_deadline=obligation.deadline,
        reason=settlement.reason,
        details={"decision": decision, "shortfall": str(shortfall), "amount": str(amount)},
        changed_by=acting_user,
    )
    if decision == D.EXTENSION:
        # The counting window is longer now: values clipped at the old deadline grow.
        revalue_contributions(
            obligation=obligation, acting_user=acting_user, reason=reason, as_of=today
        )
    return settlement
