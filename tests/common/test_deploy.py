"""Production settings: no start without the secrets, `check --deploy` clean, https behind the
proxy header, and a gunicorn control socket per checkout."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code_or_args, *, drop=(), **extra):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleetops.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FLEETOPS_CARD_HMAC_KEY": secrets.token_urlsafe(32),
        "FLEETOPS_AUDIT_KEY": secrets.token_urlsafe(32),
        "FLEETOPS_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        **extra,
    }
    for name in drop:
        env.pop(name, None)
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "missing",
    [
        ("DJANGO_SECRET_KEY",),
        ("FLEETOPS_CARD_HMAC_KEY",),
        ("FLEETOPS_AUDIT_KEY",),
        ("FLEETOPS_ENCRYPTION_KEY",),
        ("DJANGO_SECRET_KEY", "FLEETOPS_CARD_HMAC_KEY"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(missing, tmp_path):
    result = _run(["manage.py", "check"], drop=missing)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in missing:
        assert name in result.stderr


def test_production_refuses_a_blank_secret():
    result = _run(["manage.py", "check"], DJANGO_SECRET_KEY="  ")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_under_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_production_redirects_to_https_unless_the_proxy_says_https():
    code = """
import django
django.setup()
from django.test import Client
c = Client()
plain = c.get("/nowhere")
proxied = c.get("/nowhere", headers={"X-Forwarded-Proto": "https"})
health = c.get("/healthz")
print(plain.status_code, plain["Location"])
print(proxied.status_code, proxied["Strict-Transport-Security"])
print(health.status_code)
"""
    result = _run(code, DJANGO_ALLOWED_HOSTS="testserver")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "301 https://testserver/nowhere"
    assert lines[1] == "404 max-age=31536000; includeSubDomains; preload"
    assert lines[2] == "200"


def test_gunicorn_control_socket_is_kept_under_the_checkouts_var():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "--control-socket ${GUNICORN_CONTROL_SOCKET:-var/gunicorn-${WEB_PORT:-8000}.ctl}" in web


def test_gunicorn_logs_json_lines_with_the_request_id():
    import importlib
    import json

    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "--config fleetops/gunicorn_conf.py" in web
    conf = importlib.import_module("fleetops.gunicorn_conf")
    line = json.loads(conf.access_log_format)
    assert line["request_id"] == "%({x-request-id}o)s" and line["logger"] == "gunicorn.access"
