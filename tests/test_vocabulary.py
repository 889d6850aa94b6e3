"""One source of truth per vocabulary (db/vocabulary.py): the enum types and CHECK constraints of the
database the migrations built, and the GraphQL enums, hold exactly its values. A drift would otherwise
surface as a masked 500 (a value GraphQL accepts that the database refuses) or as a value read from
the database that GraphQL cannot name."""

import re
from enum import Enum

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import vocabulary
from db.models import LIBRARY_IMPORT_STATUSES
from gql.accounts import ProfileVisibility, TokenScope, UserRole
from gql.enums import DatePrecision, MediaType, TrackingStatus
from gql.lists import ListType
from gql.relations import RelationType
from gql.schema import schema
from gql.tracking import LibrarySort

# (schema.table, constraint name) of each CHECK that lists a vocabulary.
CHECKS = {
    ("interaction.user_media", "ck_user_media_status"): vocabulary.TRACKING_STATUSES,
    ("users.users", "ck_users_role"): vocabulary.USER_ROLES,
    ("interaction.user_lists", "ck_user_lists_list_type"): vocabulary.LIST_TYPES,
    ("media.media", "ck_media_release_date_precision"): vocabulary.DATE_PRECISIONS,
    ("media.relationships", "ck_relationships_canonical_direction"): vocabulary.NON_CANONICAL_RELATIONS,
    ("interaction.library_imports", "ck_library_imports_status"): LIBRARY_IMPORT_STATUSES,
}

GRAPHQL_ENUMS: list[tuple[type[Enum], tuple[str, ...]]] = [
    (MediaType, vocabulary.MEDIA_TYPES),
    (RelationType, vocabulary.RELATION_TYPES),
    (TrackingStatus, vocabulary.TRACKING_STATUSES),
    (DatePrecision, vocabulary.DATE_PRECISIONS),
    (UserRole, vocabulary.USER_ROLES),
    (ListType, vocabulary.LIST_TYPES),
    (ProfileVisibility, vocabulary.PROFILE_VISIBILITIES),
    (TokenScope, vocabulary.TOKEN_SCOPES),
    (LibrarySort, vocabulary.LIBRARY_SORTS),
]


async def test_the_relation_type_enum_of_the_database_is_the_vocabulary(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        labels = (
            await conn.execute(
                text(
                    "SELECT enumlabel FROM pg_enum JOIN pg_type ON pg_type.oid = enumtypid "
                    "JOIN pg_namespace ON pg_namespace.oid = typnamespace "
                    "WHERE nspname = 'media' AND typname = 'relation_type' ORDER BY enumsortorder"
                )
            )
        ).scalars()
        assert tuple(labels) == vocabulary.RELATION_TYPES


@pytest.mark.parametrize(("table", "constraint"), list(CHECKS), ids=[name for _, name in CHECKS])
async def test_each_check_constraint_lists_the_vocabulary(
    engine: AsyncEngine, table: str, constraint: str
) -> None:
    async with engine.connect() as conn:
        definition = (
            await conn.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = CAST(:table AS regclass) AND conname = :name"
                ),
                {"table": table, "name": constraint},
            )
        ).scalar_one()
    assert sorted(re.findall(r"'([^']*)'", definition)) == sorted(CHECKS[(table, constraint)]), definition


@pytest.mark.parametrize(("enum", "values"), GRAPHQL_ENUMS, ids=[enum.__name__ for enum, _ in GRAPHQL_ENUMS])
def test_each_graphql_enum_holds_the_vocabulary(enum: type[Enum], values: tuple[str, ...]) -> None:
    assert [member.value for member in enum] == list(values)
    spelt = {member.name for member in enum}
    assert spelt == {vocabulary.graphql_name(value) for value in values}
    served = schema._schema.get_type(enum.__name__)
    assert served is not None
    assert set(served.values) == spelt  # type: ignore[attr-defined]


def test_the_relation_type_description_names_each_inverse_pair() -> None:
    description = schema._schema.get_type("RelationType").description  # type: ignore[union-attr]
    assert description is not None
    for label, inverse in vocabulary.INVERSE_RELATION.items():
        if label not in vocabulary.NON_CANONICAL_RELATIONS:
            assert (
                f"{vocabulary.graphql_name(label)} shows as {vocabulary.graphql_name(inverse)}" in description
            )
