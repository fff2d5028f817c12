"""What a team's line does with a caller (Version 2's call flow), decided in Python from rows already read.

telephony.calls reads and writes; these functions only decide, so every path keeps the incoming call's
query budget whatever the number of teams, members, menus and holidays:

- a blocked caller is rejected before the call is answered;
- a number with a menu asks the caller to choose a team (a VIP skips it);
- during the team's business hours its desk phones ring at once (a VIP skips them);
- then the on-call chain: primary and secondary one after the other (`sequential`) or at once
  (`simultaneous`, and always for a VIP), then the fallback phone, then voicemail.

Every phone of a ring is checked like a single one: never one already tried in this call, never one of our
own numbers (a loop back into the incoming webhook), never the caller's own phone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from teams.models import Member, RingStrategy, Team
from telephony.models import DialAttempt

# Twilio rings at most ten <Number>s of one <Dial> at once.
MAX_AT_ONCE = 10
# The keys of a menu: 1-9 pick a team; no key, 0 (or any other) is the number's own team.
MENU_DIGITS = "123456789"


@dataclass(frozen=True)
class Candidate:
    target: str
    member: Member | None
    phone: str


def caller_is_blocked(team: Team, caller: str) -> bool:
    return bool(caller) and caller in (team.blocked_callers or ())


def caller_refused(team: Team, caller: str) -> str:
    """Why `team` takes no call from `caller`: "blocked" (its blocked_callers), "refused" (not in its
    allowed_callers), or "" when it takes the call. The Call's outcome names the same values."""
    if caller_is_blocked(team, caller):
        return "blocked"
    if team.allowed_callers and caller not in team.allowed_callers:
        return "refused"
    return ""


def caller_is_vip(team: Team, caller: str) -> bool:
    return bool(caller) and caller in (team.vip_callers or ())


def rings_at_once(team: Team, caller: str) -> bool:
    """Primary and secondary together: the team's simultaneous strategy, or a VIP caller."""
    return team.ring_strategy == RingStrategy.SIMULTANEOUS or caller_is_vip(team, caller)


def _available(candidates: Iterable[Candidate], *, tried: Sequence[DialAttempt], skip: set[str]) -> list[Candidate]:
    tried_phones = {attempt.phone for attempt in tried}
    tried_members = {attempt.member_id for attempt in tried if attempt.member_id}
    available, phones = [], set()
    for candidate in candidates:
        if not candidate.phone or candidate.phone in skip or candidate.phone in tried_phones:
            continue
        if candidate.phone in phones:  # one person in two roles, or a desk phone listed as the fallback
            continue
        if candidate.member is not None and candidate.member.pk in tried_members:
            continue
        available.append(candidate)
        phones.add(candidate.phone)
    return available


def desk_ring(team: Team, *, caller: str, at: dt.datetime, skip: set[str]) -> list[Candidate]:
    """The desk phones, rung at once, during business hours (not for a VIP); else nobody."""
    if not team.desk_phones or caller_is_vip(team, caller) or not team.is_within_business_hours(at):
        return []
    desk = (Candidate(DialAttempt.Target.DESK, None, phone) for phone in team.desk_phones)
    return _available(desk, tried=(), skip=skip)[:MAX_AT_ONCE]


def next_ring(
    chain: Sequence[Candidate], *, tried: Sequence[DialAttempt], skip: set[str], at_once: bool
) -> list[Candidate]:
    """Who rings next in the on-call chain: one phone, or primary and secondary together when `at_once`."""
    available = _available(chain, tried=tried, skip=skip)
    if not available:
        return []
    people = (DialAttempt.Target.PRIMARY, DialAttempt.Target.SECONDARY)
    if at_once and available[0].target in people:
        return [candidate for candidate in available if candidate.target in people]
    return available[:1]


# --- Menus ---------------------------------------------------------------------------------------------


def menu_choices(menu, teams: Iterable[Team], *, caller: str = "") -> list[tuple[str, Team]]:
    """The menu's (digit, team) pairs in digit order; entries naming a team that no longer exists are left
    out (a renamed or deleted team must not break the line), and so are teams that take no call from
    `caller` (blocked, or not in their allowed callers): a key must not get round a team's caller lists.
    A menu stored around its validation (not a list of {"digit", "team"} objects) offers what it can."""
    by_slug = {team.slug: team for team in teams if not caller_refused(team, caller)}
    entries = menu if isinstance(menu, list) else []
    choices = [(entry["digit"], by_slug[entry["team"]]) for entry in entries if _is_entry(entry, by_slug)]
    return sorted(choices, key=lambda choice: choice[0])


def _is_entry(entry, by_slug: dict[str, Team]) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("team"), str):
        return False
    digit = entry.get("digit")
    return isinstance(digit, str) and len(digit) == 1 and digit in MENU_DIGITS and entry["team"] in by_slug


def menu_route_encode(choices: Sequence[tuple[str, Team]]) -> str:
    """The digit → team map the menu's Gather action carries ("1-12.2-14"): the key press is then routed
    without reading the menu again. Twilio signs the URL, so it cannot be changed on the way."""
    return ".".join(f"{digit}-{team.pk}" for digit, team in choices)


def menu_route_decode(text: str) -> dict[str, int]:
    route = {}
    for item in (text or "").split("."):
        digit, _, team_id = item.partition("-")
        if digit in MENU_DIGITS and len(digit) == 1 and team_id.isdigit():
            route[digit] = int(team_id)
    return route


def menu_team_id(*, route: dict[str, int], digits: str, own_team_id: int) -> tuple[int, str]:
    """The team a key press routes to (the number's own for no key, 0 or a key not in the menu), and the key
    to log ("" for none)."""
    digit = digits if digits and len(digits) == 1 and digits in "0123456789" else ""
    return route.get(digit, own_team_id), digit
