"""The share plan entities (§1.12, R54-R64): a share plan, its buckets and their participants."""

from __future__ import annotations

import enum

from rater.catalog.model.buckets import BucketDefinition
from rater.catalog.model.fields import DurationField, Entity, Id, LongText, Quantity, Text


class ShareLevel(enum.StrEnum):
    """Share plan Share Level (R57)."""

    ACCOUNT = "account"
    USAGE_INVOICER = "usage_invoicer"


class ParticipatingType(enum.StrEnum):
    """Share plan Participating Type (R55)."""

    SERVICE = "service"
    PACKAGE = "package"


class ActivationRule(enum.StrEnum):
    """Share plan Activation Rule (R54)."""

    SELLING_SERVICE = "selling_service"
    PARTICIPATING_SERVICE = "participating_service"


class SharePlanBucketType(enum.StrEnum):
    """Share plan bucket Type (R59)."""

    FIXED = "fixed"
    VARIABLE_SINGLE_TIER = "variable_single_tier"
    VARIABLE_MULTIPLE_TIER = "variable_multiple_tier"


class SharePlanParticipant(Entity):
    """§1.12a bucket-level participant entry: contribution (> 0 makes a contributor) and participation limit."""

    participant: Id
    contribution: Quantity | None = None
    participation_limit: Quantity | None = None


class SharePlanBucket(BucketDefinition):
    """§1.12 share plan bucket.  It resets on the plan's usage billing frequency (Q14)."""

    type: SharePlanBucketType = SharePlanBucketType.FIXED
    participants: tuple[SharePlanParticipant, ...] = ()


class SharePlan(Entity):
    """§1.12 share plan."""

    id: Id
    name: Text = ""
    description: LongText = ""
    active: bool = True
    share_level: ShareLevel = ShareLevel.ACCOUNT
    participating_type: ParticipatingType = ParticipatingType.SERVICE
    selling_service: Id
    activation_rule: ActivationRule = ActivationRule.SELLING_SERVICE
    usage_billing_frequency: DurationField
    participants: tuple[Id, ...] = ()
    buckets: tuple[SharePlanBucket, ...] = ()
