"""The error hierarchy.  Every error knows whether retrying can help (style habit 7).

* :class:`RatingError` is *permanent*: the record (or the configuration it meets) is wrong.  It becomes a
  rating exception event and the record is done; it can be reprocessed after the cause is fixed (R31).
* :class:`RetriableError` is infrastructure: the store or broker is unavailable.  The record is retried in
  place and never acknowledged until it succeeds (architecture property 7).
"""

from __future__ import annotations

import enum


class ExceptionType(enum.StrEnum):
    """Rating exception types: the LogiSense types (R2, R25, R31) plus ``invalid_record``."""

    INVALID_RECORD = "invalid_record"
    NO_USAGE_IDENTIFIER_MATCH = "no_usage_identifier_match"
    USAGE_IDENTIFIER_TIME_MISMATCH = "usage_identifier_time_mismatch"
    RATE_PLAN_NOT_DEFINED = "rate_plan_not_defined"
    RATE_GROUP_NOT_FOUND = "rate_group_not_found"
    RATE_NOT_FOUND = "rate_not_found"
    SOFTWARE_SYSTEM_ERROR = "software_system_error"
    DUPLICATE_RECORD = "duplicate_record"


#: The LogiSense wording of each type, kept verbatim in the exception message.
TITLES: dict[ExceptionType, str] = {
    ExceptionType.INVALID_RECORD: "Invalid usage record",
    ExceptionType.NO_USAGE_IDENTIFIER_MATCH: "No UDR Usage Identifier match",
    ExceptionType.USAGE_IDENTIFIER_TIME_MISMATCH: "UDR time does not match time period of UDR Usage Identifier",
    ExceptionType.RATE_PLAN_NOT_DEFINED: (
        "Usage Rate Plan not defined for Account Service or Usage Rate Plan Inheritance Hierarchy"
    ),
    ExceptionType.RATE_GROUP_NOT_FOUND: "Usage Rate Group matching UDR not found",
    ExceptionType.RATE_NOT_FOUND: "Usage Rate matching UDR not found",
    ExceptionType.SOFTWARE_SYSTEM_ERROR: "Software System Error",
    ExceptionType.DUPLICATE_RECORD: "Duplicate record",
}


class RaterError(Exception):
    """Root of every error the rater raises on purpose."""

    retriable: bool = False


class RatingError(RaterError):
    """A permanent failure to rate one record; becomes a rating exception of ``type``."""

    retriable = False

    def __init__(self, type_: ExceptionType, detail: str, *, account: str | None = None) -> None:
        self.type = type_
        self.detail = detail
        self.account = account
        super().__init__(f"{TITLES[type_]}: {detail}")

    @property
    def message(self) -> str:
        return f"{TITLES[self.type]}: {self.detail}"


class InvalidRecord(RatingError):
    """The record cannot be decoded or lacks a required field (never crashes a worker)."""

    def __init__(self, detail: str, *, record_id: str | None = None) -> None:
        super().__init__(ExceptionType.INVALID_RECORD, detail)
        self.record_id = record_id
        """The record's own id when it could be read, so a bad record still dedupes on its id (R1)."""


class DuplicateRecord(RatingError):
    """R1: the record id was first seen with other content (another usage identifier, class, quantity,
    time or destination); this record is not rated, and the first outcome stands."""

    def __init__(self, record_id: str, first: str, this: str) -> None:
        super().__init__(
            ExceptionType.DUPLICATE_RECORD,
            f"record id {record_id!r} was first seen with other content (fingerprint {first}, this one {this}); "
            f"the first record's outcome stands and this one is not rated",
        )
        self.first = first
        self.fingerprint = this


class DrawRefused(RatingError):
    """The store refused the draw of the request at ``position`` of a batch and wrote nothing for it (e.g. a
    counter would pass 2^53 - 1, past what the kernel counts exactly); that record becomes a
    ``software_system_error`` rating exception."""

    def __init__(self, position: int, detail: str) -> None:
        super().__init__(ExceptionType.SOFTWARE_SYSTEM_ERROR, detail)
        self.position = position


class RetriableError(RaterError):
    """The state store or the broker is unavailable; retry the same record later."""

    retriable = True
