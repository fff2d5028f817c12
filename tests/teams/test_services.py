"""Writes to the rota: validation, generation and regeneration (and their query budget), races."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from teams import selectors, services
from teams.errors import RotaError
from teams.models import Override, Role, Rotation, Shift, SupportNumber, Team
from tests.factories import MemberFactory, MembershipFactory, SupportNumberFactory, TeamFactory, team_with_members
from tests.teams.world import ROTA_NOW as NOW
from tests.teams.world import make_rotation, utc

pytestmark = pytest.mark.django_db
UTC = dt.UTC
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("phone", ["12345", "+1 415 555 0100", "0151 12345678", "+999123", ""])
def test_invalid_phone_numbers_are_refused_and_nothing_saved(phone):
    team = TeamFactory()
    with pytest.raises(ValidationError) as error:
        services.member_create(team=team, name="X", phone=phone)
    assert "phone" in error.value.message_dict
    assert not team.members.exists()


def test_unknown_timezone_is_refused():
    with pytest.raises(ValidationError) as error:
        services.team_create(slug="x", name="X", timezone="Mars/Olympus_Mons")
    assert "timezone" in error.value.message_dict
    assert not Team.objects.filter(slug="x").exists()


def test_override_end_not_after_start_and_overlaps_are_refused():
    team, (ana, bruno, _) = team_with_members(3)
    start = utc(2026, 12, 4, 8)
    with pytest.raises(ValidationError, match="end must be after"):
        services.override_create(team=team, role=Role.PRIMARY, member=ana, start=start, end=start)
    services.override_create(team=team, role=Role.PRIMARY, member=ana, start=start, end=start + dt.timedelta(hours=8))
    with pytest.raises(ValidationError, match="overlaps"):
        services.override_create(
            team=team,
            role=Role.PRIMARY,
            member=bruno,
            start=start + dt.timedelta(hours=7),
            end=start + dt.timedelta(days=1),
        )
    # Another role may overlap, and back-to-back is fine.
    services.override_create(
        team=team, role=Role.SECONDARY, member=bruno, start=start, end=start + dt.timedelta(hours=8)
    )
    services.override_create(
        team=team,
        role=Role.PRIMARY,
        member=bruno,
        start=start + dt.timedelta(hours=8),
        end=start + dt.timedelta(hours=9),
    )
    assert Override.objects.filter(team=team).count() == 3


def test_override_by_someone_outside_the_team_is_refused():
    team, _ = team_with_members(1)
    stranger = MemberFactory()
    with pytest.raises(ValidationError, match="not a member"):
        services.override_create(
            team=team, role=Role.PRIMARY, member=stranger, start=NOW, end=NOW + dt.timedelta(hours=1)
        )


def test_overlapping_shifts_are_refused():
    team, (ana, bruno, _) = team_with_members(3)
    services.shift_create(team=team, role=Role.PRIMARY, member=ana, start=utc(2027, 1, 1), end=utc(2027, 1, 2))
    with pytest.raises(ValidationError, match="overlaps"):
        services.shift_create(
            team=team, role=Role.PRIMARY, member=bruno, start=utc(2027, 1, 1, 12), end=utc(2027, 1, 3)
        )


def test_rotation_needs_members_of_the_team():
    team, _ = team_with_members(2)
    with pytest.raises(RotaError, match="at least one member"):
        services.rotation_create(
            team=team,
            name="P",
            role=Role.PRIMARY,
            member_ids=[],
            start_local=dt.datetime(2026, 11, 30, 9),
            shift_length=dt.timedelta(days=7),
        )
    stranger = MemberFactory()
    with pytest.raises(RotaError, match="Not members"):
        services.rotation_create(
            team=team,
            name="P",
            role=Role.PRIMARY,
            member_ids=[stranger.pk],
            start_local=dt.datetime(2026, 11, 30, 9),
            shift_length=dt.timedelta(days=7),
        )
    assert not Rotation.objects.exists() and not Shift.objects.exists()


def test_support_number_is_unique_across_teams_and_not_a_members_phone():
    number = SupportNumberFactory()
    other = TeamFactory()
    with pytest.raises(ValidationError):
        services.support_number_create(team=other, phone_number=number.phone_number)
    member = MemberFactory()
    with pytest.raises(ValidationError, match="member's own phone"):
        services.support_number_create(team=other, phone_number=member.phone)
    with pytest.raises(ValidationError, match="support numbers"):
        services.member_create(team=other, name="Loop", phone=number.phone_number)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportNumber.objects.create(team=other, phone_number=number.phone_number)


def test_generation_is_idempotent_and_covers_the_horizon(settings):
    settings.SHIFT_HORIZON_WEEKS = 12
    team, members = team_with_members(3, timezone="America/Sao_Paulo")
    rotation = make_rotation(team, members)
    first = list(Shift.objects.values_list("start", "end", "member_id"))
    assert len(first) == 12
    assert max(end for _, end, _ in first) >= NOW + dt.timedelta(weeks=12)
    counts = services.shifts_generate(rotations=[rotation], now=NOW)
    assert counts == {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    assert list(Shift.objects.values_list("start", "end", "member_id")) == first


def test_editing_a_rotation_regenerates_only_future_unedited_shifts():
    team, (ana, bruno, carla) = team_with_members(3, timezone="Europe/Berlin")
    rotation = make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 11, 2, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    edited = Shift.objects.filter(start__gt=NOW).order_by("start")[1]
    services.shift_update(shift=edited, member=carla)
    later = NOW + dt.timedelta(days=1)
    services.rotation_update(rotation=rotation, member_ids=[bruno.pk], now=later)
    current.refresh_from_db()
    edited.refresh_from_db()
    assert (current.member, current.is_edited) == (Shift.objects.get(pk=current.pk).member, False)
    assert edited.member == carla  # hand-edited: kept
    future = Shift.objects.filter(start__gt=later).exclude(pk=edited.pk)
    assert future.exists() and set(future.values_list("member_id", flat=True)) == {bruno.pk}
    # Still contiguous and non-overlapping.
    rows = list(Shift.objects.order_by("start").values_list("start", "end"))
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(rows, rows[1:], strict=False))


def test_changing_the_hand_off_time_keeps_the_shift_in_progress():
    team, members = team_with_members(2, timezone="Europe/Berlin")
    rotation = make_rotation(team, members, start_local=dt.datetime(2026, 11, 2, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    before = (current.start, current.end, current.member_id)
    services.rotation_update(rotation=rotation, start_local=dt.datetime(2026, 11, 2, 15), now=NOW)
    current.refresh_from_db()
    assert (current.start, current.end, current.member_id) == before
    nxt = Shift.objects.filter(start__gte=current.end).order_by("start")
    assert nxt[0].start == current.end  # trimmed to begin where the kept shift ends
    assert nxt[1].start.astimezone(team.tz).hour == 15


def _generation_queries(n_teams, django_assert_max_num_queries, captured):
    teams = TeamFactory.create_batch(n_teams)
    rotations = []
    for team in teams:
        member = MemberFactory()
        MembershipFactory(team=team, member=member)
        rotations.append(
            Rotation.objects.create(
                team=team,
                name="P",
                role=Role.PRIMARY,
                start_date=dt.date(2026, 11, 30),
                start_time=dt.time(9),
                shift_length=dt.timedelta(days=1),
            )
        )
        rotations[-1].participants.create(member=member, position=0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        counts = services.shifts_generate(
            rotations=Rotation.objects.filter(pk__in=[r.pk for r in rotations]).select_related("team"), now=NOW
        )
    captured.append(len(ctx.captured_queries))
    return counts


def test_generating_12_weeks_for_many_teams_uses_bulk_writes(django_assert_max_num_queries, settings):
    settings.SHIFT_HORIZON_WEEKS = 12
    captured = []
    small = _generation_queries(50, django_assert_max_num_queries, captured)
    Shift.objects.all().delete()
    Rotation.objects.all().delete()
    large = _generation_queries(500, django_assert_max_num_queries, captured)
    # Daily shifts from Mon 30 Nov 09:00 to the 12-week horizon (Thu 18 Feb): 81 per team.
    assert small["created"] == 50 * 81 and large["created"] == 500 * 81
    # Bulk inserts: at least 100 shifts per query (SQLite caps a batch near 140 rows, PostgreSQL takes 500),
    # whatever the number of teams; never a query per shift or per rotation.
    assert captured[0] <= 10 + small["created"] // 100
    assert captured[1] <= 10 + large["created"] // 100
    assert Shift.objects.count() == 500 * 81


@time_machine.travel(NOW, tick=False)
def test_oncall_command_prints_local_times(capsys):
    from django.core.management import call_command

    team, members = team_with_members(2, timezone="America/Sao_Paulo", slug="web", name="Web")
    make_rotation(team, members, start_local=dt.datetime(2026, 11, 23, 9))
    call_command("oncall", "web")
    out = capsys.readouterr().out
    assert "primary: Person" in out and "until Mon 30 Nov 09:00" in out
    call_command("oncall", "web", "--at", "2026-12-01T10:00")
    assert "Tue 1 Dec 2026 10:00 -03 (America/Sao_Paulo)" in capsys.readouterr().out


def test_seed_demo_is_idempotent():
    from django.core.management import call_command

    call_command("seed_demo")
    counts = (Team.objects.count(), Shift.objects.count(), Rotation.objects.count(), SupportNumber.objects.count())
    call_command("seed_demo")
    assert counts == (
        Team.objects.count(),
        Shift.objects.count(),
        Rotation.objects.count(),
        SupportNumber.objects.count(),
    )
    assert counts[0] == 3 and counts[2] == 6
    assert {t.timezone for t in Team.objects.all()} == {"America/Sao_Paulo", "Europe/Berlin", "America/New_York"}


# --- Changing a team's time zone -------------------------------------------------------------------------
# Weekly Berlin rotation of Ana and Bruno, hand-offs Monday 09:00 from 30 Nov 2026 (08:00 UTC in winter).
BERLIN_START = dt.datetime(2026, 11, 30, 9)
OLD_FIRST_END = utc(2026, 12, 7, 8)  # Ana was told: "until Mon 7 Dec 09:00 (Europe/Berlin)"


def _zone_change_world(now, new_zone, shift_length=dt.timedelta(days=7)):
    team, (ana, bruno) = team_with_members(2, timezone="Europe/Berlin")
    services.rotation_create(
        team=team,
        name="Primary",
        role=Role.PRIMARY,
        member_ids=[ana.pk, bruno.pk],
        start_local=BERLIN_START,
        shift_length=shift_length,
        now=now,
    )
    before = list(Shift.objects.filter(team=team).order_by("start").values_list("start", "end", "member_id"))
    services.team_update(team=team, timezone=new_zone, now=now)
    after = list(Shift.objects.filter(team=team).order_by("start").values_list("start", "end", "member_id"))
    return team, ana, bruno, before, after


def _stretches(rows):
    """Back-to-back rows of one person read as one stretch, as the people on call see them."""
    merged = []
    for start, end, member_id in rows:
        if merged and merged[-1][1] == start and merged[-1][2] == member_id:
            merged[-1] = (merged[-1][0], end, member_id)
        else:
            merged.append((start, end, member_id))
    return merged


def _assert_covered_and_alternating(rows, now):
    assert rows[0][0] <= now
    assert all(a_end == b_start for (_, a_end, _), (b_start, _, _) in zip(rows, rows[1:], strict=False)), rows
    stretches = _stretches(rows)
    assert all(a[2] != b[2] for a, b in zip(stretches, stretches[1:], strict=False)), stretches
    assert rows[-1][1] >= now + dt.timedelta(weeks=11)
    return stretches


@pytest.mark.parametrize("new_zone", ["Pacific/Chatham", "America/Los_Angeles", "Asia/Kathmandu"])
def test_a_time_zone_change_before_the_first_shift_moves_every_hand_off_to_the_new_wall_time(new_zone):
    now = utc(2026, 11, 20, 12)
    with time_machine.travel(now, tick=False):
        team, ana, bruno, _, after = _zone_change_world(now, new_zone)
    zone = ZoneInfo(new_zone)
    assert after[0][2] == ana.pk
    assert after[0][0] == dt.datetime(2026, 11, 30, 9, tzinfo=zone)
    assert {(start.astimezone(zone).weekday(), start.astimezone(zone).time()) for start, _, _ in after} == {
        (0, dt.time(9))
    }
    assert _assert_covered_and_alternating(after, after[0][0])


@pytest.mark.parametrize("new_zone", ["Pacific/Chatham", "America/Los_Angeles", "Asia/Kathmandu"])
def test_a_time_zone_change_mid_shift_keeps_the_told_end_then_the_next_person_takes_over(new_zone):
    """Ana keeps exactly the end she was told; Bruno takes over then, whichever way the zone moved, and
    hands over at the first Monday 09:00 of the new zone; every later hand-off is Monday 09:00 there."""
    now = utc(2026, 12, 2, 12)
    with time_machine.travel(now, tick=False):
        team, ana, bruno, before, after = _zone_change_world(now, new_zone)
        assert after[0] == before[0] == (utc(2026, 11, 30, 8), OLD_FIRST_END, ana.pk)
        stretches = _assert_covered_and_alternating(after, now)
        zone = ZoneInfo(new_zone)
        bruno_first = stretches[1]
        assert bruno_first[:1] == (OLD_FIRST_END,) and bruno_first[2] == bruno.pk
        assert (bruno_first[1].astimezone(zone).weekday(), bruno_first[1].astimezone(zone).time()) == (0, dt.time(9))
        assert {(s.astimezone(zone).weekday(), s.astimezone(zone).time()) for s, _, _ in stretches[2:]} == {
            (0, dt.time(9))
        }
        # Who is on call agrees with the rows, on both sides of the kept end.
        at = selectors.oncall_at(team=team, at=OLD_FIRST_END - dt.timedelta(minutes=1))[Role.PRIMARY]
        assert at.member == ana
        at = selectors.oncall_at(team=team, at=OLD_FIRST_END)[Role.PRIMARY]
        assert at.member == bruno
        # The hourly generation that follows changes nothing.
        later = now + dt.timedelta(hours=1)
        with time_machine.travel(later, tick=False):
            services.shifts_generate(now=later)
        again = list(Shift.objects.filter(team=team).order_by("start").values_list("start", "end", "member_id"))
        assert again == after


def test_a_time_zone_change_mid_shift_with_daily_shifts_leaves_nobody_doubled_or_uncovered():
    now = utc(2026, 12, 2, 12)  # Wednesday: the Tuesday-09:00 Berlin shift is in progress
    with time_machine.travel(now, tick=False):
        team, ana, bruno, before, after = _zone_change_world(now, "America/New_York", dt.timedelta(days=1))
    current = next(row for row in before if row[0] <= now < row[1])
    assert current in after
    stretches = _assert_covered_and_alternating(after, now)
    following = next(s for s in stretches if s[0] == current[1])
    assert following[2] != current[2]
    zone = ZoneInfo("America/New_York")
    assert {s.astimezone(zone).time() for s, _, _ in stretches if s > following[0]} == {dt.time(9)}


def test_a_new_team_takes_its_hourly_page_cap_from_alert_pages_per_hour(settings):
    settings.ALERT_PAGES_PER_HOUR = 7
    assert services.team_create(slug="capped", name="Capped", timezone="UTC").alert_pages_per_hour == 7


@pytest.mark.parametrize(("scope", "field"), [("alerts", "team"), ("full", "user"), ("root", "scope")])
def test_a_token_without_its_owner_is_refused_naming_the_field(scope, field):
    with pytest.raises(RotaError) as error:
        services.token_create(scope=scope)
    assert error.value.field == field


# --- Regeneration after edits, moves and deletions, in odd zones --------------------------------------------


WEEK = dt.timedelta(days=7)


def assert_no_overlap(team, role=Role.PRIMARY):
    rows = list(Shift.objects.filter(team=team, role=role).order_by("start").values_list("start", "end"))
    for (_, a_end), (b_start, _) in zip(rows, rows[1:], strict=False):
        assert a_end <= b_start, rows
    return rows


def test_moving_a_rotation_to_the_other_role_moves_its_future_shifts():
    team, (ana, bruno) = team_with_members(2, timezone="America/St_Johns")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    later = NOW + dt.timedelta(hours=2)
    services.rotation_update(rotation=rotation, role=Role.SECONDARY, now=later)
    # The shift in progress stays primary history; no future primary shift of the old pattern is left.
    current.refresh_from_db()
    assert current.role == Role.PRIMARY and current.end > later
    assert not Shift.objects.filter(role=Role.PRIMARY, start__gt=later).exists()
    secondary = assert_no_overlap(team, Role.SECONDARY)
    assert secondary and secondary[0][0] <= later < secondary[0][1]
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(secondary, secondary[1:], strict=False))
    assert selectors.oncall_at(team=team, at=later + WEEK)[Role.SECONDARY].member is not None
    assert services.shifts_generate(rotations=[rotation], now=later)["created"] == 0
    # A new primary rotation starts after the primary shift still in progress, without overlapping it.
    make_rotation(team, [bruno], name="New primary", start_local=dt.datetime(2026, 11, 2, 12), now=later)
    primary = assert_no_overlap(team, Role.PRIMARY)
    assert primary[0] == (current.start, current.end) and primary[1][0] == current.end


def test_a_new_rotation_does_not_overlap_a_hand_made_shift_that_just_ended():
    team, (ana, bruno) = team_with_members(2, timezone="Asia/Kathmandu")
    # Ana covered by hand from 00:00 until 08:00 this morning (Kathmandu); the daily rotation starts at 00:00.
    services.shift_create(
        team=team, role=Role.PRIMARY, member=ana, start=utc(2026, 11, 25, 18, 15), end=utc(2026, 11, 26, 2, 15)
    )
    make_rotation(team, [bruno, ana], start_local=dt.datetime(2026, 11, 1, 0), shift_length=DAY)
    rows = assert_no_overlap(team)
    # Today's shift in progress starts where the hand-made one ended: the past is not rewritten.
    assert (utc(2026, 11, 26, 2, 15), utc(2026, 11, 26, 18, 15)) in rows


def test_editing_a_rotation_twice_mid_shift_then_regenerating_keeps_the_past_and_edits():
    team, (ana, bruno, carla) = team_with_members(3, timezone="Europe/Dublin")
    rotation = make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 10, 19, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    before = (current.start, current.end, current.member_id)
    edited = Shift.objects.filter(start__gt=NOW).order_by("start")[2]
    services.shift_update(shift=edited, member=ana)
    t1, t2 = NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    services.rotation_update(
        rotation=rotation, member_ids=[carla.pk], start_local=dt.datetime(2026, 10, 20, 14), now=t1
    )
    services.rotation_update(rotation=rotation, shift_length=dt.timedelta(days=1, hours=12), now=t2)
    services.shifts_generate(rotations=[rotation], now=t2)
    current.refresh_from_db()
    edited.refresh_from_db()
    assert (current.start, current.end, current.member_id) == before
    assert edited.member == ana and edited.is_edited
    rows = assert_no_overlap(team)
    horizon = t2 + dt.timedelta(weeks=12)
    covered = [(s, e) for s, e in rows if e > NOW and s < horizon]
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(covered, covered[1:], strict=False))
    assert services.shifts_generate(rotations=[rotation], now=t2) == {
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "failed": 0,
    }


def test_deleting_and_re_adding_a_rotation_leaves_no_overlap():
    team, (ana, bruno) = team_with_members(2, timezone="America/Santiago")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    services.rotation_delete(rotation=rotation, now=NOW)
    make_rotation(team, [bruno, ana], start_local=dt.datetime(2026, 11, 3, 21), shift_length=dt.timedelta(hours=12))
    rows = assert_no_overlap(team)
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(rows, rows[1:], strict=False))


# --- Validation: zone names, clash messages, the end of time ------------------------------------------------


@pytest.mark.parametrize("name", ["right/UTC", "posix/Europe/Berlin", "localtime", "posixrules", "Factory"])
def test_zone_files_that_are_not_places_are_refused(name):
    with pytest.raises(ValidationError) as error:
        services.team_create(slug="x", name="X", timezone=name)
    assert "timezone" in error.value.message_dict


def test_overlap_message_names_the_clash_in_the_team_time():
    team, (ana, bruno) = team_with_members(2, timezone="Asia/Kathmandu")
    services.override_create(
        team=team, role=Role.PRIMARY, member=ana, start=utc(2026, 12, 4, 3, 15), end=utc(2026, 12, 4, 5, 15)
    )
    with pytest.raises(ValidationError) as error:
        services.override_create(
            team=team, role=Role.PRIMARY, member=bruno, start=utc(2026, 12, 4, 4), end=utc(2026, 12, 4, 6)
        )
    message = " ".join(error.value.messages)
    assert "09:00" in message and "11:00" in message and "Asia/Kathmandu" in message
    assert ana.name in message


def test_a_rotation_starting_at_the_end_of_time_is_refused():
    team, members = team_with_members(1)
    with pytest.raises(ValidationError) as error:
        make_rotation(team, members, start_local=dt.datetime(9999, 12, 31, 9))
    assert "start_date" in error.value.message_dict
    assert not Rotation.objects.exists()


# --- Races (PostgreSQL row locks) ---------------------------------------------------------------------------


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


def _in_thread(target):
    errors = []

    def run():
        try:
            target()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_overrides_at_once_only_one_wins():
    team, (ana, bruno) = team_with_members(2)
    barrier = threading.Barrier(2)

    def create(member):
        def go():
            barrier.wait()
            services.override_create(team=team, role=Role.PRIMARY, member=member, start=NOW, end=NOW + DAY)

        return go

    runs = [_in_thread(create(ana)), _in_thread(create(bruno))]
    for thread, _ in runs:
        thread.join(10)
    errors = [e for _, found in runs for e in found]
    assert Override.objects.filter(team=team).count() == 1
    assert len(errors) == 1 and isinstance(errors[0], ValidationError)


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_generation_alongside_a_rotation_edit_does_not_write_the_old_pattern():
    from django.db import transaction

    team, (ana, bruno) = team_with_members(2, timezone="Europe/Berlin")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    stale = Rotation.objects.select_related("team").get(pk=rotation.pk)
    edited = threading.Event()

    def edit():
        with transaction.atomic():
            services.rotation_update(rotation=rotation, start_local=dt.datetime(2026, 11, 4, 15), now=NOW)
            edited.set()
            import time

            time.sleep(0.5)  # the hourly run starts while this edit is not committed yet

    thread, errors = _in_thread(edit)
    edited.wait(10)
    # A later hourly run that still holds the rotation as it was must not add 09:00 shifts.
    services.shifts_generate(rotations=[stale], now=NOW + 2 * WEEK)
    thread.join(10)
    assert not errors
    rows = assert_no_overlap(team)
    future = [s for s, _ in rows if s > NOW + WEEK]
    assert future and {s.astimezone(team.tz).hour for s in future} == {15}
