"""``manage.py demo_otp_code <e-mail>``: print a demo user's current two-factor code.

DEVELOPMENT ONLY: lets the demo (``make run``) be used on a machine without a phone. Refuses
unless ``SROI_ENV=development`` and the address is a demo address (``…demo.sroi.nl``).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sroi import demo
from sroi.models import User


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo user. DEVELOPMENT ONLY."

    def add_arguments(self, parser):
        parser.add_argument("email", help="a demo e-mail address, e.g. adviseur@demo.sroi.nl")

    def handle(self, *args, email, **options):
        if settings.SROI_ENV != "development":
            raise CommandError("demo_otp_code only runs with SROI_ENV=development.")
        if not demo.is_demo_email(email):
            raise CommandError("demo_otp_code only works for demo users (…demo.sroi.nl).")
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError("No such demo user; run manage.py seed_demo first.")
        try:
            code, seconds = demo.current_totp_code(user)
        except LookupError:
            raise CommandError(
                "This demo user has no authenticator (no second step needed)."
            ) from None
        self.stdout.write(code)
        self.stderr.write(f"valid for about {seconds} more seconds (each code works once)")
