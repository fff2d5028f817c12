"""The instant most telephony tests stand at (a Tuesday morning in December, outside any DST change)."""

import datetime as dt

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
