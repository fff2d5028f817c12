"""Settings come from the environment: safe defaults, a clear stop without a secret, deploy checks pass."""

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, env_extra, cwd=ROOT, timeout=120):
    # DJANGO_ENV_FILE empty: a developer's own .env (`make run` writes one) does not leak into these checks.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DJANGO_ENV_FILE": "", **env_extra}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_missing_secret_key_stops_start_up_with_a_clear_message():
    result = run(["manage.py", "check"], {})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_a_secret_key(tmp_path):
    result = run(["manage.py", "check"], {"DJANGO_DEBUG": "true", "ROULETTE_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


SHOW = [
    "manage.py",
    "shell",
    "--no-imports",
    "-c",
    "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)",
]


def test_manage_py_reads_a_local_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# written by make run\nDJANGO_SECRET_KEY=from-the-file\nDJANGO_DEBUG=true\n")
    base = {"DJANGO_ENV_FILE": str(env_file), "ROULETTE_VAR_DIR": str(tmp_path)}
    from_file = run(SHOW, base)
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout.split() == ["True", "from-the-file"]
    from_environment = run(SHOW, {**base, "DJANGO_SECRET_KEY": "from-the-environment", "DJANGO_DEBUG": "false"})
    assert from_environment.returncode == 0, from_environment.stderr
    assert from_environment.stdout.split() == ["False", "from-the-environment"]


def test_an_env_file_without_a_secret_key_does_not_start_production(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_SECRET_KEY=\nDJANGO_DEBUG=false\n")
    result = run(["manage.py", "check"], {"DJANGO_ENV_FILE": str(env_file), "ROULETTE_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_check_deploy_passes_with_production_variables(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SECURE_SSL_REDIRECT": "true",
            "DJANGO_ALLOWED_HOSTS": "roulette.example.com",
            "PUBLIC_BASE_URL": "https://roulette.example.com",
            "ROULETTE_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


WRITER = textwrap.dedent(
    """
    import os, sys, django
    django.setup()
    from django.db import transaction
    from teams.models import Team
    from teams.services import team_create
    name = sys.argv[1]
    for i in range(60):
        with transaction.atomic():
            # Read then write in one transaction: the pattern that deadlocks without IMMEDIATE.
            Team.objects.filter(slug__startswith=name).count()
            team_create(slug=f"{name}-{i}", name=f"{name} {i}", timezone="UTC")
    print("ok")
    """
)


def test_sqlite_takes_concurrent_writers_without_database_is_locked(tmp_path):
    """Web, worker and beat write at the same time on SQLite: WAL, busy timeout, immediate transactions."""
    env = {
        "DJANGO_DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "roulette.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'concurrent.sqlite3'}",
        "ROULETTE_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    migrated = run(["manage.py", "migrate", "--no-input", "-v0"], env, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    full_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), f"w{n}"],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [w.communicate(timeout=300) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert "database is locked" not in err
    count = run(
        ["-c", "import django; django.setup(); from teams.models import Team; print(Team.objects.count())"], env
    )
    assert count.stdout.strip() == "180"


@pytest.mark.skipif(not Path("/usr/bin/docker-compose").exists(), reason="docker-compose is not installed here")
def test_compose_file_validates():
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_unknown_api_urls_answer_json_404(client):
    response = client.get("/api/v1/teams/web/alerts/-1/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/no-such-page/").status_code == 404


SHOW_TOKENS = (
    "from django.conf import settings; print(repr((settings.TWILIO_AUTH_TOKEN, settings.TWILIO_AUTH_TOKEN_SECONDARY)))"
)


def test_tokens_are_stripped_and_a_blank_one_is_unset(tmp_path):
    result = run(
        ["manage.py", "shell", "-c", SHOW_TOKENS],
        {
            "DJANGO_SECRET_KEY": "  " + secrets.token_urlsafe(50) + "\n",
            "TWILIO_AUTH_TOKEN": "  the-token\n",
            "TWILIO_AUTH_TOKEN_SECONDARY": " ",
            "ROULETTE_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "('the-token', '')"


def test_a_blank_secret_key_stops_start_up_like_a_missing_one():
    result = run(["manage.py", "check"], {"DJANGO_SECRET_KEY": "   "})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_start_up_warns_when_no_auth_token_is_left(tmp_path):
    env = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "ROULETTE_VAR_DIR": str(tmp_path)}
    blank = run(["manage.py", "check"], {**env, "TWILIO_AUTH_TOKEN": "  ", "TWILIO_AUTH_TOKEN_SECONDARY": " "})
    assert blank.returncode == 0, blank.stderr
    assert "TWILIO_AUTH_TOKEN is not set (or blank)" in blank.stderr
    set_ = run(["manage.py", "check"], {**env, "TWILIO_AUTH_TOKEN": "a-token"})
    assert "TWILIO_AUTH_TOKEN is not set" not in set_.stderr
