"""The deployment files agree with the code and with each other.

docker-compose.yml, the Dockerfile, the Makefile, .env.example, README.md and sroi/settings.py are
checked against what the project really contains: the processes they start name modules and
commands that exist, every setting read from the environment is documented, and the health check
the containers run gets a 200 under production security settings.
"""

import importlib
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent

APP_SERVICES = ("init", "web", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _services() -> dict:
    return _compose()["services"]


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _depends_on(service: dict) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _env_example_names() -> list[str]:
    """Variables named in .env.example, set (NAME=) or shown commented out (# NAME=)."""
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def _settings_env_names() -> set[str]:
    """Every env.<cast>("NAME" read in sroi/settings.py."""
    text = (ROOT / "sroi" / "settings.py").read_text()
    return set(re.findall(r"\benv\.\w+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", text))


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(
        rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_has_all_services():
    assert set(_services()) >= {"postgres", "redis", *APP_SERVICES}


@pytest.mark.parametrize("name", ["postgres", "redis", "web"])
def test_long_running_infrastructure_and_web_have_healthchecks(name):
    healthcheck = _services()[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable")
    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}


def test_postgres_and_redis_healthchecks_use_their_own_probes():
    services = _services()
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]


def test_web_healthcheck_hits_healthz():
    test = " ".join(_services()["web"]["healthcheck"]["test"])
    assert "/healthz/" in test


def test_init_migrates_after_postgres_is_healthy():
    init = _services()["init"]
    command = _command(init)
    assert command[:3] == ["python", "manage.py", "migrate"]
    assert "--noinput" in command
    assert (ROOT / "manage.py").is_file()
    assert "migrate" in get_commands()
    assert _depends_on(init) == {"postgres": "service_healthy"}
    assert init.get("restart") == "no"


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_processes_wait_for_migrations_and_redis(name):
    depends = _depends_on(_services()[name])
    assert depends["init"] == "service_completed_successfully"
    assert depends["redis"] == "service_healthy"


def test_web_runs_gunicorn_on_an_importable_wsgi_application():
    command = _command(_services()["web"])
    assert command[0] == "gunicorn"
    assert "sroi.wsgi:application" in command
    assert "0.0.0.0:8000" in command

    module_name, attribute = "sroi.wsgi:application".split(":")
    application = getattr(importlib.import_module(module_name), attribute)
    assert callable(application)


@pytest.mark.parametrize("name, subcommand", [("worker", "worker"), ("beat", "beat")])
def test_celery_processes_name_the_project_app(name, subcommand):
    command = _command(_services()[name])
    assert command[:4] == ["celery", "-A", "sroi", subcommand]

    # Resolve -A exactly as the celery command line does.
    app = find_app(command[2])
    assert isinstance(app, Celery)
    assert app is importlib.import_module("sroi.celery").app


def test_app_services_share_the_image_and_production_env():
    services = _services()
    for name in APP_SERVICES:
        service = services[name]
        assert service.get("build") == ".", name
        assert service.get("env_file") == ".env.production", name
        assert service.get("environment", {}).get("SROI_ENV") == "production", name


# --- Dockerfile -----------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_runs_gunicorn_as_non_root_with_healthcheck():
    instructions = _dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]

    assert instructions[0] == ("FROM", "python:3.11-slim")
    cmd = [rest for keyword, rest in instructions if keyword == "CMD"][-1]
    assert "gunicorn" in cmd
    assert "sroi.wsgi:application" in cmd

    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert keywords.index("USER") < keywords.index("CMD")

    healthcheck = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthcheck and "/healthz/" in healthcheck[0]


def test_dockerfile_collects_static_files_without_a_real_secret():
    runs = [rest for keyword, rest in _dockerfile_instructions() if keyword == "RUN"]
    collect = [run for run in runs if "collectstatic" in run]
    assert collect, "collectstatic is not run at build time"
    assert "SECRET_KEY=" in collect[0]
    env = " ".join(rest for keyword, rest in _dockerfile_instructions() if keyword == "ENV")
    assert "SECRET_KEY" not in env, "a SECRET_KEY must not be baked into the image"


def test_secrets_stay_out_of_git_and_the_image():
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    for ignore_file in (gitignore, dockerignore):
        assert ".env" in ignore_file
        assert ".env.*" in ignore_file
        assert "!.env.example" in ignore_file


# --- /healthz/ as the container health check calls it ---------------------------------------------


@pytest.mark.django_db  # allowed, in case the probe also checks the database
def test_healthz_answers_under_production_security_settings(client, settings):
    settings.ALLOWED_HOSTS = ["sroi.example.nl"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get("/healthz/", HTTP_HOST="sroi.example.nl", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200


# --- Makefile -------------------------------------------------------------------------------------


def test_makefile_uses_only_existing_management_commands():
    makefile = (ROOT / "Makefile").read_text()
    used = set(re.findall(r"manage\.py (\w+)", makefile))
    assert {"migrate", "seed_demo", "runserver", "makemigrations"} <= used
    missing = used - set(get_commands())
    assert not missing, f"Makefile calls unknown management commands: {sorted(missing)}"


# --- Configuration is documented ------------------------------------------------------------------


def test_every_setting_read_from_the_environment_is_in_env_example():
    settings_names = _settings_env_names()
    assert {"SECRET_KEY", "DATABASE_URL", "SROI_ENV"} <= settings_names  # the regex works
    missing = settings_names - set(_env_example_names())
    assert not missing, f".env.example does not mention: {sorted(missing)}"


def test_every_env_example_variable_is_documented_in_readme():
    names = _env_example_names()
    assert len(names) == len(set(names)), ".env.example names a variable twice"
    section = _readme_section("Configuration")
    missing = [name for name in names if not re.search(rf"\b{name}\b", section)]
    assert not missing, f"README.md 'Configuration' does not document: {missing}"


# --- manage.py check --deploy -------------------------------------------------------------------


def _check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    """``manage.py check --deploy --fail-level WARNING`` with production settings, in a fresh
    process (settings are read once per process)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SECURE_", "SESSION_", "CSRF_", "CSP_", "DEBUG", "DJANGO_"))
        and name not in {"DATABASE_URL", "ALLOWED_HOSTS", "SECRET_KEY", "SROI_ENV"}
    }
    env.update(
        SROI_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),  # 67 characters, many unique
        ALLOWED_HOSTS="sroi.example.nl",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        **overrides,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    done = _check_deploy(tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output and "?:" not in output


def test_check_deploy_fails_on_an_insecure_production_setting(tmp_path):
    """The check above can fail: an insecure override is reported."""
    done = _check_deploy(tmp_path, SESSION_COOKIE_SECURE="false")
    assert done.returncode != 0
    assert "security.W012" in done.stdout + done.stderr
