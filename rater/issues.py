"""Validation findings that name the file, the entity and the field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation finding.  ``severity="warning"`` is reported but does not fail a check."""

    file: str
    kind: str
    entity: str
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.kind} {self.entity!r}" if self.entity else self.kind
        field = f", field {self.field}" if self.field else ""
        return f"{self.severity}: {self.file}: {where}{field}: {self.message}"


class ValidationFailed(ValueError):
    """Raised when a catalog or subscriptions file set has at least one error; carries every issue found."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        errors = [issue for issue in self.issues if issue.severity == "error"]
        super().__init__(f"{len(errors)} error(s):\n" + "\n".join(str(issue) for issue in errors))


class IssueLog:
    """Collects issues while a validator walks the entities."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(self, file: str, kind: str, entity: str, field: str, message: str) -> None:
        self.issues.append(Issue(file, kind, entity, field, message))

    def warning(self, file: str, kind: str, entity: str, field: str, message: str) -> None:
        self.issues.append(Issue(file, kind, entity, field, message, "warning"))

    @property
    def has_errors(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ValidationFailed(self.issues)


def pydantic_field(loc: Sequence[int | str]) -> str:
    """Render a pydantic error location as ``rate_groups[0].rates[1].amount``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
