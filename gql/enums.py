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


@strawberry.enum(description="The kind of media; the database stores the lower-case value.")
class MediaType(Enum):
    BOOK = "book"
    COMIC = "comic"
    MANGA = "manga"
    ANIME = "anime"
    FILM = "film"
    SERIES = "series"
    GAME = "game"
    PODCAST = "podcast"
    AUDIOBOOK = "audiobook"
    MUSIC = "music"
    LIVE_EVENT = "live_event"


@strawberry.enum(description="How much of a release date is known.")
class DatePrecision(Enum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
