"""Browser tests: Playwright driving Debian's Chromium against ``live_server``.

`playwright install` cannot download a browser here, so the tests use /usr/bin/chromium
(.ci/run installs it). On a laptop without it they skip with a hint, but never in CI.
Every page of a journey is checked with axe-core (WCAG 2.1 A/AA rules); serious or critical
violations fail the test.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            f"{CHROMIUM} is missing; .ci/run installs it (apt-get install chromium)."
        )
    skip = pytest.mark.skip(reason="Chromium not installed: apt-get install chromium")
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "nl-NL", "viewport": {"width": 1280, "height": 900}}


AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


@pytest.fixture
def assert_accessible():
    """``assert_accessible(page)``: fail on serious or critical axe-core violations."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page):
        results = axe.run(page, options=AXE_OPTIONS)
        bad = [
            v for v in results.response["violations"] if v.get("impact") in {"serious", "critical"}
        ]
        details = "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
            for v in bad
        )
        assert not bad, f"Accessibility violations on {page.url}:\n{details}"

    return check


def totp_code(device) -> str:
    """A code ``device`` accepts now: the current time step, or the next one when the current
    one was already used (each code works once)."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now_t = totp.t()
    wanted = max(now_t, device.last_t + 1)
    assert wanted <= now_t + device.tolerance, "no unused code within the tolerance"
    totp.time = time.time() + (wanted - now_t) * device.step
    return f"{totp.token():0{device.digits}d}"


def authenticator_for(email: str):
    """The user's confirmed authenticator, created when they need two-factor login and have
    none (as if they had set it up before)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from sroi.models import User
    from sroi.permissions import requires_two_factor

    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and requires_two_factor(user):
        device = TOTPDevice.objects.create(user=user, name="browser test", confirmed=True)
    return device


def login(page, live_server, email: str, password: str) -> None:
    """Log in through the login page, and through the code step when the user has an
    authenticator (staff users get one here if they have none)."""
    device = authenticator_for(email)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    if device is not None and "/accounts/two-factor/" in page.url:
        page.locator("input[name=code]").fill(totp_code(device))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
