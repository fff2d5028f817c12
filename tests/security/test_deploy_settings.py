"""Production settings: .env.example as shipped passes `check --deploy`, with secure cookies."""

from __future__ import annotations

import secrets

from tests.security.world import ROOT, run_python

# --- check --deploy with .env.example's own values ----------------------------------------------------------


def test_env_example_as_shipped_passes_check_deploy_with_secure_cookies(tmp_path):
    """.env.example leaves most variables empty (`NAME=`): with DEBUG off and a secret, that must start, use
    the defaults, pass `check --deploy` without a warning and serve secure, HTTP-only cookies."""
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name.strip()] = value.strip()
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "roulette.example.com",
            "PUBLIC_BASE_URL": "https://roulette.example.com",
            "DJANGO_SECURE_SSL_REDIRECT": "true",
        }
    )
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings as s\n"
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\n"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS > 0,"
        " s.TWILIO_VALIDATE_SIGNATURES, s.SMS_BACKEND, s.DATABASES['default']['ENGINE'])\n"
    )
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True True True True console django.db.backends.sqlite3"
