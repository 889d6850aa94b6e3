"""The authorization and privacy matrix (SPEC §5), table-driven.

For every object that holds user data (sessions, API tokens, settings and email, tracking entries,
static lists, smart lists, list items, a profile's library and stats) and every caller (the owner's
session, the owner's READ-only token, a second user, an admin, anonymous), each way of reaching the
object (a direct query, `node(id)`, `nodes(ids)`, nested under `user(username)` or `list(id)`) gives
the expected answer. Every refused mutation leaves the database exactly as it was, and answers
exactly what it answers for an object that does not exist.

The owner's profile is PRIVATE; a second owner with a PUBLIC profile shows what others may see.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import create_api_token
from gql.relay import to_global_id
from tests.client import GraphQLClient, assert_token_refused
from tests.factories import make_media, make_user

CALLERS = ("owner", "owner_read_token", "stranger", "admin", "anonymous")
OTHERS = ("stranger", "admin", "anonymous")


@dataclass
class World:
    owner_id: uuid.UUID
    public_owner_id: uuid.UUID
    tokens: dict[str, str | None]
    media_id: str
    other_media_id: str
    private_list: str
    public_list: str
    private_smart_list: str
    public_smart_list: str
    public_owner_list: str
    api_token_id: str
    session_id: str
    entry_id: str
    public_owner_entry_id: str


CREATE_LIST = """
mutation($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { code message } } }"""
ADD_ITEM = """
mutation($list: ID!, $media: ID!) {
  addListItem(input: {listId: $list, mediaId: $media}) { position userErrors { code message } }
}"""
TRACK = """
mutation($input: TrackMediaInput!) { trackMedia(input: $input) { entry { id } userErrors { code message } } }"""
OWNER_IDS = "{ viewer { apiTokens { id } sessions { id } } }"
SMART_BY_LIBRARY = {"media": {}, "tracking": {"statuses": ["COMPLETED"]}}


async def _create_list(client: GraphQLClient, token: str, **fields: Any) -> str:
    payload = (await client(CREATE_LIST, {"input": fields}, token=token)).data["createList"]
    assert payload["userErrors"] == []
    list_id: str = payload["list"]["id"]
    return list_id


async def _token_with_scopes(engine: AsyncEngine, user_id: uuid.UUID, scopes: list[str]) -> str:
    async with engine.begin() as conn:
        secret, _ = await create_api_token(conn, user_id, "matrix", scopes, dt.timedelta(days=1))
    return secret


@pytest.fixture
async def world(client: GraphQLClient, engine: AsyncEngine) -> World:
    owner_id, owner = await make_user(engine, username="owner")
    public_owner_id, public_owner = await make_user(engine, username="sharer", profile_visibility="public")
    _, stranger = await make_user(engine, username="stranger")
    _, admin = await make_user(engine, username="boss", role="admin")
    media_id = to_global_id("Media", await make_media(engine, title="Owned"))
    other_media_id = to_global_id("Media", await make_media(engine, title="Other"))
    entry_ids = []
    for token in (owner, public_owner):
        entry = {"mediaId": media_id, "status": "COMPLETED", "rating": 9, "notes": "secret note"}
        tracked = (await client(TRACK, {"input": entry}, token=token)).data["trackMedia"]
        assert tracked["userErrors"] == []
        entry_ids.append(tracked["entry"]["id"])
    private_list = await _create_list(client, owner, name="Private")
    public_list = await _create_list(client, owner, name="Public", isPublic=True)
    for list_id in (private_list, public_list):
        added = (await client(ADD_ITEM, {"list": list_id, "media": media_id}, token=owner)).data
        assert added["addListItem"]["userErrors"] == []
    private_smart_list = await _create_list(
        client, owner, name="Private smart", listType="SMART", definition=SMART_BY_LIBRARY
    )
    public_smart_list = await _create_list(
        client, owner, name="Public smart", isPublic=True, listType="SMART", definition=SMART_BY_LIBRARY
    )
    await _create_list(client, public_owner, name="Sharer's private")
    public_owner_list = await _create_list(
        client, public_owner, name="Sharer's", isPublic=True, listType="SMART", definition=SMART_BY_LIBRARY
    )
    created = (
        await client(
            'mutation { createApiToken(input: {name: "cli", scopes: [WRITE]}) { apiToken { id } } }',
            token=owner,
        )
    ).data["createApiToken"]
    ids = (await client(OWNER_IDS, token=owner)).data["viewer"]
    return World(
        owner_id=owner_id,
        public_owner_id=public_owner_id,
        tokens={
            "owner": owner,
            "owner_read_token": await _token_with_scopes(engine, owner_id, ["READ"]),
            "stranger": stranger,
            "admin": admin,
            "anonymous": None,
        },
        media_id=media_id,
        other_media_id=other_media_id,
        private_list=private_list,
        public_list=public_list,
        private_smart_list=private_smart_list,
        public_smart_list=public_smart_list,
        public_owner_list=public_owner_list,
        api_token_id=created["apiToken"]["id"],
        session_id=ids["sessions"][0]["id"],
        entry_id=entry_ids[0],
        public_owner_entry_id=entry_ids[1],
    )


async def database_state(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every user-data and catalog row, without the use timestamps a request bumps by itself."""
    queries = {
        "users": "SELECT id, email, username, password_hash, role, settings::text FROM users.users",
        "sessions": "SELECT id, user_id, revoked_at, expires_at FROM auth.sessions",
        "tokens": "SELECT id, user_id, name, scopes, revoked_at, expires_at FROM auth.tokens",
        "entries": "SELECT * FROM interaction.user_media",
        "lists": "SELECT * FROM interaction.user_lists",
        "items": "SELECT * FROM interaction.list_items",
        "media": "SELECT id, title, updated_at, tracker_count FROM media.media",
        "relations": "SELECT media_id, related_media_id, relation_type::text FROM media.relationships",
        "links": "SELECT * FROM media.external_links",
        "revisions": "SELECT id FROM media.revisions",
    }
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for name, query in queries.items():
            state[name] = sorted((tuple(row) for row in await conn.execute(text(query))), key=repr)
    return state


# --- reads ----------------------------------------------------------------------------------------

PROFILE = """
query($username: String!) {
  user(username: $username) {
    username createdAt email role settings { profileVisibility } apiTokens { id } sessions { id }
    library { totalCount edges { node { notes rating } } }
    stats { total meanRating }
    lists { totalCount pageInfo { hasNextPage } edges { node { id } } }
  }
}"""
PROFILE_BY_NODE = """
query($id: ID!) {
  node(id: $id) {
    ... on User {
      username createdAt email role settings { profileVisibility } apiTokens { id } sessions { id }
      library { totalCount edges { node { notes rating } } }
      stats { total meanRating }
      lists { totalCount pageInfo { hasNextPage } edges { node { id } } }
    }
  }
}"""
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


# --- mutations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A mutation on the owner's data; `target` picks its variables from the world, `missing` the same
    variables naming an object that does not exist (None: the mutation has no target)."""

    document: str
    field: str
    target: Callable[[World], dict[str, Any]]
    missing: Callable[[World], dict[str, Any]] | None


def _ghost(type_name: str) -> str:
    return to_global_id(type_name, uuid.uuid4())


UPDATE_LIST = "mutation($input: UpdateListInput!) { updateList(input: $input) { list { id } userErrors { field code message } } }"
DELETE_LIST = "mutation($input: DeleteListInput!) { deleteList(input: $input) { deletedListId userErrors { field code message } } }"
ADD_LIST_ITEM = "mutation($input: AddListItemInput!) { addListItem(input: $input) { position userErrors { field code message } } }"
REMOVE_LIST_ITEM = "mutation($input: RemoveListItemInput!) { removeListItem(input: $input) { position userErrors { field code message } } }"
MOVE_LIST_ITEM = "mutation($input: MoveListItemInput!) { moveListItem(input: $input) { position userErrors { field code message } } }"
REVOKE_TOKEN = "mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { apiToken { id } userErrors { field code message } } }"
REVOKE_SESSION = "mutation($input: RevokeSessionInput!) { revokeSession(input: $input) { revokedSessionId userErrors { field code message } } }"
UNTRACK = "mutation($input: UntrackMediaInput!) { untrackMedia(input: $input) { untrackedMediaId userErrors { field code message } } }"
BULK_UPDATE = "mutation($input: UpdateTrackingEntriesInput!) { updateTrackingEntries(input: $input) { entries { id } userErrors { field code message } } }"


def _on_list(
    attr: str, extra: Callable[[World], dict[str, Any]] | None = None, key: str = "id"
) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"input": {key: getattr(world, attr), **(extra(world) if extra else {})}}


def _on_ghost_list(
    extra: Callable[[World], dict[str, Any]] | None = None, key: str = "id"
) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"input": {key: _ghost("UserList"), **(extra(world) if extra else {})}}


def _media(world: World) -> dict[str, Any]:
    return {"mediaId": world.media_id}


def _other_media(world: World) -> dict[str, Any]:
    return {"mediaId": world.other_media_id}


def _move(world: World) -> dict[str, Any]:
    return {"mediaId": world.media_id, "position": 0}


LIST_ATTEMPTS = {
    "rename list": (UPDATE_LIST, "updateList", lambda w: {"name": "pwned", "isPublic": True}, "id"),
    "delete list": (DELETE_LIST, "deleteList", None, "id"),
    "add item": (ADD_LIST_ITEM, "addListItem", _other_media, "listId"),
    "remove item": (REMOVE_LIST_ITEM, "removeListItem", _media, "listId"),
    "move item": (MOVE_LIST_ITEM, "moveListItem", _move, "listId"),
}

ATTEMPTS: dict[str, Attempt] = {}
for _name, (_document, _field, _extra, _key) in LIST_ATTEMPTS.items():
    ATTEMPTS[f"{_name} (private list)"] = Attempt(
        _document, _field, _on_list("private_list", _extra, _key), _on_ghost_list(_extra, _key)
    )
    ATTEMPTS[f"{_name} (public list)"] = Attempt(
        _document, _field, _on_list("public_list", _extra, _key), None
    )
ATTEMPTS["redefine smart list"] = Attempt(
    UPDATE_LIST,
    "updateList",
    lambda w: {"input": {"id": w.private_smart_list, "definition": {"media": {}}}},
    lambda w: {"input": {"id": _ghost("UserList"), "definition": {"media": {}}}},
)
ATTEMPTS["revoke API token"] = Attempt(
    REVOKE_TOKEN,
    "revokeApiToken",
    lambda w: {"input": {"id": w.api_token_id}},
    lambda w: {"input": {"id": _ghost("ApiToken")}},
)
ATTEMPTS["revoke session"] = Attempt(
    REVOKE_SESSION,
    "revokeSession",
    lambda w: {"input": {"id": w.session_id}},
    lambda w: {"input": {"id": _ghost("Session")}},
)
ATTEMPTS["untrack media"] = Attempt(
    UNTRACK, "untrackMedia", lambda w: {"input": {"mediaId": w.media_id}}, None
)
ATTEMPTS["bulk update entries"] = Attempt(
    BULK_UPDATE, "updateTrackingEntries", lambda w: {"input": {"mediaIds": [w.media_id], "rating": 1}}, None
)

# The owner's READ token (and anonymous callers) are refused before anything is looked up.
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


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
async def test_the_owners_session_may_do_each_refused_change(
    client: GraphQLClient, world: World, attempt: str
) -> None:
    """The control row: what everyone else is refused, the owner does (so the refusals test something)."""
    row = ATTEMPTS[attempt]
    payload = (await client(row.document, row.target(world), token=world.tokens["owner"])).data[row.field]
    assert payload["userErrors"] == []


# --- the catalog: admins edit it, nobody else does --------------------------------------------------

ADMIN_MUTATIONS = {
    "createMedia": 'mutation { createMedia(input: {title: "X", mediaType: BOOK, mediaClass: "written.book"}) '
    "{ userErrors { code } } }",
    "updateMedia": 'mutation($m: ID!) { updateMedia(input: {id: $m, title: "pwned"}) { userErrors { code } } }',
    "deleteMedia": "mutation($m: ID!) { deleteMedia(input: {id: $m}) { userErrors { code } } }",
    "linkMedia": "mutation($m: ID!, $o: ID!) { linkMedia(input: {mediaId: $m, relatedMediaId: $o, "
    "relationType: SEQUEL}) { userErrors { code } } }",
    "addExternalLink": 'mutation($m: ID!) { addExternalLink(input: {mediaId: $m, sourceName: "tmdb", '
    'externalKey: "1"}) { userErrors { code } } }',
}
ADMIN_REFUSED = {
    "stranger": "a user's session",
    "owner_read_token": "a user's READ token",
    "admin_read_token": "an admin's READ token",
    "admin_write_token": "an admin's token without the ADMIN scope",
    "user_admin_token": "an ADMIN-scoped token of a user who is no admin",
    "demoted_admin_token": "an ADMIN token of an admin demoted since",
    "anonymous": "nobody",
}


async def _admin_callers(engine: AsyncEngine, world: World) -> dict[str, str | None]:
    async with engine.connect() as conn:
        admin_id = (
            await conn.execute(text("SELECT id FROM users.users WHERE username = 'boss'"))
        ).scalar_one()
    demoted_id, _ = await make_user(engine, username="demoted", role="admin")
    demoted_token = await _token_with_scopes(engine, demoted_id, ["READ", "WRITE", "ADMIN"])
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users.users SET role = 'user' WHERE id = :id"), {"id": demoted_id})
    return {
        "stranger": world.tokens["stranger"],
        "owner_read_token": world.tokens["owner_read_token"],
        "admin_read_token": await _token_with_scopes(engine, admin_id, ["READ"]),
        "admin_write_token": await _token_with_scopes(engine, admin_id, ["READ", "WRITE"]),
        "user_admin_token": await _token_with_scopes(engine, world.owner_id, ["READ", "WRITE", "ADMIN"]),
        "demoted_admin_token": demoted_token,
        "anonymous": None,
    }


@pytest.mark.parametrize("mutation", list(ADMIN_MUTATIONS))
async def test_only_admins_change_the_catalog(
    client: GraphQLClient, engine: AsyncEngine, world: World, mutation: str
) -> None:
    callers = await _admin_callers(engine, world)
    variables = {"m": world.media_id, "o": world.other_media_id}
    document = ADMIN_MUTATIONS[mutation]
    before = await database_state(engine)
    for caller, token in callers.items():
        payload = (await client(document, variables, token=token)).data[mutation]
        assert [error["code"] for error in payload["userErrors"]] == ["FORBIDDEN"], ADMIN_REFUSED[caller]
    assert await database_state(engine) == before
    admitted = (await client(document, variables, token=world.tokens["admin"])).data[mutation]
    assert admitted["userErrors"] == []
    assert await database_state(engine) != before


REVISIONS = "query($m: ID!) { media(id: $m) { revisions { action } } }"


async def test_revisions_are_for_admins_only(
    client: GraphQLClient, engine: AsyncEngine, world: World
) -> None:
    await client(ADMIN_MUTATIONS["updateMedia"], {"m": world.media_id}, token=world.tokens["admin"])
    callers = await _admin_callers(engine, world)
    seen = {
        caller: (await client(REVISIONS, {"m": world.media_id}, token=token)).data["media"]["revisions"]
        for caller, token in callers.items()
    }
    assert seen == dict.fromkeys(callers)
    admin_view = await client(REVISIONS, {"m": world.media_id}, token=world.tokens["admin"])
    assert admin_view.data["media"]["revisions"] == [{"action": "UPDATE"}]


# --- dead credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("death", ["revoked token", "expired token", "revoked session", "expired session"])
async def test_dead_credentials_are_refused_and_see_nothing(
    client: GraphQLClient, engine: AsyncEngine, world: World, death: str
) -> None:
    token = world.tokens["owner_read_token"] if "token" in death else world.tokens["owner"]
    table = "auth.tokens" if "token" in death else "auth.sessions"
    change = "revoked_at = now()" if "revoked" in death else "expires_at = now() - interval '1 second'"
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE {table} SET {change} WHERE user_id = :id"), {"id": world.owner_id})
    assert_token_refused(await client(PROFILE, {"username": "owner"}, token=token))
    assert_token_refused(await client("{ viewer { id } }", token=token))


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
        lambda w: {"input": {"listId": w.private_list, "mediaId": _ghost("Media")}},
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
