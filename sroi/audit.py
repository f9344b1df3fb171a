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
"""

from auditlog.registry import auditlog

#: Candidate fields never written to the audit trail.
CANDIDATE_PERSONAL_FIELDS = (
    "initials",
    "birth_year",
    "target_group",
    "years_on_benefit",
    "target_group_note",
)


def register_audited_models() -> None:
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
