"""The world of the authorization and privacy matrix (tests/test_privacy_matrix.py): an owner with a
PRIVATE profile and their entries, static and smart lists, token and session; a second owner with a
PUBLIC profile; a stranger; an admin. Also the attempts (mutations on the owner's data) both matrix
modules use."""

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import create_api_token
from gql.relay import to_global_id
from tests.client import GraphQLClient
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


async def token_with_scopes(engine: AsyncEngine, user_id: uuid.UUID, scopes: list[str]) -> str:
    async with engine.begin() as conn:
        secret, _ = await create_api_token(conn, user_id, "matrix", scopes, dt.timedelta(days=1))
    return secret


async def build_world(client: GraphQLClient, engine: AsyncEngine) -> World:
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
            "owner_read_token": await token_with_scopes(engine, owner_id, ["READ"]),
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

# --- mutations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A mutation on the owner's data; `target` picks its variables from the world, `missing` the same
    variables naming an object that does not exist (None: the mutation has no target)."""

    document: str
    field: str
    target: Callable[[World], dict[str, Any]]
    missing: Callable[[World], dict[str, Any]] | None


def ghost(type_name: str) -> str:
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
    return lambda world: {"input": {key: ghost("UserList"), **(extra(world) if extra else {})}}


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
    lambda w: {"input": {"id": ghost("UserList"), "definition": {"media": {}}}},
)
ATTEMPTS["revoke API token"] = Attempt(
    REVOKE_TOKEN,
    "revokeApiToken",
    lambda w: {"input": {"id": w.api_token_id}},
    lambda w: {"input": {"id": ghost("ApiToken")}},
)
ATTEMPTS["revoke session"] = Attempt(
    REVOKE_SESSION,
    "revokeSession",
    lambda w: {"input": {"id": w.session_id}},
    lambda w: {"input": {"id": ghost("Session")}},
)
ATTEMPTS["untrack media"] = Attempt(
    UNTRACK, "untrackMedia", lambda w: {"input": {"mediaId": w.media_id}}, None
)
ATTEMPTS["bulk update entries"] = Attempt(
    BULK_UPDATE, "updateTrackingEntries", lambda w: {"input": {"mediaIds": [w.media_id], "rating": 1}}, None
)

# The owner's READ token (and anonymous callers) are refused before anything is looked up.

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
