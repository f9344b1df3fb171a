"""The privacy retention job: personal data is kept only as long as the SROI obligation needs it.

Run daily by Celery beat (``placements.tasks.apply_retention_task``, entry
``placements-apply-retention`` in ``CELERY_BEAT_SCHEDULE``) and by hand with
``python manage.py apply_retention [--dry-run]``; ``--candidate CODE`` anonymises one candidate
ahead of time for a granted erasure request (:func:`candidates_erasable`: only when all its
obligations are settled). Described for the privacy officer in docs/privacy.md.

Rules
-----

*Settled* means: the obligation's status is *settled* and it has its final settlement decision
(fulfilled, fine, buy-out or waiver; an extension is not final); the settlement date is that
decision's ``decided_at``. ``N`` is ``settings.SROI_CANDIDATE_RETENTION_DAYS`` (env, default
365).

1. **Candidates.** A candidate who is not anonymised yet is anonymised when

   * every obligation they have a contribution on (whatever the contribution's status) was
     settled at least ``N`` days ago, or
   * they have no contribution at all and were created at least ``N`` days ago.

   A candidate with any contribution on an obligation that is not settled (open, extended, or
   settled without a recorded final decision) is never touched.

   Anonymising blanks the personal fields — initials, birth year, target group, years on
   benefit, the justification of target group "other" — and sets ``anonymised_at``. The
   pseudonymous code, the contractor, the eligibility confirmation (when and by which staff
   member) and the contributions stay: their value, status, rule and dates are not changed, so
   settled totals and council reports keep their amounts and head counts (a report rebuilt
   afterwards counts these people under "Unknown or anonymised" instead of their target
   group). On those contributions, text that may describe the person is scrubbed without
   touching values: the free ``description`` is emptied, and explanation lines written by
   older versions of the valuation engine that named the candidate's target group, birth year,
   age or years on benefit lose those parts (current explanations never name them).
   An anonymised candidate can no longer be reported or confirmed (the services refuse it).

2. **Evidence files.** ``settings.SROI_EVIDENCE_RETENTION_DAYS`` (env; empty: the candidate
   period; ``never``: files are kept) days after an obligation was settled, the evidence files
   of all its contributions are deleted from private storage (employment contracts and
   invoices often name people). The evidence row stays as a record: kind, upload date,
   uploader, and in place of the file name "file removed by retention on <date>"; its ``file``
   is empty, so the download view answers 404.

3. **Login records.** django-axes' login attempts, failure log and login/logout log (user
   names = e-mail addresses, IP addresses, browsers) older than
   ``settings.SROI_LOGIN_LOG_RETENTION_DAYS`` (env, default 90) are deleted, when axes is
   installed (:func:`purge_login_records`). Expired sessions are deleted too, and uploaded
   spreadsheets (contract import, bulk reporting: they hold candidates' details) left
   between preview and confirmation for more than a day.

4. **Audit trail.** Not purged: it holds no personal data of candidates by design
   (``sroi.audit``); its retention follows the municipality's archive rules. The one
   exception is free text: when a candidate is anonymised, the old and new values of their
   contributions' ``description`` in the audit entries are replaced by
   "[removed by retention]" (:func:`_redact_audit_text`); that the text changed, when and by
   whom stays.

Properties: idempotent (a second run finds nothing to do); everything in one transaction per
run; set-based — the number of queries does not grow with the number of candidates or files
(work is done in chunks of :data:`CHUNK` rows); every anonymisation and every removed file
writes an audit entry (``anonymised_at`` resp. ``file`` changed, actor: none = the system,
``additional_data`` ``{"retention": ...}``), although the rows are written with
``QuerySet.update``. Nothing personal is logged: only counts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import islice

from auditlog.models import LogEntry
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from contracts.models import Obligation, Settlement

from .models import Candidate, Contribution, Evidence

#: Rows handled per statement (keeps ``IN (...)`` lists below SQLite's variable limit).
CHUNK = 500

#: The personal fields of a candidate and their anonymised value.
ANONYMISED_VALUES = {
    "initials": "",
    "birth_year": None,
    "target_group": "",
    "years_on_benefit": None,
    "target_group_note": "",
}

# --- Explanations written by older engine versions ---------------------------------------------
# Parts of the inputs line ("Invoer: blok baan, doelgroep Wajong, uitkeringsjaren 2,5, ...")
# that describe the person, and whole lines (bonus conditions) that do.
_PERSONAL_INPUT_PART = re.compile(
    r"^(?:doelgroep|target group|uitkeringsjaren|years on benefit|geboortejaar|birth year) \S"
)
_INPUTS_LINE = re.compile(r"^(?P<prefix>Invoer|Inputs): (?P<parts>.*?)(?P<end>\.?)$")
_PERSONAL_LINE = re.compile(
    r"\b(?:geboortejaar|birth year) \d|\b(?:uitkeringsjaren|years on benefit) \d"
    r"|\((?:.*, )?(?:doelgroep|target group) \S"
    r"|\b(?:leeftijd|age) \d+ \("
)


def scrub_explanation(lines, *, initials: str = "") -> list[str]:
    """The explanation without anything that describes the candidate; the value it explains
    is not touched. Lines that hold nothing personal come back unchanged."""
    initials = (initials or "").strip()
    own_initials = (
        re.compile(rf"(?<!\w){re.escape(initials)}(?!\w)") if len(initials) >= 2 else None
    )
    withheld = _("(removed when the candidate was anonymised)")
    scrubbed: list[str] = []
    for line in lines or ():
        line = str(line)
        match = _INPUTS_LINE.match(line)
        if match:
            parts = [p for p in match["parts"].split(", ") if not _PERSONAL_INPUT_PART.match(p)]
            line = f"{match['prefix']}: {', '.join(parts)}{match['end']}" if parts else withheld
        if _PERSONAL_LINE.search(line) or (own_initials and own_initials.search(line)):
            line = withheld
        scrubbed.append(line)
    return scrubbed


# --- Selection ---------------------------------------------------------------------------------


def _cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def obligations_settled_before(cutoff: datetime) -> QuerySet[Obligation]:
    """Obligations settled (final decision recorded) at or before ``cutoff``."""
    final = Settlement.objects.filter(obligation=OuterRef("pk"), decided_at__lte=cutoff).exclude(
        decision=Settlement.Decision.EXTENSION
    )
    return Obligation.objects.filter(status=Obligation.Status.SETTLED).filter(Exists(final))


def candidates_due(*, now: datetime | None = None, days: int | None = None) -> QuerySet[Candidate]:
    """Candidates to anonymise now (see the module docstring, rule 1). One query."""
    now = now or timezone.now()
    days = settings.SROI_CANDIDATE_RETENTION_DAYS if days is None else days
    cutoff = _cutoff(now, days)
    any_contribution = Contribution.objects.filter(candidate=OuterRef("pk"))
    blocking = any_contribution.exclude(obligation__in=obligations_settled_before(cutoff))
    return Candidate.objects.filter(anonymised_at__isnull=True).filter(
        (Exists(any_contribution) & ~Exists(blocking))
        | (~Exists(any_contribution) & Q(created_at__lte=cutoff))
    )


def candidates_erasable(codes, *, now: datetime | None = None) -> QuerySet[Candidate]:
    """The candidates with these codes that may be anonymised *now*, ahead of the retention
    period (an erasure request, docs/privacy.md): not anonymised yet, and every obligation
    they have a contribution on is settled. Others are left out."""
    return candidates_due(now=now, days=0).filter(code__in=list(codes))


def evidence_due(*, now: datetime | None = None, days: int | None = None) -> QuerySet[Evidence]:
    """Evidence whose file is to be removed now (rule 2); none when files are kept."""
    now = now or timezone.now()
    if days is None:
        days = settings.SROI_EVIDENCE_RETENTION_DAYS
    if days is None:
        return Evidence.objects.none()
    settled = obligations_settled_before(_cutoff(now, days))
    return Evidence.objects.exclude(file="").filter(contribution__obligation__in=settled)


# --- Writing -----------------------------------------------------------------------------------


def _chunks(items, size: int = CHUNK):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _audit_entries(model, rows, field: str, additional_data: dict) -> None:
    """One "changed" audit entry per row, in the format auditlog writes for a ``save()`` that
    changes ``field`` (``QuerySet.update`` bypasses auditlog's signals). ``rows`` are
    ``(pk, repr, old value, new value)``. The actor is empty: the system did it."""
    from auditlog.cid import get_cid
    from auditlog.diff import model_instance_diff

    def changes(old, new) -> dict:
        return model_instance_diff(
            model(**{field: old}),
            model(**{field: new}),
            fields_to_check=[field],
            use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
        )

    content_type = ContentType.objects.get_for_model(model)
    cid, now = get_cid(), timezone.now()
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=content_type,
                object_pk=str(pk),
                object_id=pk,
                object_repr=text,
                action=LogEntry.Action.UPDATE,
                changes=changes(old, new),
                actor=None,
                cid=cid,
                timestamp=now,
                additional_data=additional_data,
            )
            for pk, text, old, new in rows
        ]
    )


def anonymise_candidates(candidates: QuerySet[Candidate], *, now: datetime) -> int:
    """Anonymise the (not yet anonymised) candidates of ``candidates`` and scrub their
    contributions' text; returns how many were anonymised. Call inside a transaction."""
    total = 0
    # Materialised first: the rows are updated while the chunks are worked through.
    rows = list(
        candidates.filter(anonymised_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "code", "initials")
    )
    for chunk in _chunks(rows):
        ids = [pk for pk, _code, _initials in chunk]
        initials = {pk: value for pk, _code, value in chunk}
        # The condition is checked again in the UPDATE itself: a contribution on an open
        # obligation reported for one of them since the rows were selected keeps them out.
        Candidate.objects.filter(pk__in=ids, anonymised_at__isnull=True).filter(
            pk__in=candidates.values("pk")
        ).update(**ANONYMISED_VALUES, anonymised_at=now)
        done = set(
            Candidate.objects.filter(pk__in=ids, anonymised_at=now).values_list("pk", flat=True)
        )
        if not done:
            continue
        total += len(done)
        _scrub_contributions(sorted(done), initials)
        _audit_entries(
            Candidate,
            [(pk, code, None, now) for pk, code, _initials in chunk if pk in done],
            "anonymised_at",
            {"retention": "candidate anonymised"},
        )
    return total


#: Contribution fields whose old values are removed from the audit trail when the candidate is
#: anonymised: free text the contractor wrote, which may describe the person.
AUDIT_REDACTED_FIELDS = ("description",)
AUDIT_REDACTED_VALUE = "[removed by retention]"


def _redact_audit_text(contribution_ids: list[int]) -> None:
    """Replace the values of :data:`AUDIT_REDACTED_FIELDS` in the contributions' audit
    entries (the only edit of the trail the system ever makes: the AVG's storage limitation
    outranks keeping a copy of text the record itself no longer holds). That the field
    changed, when and by whom stays."""
    content_type = ContentType.objects.get_for_model(Contribution)
    query = Q()
    for name in AUDIT_REDACTED_FIELDS:
        query |= Q(changes__has_key=name)
    changed = []
    for entry in LogEntry.objects.filter(
        query, content_type=content_type, object_id__in=contribution_ids
    ).only("pk", "changes"):
        changes = dict(entry.changes or {})
        for name in AUDIT_REDACTED_FIELDS:
            values = changes.get(name)
            if isinstance(values, list):
                changes[name] = [
                    v if v in ("", None, "None") else AUDIT_REDACTED_VALUE for v in values
                ]
        if changes != entry.changes:
            entry.changes = changes
            changed.append(entry)
    if changed:
        LogEntry.objects.bulk_update(changed, ["changes"], batch_size=CHUNK)


def _scrub_contributions(candidate_ids: list[int], initials: dict[int, str]) -> None:
    changed: list[Contribution] = []
    for contribution in Contribution.objects.filter(candidate_id__in=candidate_ids).only(
        "pk", "candidate_id", "description", "value_explanation"
    ):
        explanation = scrub_explanation(
            contribution.value_explanation, initials=initials.get(contribution.candidate_id, "")
        )
        if explanation != (contribution.value_explanation or []) or contribution.description:
            contribution.value_explanation = explanation
            contribution.description = ""
            changed.append(contribution)
    if changed:
        # No ``updated_at``: nothing the contractor reported changed.
        Contribution.objects.bulk_update(
            changed, ["value_explanation", "description"], batch_size=CHUNK
        )
    _redact_audit_text(
        list(
            Contribution.objects.filter(candidate_id__in=candidate_ids).values_list("pk", flat=True)
        )
    )


def remove_evidence_files(evidence: QuerySet[Evidence], *, now: datetime) -> int:
    """Delete the files of ``evidence`` from private storage (after the transaction commits)
    and keep the rows as a record; returns how many files were removed."""
    total = 0
    note = _("file removed by retention on %(date)s") % {
        "date": date_format(timezone.localdate(now), "d-m-Y")
    }
    rows = list(evidence.exclude(file="").order_by("pk").values_list("pk", "file", "kind"))
    kinds = dict(Evidence.Kind.choices)
    for chunk in _chunks(rows):
        ids = [pk for pk, _name, _kind in chunk]
        total += Evidence.objects.filter(pk__in=ids).update(file="", original_name=note[:200])
        _audit_entries(
            Evidence,
            [
                (pk, _("Evidence %(number)s (%(kind)s)") % {"number": pk, "kind": kinds[kind]})
                + (name, "")
                for pk, name, kind in chunk
            ],
            "file",
            {"retention": "evidence file removed"},
        )
        transaction.on_commit(partial(_delete_files, [name for _pk, name, _kind in chunk]))
    return total


def _delete_files(names: list[str]) -> None:
    from .models import private_storage

    for name in names:
        private_storage.delete(name)


def login_records_due(*, now: datetime | None = None, days: int | None = None) -> dict | None:
    """The django-axes records older than the login-log retention, per model; ``None`` when
    axes is not installed (the hook :func:`purge_login_records` then does nothing)."""
    if not apps.is_installed("axes"):
        return None
    now = now or timezone.now()
    days = settings.SROI_LOGIN_LOG_RETENTION_DAYS if days is None else days
    cutoff = _cutoff(now, days)
    return {
        name: apps.get_model("axes", name).objects.filter(attempt_time__lt=cutoff)
        for name in ("AccessAttempt", "AccessFailureLog", "AccessLog")
    }


def purge_login_records(*, now: datetime | None = None, days: int | None = None) -> int | None:
    """Delete old login attempts and login/logout records (rule 3); ``None`` without axes."""
    due = login_records_due(now=now, days=days)
    if due is None:
        return None
    return sum(qs.delete()[1].get(qs.model._meta.label, 0) for qs in due.values())


def expired_sessions(*, now: datetime):
    """Expired database sessions; ``None`` for another session engine."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return None
    from django.contrib.sessions.models import Session

    return Session.objects.filter(expire_date__lt=now)


def purge_stale_uploads() -> int:
    """Spreadsheets uploaded for a preview and never confirmed, older than a day (files only,
    outside the transaction)."""
    from contracts.importing import purge_stale_uploads

    return purge_stale_uploads()


# --- The job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionResult:
    """Counts only: nothing personal, fit for logs and the command's output."""

    dry_run: bool
    candidates_anonymised: int
    evidence_files_removed: int
    login_records_purged: int | None  # None: django-axes is not installed
    sessions_purged: int | None  # None: sessions are not kept in the database
    stale_uploads_removed: int | None  # None: not counted (dry run)

    def as_dict(self) -> dict:
        return asdict(self)


def apply_retention(*, now: datetime | None = None, dry_run: bool = False) -> RetentionResult:
    """Apply every retention rule once, in one transaction. ``dry_run``: count only."""
    now = now or timezone.now()
    candidates = candidates_due(now=now)
    evidence = evidence_due(now=now)
    sessions = expired_sessions(now=now)
    if dry_run:
        logins = login_records_due(now=now)
        return RetentionResult(
            dry_run=True,
            candidates_anonymised=candidates.count(),
            evidence_files_removed=evidence.count(),
            login_records_purged=None
            if logins is None
            else sum(q.count() for q in logins.values()),
            sessions_purged=None if sessions is None else sessions.count(),
            stale_uploads_removed=None,
        )
    with transaction.atomic():
        anonymised = anonymise_candidates(candidates, now=now)
        removed = remove_evidence_files(evidence, now=now)
        logins = purge_login_records(now=now)
        sessions_purged = None if sessions is None else sessions.delete()[0]
    return RetentionResult(
        dry_run=False,
        candidates_anonymised=anonymised,
        evidence_files_removed=removed,
        login_records_purged=logins,
        sessions_purged=sessions_purged,
        stale_uploads_removed=purge_stale_uploads(),
    )
