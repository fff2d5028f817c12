"""The security tests: the "Security" and "Access is scoped" bars of PRODUCT.md, tested the way an attacker tries.

- every Twilio webhook (the five public ones and the app's own URLs reached through TwiML) answers an unsigned,
  tampered or wrongly signed POST with 403 and writes nothing, whatever DEBUG says; only an explicit
  TWILIO_VALIDATE_SIGNATURES=false switches the check off (test_webhook_signatures.py);
- CSRF is exempt only on the webhooks, and on DRF views, which enforce CSRF for session logins themselves
  (test_csrf.py);
- a lead of team A sees nothing of team B through any API endpoint or filter the schema declares, nor in the
  admin; a spoofed SMS `From` gets no more than ACK/RESOLVE for that member's own teams (test_scoping.py);
- alerts-only tokens do nothing else, revoked tokens fail, calendar tokens are compared in constant time
  (test_tokens.py); secrets never reach the logs (test_secrets_in_logs.py);
- production settings: secure cookies, `check --deploy` clean with .env.example's own values
  (test_deploy_settings.py).
"""

from __future__ import annotations

import pytest
import time_machine

from tests.security.world import AUTH_TOKEN, NOW, World, build_side


@pytest.fixture(autouse=True)
def _clean_throttle_and_token(settings, _fresh_throttle):
    """A known Twilio Auth Token, to sign with and to look for in logs; a fresh rate limit."""
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN


@pytest.fixture
def world(db):
    """Teams alpha and bravo, each complete (tests.security.world.build_side), with the clock at NOW."""
    with time_machine.travel(NOW, tick=False):
        yield World(alpha=build_side("alpha", "Alpha", "1111"), bravo=build_side("bravo", "Bravo", "9999"))
