"""The Content-Security-Policy: its exact directives on pages and downloads, and a scan of every
template for what the policy would block (inline script, inline style, event handler
attributes, ``javascript:`` URLs)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests import factories as f

EXPECTED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";") if p.strip()]
    result = {}
    for part in parts:
        name, _, value = part.partition(" ")
        assert name not in result, f"directive {name} twice in {header!r}"
        result[name] = value.strip()
    return result


def test_login_page_has_the_exact_policy(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == EXPECTED_DIRECTIVES
    assert "Content-Security-Policy-Report-Only" not in response


@pytest.mark.django_db
def test_policy_never_allows_inline_or_eval(client):
    header = client.get(reverse("login"))["Content-Security-Policy"]
    for forbidden in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "nonce-", "*"):
        assert forbidden not in header


def test_logged_in_page_has_the_exact_policy(client, world):
    client.force_login(world.adviser)
    response = client.get(reverse("contracts:contract_list"))
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == EXPECTED_DIRECTIVES


def test_spreadsheet_download_has_the_policy(client, world):
    client.force_login(world.officer_noordwijk)
    response = client.get(reverse("contracts:import_template"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert directives(response["Content-Security-Policy"]) == EXPECTED_DIRECTIVES


def test_admin_pages_have_the_policy(client, world):
    admin = f.UserFactory(email="operator@example.nl", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for name in ("admin:index", "admin:sroi_user_changelist", "admin:sroi_user_add"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert directives(response["Content-Security-Policy"]) == EXPECTED_DIRECTIVES, name


def test_report_uri_is_added_when_configured(client, settings, db):
    policy = {
        "DIRECTIVES": {
            **settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
            "report-uri": ["https://csp.example.nl/report"],
        }
    }
    settings.CONTENT_SECURITY_POLICY = policy
    header = client.get(reverse("login"))["Content-Security-Policy"]
    assert directives(header) == {
        **EXPECTED_DIRECTIVES,
        "report-uri": "https://csp.example.nl/report",
    }


def test_report_uri_comes_from_the_environment():
    """sroi/settings.py reads CSP_REPORT_URI; without it there is no report-uri at all."""
    code = (
        "from django.conf import settings; "
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['report-uri'])"
    )

    def report_uri(**extra) -> str:
        env = {k: v for k, v in os.environ.items() if k != "CSP_REPORT_URI"}
        env.update(DJANGO_SETTINGS_MODULE="sroi.settings", SROI_ENV="test", **extra)
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    assert report_uri(CSP_REPORT_URI="https://csp.example.nl/r") == "['https://csp.example.nl/r']"
    assert report_uri() == "None"


# --- Template scan ---------------------------------------------------------------------------

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"] + [
    p for p in Path(settings.BASE_DIR).glob("*/templates") if ".venv" not in p.parts
]

# What a strict CSP blocks (or what would need 'unsafe-inline'):
FORBIDDEN = {
    "inline style attribute": re.compile(r"""\sstyle\s*=""", re.IGNORECASE),
    "<style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "inline <script> (no src)": re.compile(
        r"<script\b(?![^>]*(?<![\w-])src\s*=)[^>]*>", re.IGNORECASE
    ),
    "event handler attribute": re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE),
    "javascript: URL": re.compile(r"""javascript\s*:""", re.IGNORECASE),
}


def template_files() -> list[Path]:
    files = []
    for directory in TEMPLATE_DIRS:
        files.extend(p for p in directory.rglob("*") if p.is_file() and p.suffix != ".txt")
    return sorted(files)


def scan(text: str) -> list[str]:
    return [label for label, pattern in FORBIDDEN.items() if pattern.search(text)]


def test_there_are_templates_to_scan():
    names = {p.name for p in template_files()}
    assert {"base.html", "report.html", "contribution_detail.html", "adviser_settle.html"} <= names


@pytest.mark.parametrize(
    "snippet",
    [
        '<div class="progress-bar" style="width: 40%"></div>',
        "<style>body { color: red }</style>",
        "<script>alert(1)</script>",
        '<script type="text/javascript">var a;</script>',
        '<script data-src="x.js">var a;</script>',
        '<button onclick="go()">x</button>',
        "<body onload='x()'>",
        '<a href="javascript:void(0)">x</a>',
    ],
)
def test_scan_catches_what_the_policy_blocks(snippet):
    assert scan(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/js/app.js"></script>',
        "<script defer src=\"{% static 'x.js' %}\"></script>",
        '<ul class="list-unstyled">',
        '<rect width="40" height="10"></rect>',
        '<input name="online" data-confirm="yes">',
        "{% translate 'Reason' %}",
    ],
)
def test_scan_allows_what_the_policy_allows(snippet):
    assert scan(snippet) == [], snippet


def test_no_template_needs_unsafe_inline():
    offenders = {}
    for path in template_files():
        found = scan(path.read_text(encoding="utf-8"))
        if found:
            offenders[str(path.relative_to(settings.BASE_DIR))] = found
    assert offenders == {}
