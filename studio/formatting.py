"""How ids and durations read on a page: pure functions of a value, no Django.

The template filters of the same names (studio/templatetags/studio_tags.py) are these, so Python
code that shows the same values (the admin) imports them from here, not from a tag library.
"""

import hashlib


def dom_id(value):
    """A stable HTML id for a client-chosen id (run ids may hold any character)."""
    return hashlib.sha1(str(value).encode()).hexdigest()[:12]


def duration(seconds):
    if seconds is None:
        return "—"
    seconds = int(seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def ns_duration(nanoseconds):
    """A span's duration, readable: 850 µs, 12.3 ms, 4.21 s, 2m 03s."""
    if nanoseconds is None:
        return "—"
    ns = int(nanoseconds)
    if ns < 1_000_000:
        return f"{ns / 1000:.0f} µs"
    if ns < 1_000_000_000:
        ms = ns / 1e6
        return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"
    if ns < 60_000_000_000:
        return f"{ns / 1e9:.2f} s"
    return duration(ns // 1_000_000_000)
