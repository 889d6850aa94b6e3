"""The authorization and privacy matrix (SPEC §5), table-driven: reads and refusals.

For every object that holds user data (sessions, API tokens, settings and email, tracking entries,
static lists, smart lists, list items, a profile's library and stats) and every caller (the owner's
session, the owner's READ-only token, a second user, an admin, anonymous), each way of reaching the
object (a direct query, `node(id)`, `nodes(ids)`, nested under `user(username)` or `list(id)`) gives
the expected answer. Every refused mutation leaves the database exactly as it was, and answers
exactly what it answers for an object that does not exist.

The owner's profile is PRIVATE; a second owner with a PUBLIC profile shows what others may see.

These tests only read, or are refused, so they share one world per module (`shared_data`: built once,
emptied when the module is done); what the owner and admins may change is in
tests/test_privacy_matrix_writes.py, each on a world of its own.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.config import Settings
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.conftest import app_client, empty_tables
from tests.privacy_world import (
    ADD_LIST_ITEM,
    ADMIN_MUTATIONS,
    ATTEMPTS,
    BULK_UPDATE,
    CALLERS,
    CREATE_LIST,
    MOVE_LIST_ITEM,
    OTHERS,
    PROFILE,
    PROFILE_BY_NODE,
    REMOVE_LIST_ITEM,
    REVOKE_SESSION,
    TRACK,
    World,
    build_world,
    database_state,
    ghost,
)

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
async def world(engine: AsyncEngine, settings: Settings, database_url: str) -> AsyncIterator[World]:
    async with app_client(engine, settings, database_url) as client:
        built = await build_world(client, engine)
    yield built
    await empty_tables(engine)


# --- reads ----------------------------------------------------------------------------------------

HIDDEN_PROFILE = {
    "username": "owner",
    "createdAt": None,
    "email": None,
    "role": None,
    "settings": None,
    "apiTokens": None,
    "sessions": None,
    "library": None,
    "stats": None,
    "lists": {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "edges": []},
}


def _owners_view() -> dict[str, Any]:
    return {
        "email": "owner@example.test",
        "role": "USER",
        "settings": {"profileVisibility": "PRIVATE"},
        "library": {"totalCount": 1, "edges": [{"node": {"notes": "secret note", "rating": 9}}]},
        "stats": {"total": 1, "meanRating": 9.0},
        "list_count": 4,
    }


def _profile_summary(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "email": profile["email"],
        "role": profile["role"],
        "settings": profile["settings"],
        "library": profile["library"],
        "stats": profile["stats"],
        "list_count": profile["lists"]["totalCount"],
    }


@pytest.mark.parametrize("path", ["user", "node"])
@pytest.mark.parametrize("caller", CALLERS)
async def test_a_private_profile_shows_its_data_to_its_owner_only(
    client: GraphQLClient, world: World, caller: str, path: str
) -> None:
    if path == "user":
        result = await client(PROFILE, {"username": "owner"}, token=world.tokens[caller])
        profile = result.data["user"]
    else:
        variables = {"id": to_global_id("User", world.owner_id)}
        profile = (await client(PROFILE_BY_NODE, variables, token=world.tokens[caller])).data["node"]
    if caller.startswith("owner"):
        # The email and the account's security show on a sign-in session only, never to an API token
        # handed to an app.
        if caller == "owner":
            assert _profile_summary(profile) == _owners_view()
            assert profile["apiTokens"]
            assert profile["sessions"]
        else:
            assert _profile_summary(profile) == {**_owners_view(), "email": None}
            assert (profile["apiTokens"], profile["sessions"]) == (None, None)
    else:
        assert profile == HIDDEN_PROFILE


@pytest.mark.parametrize("caller", OTHERS)
async def test_a_public_profile_shows_library_and_public_lists_but_no_account_fields(
    client: GraphQLClient, world: World, caller: str
) -> None:
    profile = (await client(PROFILE, {"username": "sharer"}, token=world.tokens[caller])).data["user"]
    assert _profile_summary(profile) == {
        "email": None,
        "role": None,
        "settings": None,
        "library": {"totalCount": 1, "edges": [{"node": {"notes": "secret note", "rating": 9}}]},
        "stats": {"total": 1, "meanRating": 9.0},
        "list_count": 1,
    }
    assert profile["apiTokens"] is None
    assert profile["sessions"] is None


VIEWER_ENTRY = "query($id: ID!) { media(id: $id) { viewerEntry { notes } stats { trackers } } }"


@pytest.mark.parametrize("caller", CALLERS)
async def test_media_viewer_entry_is_the_callers_own(
    client: GraphQLClient, world: World, caller: str
) -> None:
    media = (await client(VIEWER_ENTRY, {"id": world.media_id}, token=world.tokens[caller])).data["media"]
    expected = {"notes": "secret note"} if caller.startswith("owner") else None
    # Two entries, one of a PRIVATE profile: aggregates count the PUBLIC one only, for everyone.
    assert media == {"viewerEntry": expected, "stats": {"trackers": 1}}


LIST_FIELDS = """
id isPublic itemsRestricted owner { username }
items { totalCount edges { node { title } } }
"""
LIST_DIRECT = f"query($id: ID!) {{ list(id: $id) {{ {LIST_FIELDS} }} }}"
LIST_NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on UserList {{ {LIST_FIELDS} }} }} }}"
LIST_NODES = f"query($id: ID!) {{ nodes(ids: [$id]) {{ ... on UserList {{ {LIST_FIELDS} }} }} }}"
LIST_NESTED = f"""
query($username: String!) {{ user(username: $username) {{ lists {{ edges {{ node {{ {LIST_FIELDS} }} }} }} }} }}"""


async def _read_list(client: GraphQLClient, path: str, list_id: str, token: str | None) -> Any:
    """The list as reached through `path`; None when that path does not show it."""
    if path == "list":
        return (await client(LIST_DIRECT, {"id": list_id}, token=token)).data["list"]
    if path == "node":
        return (await client(LIST_NODE, {"id": list_id}, token=token)).data["node"]
    if path == "nodes":
        return (await client(LIST_NODES, {"id": list_id}, token=token)).data["nodes"][0]
    profile = (await client(LIST_NESTED, {"username": "owner"}, token=token)).data["user"]
    matches = [edge["node"] for edge in profile["lists"]["edges"] if edge["node"]["id"] == list_id]
    return matches[0] if matches else None


@dataclass(frozen=True)
class ListRead:
    """What a caller sees of one list: None (it does not exist for them) or (owner shown, item titles)."""

    list_attr: str
    owner: Callable[[str], tuple[str | None, list[str]] | None]


def _owner_only(items: list[str]) -> Callable[[str], tuple[str | None, list[str]] | None]:
    return lambda caller: ("owner", items) if caller.startswith("owner") else None


def _public_on_private_profile(items_for_others: list[str]) -> Callable[[str], Any]:
    return lambda caller: ("owner", ["Owned"]) if caller.startswith("owner") else (None, items_for_others)


LIST_READS = {
    "private static list": ListRead("private_list", _owner_only(["Owned"])),
    "private smart list": ListRead("private_smart_list", _owner_only(["Owned"])),
    "public static list, private profile": ListRead("public_list", _public_on_private_profile(["Owned"])),
    # Its items are the owner's COMPLETED entries: a private library, so others see none.
    "public smart list by library, private profile": ListRead(
        "public_smart_list", _public_on_private_profile([])
    ),
}


@pytest.mark.parametrize("path", ["list", "node", "nodes", "nested"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", list(LIST_READS))
async def test_lists_show_only_what_the_caller_may_see(
    client: GraphQLClient, world: World, case: str, caller: str, path: str
) -> None:
    read = LIST_READS[case]
    list_id = getattr(world, read.list_attr)
    seen = await _read_list(client, path, list_id, world.tokens[caller])
    expected = read.owner(caller)
    if path == "nested" and not caller.startswith("owner"):
        expected = None  # a PRIVATE profile lists nothing to others; public lists stay reachable by id
    if expected is None:
        assert seen is None
        return
    owner, titles = expected
    assert seen is not None
    assert (
        seen["owner"] and seen["owner"]["username"],
        [e["node"]["title"] for e in seen["items"]["edges"]],
    ) == (
        owner,
        titles,
    )
    assert seen["items"]["totalCount"] == len(titles)
    assert seen["itemsRestricted"] is (case.startswith("public smart") and not caller.startswith("owner"))


@pytest.mark.parametrize("caller", OTHERS)
async def test_a_public_profiles_smart_list_shows_its_items(
    client: GraphQLClient, world: World, caller: str
) -> None:
    seen = await _read_list(client, "list", world.public_owner_list, world.tokens[caller])
    assert seen["owner"] == {"username": "sharer"}
    assert [edge["node"]["title"] for edge in seen["items"]["edges"]] == ["Owned"]
    assert seen["itemsRestricted"] is False


PRIVATE_NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
PRIVATE_NODE = "query($id: ID!) { node(id: $id) { id } }"
# Sessions and tokens: the owner on a sign-in session only. Entries: where the owner's library shows.
NODE_READERS: dict[str, tuple[str, ...]] = {
    "api_token_id": ("owner",),
    "session_id": ("owner",),
    "entry_id": ("owner", "owner_read_token"),
    "public_owner_entry_id": CALLERS,
}


@pytest.mark.parametrize("path", ["node", "nodes"])
@pytest.mark.parametrize("caller", CALLERS)
async def test_sessions_tokens_and_entries_are_nodes_only_for_who_may_see_them(
    client: GraphQLClient, world: World, caller: str, path: str
) -> None:
    ids = [getattr(world, attr) for attr in NODE_READERS] + [to_global_id("UserList", uuid.UUID(int=0))]
    token = world.tokens[caller]
    if path == "nodes":
        seen = (await client(PRIVATE_NODES, {"ids": ids}, token=token)).data["nodes"]
    else:
        seen = [(await client(PRIVATE_NODE, {"id": id_}, token=token)).data["node"] for id_ in ids]
    expected = [
        {"id": getattr(world, attr)} if caller in readers else None for attr, readers in NODE_READERS.items()
    ]
    assert seen == [*expected, None]


@pytest.mark.parametrize("caller", CALLERS)
async def test_an_id_of_another_type_finds_nothing(client: GraphQLClient, world: World, caller: str) -> None:
    private_list_as_media = to_global_id("Media", uuid.UUID(bytes=_raw(world.private_list).bytes))
    media_as_list = to_global_id("UserList", _raw(world.media_id))
    result = await client(
        "query($m: ID!, $l: ID!) { media(id: $m) { id } list(id: $l) { id } }",
        {"m": private_list_as_media, "l": media_as_list},
        token=world.tokens[caller],
    )
    assert result.data == {"media": None, "list": None}


def _raw(global_id: str) -> uuid.UUID:
    from gql.relay import from_global_id

    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


EXPECTED_REFUSAL = {"anonymous": "UNAUTHENTICATED", "owner_read_token": "FORBIDDEN"}


@pytest.mark.parametrize("caller", ["stranger", "admin", "anonymous", "owner_read_token"])
@pytest.mark.parametrize("attempt", list(ATTEMPTS))
async def test_refused_mutations_change_nothing(
    client: GraphQLClient, engine: AsyncEngine, world: World, attempt: str, caller: str
) -> None:
    row = ATTEMPTS[attempt]
    before = await database_state(engine)
    payload = (await client(row.document, row.target(world), token=world.tokens[caller])).data[row.field]
    codes = [error["code"] for error in payload["userErrors"]]
    if caller in EXPECTED_REFUSAL:
        assert codes == [EXPECTED_REFUSAL[caller]]
    elif "public list" in attempt:
        assert codes == ["FORBIDDEN"]
    else:
        assert codes == ["NOT_FOUND"]
    if row.missing is not None and caller not in EXPECTED_REFUSAL:
        ghost = (await client(row.document, row.missing(world), token=world.tokens[caller])).data[row.field]
        assert ghost == payload, "a private object must look exactly like a missing one"
    assert await database_state(engine) == before


OWNER_ONLY_ATTEMPTS = {
    "update settings": (
        "mutation { updateSettings(input: {profileVisibility: PUBLIC}) { userErrors { code } } }",
        "updateSettings",
        None,
    ),
    "track media": (TRACK, "trackMedia", lambda w: {"input": {"mediaId": w.other_media_id}}),
    "create list": (CREATE_LIST, "createList", lambda w: {"input": {"name": "x"}}),
    "create API token": (
        'mutation { createApiToken(input: {name: "x", scopes: [READ]}) { userErrors { code } } }',
        "createApiToken",
        None,
    ),
    "change password": (
        'mutation { changePassword(input: {currentPassword: "correct horse battery staple", '
        'newPassword: "another long passphrase"}) { userErrors { code } } }',
        "changePassword",
        None,
    ),
    "revoke session": (REVOKE_SESSION, "revokeSession", lambda w: {"input": {"id": w.session_id}}),
}


@pytest.mark.parametrize("caller", ["owner_read_token", "anonymous"])
@pytest.mark.parametrize("attempt", list(OWNER_ONLY_ATTEMPTS))
async def test_read_tokens_and_anonymous_callers_cannot_write(
    client: GraphQLClient, engine: AsyncEngine, world: World, attempt: str, caller: str
) -> None:
    document, field, variables = OWNER_ONLY_ATTEMPTS[attempt]
    before = await database_state(engine)
    payload = (
        await client(document, variables(world) if variables else None, token=world.tokens[caller])
    ).data[field]
    assert [error["code"] for error in payload["userErrors"]] == [EXPECTED_REFUSAL[caller]]
    assert await database_state(engine) == before


# --- bad input changes nothing ----------------------------------------------------------------------

LIST_UPDATE = "mutation($input: UpdateListInput!) { updateList(input: $input) { userErrors { code } } }"
BAD_INPUTS: dict[str, tuple[str, str, str, Callable[[World], dict[str, Any]]]] = {
    "rating out of range": (
        TRACK,
        "trackMedia",
        "owner",
        lambda w: {"input": {"mediaId": w.other_media_id, "rating": 11}},
    ),
    "bulk update naming an untracked item": (
        BULK_UPDATE,
        "updateTrackingEntries",
        "owner",
        lambda w: {"input": {"mediaIds": [w.media_id, w.other_media_id], "rating": 1}},
    ),
    "bulk update with an invalid value": (
        BULK_UPDATE,
        "updateTrackingEntries",
        "owner",
        lambda w: {"input": {"mediaIds": [w.media_id], "rating": 1, "progress": -1}},
    ),
    "empty list name": (CREATE_LIST, "createList", "owner", lambda w: {"input": {"name": " "}}),
    "bad smart definition": (
        CREATE_LIST,
        "createList",
        "owner",
        lambda w: {
            "input": {"name": "x", "listType": "SMART", "definition": {"tracking": {"ratingMin": 11}}}
        },
    ),
    "rename with a definition on a static list": (
        LIST_UPDATE,
        "updateList",
        "owner",
        lambda w: {"input": {"id": w.private_list, "name": "renamed", "definition": {"media": {}}}},
    ),
    "rename with a too long description": (
        LIST_UPDATE,
        "updateList",
        "owner",
        lambda w: {"input": {"id": w.private_list, "name": "renamed", "description": "x" * 20_000}},
    ),
    "add a missing media item": (
        ADD_LIST_ITEM,
        "addListItem",
        "owner",
        lambda w: {"input": {"listId": w.private_list, "mediaId": ghost("Media")}},
    ),
    "add an item twice": (
        ADD_LIST_ITEM,
        "addListItem",
        "owner",
        lambda w: {"input": {"listId": w.private_list, "mediaId": w.media_id}},
    ),
    "add to a smart list": (
        ADD_LIST_ITEM,
        "addListItem",
        "owner",
        lambda w: {"input": {"listId": w.private_smart_list, "mediaId": w.other_media_id}},
    ),
    "move to a negative position": (
        MOVE_LIST_ITEM,
        "moveListItem",
        "owner",
        lambda w: {"input": {"listId": w.private_list, "mediaId": w.media_id, "position": -1}},
    ),
    "remove an item not in the list": (
        REMOVE_LIST_ITEM,
        "removeListItem",
        "owner",
        lambda w: {"input": {"listId": w.private_list, "mediaId": w.other_media_id}},
    ),
    "nameless token without scopes": (
        'mutation { createApiToken(input: {name: "", scopes: []}) { userErrors { code } } }',
        "createApiToken",
        "owner",
        lambda w: {},
    ),
    "a weak new password": (
        'mutation { changePassword(input: {currentPassword: "correct horse battery staple", '
        'newPassword: "1234567890"}) { userErrors { code } } }',
        "changePassword",
        "owner",
        lambda w: {},
    ),
    "an empty title": (
        'mutation($m: ID!) { updateMedia(input: {id: $m, title: "", mediaClass: "written.book"}) '
        "{ userErrors { code } } }",
        "updateMedia",
        "admin",
        lambda w: {"m": w.media_id},
    ),
    "a self-loop": (
        ADMIN_MUTATIONS["linkMedia"],
        "linkMedia",
        "admin",
        lambda w: {"m": w.media_id, "o": w.media_id},
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_changes_nothing(
    client: GraphQLClient, engine: AsyncEngine, world: World, case: str
) -> None:
    document, field, caller, variables = BAD_INPUTS[case]
    before = await database_state(engine)
    payload = (await client(document, variables(world), token=world.tokens[caller])).data[field]
    assert payload["userErrors"]
    assert await database_state(engine) == before
