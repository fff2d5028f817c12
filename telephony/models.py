"""Everything that talked to a phone: calls, dial attempts, voicemails, the SMS outbox and alerts."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from teams.models import Member, Team

# The largest primary key a row can have (BigAutoField, on PostgreSQL and SQLite): a larger id texted in a
# command names no row, and is answered so without a query (it would not fit the column's type).
ROW_ID_MAX = 2**63 - 1


class OutboundMessage(models.Model):
    """The SMS outbox: a row first, then a delivery task. `dedupe_key` makes every send happen once."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Shift reminder"
        HANDOFF = "handoff", "Hand-off notice"
        VOICEMAIL = "voicemail", "Voicemail page"
        GAP_ALERT = "gap_alert", "Gap alert"
        ROTA_CHANGE = "rota_change", "Rota change notice"
        SWAP = "swap", "Shift swap"
        ALERT = "alert", "Monitoring alert page"
        BUDGET = "budget", "Budget notice"
        REPLY = "reply", "Reply"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    FINAL_STATUSES = (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.SKIPPED)

    to = models.CharField(max_length=20)
    body = models.TextField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    sender = models.CharField(max_length=20, blank=True)
    message_sid = models.CharField(max_length=40, null=True, blank=True, unique=True)
    error_code = models.CharField(max_length=10, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    needs_status_check = models.BooleanField(
        default=False, help_text="The last request timed out after it was sent: look it up, do not resend."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="outbox_status_created"),
            models.Index(fields=["team", "-created_at"], name="outbox_team_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class Call(models.Model):
    """One inbound call to a team number, and what became of it."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        ANSWERED = "answered", "Answered"
        VOICEMAIL = "voicemail", "Voicemail"
        ABANDONED = "abandoned", "Abandoned"
        CALLBACK = "callback", "Call-back requested"
        UNKNOWN_NUMBER = "unknown_number", "Unknown number"
        REFUSED = "refused", "Caller not allowed"
        FAILED = "failed", "Failed"
        BLOCKED = "blocked", "Blocked caller"

    # Unique by the constraint in Meta, not `unique=True`: on PostgreSQL that would add a second index
    # (varchar_pattern_ops, for LIKE) that every incoming call's INSERT pays for and nothing reads.
    call_sid = models.CharField(max_length=40)
    # No index of its own: call_team_started (team, -started_at) serves every lookup by team.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls", db_index=False
    )
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20, blank=True, help_text="Twilio's CallStatus.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    answered_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_calls"
    )
    answered_number = models.CharField(max_length=20, blank=True)
    menu_digit = models.CharField(max_length=1, blank=True, help_text="The key the caller pressed at the menu.")
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["team", "-started_at"], name="call_team_started")]
        # The name PostgreSQL gave the constraint `unique=True` made (migration 0015 keeps it).
        constraints = [models.UniqueConstraint(fields=["call_sid"], name="telephony_call_call_sid_key")]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.from_number} → {self.to_number} ({self.outcome})"


class DialAttempt(models.Model):
    """One step of the escalation chain for a call: who we rang and whether they accepted."""

    class Target(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"
        FALLBACK = "fallback", "Team fallback phone"
        DESK = "desk", "Desk phone"

    # No index of its own: attempt_call_position (call, position) serves every lookup by call.
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    position = models.PositiveSmallIntegerField()
    target = models.CharField(max_length=10, choices=Target.choices)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    phone = models.CharField(max_length=20)
    ring_group = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The position of the first attempt rung in the same Dial (rung at once)."
    )
    dial_call_sid = models.CharField(max_length=40, blank=True)
    dial_status = models.CharField(
        max_length=20, blank=True, help_text="Twilio's DialCallStatus, or `passed` when the callee pressed 2."
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["call", "position"], name="attempt_call_position")]

    def __str__(self) -> str:
        return f"{self.call_id}#{self.position} {self.target} {self.phone}"


class Voicemail(models.Model):
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="voicemails")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="voicemails")
    recording_sid = models.CharField(max_length=40, unique=True)
    recording_url = models.URLField(max_length=500)
    duration_seconds = models.PositiveIntegerField(default=0)
    from_number = models.CharField(max_length=32, blank=True)
    transcription = models.TextField(blank=True)
    transcription_status = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "-created_at"], name="voicemail_team_created")]
        # One <Record> per call, so one voicemail (and one notice) per call, whatever the callbacks say.
        constraints = [
            models.UniqueConstraint(
                fields=["call"], condition=models.Q(call__isnull=False), name="voicemail_one_per_call"
            )
        ]

    def __str__(self) -> str:
        return f"Voicemail from {self.from_number} ({self.recording_sid})"


class Alert(models.Model):
    """Raised by a monitor; paged along the escalation chain until acknowledged."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alerts")
    summary = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    # A missed caller's alert (source `voicemail` or `callback`) names its call, and a voicemail's its message.
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    voicemail = models.OneToOneField(Voicemail, null=True, blank=True, on_delete=models.SET_NULL, related_name="alert")
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    occurrences = models.PositiveIntegerField(default=1)
    escalation_step = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    pages_held_back = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_escalation_at"], name="alert_state_next"),
            models.Index(fields=["team", "state"], name="alert_team_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False) & ~Q(state="resolved"),
                name="alert_open_dedupe_key",
            ),
            # One voicemail alert and one call-back alert per call, however often Twilio repeats a callback.
            models.UniqueConstraint(
                fields=["call", "source"], condition=Q(call__isnull=False), name="alert_one_per_call_and_source"
            ),
        ]

    def __str__(self) -> str:
        return f"ALERT {self.pk}: {self.summary} ({self.state})"


class AlertEvent(models.Model):
    """Every transition of an alert, with who and when."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The notices this step owes (telling the people paged) are still to be sent: an SMS command records the
    # step and answers, and a task (or the escalation sweep, when the task was lost) sends them.
    notices_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(notices_pending=True), name="alertevent_notices_pending")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} by {self.actor}"


class EarlyMessageStatus(models.Model):
    """A status callback for a MessageSid not stored yet: Twilio can report (a fast "failed", say) before the
    worker has written the SID it got back. Applied as soon as the SID is stored; swept after a day."""

    message_sid = models.CharField(max_length=40, db_index=True)
    message_status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=10, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.message_sid} {self.message_status}"


class Swap(models.Model):
    """A request to cover one future shift: offered to the rotation's teammates, taken by one, approved by a
    lead when the team asks for approval; approved means an override for the taker over the shift."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        TAKEN = "taken", "Taken (awaiting approval)"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="swaps")
    shift = models.ForeignKey("teams.Shift", null=True, on_delete=models.SET_NULL, related_name="swaps")
    # The shift as it was asked about: a later edit of the shift does not change what was offered.
    role = models.CharField(max_length=10)
    start = models.DateTimeField()
    end = models.DateTimeField()
    asker = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="swaps_asked")
    taker = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="swaps_taken")
    reason = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    override = models.ForeignKey("teams.Override", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "start"], name="swap_state_start")]
        constraints = [
            # One swap in play per shift: a second ask while one is open or taken is refused.
            models.UniqueConstraint(
                fields=["shift"], condition=Q(state__in=["open", "taken"]), name="swap_one_active_per_shift"
            )
        ]

    def __str__(self) -> str:
        return f"SWAP {self.pk}: {self.asker} {self.role} ({self.state})"


class SwapEvent(models.Model):
    """Every step of a swap, with who and when."""

    swap = models.ForeignKey(Swap, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The texts this step owes (offers withdrawn, leads asked, both people told) are still to be sent: an SMS
    # command records the step and answers, and a task (or the expiry sweep, when the task was lost) sends them.
    notices_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(notices_pending=True), name="swapevent_notices_pending")
        ]

    def __str__(self) -> str:
        return f"{self.swap_id} {self.action} by {self.actor}"


class Charge(models.Model):
    """What one call leg or one SMS costs: an estimate from the rates in the environment at first, then
    Twilio's own price once Twilio has rated it (a price look-up task, retried for up to a day).

    One row per Twilio resource (`sid`): the caller's inbound call, each dialled leg (its DialCallSid), each
    sent message. Amounts are positive USD (Twilio reports prices as negative numbers). `occurred_at` (when
    the call started, when the message was queued) decides the month a charge counts in.
    """

    class Kind(models.TextChoices):
        CALL_IN = "call_in", "Inbound call"
        FORWARD_LEG = "forward_leg", "Forwarded leg"
        SMS = "sms", "SMS"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    sid = models.CharField(max_length=40, unique=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges")
    occurred_at = models.DateTimeField()
    seconds = models.PositiveIntegerField(default=0, help_text="Call legs: the leg's duration.")
    units = models.PositiveIntegerField(default=0, help_text="Billed minutes (rounded up) or SMS segments.")
    estimate = models.DecimalField(max_digits=12, decimal_places=5)
    price = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    price_unit = models.CharField(max_length=8, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)
    price_checks = models.PositiveIntegerField(default=0)
    next_price_check_at = models.DateTimeField(
        null=True, blank=True, help_text="When to ask Twilio for the price again; empty: priced, or given up."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["team", "occurred_at"], name="charge_team_occurred"),
            models.Index(fields=["next_price_check_at"], name="charge_next_check"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sid}: {self.price if self.price is not None else self.estimate}"
