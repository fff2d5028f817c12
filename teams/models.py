"""The rota: teams, members, numbers, rotations, shifts and overrides. Times are stored in UTC."""

import datetime as dt
import hashlib
import secrets
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_lazy

from teams import rota
from teams.limits import MAX_SHIFT_LENGTH, MIN_SHIFT_LENGTH
from teams.validators import (
    validate_business_hours,
    validate_desk_phones,
    validate_e164,
    validate_holidays,
    validate_https_url,
    validate_menu,
    validate_phone_list,
    validate_timezone,
    validate_voice,
    validate_voice_speaks,
)


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


def token_new() -> str:
    """A new API token's key (shown once; only its hash is stored)."""
    return secrets.token_urlsafe(30)


def token_hash(key: str) -> str:
    # The key has ~240 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def _check_interval(obj: models.Model, what: str) -> None:
    """Shared checks of shifts and overrides: end after start, member of the team, no overlap."""
    errors = {}
    if obj.start and obj.end and obj.end <= obj.start:
        errors["end"] = "The end must be after the start."
    if (
        obj.team_id
        and obj.member_id
        and not TeamMembership.objects.filter(team_id=obj.team_id, member_id=obj.member_id).exists()
    ):
        errors["member"] = "This person is not a member of the team."
    if errors:
        raise ValidationError(errors)
    if what == "override" and obj.team_id and obj.member_id and obj.start and obj.end:
        away = TimeOff.objects.filter(
            team_id=obj.team_id, member_id=obj.member_id, start__lt=obj.end, end__gt=obj.start
        ).first()
        if away:
            clash = _time_off_clash(obj.team, away, gettext("is on time off"))
            hint = gettext("Nobody can cover while away: pick someone else or change the time off first.")
            raise ValidationError({"member": f"{clash} {hint}"})
    if obj.team_id and obj.role and obj.start and obj.end:
        clash = (
            type(obj)
            .objects.filter(team_id=obj.team_id, role=obj.role, start__lt=obj.end, end__gt=obj.start)
            .exclude(pk=obj.pk)
            .select_related("member")
            .first()
        )
        if clash:
            tz = obj.team.tz
            hint = (
                "Edit that shift instead, or add an override for these hours."
                if what == "shift"
                else "Change or delete that override first."
            )
            raise ValidationError(
                f"This {what} overlaps another {obj.role} {what} of the team: {clash.member}, "
                f"{rota.format_local(clash.start, tz, zone=False)} to {rota.format_local(clash.end, tz)}. {hint}"
            )


def _time_off_clash(team: "Team", row: "TimeOff | Override", what: str) -> str:
    """ "Ana is on time off from Mon 7 Dec 2026 09:00 to … (Europe/Berlin)." for a refused overlap."""
    tz = team.tz
    return gettext("%(member)s %(what)s from %(start)s to %(end)s (%(zone)s).") % {
        "member": row.member,
        "what": what,
        "start": rota.format_local(row.start, tz, zone=False),
        "end": rota.format_local(row.end, tz, zone=False),
        "zone": team.timezone,
    }


class Language(models.TextChoices):
    """What callers and callees hear and members read; the values are Django language codes."""

    EN = "en", "English"
    PT_BR = "pt-br", "Português (Brasil)"


class Role(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


def default_alert_pages_per_hour() -> int:
    """A new team's hourly page cap: ALERT_PAGES_PER_HOUR from the environment (20 unless set)."""
    return settings.ALERT_PAGES_PER_HOUR


class RingStrategy(models.TextChoices):
    SEQUENTIAL = "sequential", gettext_lazy("Sequential (primary, then secondary)")
    SIMULTANEOUS = "simultaneous", gettext_lazy("Simultaneous (primary and secondary at once)")


class Team(models.Model):
    # What a lead sets, in the admin and the API alike (one list, so the two cannot drift apart).
    SETTINGS = (
        "slug",
        "name",
        "timezone",
        "ring_timeout",
        "greeting",
        "fallback_phone",
        "reminder_lead_minutes",
        "ack_timeout_minutes",
        "alert_pages_per_hour",
        "allowed_callers",
        "swap_approval",
        "monthly_budget",
        "language",
        "voice",
        "greeting_audio_url",
        "business_hours",
        "holidays",
        "desk_phones",
        "ring_strategy",
        "blocked_callers",
        "vip_callers",
    )

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    ring_timeout = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(5), MaxValueValidator(60)],
        help_text="Seconds each person's phone rings before the call moves on.",
    )
    greeting = models.CharField(
        max_length=300, blank=True, help_text="Said to the caller before we ring the person on call."
    )
    fallback_phone = models.CharField(
        max_length=20, blank=True, validators=[validate_e164], help_text="Rung after primary and secondary."
    )
    reminder_lead_minutes = models.PositiveIntegerField(default=1440, validators=[MaxValueValidator(60 * 24 * 14)])
    ack_timeout_minutes = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    alert_pages_per_hour = models.PositiveIntegerField(
        default=default_alert_pages_per_hour,
        help_text="At most this many alert pages an hour; the rest are held back and counted.",
    )
    allowed_callers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_phone_list],
        help_text="E.164 numbers allowed to call; empty means everyone.",
    )
    swap_approval = models.BooleanField(
        default=False, help_text="A shift swap needs a lead's approval before the taker is on call."
    )
    monthly_budget = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=gettext_lazy(
            "USD a month for the phone line (calls and SMS); the leads get an SMS at 80% and at 100%. Empty: no budget."
        ),
    )
    language = models.CharField(
        max_length=8,
        choices=Language.choices,
        default=Language.EN,
        help_text=gettext_lazy("What callers hear and members read (a member's own language wins for them)."),
    )
    voice = models.CharField(
        max_length=60,
        blank=True,
        validators=[validate_voice],
        help_text=gettext_lazy(
            "Twilio voice: alice, man, woman, Polly.Camila, Google.pt-BR-Standard-A; empty: Twilio's default."
        ),
    )
    greeting_audio_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[validate_https_url],
        help_text=gettext_lazy("An https mp3 or wav played instead of the spoken greeting."),
    )
    business_hours = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_business_hours],
        help_text=gettext_lazy(
            'Local times in the team\'s zone, e.g. [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", '
            '"end": "18:00"}]; an end may be 24:00. During them the desk phones ring first. Empty: no office hours.'
        ),
    )
    holidays = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_holidays],
        help_text=gettext_lazy(
            'Whole local days outside business hours, e.g. [{"date": "2026-12-25", "name": "Natal"}].'
        ),
    )
    desk_phones = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_desk_phones],
        help_text=gettext_lazy("E.164 phones rung at once during business hours, before the on-call chain."),
    )
    ring_strategy = models.CharField(
        max_length=12,
        choices=RingStrategy.choices,
        default=RingStrategy.SEQUENTIAL,
        help_text=gettext_lazy("Sequential: primary, then secondary. Simultaneous: both at once."),
    )
    blocked_callers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_phone_list],
        help_text=gettext_lazy("E.164 numbers refused before the call is answered."),
    )
    vip_callers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_phone_list],
        help_text=gettext_lazy("E.164 numbers that skip the menu and the desk and ring primary and secondary at once."),
    )
    calendar_token = models.CharField(max_length=64, default=new_calendar_token, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # The slug as stored, for clean()'s check of a new slug (services.team_update moves the menus).
        super().save(*args, **kwargs)
        self._stored_slug = self.slug

    @classmethod
    def from_db(cls, db, field_names, values):
        team = super().from_db(db, field_names, values)
        team._stored_slug = team.__dict__.get("slug")
        return team

    def _slug_changed(self) -> bool:
        return getattr(self, "_stored_slug", None) != self.slug

    def clean(self) -> None:
        try:
            validate_voice_speaks(self.voice, self.language)
        except ValidationError as error:
            raise ValidationError({"voice": error}) from None
        if self._slug_changed():
            # A menu entry still naming this slug (its team renamed away or deleted) would hand its key to
            # this team: the lead who set up that menu did not choose it.
            named = [number.phone_number for number in numbers_whose_menu_names(self.slug)]
            if named:
                raise ValidationError(
                    {
                        "slug": gettext("The menu of %(numbers)s names '%(slug)s' already: change that menu first.")
                        % {"numbers": ", ".join(sorted(named)), "slug": self.slug}
                    }
                )
        phones = (
            [phone for phone in self.desk_phones or [] if isinstance(phone, str)]
            if isinstance(self.desk_phones, list)
            else []
        )
        ours = set(SupportNumber.objects.filter(phone_number__in=phones).values_list("phone_number", flat=True))
        if ours:
            raise ValidationError(
                {
                    "desk_phones": gettext("%(phones)s is one of our support numbers: ringing it would loop.")
                    % {"phones": ", ".join(sorted(ours))}
                }
            )

    def is_within_business_hours(self, at: dt.datetime) -> bool:
        return rota.is_within_business_hours(
            business_hours=self.business_hours or [], holidays=self.holidays or [], tz=self.tz, at=at
        )

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def numbers_whose_menu_names(slug: str) -> list["SupportNumber"]:
    """The support numbers whose menu has an entry for `slug` (few numbers have a menu: read in Python, as
    SQLite cannot look inside a JSON list)."""
    numbers = SupportNumber.objects.exclude(menu=[]).only("pk", "phone_number", "menu")
    return [
        number
        for number in numbers
        if any(isinstance(entry, dict) and entry.get("team") == slug for entry in number.menu or ())
    ]


class Member(models.Model):
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=20, unique=True, validators=[validate_e164])
    email = models.EmailField(blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_timezone], help_text="Empty: the team's time zone."
    )
    language = models.CharField(
        max_length=8, choices=Language.choices, blank=True, help_text=gettext_lazy("Empty: the team's language.")
    )
    sms_opted_out_at = models.DateTimeField(null=True, blank=True, help_text="Set when they texted STOP.")
    calendar_token = models.CharField(max_length=64, default=new_calendar_token, unique=True)
    teams = models.ManyToManyField(Team, through="TeamMembership", related_name="members")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.phone and SupportNumber.objects.filter(phone_number=self.phone).exists():
            raise ValidationError({"phone": "This is one of our support numbers, not a person's phone."})

    @property
    def is_opted_out(self) -> bool:
        return self.sms_opted_out_at is not None

    def language_for(self, team: "Team | None") -> str:
        """What this member hears and reads for a team: their own language, else the team's."""
        return self.language or (team.language if team is not None else "") or settings.LANGUAGE_CODE


class TeamMembership(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "member"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.member} in {self.team} ({self.role})"

    def clean(self) -> None:
        if self.role == self.Role.LEAD and self.member_id and not self.member.user_id:
            raise ValidationError({"role": "A lead needs a login: link this member to a user first."})


class SupportNumber(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="numbers")
    phone_number = models.CharField(max_length=20, unique=True, validators=[validate_e164])
    sms_enabled = models.BooleanField(
        default=True, help_text="Can send SMS; if not, the global TWILIO_SMS_FROM sender is used."
    )
    twilio_sid = models.CharField(max_length=40, blank=True)
    menu = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_menu],
        help_text=gettext_lazy(
            'Teams this number fronts, e.g. [{"digit": "1", "team": "billing"}]; no key or 0: this number\'s team.'
        ),
    )
    menu_prompt = models.CharField(
        max_length=500,
        blank=True,
        help_text=gettext_lazy('Empty: built from the teams\' names ("For Billing, press 1.").'),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone_number"]

    def __str__(self) -> str:
        return self.phone_number

    def clean(self) -> None:
        if self.phone_number and Member.objects.filter(phone=self.phone_number).exists():
            raise ValidationError({"phone_number": "This is a member's own phone, not a support number."})
        if self.phone_number and any(
            self.phone_number in desk for desk in Team.objects.values_list("desk_phones", flat=True)
        ):
            raise ValidationError({"phone_number": gettext("This is a team's desk phone, not a support number.")})


class Rotation(models.Model):
    """Hand-offs at start + n × shift_length in the team's local wall-clock time."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices)
    start_date = models.DateField(help_text="Local date of the first hand-off, in the team's time zone.")
    start_time = models.TimeField(help_text="Local wall-clock time of every hand-off.")
    shift_length = models.DurationField(help_text="ISO-8601 duration, e.g. P7D, P1D, PT12H.")
    members = models.ManyToManyField(Member, through="RotationParticipant", related_name="rotations")
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "role"]
        constraints = [models.UniqueConstraint(fields=["team", "role"], name="rotation_one_per_team_role")]

    def __str__(self) -> str:
        return f"{self.team} {self.role}: {self.name}"

    @property
    def start_local(self) -> dt.datetime:
        return dt.datetime.combine(self.start_date, self.start_time)

    def clean(self) -> None:
        problem = rota.year_problem(self.start_date.year, what="a start") if self.start_date else None
        if problem:
            raise ValidationError({"start_date": problem})
        if self.shift_length is not None and self.shift_length < MIN_SHIFT_LENGTH:
            raise ValidationError({"shift_length": gettext("A shift lasts at least an hour (PT1H).")})
        if self.shift_length is not None and self.shift_length > MAX_SHIFT_LENGTH:
            raise ValidationError({"shift_length": "A shift lasts at most a year (P366D)."})


class RotationParticipant(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="participants")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["rotation", "position"], name="participant_position_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.member}"


class Shift(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="shifts")
    role = models.CharField(max_length=10, choices=Role.choices)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="shifts")
    start = models.DateTimeField()
    end = models.DateTimeField()
    rotation = models.ForeignKey(Rotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="shifts")
    is_edited = models.BooleanField(default=False, help_text="Changed by hand: the rotation no longer regenerates it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        indexes = [
            models.Index(fields=["team", "end", "start"], name="shift_team_end_start"),
            models.Index(fields=["start"], name="shift_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="shift_end_after_start"),
            models.UniqueConstraint(
                fields=["rotation", "start"], condition=Q(rotation__isnull=False), name="shift_rotation_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.role}: {self.member} {self.start:%Y-%m-%d %H:%M}Z"

    def clean(self) -> None:
        _check_interval(self, "shift")


class Override(models.Model):
    """Member covers a role of a team from start to end; beats shifts."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="overrides")
    role = models.CharField(max_length=10, choices=Role.choices)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["team", "end", "start"], name="override_team_end_start")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="override_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.member} covers {self.team} {self.role} {self.start:%Y-%m-%d %H:%M}Z"

    def clean(self) -> None:
        _check_interval(self, "override")


class TimeOff(models.Model):
    """A member of a team is away from start to end: not rung, reminded or counted on call for that team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="time_off")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        verbose_name = "time off"
        verbose_name_plural = "time off"
        indexes = [models.Index(fields=["team", "member", "end", "start"], name="timeoff_team_member_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="timeoff_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.member} away from {self.team} {self.start:%Y-%m-%d %H:%M}Z"

    def clean(self) -> None:
        errors = {}
        if self.start and self.end and self.end <= self.start:
            errors["end"] = gettext("The end must be after the start.")
        if (
            self.team_id
            and self.member_id
            and not TeamMembership.objects.filter(team_id=self.team_id, member_id=self.member_id).exists()
        ):
            errors["member"] = gettext("This person is not a member of the team.")
        if errors:
            raise ValidationError(errors)
        if not (self.team_id and self.member_id and self.start and self.end):
            return
        overlapping = Q(team_id=self.team_id, member_id=self.member_id, start__lt=self.end, end__gt=self.start)
        cover = Override.objects.filter(overlapping).order_by("start").first()
        if cover:
            what = gettext("covers %(role)s by an override") % {"role": cover.role}
            hint = gettext("Nobody can cover while away: move or delete that override first.")
            raise ValidationError({"start": f"{_time_off_clash(self.team, cover, what)} {hint}"})
        twin = TimeOff.objects.filter(overlapping).exclude(pk=self.pk).first()
        if twin:
            hint = gettext("Change that time off instead.")
            raise ValidationError({"start": f"{_time_off_clash(self.team, twin, gettext('is already away'))} {hint}"})


class ApiToken(models.Model):
    """An API token, stored hashed. Scope `alerts` tokens belong to a team and may only raise alerts."""

    class Scope(models.TextChoices):
        FULL = "full", "Full (acts as the user)"
        ALERTS = "alerts", "Alerts only (team integration)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.FULL)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="full", user__isnull=False) | Q(scope="alerts", team__isnull=False)),
                name="token_owner_matches_scope",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.scope})"
