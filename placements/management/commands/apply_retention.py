"""``python manage.py apply_retention [--dry-run] [--candidate CODE ...]``: the privacy
retention job by hand.

Without ``--candidate``: the same code as the scheduled Celery task
(``placements.tasks.apply_retention_task``); the rules are in ``placements.retention``.

With ``--candidate CODE`` (repeatable): anonymise only these candidates now, ahead of the
retention period (an erasure request granted by the municipality, docs/privacy.md), provided
every obligation they have a contribution on is settled; nothing else is done.

Prints counts only, never personal data.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from placements.retention import anonymise_candidates, apply_retention, candidates_erasable


class Command(BaseCommand):
    help = (
        "Anonymise candidates, remove evidence files and purge login records whose retention "
        "period has passed (docs/privacy.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be done; change nothing"
        )
        parser.add_argument(
            "--candidate",
            action="append",
            default=[],
            metavar="CODE",
            help="anonymise only this candidate now (all its obligations must be settled)",
        )

    def handle(self, *args, dry_run=False, candidate=(), **options):
        if candidate:
            return self._erase(set(candidate), dry_run=dry_run)
        result = apply_retention(dry_run=dry_run)
        evidence_days = settings.SROI_EVIDENCE_RETENTION_DAYS
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            "Retention periods: candidates "
            f"{settings.SROI_CANDIDATE_RETENTION_DAYS} days, evidence files "
            f"{'kept' if evidence_days is None else f'{evidence_days} days'}, login records "
            f"{settings.SROI_LOGIN_LOG_RETENTION_DAYS} days."
        )
        self.stdout.write(f"Candidates that {verb} anonymised: {result.candidates_anonymised}")
        self.stdout.write(f"Evidence files that {verb} removed: {result.evidence_files_removed}")
        self.stdout.write(
            f"Login records that {verb} purged: "
            + (
                "n/a (django-axes not installed)"
                if result.login_records_purged is None
                else str(result.login_records_purged)
            )
        )
        self.stdout.write(
            f"Expired sessions that {verb} purged: "
            + ("n/a" if result.sessions_purged is None else str(result.sessions_purged))
        )
        self.stdout.write(
            "Stale uploaded spreadsheets removed: "
            + (
                "not counted in a dry run"
                if result.stale_uploads_removed is None
                else str(result.stale_uploads_removed)
            )
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")

    def _erase(self, codes: set[str], *, dry_run: bool) -> None:
        now = timezone.now()
        with transaction.atomic():
            erasable = candidates_erasable(codes, now=now)
            found = erasable.count()
            if dry_run:
                done = 0
            else:
                done = anonymise_candidates(erasable, now=now)
        verb = "would be" if dry_run else "were"
        self.stdout.write(f"Candidates that {verb} anonymised: {found if dry_run else done}")
        refused = len(codes) - found
        if refused:
            raise CommandError(
                f"{refused} of {len(codes)} candidate(s) not anonymised: unknown code, already "
                "anonymised, or a contribution on an obligation that is not settled."
            )
