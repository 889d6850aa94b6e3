"""Every vocabulary of the data model, written once. The database's enum types and CHECK constraints
(built by the migrations), the models, validation and the GraphQL enums all name these values;
tests/test_vocabulary.py fails when any of them drifts from this module.

Values are as stored: lower case, dashed; GraphQL spells them as UPPER_SNAKE names of the same values.
"""

MEDIA_TYPES = (
    "book",
    "comic",
    "manga",
    "anime",
    "film",
    "series",
    "game",
    "podcast",
    "audiobook",
    "music",
    "live_event",
)

RELATION_TYPES = (
    "sequel",
    "prequel",
    "adaptation",
    "source",
    "spin-off",
    "shared-universe",
    "side-story",
    "parent-story",
    "alternative-version",
    "remake",
    "summary",
    "compilation",
    "crossover",
    "character",
    "other",
)
# Inverse-labelled types are stored only in their canonical form, so one fact is one row.
INVERSE_RELATION = {
    "sequel": "prequel",
    "prequel": "sequel",
    "adaptation": "source",
    "source": "adaptation",
    "side-story": "parent-story",
    "parent-story": "side-story",
}
NON_CANONICAL_RELATIONS = ("prequel", "source", "parent-story")

TRACKING_STATUSES = ("planned", "in-progress", "completed", "dropped", "paused")
# How much of media.release_date is known; the stored date is the first day of that period.
DATE_PRECISIONS = ("year", "month", "day")
USER_ROLES = ("user", "admin")
LIST_TYPES = ("static", "smart")
PROFILE_VISIBILITIES = ("public", "private")
# What an API token may do; cumulative, each implying those before it.
TOKEN_SCOPES = ("READ", "WRITE", "ADMIN")
LIBRARY_SORTS = ("updated_at", "rating", "title", "release_date", "status", "completed_at", "started_at")


def graphql_name(value: str) -> str:
    """The GraphQL enum name of a stored value: `in-progress` is IN_PROGRESS."""
    return value.upper().replace("-", "_")
