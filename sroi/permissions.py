"""The one place that answers "may this user see / change this object".

Everything that reads data for a user goes through the ``*_visible_to`` functions here (the
selectors of each app build on them); everything that changes data asks :func:`can` first.

Scope rules
-----------
* A staff user's scope is the set of municipalities covered by the organisations they hold an
  active membership in: a municipality covers itself; a shared-service body or executing body
  covers the municipalities it ``serves``. Scope is computed per role, so an adviser membership
  in the executing body and a council-viewer membership in one municipality do not mix.
* A contractor user sees only their own contractor's contracts, candidates and contributions.
* Superusers see everything (operators only; never handed out to staff).
* Personal data of candidates (initials, birth year, target group) is visible only to advisers
  and to the contractor that reported them. Other roles see contributions with the
  pseudonymous code only, through reports. An adviser reaches a candidate through the
  candidate's contributions in the adviser's municipalities (:func:`candidates_visible_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet

from .models import Membership, Organisation, Role

SCOPE_CACHE_ATTR = "_sroi_scope"


class Action(StrEnum):
    VIEW = "view"
    CREATE_CONTRACT = "create_contract"
    CHANGE_CONTRACT = "change_contract"
    AGREE_OBLIGATION = "agree_obligation"
    SETTLE_OBLIGATION = "settle_obligation"
    REVIEW_CONTRIBUTION = "review_contribution"
    REPORT_CONTRIBUTION = "report_contribution"
    VIEW_PERSONAL_DATA = "view_personal_data"
    MANAGE_POLICY = "manage_policy"
    MANAGE_RULEBOOK = "manage_rulebook"
    MANAGE_USERS = "manage_users"
    EXPORT_REPORT = "export_report"
    VIEW_AUDIT = "view_audit"  # an object's audit history (sroi/history.py)


# Which roles may perform which action within their municipalities.
ROLE_ACTIONS: dict[Action, frozenset[str]] = {
    Action.VIEW: frozenset(Role.values),
    Action.CREATE_CONTRACT: frozenset({Role.ADVISER, Role.PROCUREMENT_OFFICER}),
    Action.CHANGE_CONTRACT: frozenset({Role.ADVISER, Role.PROCUREMENT_OFFICER}),
    Action.AGREE_OBLIGATION: frozenset({Role.ADVISER}),
    Action.SETTLE_OBLIGATION: frozenset({Role.ADVISER}),
    Action.REVIEW_CONTRIBUTION: frozenset({Role.ADVISER}),
    Action.REPORT_CONTRIBUTION: frozenset({Role.ADVISER}),
    Action.VIEW_PERSONAL_DATA: frozenset({Role.ADVISER}),
    Action.MANAGE_POLICY: frozenset({Role.ADVISER, Role.FUNCTIONAL_ADMIN}),
    Action.MANAGE_RULEBOOK: frozenset({Role.ADVISER}),
    Action.MANAGE_USERS: frozenset({Role.FUNCTIONAL_ADMIN}),
    Action.EXPORT_REPORT: frozenset({Role.ADVISER, Role.COUNCIL_VIEWER, Role.PROCUREMENT_OFFICER}),
    Action.VIEW_AUDIT: frozenset({Role.ADVISER}),
}

# Actions a contractor user may perform on their own contractor's objects.
CONTRACTOR_ACTIONS = frozenset({Action.VIEW, Action.REPORT_CONTRIBUTION, Action.VIEW_PERSONAL_DATA})


@dataclass(frozen=True)
class Scope:
    """What one user may reach: municipality ids per role, or a contractor id."""

    is_superuser: bool = False
    municipalities_by_role: tuple[tuple[str, frozenset[int]], ...] = ()
    contractor_id: int | None = None

    def municipalities(self, *roles: str) -> frozenset[int]:
        wanted = set(roles) if roles else None
        ids: set[int] = set()
        for role, munis in self.municipalities_by_role:
            if wanted is None or role in wanted:
                ids |= munis
        return frozenset(ids)

    def municipalities_for(self, action: Action) -> frozenset[int]:
        return self.municipalities(*ROLE_ACTIONS[action])

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(role for role, _ in self.municipalities_by_role)

    @property
    def is_contractor(self) -> bool:
        return self.contractor_id is not None

    @property
    def is_empty(self) -> bool:
        return not (self.is_superuser or self.municipalities_by_role or self.contractor_id)


EMPTY_SCOPE = Scope()


def get_scope(user) -> Scope:
    """The user's scope, computed once per user object (two queries at most)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, SCOPE_CACHE_ATTR, None)
    if cached is not None:
        return cached
    scope = _compute_scope(user)
    setattr(user, SCOPE_CACHE_ATTR, scope)
    return scope


def clear_scope_cache(user) -> None:
    if hasattr(user, SCOPE_CACHE_ATTR):
        delattr(user, SCOPE_CACHE_ATTR)


def requires_two_factor(user) -> bool:
    """Whether the user must log in with a second factor (TOTP or a recovery code): every
    municipal-side user (any active membership in an active organisation), staff and
    superusers. Contractor-only users may enable it but need not (sroi/two_factor.py)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user.is_staff or get_scope(user).roles)


def _compute_scope(user) -> Scope:
    if user.is_superuser:
        return Scope(is_superuser=True)
    memberships = list(
        Membership.objects.filter(
            user=user, is_active=True, organisation__is_active=True
        ).values_list("role", "organisation_id", "organisation__kind")
    )
    by_role: dict[str, set[int]] = {}
    non_municipal = {org_id for _, org_id, kind in memberships if kind != "municipality"}
    served: dict[int, set[int]] = {}
    if non_municipal:
        through = Organisation.serves.through.objects.filter(
            from_organisation_id__in=non_municipal, to_organisation__is_active=True
        ).values_list("from_organisation_id", "to_organisation_id")
        for from_id, to_id in through:
            served.setdefault(from_id, set()).add(to_id)
    for role, org_id, kind in memberships:
        covered = {org_id} if kind == Organisation.Kind.MUNICIPALITY else served.get(org_id, set())
        by_role.setdefault(role, set()).update(covered)
    contractor_id = None
    link = getattr(user, "contractor_link", None) if _has_contractor_link(user) else None
    if link is not None and link.is_active:
        contractor_id = link.contractor_id
    return Scope(
        municipalities_by_role=tuple(sorted((r, frozenset(m)) for r, m in by_role.items())),
        contractor_id=contractor_id,
    )


def _has_contractor_link(user) -> bool:
    from contracts.models import ContractorUser

    try:
        user.contractor_link  # noqa: B018 - one query, cached on the user
    except ContractorUser.DoesNotExist:
        return False
    return True


# --- Querysets: what a user may see ----------------------------------------------------------


def _contract_filter(scope: Scope, action: Action, prefix: str = "") -> Q | None:
    """A Q over contracts (through ``prefix``) for ``action``; ``None`` means everything."""
    if scope.is_superuser:
        return None
    q = Q(pk__in=[])
    munis = scope.municipalities_for(action)
    if munis:
        q |= Q(**{f"{prefix}municipality_id__in": munis})
    if scope.contractor_id is not None and action in CONTRACTOR_ACTIONS:
        q |= Q(**{f"{prefix}contractor_id": scope.contractor_id})
    return q


def _apply(qs: QuerySet, q: Q | None) -> QuerySet:
    return qs if q is None else qs.filter(q)


def contracts_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    from contracts.models import Contract

    qs = Contract.objects.all() if qs is None else qs
    return _apply(qs, _contract_filter(get_scope(user), action))


def obligations_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    from contracts.models import Obligation

    qs = Obligation.objects.all() if qs is None else qs
    return _apply(qs, _contract_filter(get_scope(user), action, "contract__"))


def settlements_visible_to(user, qs: QuerySet | None = None):
    from contracts.models import Settlement

    qs = Settlement.objects.all() if qs is None else qs
    return _apply(qs, _contract_filter(get_scope(user), Action.VIEW, "obligation__contract__"))


def contributions_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    from placements.models import Contribution

    qs = Contribution.objects.all() if qs is None else qs
    return _apply(qs, _contract_filter(get_scope(user), action, "obligation__contract__"))


def evidence_visible_to(user, qs: QuerySet | None = None):
    from placements.models import Evidence

    qs = Evidence.objects.all() if qs is None else qs
    return _apply(
        qs,
        _contract_filter(
            get_scope(user), Action.VIEW_PERSONAL_DATA, "contribution__obligation__contract__"
        ),
    )


def candidates_visible_to(user, qs: QuerySet | None = None):
    """Candidates (personal data), scoped through use.

    * the contractor that registered them sees all their own candidates;
    * an adviser (a role with ``VIEW_PERSONAL_DATA``) sees a candidate only when one of the
      candidate's contributions counts towards a contract of a municipality they serve for
      that action; that the candidate's employer also works there is not enough;
    * a candidate without contributions is visible only to its contractor (and superusers).
    """
    from placements.models import Candidate

    qs = Candidate.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    q = Q(pk__in=[])
    munis = scope.municipalities_for(Action.VIEW_PERSONAL_DATA)
    if munis:
        q |= Q(
            pk__in=Candidate.objects.filter(
                contributions__obligation__contract__municipality_id__in=munis
            ).values("pk")
        )
    if scope.contractor_id is not None:
        q |= Q(contractor_id=scope.contractor_id)
    return qs.filter(q)


def contractors_visible_to(user, qs: QuerySet | None = None):
    """Staff see every contractor (they pick one when entering a contract); a contractor user
    sees only their own."""
    from contracts.models import Contractor

    qs = Contractor.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser or scope.municipalities_by_role:
        return qs
    if scope.contractor_id is not None:
        return qs.filter(pk=scope.contractor_id)
    return qs.none()


def municipalities_visible_to(user, action: Action = Action.VIEW):
    qs = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY)
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    return qs.filter(pk__in=scope.municipalities_for(action))


def policies_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    from contracts.models import SroiPolicy

    qs = SroiPolicy.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    return qs.filter(municipality_id__in=scope.municipalities_for(action))


def rulebooks_visible_to(user, qs: QuerySet | None = None, action: Action = Action.VIEW):
    """Staff see the rulebooks that apply to their municipalities or that their organisations
    own; contractors see those of their own obligations (the values they are judged by)."""
    from placements.models import Rulebook

    qs = Rulebook.objects.all() if qs is None else qs
    scope = get_scope(user)
    if scope.is_superuser:
        return qs
    q = Q(pk__in=[])
    munis = scope.municipalities_for(action)
    if munis:
        q |= Q(municipalities__in=munis)
    if scope.contractor_id is not None and action == Action.VIEW:
        q |= Q(obligations__contract__contractor_id=scope.contractor_id)
    return qs.filter(q).distinct()


# --- Object checks ---------------------------------------------------------------------------


def can(user, action: Action, obj) -> bool:
    """May ``user`` perform ``action`` on ``obj``? Decided from already-loaded attributes,
    except for a candidate, which is decided with one query (see :func:`candidates_visible_to`)."""
    scope = get_scope(user)
    if scope.is_empty:
        return False
    if scope.is_superuser:
        return True
    if _is_candidate(obj):
        return _can_on_candidate(user, scope, action, obj)
    municipality_id, contractor_id = _ownership(obj)
    if municipality_id is not None and municipality_id in scope.municipalities_for(action):
        return True
    return (
        contractor_id is not None
        and contractor_id == scope.contractor_id
        and action in CONTRACTOR_ACTIONS
    )


def _is_candidate(obj) -> bool:
    from placements.models import Candidate

    return isinstance(obj, Candidate)


def _can_on_candidate(user, scope: Scope, action: Action, candidate) -> bool:
    """A candidate belongs to no single municipality: it is reached through its contributions
    (see :func:`candidates_visible_to`). Seeing it (``VIEW`` / ``VIEW_PERSONAL_DATA``) follows
    that rule (one query); any other action is for the owning contractor only."""
    if candidate.pk is None:
        return False
    if action in (Action.VIEW, Action.VIEW_PERSONAL_DATA):
        return candidates_visible_to(user).filter(pk=candidate.pk).exists()
    return (
        scope.contractor_id is not None
        and candidate.contractor_id == scope.contractor_id
        and action in CONTRACTOR_ACTIONS
    )


def can_in_municipality(user, action: Action, municipality_id: int) -> bool:
    scope = get_scope(user)
    return scope.is_superuser or municipality_id in scope.municipalities_for(action)


def _ownership(obj) -> tuple[int | None, int | None]:
    """(municipality id, contractor id) an object belongs to."""
    from contracts.models import Contract, Contractor, Obligation, Settlement, SroiPolicy
    from placements.models import Candidate, Contribution, Evidence

    if isinstance(obj, Contract):
        return obj.municipality_id, obj.contractor_id
    if isinstance(obj, Obligation):
        return _ownership(obj.contract)
    if isinstance(obj, Settlement):
        return _ownership(obj.obligation)
    if isinstance(obj, Contribution):
        return _ownership(obj.obligation)
    if isinstance(obj, Evidence):
        return _ownership(obj.contribution)
    if isinstance(obj, SroiPolicy):
        return obj.municipality_id, None
    if isinstance(obj, Candidate):
        return None, obj.contractor_id  # for :func:`can`, see _can_on_candidate
    if isinstance(obj, Contractor):
        return None, obj.pk
    if isinstance(obj, Organisation) and obj.is_municipality:
        return obj.pk, None
    raise TypeError(f"No ownership rule for {type(obj).__name__}")
