"""Inbound SMS commands: opt-outs, and a few commands for members (WHO, HELP, ACK, RESOLVE, TAKE, APPROVE,
DECLINE).

`From` identifies, it does not authenticate (it can be spoofed): nothing here is privileged on its word
alone beyond what telephony.alerts allows for ACK / RESOLVE (members of the alert's team only).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata

from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from teams import rota, selectors, services
from teams.models import Member, Team
from telephony.alerts import alert_sms_command
from telephony.notifications import role_name
from telephony.swaps import SWAP_COMMAND, swap_sms_command

logger = logging.getLogger(__name__)

# Twilio handles these itself and still forwards them: we only record them, and never reply.
# https://help.twilio.com/articles/223134027
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
ALERT_COMMAND = re.compile(r"^(ACK|RESOLVE)\s+#?(\d+)$")

HELP_TEXT = gettext_lazy(
    "Support Roulette: WHO = who is on call now. ACK <id> / RESOLVE <id> = acknowledge or resolve an alert. "
    "TAKE <id> = cover a shift swap; leads: APPROVE <id> / DECLINE <id>. STOP = no more texts, START = texts again."
)


def _keyword(body: str) -> str:
    """Upper-case, trimmed, without trailing punctuation: 'stop.' and ' Stop ' are STOP, as for Twilio."""
    return " ".join(body.strip().rstrip(".!").upper().split())


def _command(keyword: str) -> str:
    """A member's command as typed on a phone: invisible characters some keyboards and pastes add (zero-width
    spaces, direction marks) dropped, and a trailing question mark too ('Who?' is WHO)."""
    visible = "".join(char for char in keyword if unicodedata.category(char) != "Cf")
    return " ".join(visible.rstrip("?!. ").split())


def _local(instant: dt.datetime | None, tz) -> str:
    return rota.format_local(instant, tz, year=False) if instant else gettext("further notice")


def who_is_on_call(*, teams: list[Team], at: dt.datetime) -> str:
    """One line per team of the member (`teams`, by name): primary and secondary now, until when (team time
    zone)."""
    if not teams:
        return gettext("You are not in any team.")
    oncall = selectors.oncall_with_next(team_ids=[team.pk for team in teams], at=at)
    lines = []
    for team in teams:
        parts = []
        for role in selectors.ROLES:
            current = oncall[team.pk][role].current
            names = {"role": role_name(role)}
            if current.member is None:
                parts.append(gettext("%(role)s nobody") % names)
            else:
                parts.append(
                    gettext("%(role)s %(name)s until %(until)s")
                    % {**names, "name": current.member.name, "until": _local(current.end, team.tz)}
                )
        lines.append(f"{team.name}: " + ", ".join(parts))
    return "\n".join(lines)


def sms_command(*, from_number: str, body: str, to_number: str = "", at: dt.datetime | None = None) -> str | None:
    """Handle one inbound SMS; the reply text, or None for no reply."""
    at = at or timezone.now()
    keyword = _keyword(body)
    if keyword in OPT_OUT_WORDS:
        # Keep the first opt-out time; a second STOP changes nothing.
        services.member_opt_out(phone=from_number, at=at)
        return None
    if keyword in OPT_IN_WORDS:
        services.member_opt_in(phone=from_number)
        return None
    # The member, their teams by name, and the team whose number they texted: one query.
    member, teams, texted = selectors.member_with_teams_by_phone(phone=from_number, texted=to_number)
    if member is None:
        return None
    # The reply is in the member's language, else that of the team whose number they texted (a reply to its
    # offer or alert), else their first team's.
    with translation.override(member.language_for(texted or (teams[0] if teams else None))):
        return _member_command(member=member, teams=teams, keyword=_command(keyword), at=at)


def _member_command(*, member: Member, teams: list[Team], keyword: str, at: dt.datetime) -> str:
    if keyword == "WHO":
        return who_is_on_call(teams=teams, at=at)
    match = ALERT_COMMAND.match(keyword)
    if match:
        return alert_sms_command(member=member, action=match.group(1).lower(), alert_id=int(match.group(2)))
    match = SWAP_COMMAND.match(keyword)
    if match:
        return swap_sms_command(member=member, action=match.group(1), swap_id=int(match.group(2)))
    return str(HELP_TEXT)
