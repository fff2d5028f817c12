#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from pathlib import Path

import environ

ENV_FILE = Path(__file__).resolve().parent / ".env"


def read_env_file() -> None:
    """Read `.env` beside this file when there is one (`make run` writes it with a generated secret key and
    DEBUG on; or copy .env.example): `manage.py` then works outside `make run`. The environment wins over the
    file. DJANGO_ENV_FILE names another file; empty reads none. Only manage.py reads it: tests and production
    processes (gunicorn, Celery) take the environment alone."""
    path = os.environ.get("DJANGO_ENV_FILE", str(ENV_FILE))
    if path and os.path.isfile(path):
        environ.Env.read_env(path)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roulette.settings")
    read_env_file()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
