"""The audit trail: every create, change and delete of the models below is recorded by
django-auditlog with who (from the request), when, and the old and new values.

Registered once, from ``SroiConfig.ready``. Candidate details are masked in the log entries so
the audit trail does not become a second copy of personal data.
"""

from auditlog.registry import auditlog


def register_audited_models() -> None:
    from contracts.models import (
        Contract,
        Contractor,
        ContractorContact,
        ContractorUser,
        Obligation,
        PsoDiscount,
        Settlement,
        SroiPolicy,
    )
    from placements.models import Bonus, Candidate, Contribution, Evidence, Rule, Rulebook

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
        Contribution,
        Evidence,
    ):
        auditlog.register(model)
    auditlog.register(Rulebook, m2m_fields={"municipalities"})
    auditlog.register(Candidate, mask_fields=["initials", "birth_year"])
