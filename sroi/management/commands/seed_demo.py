"""``manage.py seed_demo``: fill a development database with demo data (see ``sroi.demo``)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sroi import demo


class Command(BaseCommand):
    help = (
        "Create demo organisations, users, contractors, contracts and contributions for "
        "development. Idempotent: a second run creates nothing. DEVELOPMENT ONLY."
    )

    def handle(self, *args, **options):
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo refuses to run with SROI_ENV=production.")
        started = time.monotonic()
        result = demo.seed()
        seconds = time.monotonic() - started

        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Demo data created in {seconds:.1f} s."))
        else:
            self.stdout.write(
                self.style.WARNING(
                    "Demo data already present (demo contracts exist); nothing new created."
                )
            )
        self.stdout.write("")
        self.stdout.write(f"Counts (today = {result.today:%d-%m-%Y}):")
        for name, count in result.counts.items():
            self.stdout.write(f"  {name:<34} {count:>5}")
        self.stdout.write("Demo contracts by state:")
        for name, count in sorted(result.states.items()):
            self.stdout.write(f"  {name:<34} {count:>5}")

        self.stdout.write("")
        self.stdout.write(
            self.style.WARNING(
                "WARNING: development only. Every demo user has the same password "
                f"'{demo.DEMO_PASSWORD}'. Never load this data into a reachable system."
            )
        )
        rows = [(u.role, u.email, demo.DEMO_PASSWORD, u.organisation) for u in result.users]
        header = ("Role", "E-mail", "Password", "Organisation")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]

        def line(cells) -> str:
            return "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=True))

        self.stdout.write(line(header).rstrip())
        self.stdout.write(line("-" * w for w in widths).rstrip())
        for row in rows:
            self.stdout.write(line(row).rstrip())
        self.stdout.write("")
        self.stdout.write(f"Log in at {demo.ADMIN_URL}")
        self.stdout.write(
            "Staff logins (and the superuser) ask for a 6-digit code after the password: "
            "print it with `manage.py demo_otp_code <e-mail>` (or `make demo-code EMAIL=<e-mail>`)."
        )
