"""Cross-entity catalog checks.  Every finding names the file, the entity and the field."""

from rater.catalog.validate.checker import validate

__all__ = ["validate"]
