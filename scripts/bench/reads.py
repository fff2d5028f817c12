"""Time the rota reads at the input limits (README, "Limits"): oncall/ and schedule/ at maximum sizes.

Builds a throwaway test database (SQLite, or the server named by DATABASE_URL: a `test_` database is created
there and dropped afterwards), fills one team to the limits through the services, then times the API:

    DJANGO_SECRET_KEY=x python scripts/bench/reads.py
    DJANGO_SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/roulette_bench python scripts/bench/reads.py

Prints, per request, the best of five wall times and the number of SQL queries.
"""

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roulette.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def main() -> None:
    from rest_framework.test import APIClient

    from teams import services
    from teams.api_base import MAX_WINDOW
    from teams.limits import MAX_ALLOWED_CALLERS, MAX_ROTATION_MEMBERS, MAX_SEGMENTS_PER_ROLE
    from teams.models import Member, TeamMembership
    from teams.services import token_create
    from tests.factories import UserFactory

    settings.ALLOWED_HOSTS = ["*"]
    team = services.team_create(
        slug="big",
        name="Big",
        timezone="Europe/Berlin",
        allowed_callers=[f"+4915{i:09d}" for i in range(MAX_ALLOWED_CALLERS)],
    )
    members = Member.objects.bulk_create(
        Member(name=f"P{i}", phone=f"+4917{i:09d}") for i in range(MAX_ROTATION_MEMBERS)
    )
    TeamMembership.objects.bulk_create(TeamMembership(team=team, member=m) for m in members)
    ids = [m.pk for m in members]
    start = dt.datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(days=30)
    # Default: the shortest shift whose year of hand-offs fits the segment limit in one schedule/ request.
    # BENCH_SHIFT_MINUTES=15 shows oncall/ with the shortest shift a rotation may have (schedule/ then
    # answers 400 for a year: pass the window in smaller pieces).
    shortest = dt.timedelta(minutes=int(os.environ.get("BENCH_SHIFT_MINUTES", "120")))
    for role in ("primary", "secondary"):
        services.rotation_create(
            team=team, name=role, role=role, member_ids=ids, start_local=start, shift_length=shortest
        )
    user = UserFactory(username="bench", is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[0]}")
    now = dt.datetime.now(dt.UTC)
    year_end = (now + MAX_WINDOW).isoformat()
    requests = {
        "oncall/": "/api/v1/teams/big/oncall/",
        "oncall/ a year ahead": f"/api/v1/teams/big/oncall/?at={(now + dt.timedelta(days=365)).isoformat()}",
        "schedule/ 366 days": f"/api/v1/teams/big/schedule/?start={now.isoformat()}&end={year_end}",
        "gaps/ 366 days": f"/api/v1/teams/big/gaps/?start={now.isoformat()}&end={year_end}",
        "oncall/ (all teams)": "/api/v1/oncall/",
    }
    print(
        f"limits: {MAX_ROTATION_MEMBERS} rotation members, {MAX_ALLOWED_CALLERS} allowed callers, "
        f"{MAX_SEGMENTS_PER_ROLE} segments per role; shift length {shortest}"
    )
    for name, path in requests.items():
        best = float("inf")
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(path.replace("+00:00", "Z"))
                best = min(best, time.perf_counter() - started)
        if response.status_code != 200:
            print(f"{name:24} {response.status_code}: {response.json()['error']['message']}")
            continue
        body = response.json()
        segments = sum(len(body.get(role, [])) for role in ("primary", "secondary")) if "sched" in name else ""
        print(f"{name:24} {best * 1000:8.1f} ms  {len(queries):3d} queries  {segments}")


if __name__ == "__main__":
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        main()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
