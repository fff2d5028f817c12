"""The project's settings with the bench's URLs: the project's own plus the bare baseline view."""

from roulette.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
