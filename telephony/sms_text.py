"""Shaping SMS bodies: GSM-7 where possible, at most two segments, long parts cut with a visible marker.

Pure functions, no Django. A GSM-7 segment holds 160 characters (153 when the message is split); a single
character outside GSM-7 turns the whole message into UCS-2 (70, or 67 per split segment), so typographic
quotes and dashes are replaced first. https://www.twilio.com/docs/glossary/what-is-gsm-7-character-encoding
"""

from __future__ import annotations

import unicodedata

# GSM 03.38 basic character set (one septet each) and its extension table (escape + char: two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

SMS_CUT_MARKER = " [cut]"

# Look-alikes that people and word processors type, mapped to GSM-7 (why: one of them costs 90 chars/segment).
_GSM7_REPLACEMENTS = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′
    "\u00b4": "'",  # ´
    "`": "'",
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus
    "\u2026": "...",  # …
    "\u2022": "*",  # •
    "\u00b7": "*",  # ·
    "\u2192": "->",  # →
    "\u2190": "<-",  # ←
    "\t": " ",
    "\u00a0": " ",  # no-break space
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
}


def sms_gsm7_normalize(text: str) -> str:
    """Replace typographic look-alikes with GSM-7 characters; strip accents GSM-7 lacks (á → a) when that helps."""
    text = text.replace("\r\n", "\n")
    out = []
    for char in text:
        char = _GSM7_REPLACEMENTS.get(char, char)
        if len(char) == 1 and char not in GSM7_BASIC and char not in GSM7_EXTENDED:
            # Decompose and drop combining marks: "á" → "a", "ç" → "c". Other scripts stay as they are (UCS-2).
            base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
            if base and all(c in GSM7_BASIC for c in base):
                char = base
        out.append(char)
    return "".join(out)


def sms_is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def sms_segments(text: str) -> int:
    """How many SMS segments Twilio will bill for this body."""
    if not text:
        return 1
    if sms_is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2  # UCS-2/UTF-16 code units: an emoji is two
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def _fits(text: str, max_segments: int) -> bool:
    return sms_segments(text) <= max_segments


def sms_body_fit_part(*, before: str = "", part: str, after: str = "", max_segments: int = 2) -> str:
    """`before + part + after` within `max_segments`, cutting only `part` (and saying so) when it is too long.

    Use it for a voicemail transcription between a fixed head ("Voicemail for Web from +49…: ") and a link
    that must survive.
    """
    before, part, after = sms_gsm7_normalize(before), sms_gsm7_normalize(part), sms_gsm7_normalize(after)
    whole = before + part + after
    if _fits(whole, max_segments):
        return whole
    if not _fits(before + SMS_CUT_MARKER.strip() + after, max_segments):
        # The fixed text alone is too long: cut the whole message instead.
        return sms_body_fit(whole, max_segments=max_segments)
    # Binary search for the longest prefix of `part` that fits with the marker (the cost grows with length).
    low, high = 0, len(part)
    while low < high:
        mid = (low + high + 1) // 2
        if _fits(before + part[:mid].rstrip() + SMS_CUT_MARKER + after, max_segments):
            low = mid
        else:
            high = mid - 1
    kept = part[:low]
    # Prefer to cut at a word boundary when one is near, so the reader does not see half a word.
    space = kept.rfind(" ")
    if low < len(part) and space >= max(0, low - 15):
        kept = kept[:space]
    kept = kept.rstrip()
    marker = SMS_CUT_MARKER if kept else SMS_CUT_MARKER.strip()
    return before + kept + marker + after


def sms_body_fit(text: str, *, max_segments: int = 2) -> str:
    """The text in GSM-7 where possible, cut to `max_segments` segments with a " [cut]" marker when too long."""
    text = sms_gsm7_normalize(text)
    if _fits(text, max_segments):
        return text
    return sms_body_fit_part(part=text, max_segments=max_segments)
