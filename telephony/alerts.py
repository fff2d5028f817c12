"""Monitoring alerts: raise, fold, page, escalate, acknowledge, resolve. Built by the alerts issue."""
from teams.models import Member


def alert_sms_command(*, member: Member, action: str, alert_id: int) -> str:
    """Handle `ACK <id>` / `RESOLVE <id>` texted by a member; returns the reply text."""
    raise NotImplementedError
