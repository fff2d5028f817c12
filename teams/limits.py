"""Input limits, chosen from real use with headroom (README, "Limits", says why), so that one request can
neither write nor read an unbounded amount. Each limit is checked with a 400 naming the field and the reason.
"""

import datetime as dt

# Hand-offs more often than hourly are not an on-call rotation (nobody can be reached, reminded and handed
# over to every few minutes), and every read of "who is on call, who is next" covers 155 days of them:
# at PT15M that was 15,000 segments per role and 1.9 s per oncall/; at PT1H it is well under a second.
MIN_SHIFT_LENGTH = dt.timedelta(hours=1)

# The largest real rotations are follow-the-sun teams of a few dozen people; 100 leaves room and keeps a
# rotation's row of participants (read by every call and every oncall/) small.
MAX_ROTATION_MEMBERS = 100

# A shift of a year covers every real rotation (weekly, monthly, a quarter at sea); longer is a typo.
MAX_SHIFT_LENGTH = dt.timedelta(days=366)

# schedule/, gaps/ and the report read at most a year at a time.
MAX_WINDOW = dt.timedelta(days=366)

# An allow-list names the people (or robots) who may call a team line: a customer's support staff, a
# monitoring provider's outbound numbers. Hundreds at most; 1,000 leaves room. Every call reads the list.
MAX_ALLOWED_CALLERS = 1000

# schedule/ and gaps/ compute the merged segments of a window (at most 366 days): a year of 2-hour shifts
# is 4,392 per role; an hourly rotation can ask for 208 days at a time.
MAX_SEGMENTS_PER_ROLE = 5000

# A desk is a handful of phones rung at once; Twilio rings at most ten <Number>s in one <Dial>.
MAX_DESK_PHONES = 10

# Business hours: a few windows a week (a lunch break, a late Thursday); holidays: a few years of them.
MAX_BUSINESS_HOURS_WINDOWS = 21
MAX_HOLIDAYS = 200
