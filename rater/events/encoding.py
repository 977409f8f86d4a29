"""The one encoding of output events: :func:`dumps` writes any :data:`Event` as JSON, and :func:`utc_text`
writes a time in the one form every event uses.  :data:`Outcome` is what rating one record gives.
"""

from __future__ import annotations

import datetime as dt

import orjson

from rater.events.adjustments import RatedAdjustment
from rater.events.charges import RatedCharge
from rater.events.crossings import TierCrossing
from rater.events.notifications import Notification
from rater.events.rating_exceptions import RatingExceptionEvent


def utc_text(moment: dt.datetime) -> str:
    """An aware time as ISO 8601 in UTC with a ``Z``, the form of every time in the events; as given when
    UTC would leave the calendar (years 1 and 9999)."""
    try:
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return moment.isoformat()


Outcome = RatedCharge | RatingExceptionEvent
Event = RatedCharge | RatingExceptionEvent | TierCrossing | Notification | RatedAdjustment


def dumps(event: Event) -> bytes:
    """The one JSON encoding of an output event."""
    return orjson.dumps(event.to_dict())
