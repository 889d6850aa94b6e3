"""Enums shared by several domain modules."""

from enum import Enum

import strawberry


@strawberry.enum(
    description="Where a user is with an item; the database stores the lower-case, dashed value."
)
class TrackingStatus(Enum):
    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    DROPPED = "dropped"
    PAUSED = "paused"
