"""The refusal of a provisioning operation: :class:`ProvisioningError`, with a stable ``code``.

A refused operation changes nothing; the codes are documented in ``docs/provisioning.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rater.errors import RaterError
from rater.issues import Issue


class ProvisioningError(RaterError):
    """A refused operation.  ``code`` is stable (documented in docs/provisioning.md); ``issues`` lists the
    validation findings when the result would be an invalid configuration."""

    def __init__(self, code: str, message: str, issues: Iterable[Issue] = ()) -> None:
        self.code = code
        self.message = message
        self.issues = [issue for issue in issues if issue.severity == "error"]
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.issues:
            body["issues"] = [str(issue) for issue in self.issues]
        return body
