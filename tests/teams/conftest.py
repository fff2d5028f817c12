"""Fixtures of the teams tests; plain helpers (build_world, make_rotation, utc) are in tests/teams/world.py."""

import pytest
import time_machine

from tests.teams.world import WORLD_NOW, build_world


@pytest.fixture
def world(db):
    """The API's world of teams alpha and bravo (tests.teams.world.build_world), with the clock at WORLD_NOW."""
    with time_machine.travel(WORLD_NOW, tick=False):
        yield build_world()
