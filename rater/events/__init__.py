"""Output events, one module per event (schemas in ``docs/events.md``): rated charges, rating exceptions,
tier crossings, notifications and rated adjustments; :mod:`rater.events.encoding` is their one encoding.

Every record id comes out exactly once, as a :class:`RatedCharge` or a :class:`RatingExceptionEvent`.
Each event's ``event_id`` is derived from the record id only, so a re-emission after a redelivery is
byte-identical and consumers can dedupe on it.  Amounts are decimal strings, quantities integers in base
units; nothing in an event depends on the wall clock, so rating the same input twice gives the same bytes.
"""

from rater.events.adjustments import RATED_ADJUSTMENT_SCHEMA, RatedAdjustment
from rater.events.charges import RATED_CHARGE_SCHEMA, BucketDraw, ChargeLine, RatedCharge, TierPart
from rater.events.crossings import TIER_CROSSING_SCHEMA, TierCrossing
from rater.events.encoding import Event, Outcome, dumps, utc_text
from rater.events.notifications import NOTIFICATION_SCHEMA, Notification
from rater.events.rating_exceptions import (
    MESSAGE_PREFIX,
    ORIGINAL_PREFIX,
    RATING_EXCEPTION_SCHEMA,
    RECORD_ID_LIMIT,
    RatingExceptionEvent,
    Source,
    bounded_id,
    delivery_failure,
)

__all__ = [
    "MESSAGE_PREFIX",
    "NOTIFICATION_SCHEMA",
    "ORIGINAL_PREFIX",
    "RATED_ADJUSTMENT_SCHEMA",
    "RATED_CHARGE_SCHEMA",
    "RATING_EXCEPTION_SCHEMA",
    "RECORD_ID_LIMIT",
    "TIER_CROSSING_SCHEMA",
    "BucketDraw",
    "ChargeLine",
    "Event",
    "Notification",
    "Outcome",
    "RatedAdjustment",
    "RatedCharge",
    "RatingExceptionEvent",
    "Source",
    "TierCrossing",
    "TierPart",
    "bounded_id",
    "delivery_failure",
    "dumps",
    "utc_text",
]
