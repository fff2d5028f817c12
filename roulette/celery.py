"""The Celery app. Tasks live in each app's `tasks` module (teams/tasks.py) or package (telephony/tasks/);
the beat schedule is in telephony/beat.py; requests publish through telephony/queue.py.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roulette.settings")

app = Celery("roulette")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
