"""Settings for the SROI registration and monitoring system.

Every setting that differs between machines is read from the environment. The defaults are safe
for development: SQLite in the project folder, console e-mail, debug on. With
``SROI_ENV=production`` the defaults flip to production values and the process refuses to start
without a ``SECRET_KEY``. Each variable is documented in README.md ("Configuration").
"""

from datetime import timedelta
from pathlib import Path

import environ
import xstatic.pkg.bootstrap
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

# development | production | test
SROI_ENV = env.str("SROI_ENV", default="development")
if SROI_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured("SROI_ENV must be one of development, production, test.")
IS_PRODUCTION = SROI_ENV == "production"

DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when SROI_ENV=production.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "csp",  # Content-Security-Policy header (django-csp; policy below)
    "auditlog",
    # Two-factor login (sroi/two_factor.py) and login lockout (django-axes).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "sroi",
    "contracts",
    "placements",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Security block (see "Content-Security-Policy, security headers, uploads" below).
    "csp.middleware.CSPMiddleware",
    "sroi.security_headers.SecurityHeadersMiddleware",
    "sroi.uploads.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: logs out idle sessions (with a message), then gates unverified users.
    "sroi.middleware.SessionIdleTimeoutMiddleware",
    "sroi.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]

ROOT_URLCONF = "sroi.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sroi.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "sroi.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "sroi.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Authentication: two-factor login, lockout, idle sessions (sroi/two_factor.py) -----------
# Axes first: it refuses locked-out username+IP combinations before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock a username+IP combination after this many failed logins, for this many minutes; a
# successful login resets the count. An adviser or functional administrator can unlock earlier
# (Django admin, "Access attempts").
AXES_FAILURE_LIMIT = env.int("SROI_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SROI_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # Django's login form names the e-mail field "username"
AXES_USERNAME_CALLABLE = "sroi.two_factor.login_username"  # lower-cased: login ignores case
AXES_LOCKOUT_CALLABLE = "sroi.views_account.lockout"  # registration/lockout.html, status 429
AXES_CLIENT_IP_CALLABLE = "sroi.two_factor.client_ip_address"
AXES_VERBOSE = False  # axes would log usernames (e-mail addresses) at WARNING level
# Reverse proxies in front of the app that append to X-Forwarded-For. The client address is
# taken from that header only when this is above 0 (production default 1: the TLS proxy in
# front of gunicorn); otherwise REMOTE_ADDR is used and the header is ignored (it can be forged).
SROI_TRUSTED_PROXY_COUNT = env.int("SROI_TRUSTED_PROXY_COUNT", default=1 if IS_PRODUCTION else 0)
# TOTP codes: the issuer shown in authenticator apps; failed codes are throttled by django-otp
# (each failure doubles the wait, starting at one second).
OTP_TOTP_ISSUER = env.str("SROI_OTP_ISSUER", default="SROI")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Log out after this many minutes without a request; SESSION_COOKIE_AGE (below) stays the
# absolute maximum of a session.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)

# Internationalisation: Dutch by default, English available.
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Amsterdam")
USE_I18N = True
USE_THOUSAND_SEPARATOR = True
FORMAT_MODULE_PATH = ["sroi.formats"]  # dates as 26-11-2026 in Dutch
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Evidence files (contracts, invoices) are personal data: they live outside any public web root
# and are only ever served through a view that checks access.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "private")
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=10 * 1024 * 1024)
# Days an e-mailed invitation to the contractor portal stays valid (the link is single-use).
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)
# The site's public address, for links in e-mails sent outside a request (digests, reminders,
# notifications, invitations made by a job). Empty: those e-mails carry no links.
SROI_BASE_URL = env.str("SROI_BASE_URL", default="")

# E-mail
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.smtp.EmailBackend"
        if IS_PRODUCTION
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SROI <sroi@localhost>")

# Celery: Redis in production; an in-memory transport by default so nothing else is needed.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
# A task whose worker died mid-run goes back to the queue (the tasks are idempotent).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis down: publishing gives up after a few quick retries instead of hanging the web request
# (sroi.celery.enqueue then logs it; the idempotent periodic jobs catch up on their next run).
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}

# Monitoring (reporting.monitoring): thresholds of the flag kinds, in days or percent.
SROI_MONITORING = {
    # No approved plan of approach this many days after the award date.
    "NO_PLAN_DAYS": env.int("SROI_MONITORING_NO_PLAN_DAYS", default=30),
    # Behind schedule: realised share below elapsed share minus this many percentage points ...
    "BEHIND_TOLERANCE_PERCENT": env.int("SROI_MONITORING_BEHIND_TOLERANCE_PERCENT", default=10),
    # ... once at least this share (%) of the counting window has passed.
    "BEHIND_MIN_ELAPSED_PERCENT": env.int("SROI_MONITORING_BEHIND_MIN_ELAPSED_PERCENT", default=25),
    # No contribution reported for this many days on an active obligation.
    "NO_REPORT_DAYS": env.int("SROI_MONITORING_NO_REPORT_DAYS", default=90),
    # Deadline within this many days and not yet fulfilled.
    "DEADLINE_NEAR_DAYS": env.int("SROI_MONITORING_DEADLINE_NEAR_DAYS", default=60),
    # A submitted contribution waiting this many days for verification.
    "VERIFICATION_WAITING_DAYS": env.int("SROI_MONITORING_VERIFICATION_WAITING_DAYS", default=14),
    # Seconds between two runs of the job (Celery beat and the embedded runner of `make run`).
    "INTERVAL_SECONDS": env.int("SROI_MONITORING_INTERVAL_SECONDS", default=60 * 60),
}

CELERY_BEAT_SCHEDULE: dict = {  # the whole periodic schedule lives here
    # Hourly by default: flag lagging/overdue obligations (set-based, idempotent, resolves
    # cleared flags; reporting.monitoring).
    "reporting-run-monitoring": {
        "task": "reporting.tasks.run_monitoring_task",
        "schedule": SROI_MONITORING["INTERVAL_SECONDS"],
    },
    # Daily: e-mail each enabled quarterly report schedule's last ended quarter, once per period
    # (idempotent; a second run the same day sends nothing).
    "reporting-send-due-reports": {
        "task": "reporting.tasks.send_due_reports",
        "schedule": 24 * 60 * 60,
    },
    # Daily: the advisers' digest of new/resolved flags, and reminders to contractors (each
    # reminder once per occasion).
    "reporting-send-daily-digests": {
        "task": "reporting.tasks.send_daily_digests_task",
        "schedule": 24 * 60 * 60,
    },
    "reporting-send-reminders": {
        "task": "reporting.tasks.send_reminders_task",
        "schedule": 24 * 60 * 60,
    },
    # Daily: privacy retention (placements.retention): anonymise candidates, remove evidence
    # files and purge login records past their retention period (set-based, idempotent).
    "placements-apply-retention": {
        "task": "placements.tasks.apply_retention_task",
        "schedule": 24 * 60 * 60,
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Production hardening (see `manage.py check --deploy`).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if IS_PRODUCTION else None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=IS_PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=IS_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=IS_PRODUCTION)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy, security headers, uploads ----------------------------------------
# (sroi/security_headers.py, sroi/uploads.py; tests in tests/sroi/test_csp.py and friends)
# Cookies: never readable by scripts (no script needs them: forms carry the CSRF token), sent
# on same-site requests and top-level navigations only.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4): everything from this site only, no inline script or
# style anywhere (tests/sroi/test_csp.py scans the templates), no plugins, no framing, forms
# post only here. data: only for images: Bootstrap's CSS draws its icons (menu, select arrow,
# close button) as data: SVGs and the two-factor set-up shows its QR code as one.
_CSP_REPORT_URI = env.str("CSP_REPORT_URI", default="")  # where browsers report violations
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": [_CSP_REPORT_URI] if _CSP_REPORT_URI else None,
    }
}
# Uploads. Evidence (PDF/PNG/JPEG, EVIDENCE_MAX_BYTES above) and spreadsheets (.xlsx imports)
# are checked by size and content in their forms; a request body larger than
# UPLOAD_MAX_REQUEST_BYTES is refused with 413 before Django parses it
# (sroi.uploads.RequestSizeLimitMiddleware).
SPREADSHEET_MAX_BYTES = env.int("SPREADSHEET_MAX_BYTES", default=5 * 1024 * 1024)
UPLOAD_MAX_REQUEST_BYTES = env.int(
    "UPLOAD_MAX_REQUEST_BYTES",
    default=2 * max(EVIDENCE_MAX_BYTES, SPREADSHEET_MAX_BYTES) + 1024 * 1024,
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # 2.5 MB of form fields (files not counted)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# Accepted uploads stay in memory (no personal data in temporary files); only oversized ones,
# refused anyway, spill to a temporary file that is removed at the end of the request.
FILE_UPLOAD_MAX_MEMORY_SIZE = max(EVIDENCE_MAX_BYTES, SPREADSHEET_MAX_BYTES)
# Stored evidence and pending imports: readable by the application's user only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Logging and error reports without personal data (sroi/logging.py) ------------------------
# Plain, to stderr; personal data is never logged by the application. Every handler carries the
# redaction filter (e-mail addresses, BSN-like numbers, request bodies); Django's own loggers
# are routed through these handlers instead of Django's defaults (which include error e-mails).
_REDACT = ["redact_personal_data"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_personal_data": {"()": "sroi.logging.RedactPersonalDataFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": _REDACT},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": _REDACT,
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # django-axes logs every login and logout at INFO (masked user name and IP address);
        # failures and lockouts come at WARNING, which is what operations needs.
        "axes": {"level": "WARNING", "propagate": True},
    },
}
# Error reports (debug page, error e-mails if ADMINS is ever set): no POST or query values, no
# uploaded file names, no secrets, no local variables outside DEBUG.
DEFAULT_EXCEPTION_REPORTER = "sroi.logging.PrivacyExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "sroi.logging.PrivacyExceptionReporterFilter"
# Celery workers keep this LOGGING (and its filter) instead of installing their own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# SROI domain settings
SROI_CANDIDATE_CODE_PREFIX = env.str("SROI_CANDIDATE_CODE_PREFIX", default="K")

# --- Privacy retention (placements/retention.py, docs/privacy.md) -----------------------------
# Candidates are anonymised this many days after the last obligation they contributed to was
# settled (never-reported candidates: after their creation).
SROI_CANDIDATE_RETENTION_DAYS = env.int("SROI_CANDIDATE_RETENTION_DAYS", default=365)
# Evidence files are removed from private storage this many days after their obligation was
# settled (the evidence row stays as a record). Empty: as SROI_CANDIDATE_RETENTION_DAYS;
# "never": files are kept.
_evidence_retention = env.str("SROI_EVIDENCE_RETENTION_DAYS", default="").strip().lower()
if _evidence_retention in {"never", "off"}:
    SROI_EVIDENCE_RETENTION_DAYS = None
elif _evidence_retention == "":
    SROI_EVIDENCE_RETENTION_DAYS = SROI_CANDIDATE_RETENTION_DAYS
elif _evidence_retention.isdigit():
    SROI_EVIDENCE_RETENTION_DAYS = int(_evidence_retention)
else:
    raise ImproperlyConfigured("SROI_EVIDENCE_RETENTION_DAYS must be a number of days or never.")
# Login attempts and login/logout records of django-axes (e-mail and IP addresses).
SROI_LOGIN_LOG_RETENTION_DAYS = env.int("SROI_LOGIN_LOG_RETENTION_DAYS", default=90)

# Council reports (reporting app)
# A generated workbook stays in memory up to this size, then spills to a temporary file.
REPORT_SPOOL_MAX_BYTES = env.int("REPORT_SPOOL_MAX_BYTES", default=16 * 1024 * 1024)
# Sender of the scheduled report e-mails.
REPORT_FROM_EMAIL = env.str("REPORT_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)

if SROI_ENV == "test":
    # Fast hashing in tests only.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
