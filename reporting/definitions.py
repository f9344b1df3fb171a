"""The definition of every figure in the council report: one source for the screen, the
workbook's "Definities" sheet and the CSV. ``docs/report-definitions.md`` explains the same
definitions at length; ``reporting.selectors`` implements them (and nothing else does).
"""

from django.utils.translation import gettext_lazy as _

DEFINITIONS = (
    (
        _("Period"),
        _(
            "A contract belongs to the period when its award date falls inside it, both ends "
            "included. Contracts awarded after the as-of date are not counted. All figures of "
            "a contract (obligation, contributions, settlement) follow the contract into the "
            "period of its award date, whenever they happened."
        ),
    ),
    (
        _("As of"),
        _(
            "The report shows what was known at the end of this day (Europe/Amsterdam): a "
            "contribution counts once it was submitted on or before this day; its approval or "
            "rejection counts once it was decided on or before this day, before that it counts "
            "as submitted. Settlement decisions count when decided on or before this day. "
            "Amounts are the current amounts of obligations and contributions."
        ),
    ),
    (
        _("Contracts"),
        _("The number of contracts of the municipality awarded in the period."),
    ),
    (
        _("With obligation"),
        _("Contracts with an SROI obligation (a required amount), not counting exemptions."),
    ),
    (
        _("Exempted"),
        _("Contracts whose obligation was set to zero by an exemption with a recorded reason."),
    ),
    (
        _("Without obligation"),
        _(
            "Contracts without any SROI obligation, for example because they are below the "
            "threshold."
        ),
    ),
    (
        _("Above threshold without obligation"),
        _(
            "Contracts without an obligation whose value excl. VAT is at or above the threshold "
            "of the SROI policy in force on the award date: a finding to be resolved, not "
            "accepted silently."
        ),
    ),
    (
        _("Required"),
        _("The sum of the obligation amounts (the required SROI value) of the contracts."),
    ),
    (
        _("Reported"),
        _(
            "The sum of the values of contributions submitted by contractors and not rejected "
            "(submitted, returned for more information, or approved)."
        ),
    ),
    (
        _("Realised"),
        _("The sum of the values of approved contributions: only approved value counts."),
    ),
    (
        _("Fulfilment"),
        _(
            "Realised divided by required, as a percentage of the total (one contract's surplus "
            "offsets another's shortfall in this total; the per-contract table shows each "
            "contract's own percentage). Empty when nothing is required."
        ),
    ),
    (
        _("Settled"),
        _(
            "The required amount of obligations closed by a final settlement decision "
            "(fulfilled, fine, buy-out or waiver). An extension does not settle an obligation."
        ),
    ),
    (
        _("Fines"),
        _("The number and sum of the amounts of settlement decisions 'fine / deduction'."),
    ),
    (
        _("Buy-outs"),
        _("The number and sum of the amounts of settlement decisions 'buy-out'."),
    ),
    (
        _("People placed"),
        _(
            "The number of different candidates with at least one approved contribution, per "
            "target group and block. A person placed in two blocks counts once in the total. "
            "Counts only; no personal details are reported."
        ),
    ),
    (
        _("Open flags"),
        _(
            "Monitoring signals (behind schedule, reports stopped, plan missing, deadline near "
            "or passed). Not yet available: monitoring is not built yet, so no number is shown "
            "rather than a misleading zero."
        ),
    ),
    (
        _("Candidate code"),
        _(
            "The pseudonymous code of a candidate. The report never contains names, initials, "
            "birth years or other personal details."
        ),
    ),
)
