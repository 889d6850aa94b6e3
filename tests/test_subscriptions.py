"""Subscriptions over graphql-transport-ws against real server processes, with a real WebSocket client:
writes from other connections arrive, other users' private data never does, rolled-back writes send
nothing, revoked credentials close the connection, and two server processes on one database both
deliver. Timeouts are failure bounds only."""

import asyncio
import base64
import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from db.accounts import create_session
from db.library_import import jobs as job_queries
from db.library_import.apply import ImportCounts
from db.models import UserMedia
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import FIXTURE_PASSWORD, link_media, make_media, make_user
from tests.server_process import ServerProcess, running_server

EVENT_TIMEOUT = 10.0
CONNECTIONS_PER_CLIENT = 3
SUBSCRIPTIONS_PER_CONNECTION = 3

LIBRARY_CHANGED = """
subscription { libraryChanged { kind entryId mediaId entry { status progress media { title } } } }
"""
LIST_CHANGED = """
subscription ($id: ID!) { listChanged(id: $id) { kind listId mediaIds list { name isPublic } } }
"""
MEDIA_CHANGED = "subscription ($id: ID!) { mediaChanged(id: $id) { kind mediaId media { title } } }"
IMPORT_PROGRESS = """
subscription ($id: ID!) { libraryImportProgress(id: $id) { status counts { processed created } } }
"""
TRACK = """
mutation ($input: TrackMediaInput!) { trackMedia(input: $input) { userErrors { code message } } }
"""
UNTRACK = """
mutation ($input: UntrackMediaInput!) { untrackMedia(input: $input) { userErrors { code } } }
"""
CREATE_LIST = """
mutation ($input: CreateListInput!) { createList(input: $input) { list { id } userErrors { code } } }
"""
UPDATE_LIST = """
mutation ($input: UpdateListInput!) { updateList(input: $input) { userErrors { code } } }
"""
ADD_ITEM = """
mutation ($input: AddListItemInput!) { addListItem(input: $input) { userErrors { code } } }
"""
DELETE_LIST = """
mutation ($input: DeleteListInput!) { deleteList(input: $input) { userErrors { code } } }
"""
LOGOUT = "mutation { logout { ok userErrors { code } } }"
CHANGE_PASSWORD = """
mutation ($input: ChangePasswordInput!) { changePassword(input: $input) { userErrors { code } } }
"""
CREATE_TOKEN = """
mutation ($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { id } userErrors { code } }
}
"""
REVOKE_TOKEN = """
mutation ($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) { userErrors { code } } }
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("subscriptions") / "server-a.log"
    env = {
        "DATABASE_URL": database_url,
        "OMT_RATE_LIMIT_PER_MINUTE": "0",
        "OMT_WS_CONNECTIONS_PER_CLIENT": str(CONNECTIONS_PER_CLIENT),
        "OMT_CORS_ORIGINS": "https://app.example",
        "OMT_WS_SUBSCRIPTIONS_PER_CONNECTION": str(SUBSCRIPTIONS_PER_CONNECTION),
        "OMT_WS_INIT_TIMEOUT_SECONDS": "3",
        "OMT_WS_CREDENTIAL_RECHECK_SECONDS": "1",
    }
    with running_server(log, env, "--workers", "1") as process:
        yield process


@pytest.fixture(scope="module")
def second_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("subscriptions") / "server-b.log"
    env = {"DATABASE_URL": database_url, "OMT_RATE_LIMIT_PER_MINUTE": "0", "OMT_WS_QUEUE_SIZE": "4"}
    with running_server(log, env, "--workers", "1") as process:
        yield process


class Client:
    """A graphql-transport-ws client: the protocol's messages, one at a time, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = iter(range(1, 10**6))
        self.pending: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT))
        return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        operation_id = str(next(self.ids))
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
        return operation_id

    async def live(self) -> None:
        """Wait until the subscriptions sent so far receive changes: the server reads a ping only
        once the subscribe messages before it are started. Messages before the pong are kept."""
        await self.ws.send(json.dumps({"type": "ping"}))
        received = []
        while (message := json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT))) != {
            "type": "pong"
        }:
            received.append(message)
        self.pending.extend(received)

    async def next_event(self, operation_id: str) -> dict[str, Any]:
        message = await self.receive()
        assert message.get("id") == operation_id, message
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def refusal(self, operation_id: str) -> str:
        """The code of a subscription refused when it starts (a `next` with errors, then `complete`)."""
        message = await self.receive()
        assert message["id"] == operation_id
        assert message["type"] == "next"
        assert message["payload"]["data"] is None
        assert await self.receive() == {"id": operation_id, "type": "complete"}
        code: str = message["payload"]["errors"][0]["extensions"]["code"]
        return code

    async def close_code(self) -> int | None:
        try:
            while True:
                await self.receive()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


@asynccontextmanager
async def ws_client(
    server: ServerProcess, token: str | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], additional_headers=headers) as ws:  # type: ignore[list-item]
        client = Client(ws)
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        if token != "refuse-me":
            assert await client.receive() == {"type": "connection_ack"}
        yield client


async def http(server: ServerProcess, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await asyncio.to_thread(server.graphql, query, variables, token)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    for payload in data.values():
        assert not (payload or {}).get("userErrors"), data
    return data


def media_gid(media_id: uuid.UUID) -> str:
    return to_global_id("Media", media_id)


async def track(server: ServerProcess, token: str, media_id: uuid.UUID, **fields: Any) -> None:
    await http(server, TRACK, {"input": {"mediaId": media_gid(media_id), **fields}}, token)


async def test_the_owners_writes_from_another_connection_arrive(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Dune")
    user_id, token = await make_user(engine)
    async with ws_client(server, token) as client:
        operation = await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        await track(server, token, media_id, status="IN_PROGRESS")
        created = (await client.next_event(operation))["libraryChanged"]
        await track(server, token, media_id, progress=3)
        updated = (await client.next_event(operation))["libraryChanged"]
        await http(server, UNTRACK, {"input": {"mediaId": media_gid(media_id)}}, token)
        removed = (await client.next_event(operation))["libraryChanged"]
    entry_id = to_global_id("TrackingEntry", user_id, media_id)
    assert created == {
        "kind": "CREATED",
        "entryId": entry_id,
        "mediaId": media_gid(media_id),
        "entry": {"status": "IN_PROGRESS", "progress": 0, "media": {"title": "Dune"}},
    }
    assert updated["kind"] == "UPDATED"
    assert updated["entry"]["progress"] == 3
    assert removed == {"kind": "REMOVED", "entryId": entry_id, "mediaId": media_gid(media_id), "entry": None}


async def test_two_clients_of_one_user_on_two_server_processes_see_each_others_writes(
    server: ServerProcess, second_server: ServerProcess, engine: AsyncEngine
) -> None:
    phone_item, web_item = await make_media(engine), await make_media(engine)
    _, token = await make_user(engine)
    async with ws_client(server, token) as phone, ws_client(second_server, token) as web:
        on_phone = await phone.subscribe(LIBRARY_CHANGED)
        on_web = await web.subscribe(LIBRARY_CHANGED)
        await phone.live()
        await web.live()
        await track(server, token, phone_item)
        assert (await web.next_event(on_web))["libraryChanged"]["mediaId"] == media_gid(phone_item)
        assert (await phone.next_event(on_phone))["libraryChanged"]["mediaId"] == media_gid(phone_item)
        await track(second_server, token, web_item)
        assert (await phone.next_event(on_phone))["libraryChanged"]["mediaId"] == media_gid(web_item)
        assert (await web.next_event(on_web))["libraryChanged"]["mediaId"] == media_gid(web_item)


async def test_another_users_entries_never_arrive(server: ServerProcess, engine: AsyncEngine) -> None:
    theirs, mine = await make_media(engine), await make_media(engine)
    _, their_token = await make_user(engine)
    _, my_token = await make_user(engine)
    async with ws_client(server, my_token) as client:
        operation = await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        await track(server, their_token, theirs)
        await track(server, my_token, mine)
        # Changes are routed in commit order into one queue: theirs would have come first.
        assert (await client.next_event(operation))["libraryChanged"]["mediaId"] == media_gid(mine)


async def test_a_rolled_back_write_sends_nothing(server: ServerProcess, engine: AsyncEngine) -> None:
    rolled_back, committed = await make_media(engine), await make_media(engine)
    user_id, token = await make_user(engine)
    async with ws_client(server, token) as client:
        operation = await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await conn.execute(insert(UserMedia).values(user_id=user_id, media_id=rolled_back))
            await transaction.rollback()
        await track(server, token, committed)
        assert (await client.next_event(operation))["libraryChanged"]["mediaId"] == media_gid(committed)


async def test_a_private_list_is_watched_by_its_owner_only(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    first, second = await make_media(engine), await make_media(engine)
    _, owner_token = await make_user(engine)
    _, other_token = await make_user(engine)
    created = await http(server, CREATE_LIST, {"input": {"name": "Mine", "isPublic": True}}, owner_token)
    list_id = created["createList"]["list"]["id"]
    async with ws_client(server, other_token) as other, ws_client(server, owner_token) as owner:
        watching = await other.subscribe(LIST_CHANGED, {"id": list_id})
        await other.live()
        owner_watching = await owner.subscribe(LIST_CHANGED, {"id": list_id})
        await owner.live()
        await http(server, ADD_ITEM, {"input": {"listId": list_id, "mediaId": media_gid(first)}}, owner_token)
        added = (await other.next_event(watching))["listChanged"]
        assert added == {
            "kind": "ITEMS_ADDED",
            "listId": list_id,
            "mediaIds": [media_gid(first)],
            "list": {"name": "Mine", "isPublic": True},
        }
        await http(server, UPDATE_LIST, {"input": {"id": list_id, "isPublic": False}}, owner_token)
        # The list is no longer the other user's to read: their subscription ends, with nothing.
        assert await other.receive() == {"id": watching, "type": "complete"}
        await http(
            server, ADD_ITEM, {"input": {"listId": list_id, "mediaId": media_gid(second)}}, owner_token
        )
        for expected in ("ITEMS_ADDED", "UPDATED", "ITEMS_ADDED"):
            assert (await owner.next_event(owner_watching))["listChanged"]["kind"] == expected
        again = await other.subscribe(LIST_CHANGED, {"id": list_id})
        assert await other.refusal(again) == "NOT_FOUND"


async def test_a_smart_list_signals_when_its_result_may_have_changed(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Before")
    _, owner_token = await make_user(engine)
    _, other_token = await make_user(engine)
    smart = {
        "name": "Books",
        "isPublic": True,
        "listType": "SMART",
        "definition": {"media": {"mediaTypes": ["BOOK"]}},
    }
    created = await http(server, CREATE_LIST, {"input": smart}, owner_token)
    list_id = created["createList"]["list"]["id"]
    async with ws_client(server, other_token) as other:
        watching = await other.subscribe(LIST_CHANGED, {"id": list_id})
        await other.live()
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE media.media SET title = 'After', updated_at = now() WHERE id = :id"),
                {"id": media_id},
            )
        signal = (await other.next_event(watching))["listChanged"]
    assert signal == {
        "kind": "RESULT_MAY_HAVE_CHANGED",
        "listId": list_id,
        "mediaIds": [],
        "list": {"name": "Books", "isPublic": True},
    }


async def test_deleting_a_list_ends_its_subscription(server: ServerProcess, engine: AsyncEngine) -> None:
    media_id = await make_media(engine)
    _, owner_token = await make_user(engine)
    _, other_token = await make_user(engine)
    created = await http(server, CREATE_LIST, {"input": {"name": "Gone", "isPublic": True}}, owner_token)
    list_id = created["createList"]["list"]["id"]
    await http(server, ADD_ITEM, {"input": {"listId": list_id, "mediaId": media_gid(media_id)}}, owner_token)
    async with ws_client(server, other_token) as other:
        watching = await other.subscribe(LIST_CHANGED, {"id": list_id})
        await other.live()
        await http(server, DELETE_LIST, {"input": {"id": list_id}}, owner_token)
        deleted = (await other.next_event(watching))["listChanged"]
        assert await other.receive() == {"id": watching, "type": "complete"}
    assert deleted == {"kind": "DELETED", "listId": list_id, "mediaIds": [], "list": None}


async def test_losing_the_listener_connection_closes_connections_and_listening_resumes(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine)
    _, token = await make_user(engine)
    async with ws_client(server, token) as client:
        await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'omnimediatrak-listener' AND datname = current_database()"
                )
            )
        # Changes may have been missed: the client must reconnect and refetch.
        assert await client.close_code() == 1012
    # connection_init waits until the process listens again.
    async with ws_client(server, token) as client:
        operation = await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        await track(server, token, media_id)
        assert (await client.next_event(operation))["libraryChanged"]["mediaId"] == media_gid(media_id)


async def test_logging_out_closes_the_sessions_subscriptions(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    async with ws_client(server, token) as client:
        await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        await http(server, LOGOUT, {}, token)
        assert await client.close_code() == 4403


async def test_a_revoked_api_token_closes_its_subscriptions(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    _, session = await make_user(engine)
    created = await http(server, CREATE_TOKEN, {"input": {"name": "phone", "scopes": ["READ"]}}, session)
    token, token_id = created["createApiToken"]["token"], created["createApiToken"]["apiToken"]["id"]
    async with ws_client(server, token) as client, ws_client(server, session) as untouched:
        await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        kept = await untouched.subscribe(LIBRARY_CHANGED)
        await untouched.live()
        await http(server, REVOKE_TOKEN, {"input": {"id": token_id}}, session)
        assert await client.close_code() == 4403
        media_id = await make_media(engine)
        await track(server, session, media_id)
        assert (await untouched.next_event(kept))["libraryChanged"]["mediaId"] == media_gid(media_id)


async def test_a_password_change_closes_the_other_sessions_subscriptions(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    user_id, here = await make_user(engine)
    async with engine.begin() as conn:
        there, _ = await create_session(conn, user_id, dt.timedelta(days=1))
    async with ws_client(server, there) as elsewhere, ws_client(server, here) as this_device:
        await elsewhere.subscribe(LIBRARY_CHANGED)
        await elsewhere.live()
        kept = await this_device.subscribe(LIBRARY_CHANGED)
        await this_device.live()
        change = {"currentPassword": FIXTURE_PASSWORD, "newPassword": "an entirely new passphrase 42"}
        await http(server, CHANGE_PASSWORD, {"input": change}, here)
        assert await elsewhere.close_code() == 4403
        media_id = await make_media(engine)
        await track(server, here, media_id)
        assert (await this_device.next_event(kept))["libraryChanged"]["mediaId"] == media_gid(media_id)


async def test_an_expired_api_token_closes_its_subscriptions(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    _, session = await make_user(engine)
    created = await http(server, CREATE_TOKEN, {"input": {"name": "tv", "scopes": ["READ"]}}, session)
    token = created["createApiToken"]["token"]
    async with ws_client(server, token) as client:
        await client.subscribe(LIBRARY_CHANGED)
        await client.live()
        # Expiry writes nothing a trigger could tell: the periodic check (every second here) finds it.
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE auth.tokens SET expires_at = now() - interval '1 second'"))
        assert await client.close_code() == 4403


async def test_an_invalid_token_is_refused_with_4403(server: ServerProcess) -> None:
    async with ws_client(server, "refuse-me") as client:
        assert await client.close_code() == 4403


async def test_connections_per_user_are_bounded(server: ServerProcess, engine: AsyncEngine) -> None:
    _, token = await make_user(engine)
    async with ws_client(server, token), ws_client(server, token), ws_client(server, token):
        url = f"ws://127.0.0.1:{server.port}/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
            )
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Too many connections")


async def test_subscriptions_per_connection_are_bounded(server: ServerProcess, engine: AsyncEngine) -> None:
    _, token = await make_user(engine)
    async with ws_client(server, token) as client:
        for _ in range(SUBSCRIPTIONS_PER_CONNECTION):
            await client.subscribe(LIBRARY_CHANGED)
        refused = await client.subscribe(LIBRARY_CHANGED)
        message = await client.receive()
        assert message["id"] == refused
        assert message["type"] == "error"
        assert message["payload"][0]["message"] == "Subscription limit reached"


async def test_a_connection_that_never_signs_in_is_closed(server: ServerProcess) -> None:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


async def test_a_message_above_the_body_limit_closes_the_connection(server: ServerProcess) -> None:
    async with ws_client(server) as client:
        await client.ws.send(json.dumps({"type": "ping", "payload": {"padding": "x" * 200_000}}))
        assert await client.close_code() == 1009


async def test_a_client_that_stops_reading_is_dropped_and_others_go_on(
    second_server: ServerProcess, engine: AsyncEngine
) -> None:
    slow_user, slow_token = await make_user(engine)
    _, fast_token = await make_user(engine)
    async with engine.begin() as conn:
        flood = [
            row.id
            for row in await conn.execute(
                text(
                    "INSERT INTO media.media (title, media_type, media_class, external_id) "
                    "SELECT 'Flood ' || n, 'book', 'written.book.novel', 'flood:' || n "
                    "FROM generate_series(1, 5000) AS n RETURNING id"
                )
            )
        ]
    fast_item = await make_media(engine)
    url = f"ws://127.0.0.1:{second_server.port}/graphql"
    sock = socket.create_connection(("127.0.0.1", second_server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    async with connect(url, sock=sock, subprotocols=["graphql-transport-ws"]) as slow_ws:  # type: ignore[list-item]
        slow = Client(slow_ws)
        await slow_ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {slow_token}"}})
        )
        assert await slow.receive() == {"type": "connection_ack"}
        await slow.subscribe(LIBRARY_CHANGED)
        await slow.live()
        async with ws_client(second_server, fast_token) as fast:
            watching = await fast.subscribe(LIBRARY_CHANGED)
            await fast.live()
            for start in range(0, len(flood), 100):  # 50 commits of 100 entries: 5,000 events unread
                async with engine.begin() as conn:
                    await conn.execute(
                        insert(UserMedia),
                        [{"user_id": slow_user, "media_id": m} for m in flood[start : start + 100]],
                    )
            await track(second_server, fast_token, fast_item)
            assert (await fast.next_event(watching))["libraryChanged"]["mediaId"] == media_gid(fast_item)
        assert await slow.close_code() == 1013


async def test_a_cross_site_page_cannot_open_a_websocket(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with ws_client(server, headers={"Origin": "https://evil.example"}):
            pass
    assert refused.value.response.status_code == 403
    async with ws_client(server, headers={"Origin": "https://app.example"}) as allowed:
        await allowed.live()
        assert allowed.pending == []


async def test_subscription_documents_obey_the_depth_limit_and_queries_stay_on_http(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    _, token = await make_user(engine)
    deep = "subscription { libraryChanged { entry { media { " + "relations { edges { node { " * 6
    deep += "title" + " } } }" * 6 + " } } } }"
    async with ws_client(server, token) as client:
        too_deep = await client.subscribe(deep)
        refused = await client.receive()
        assert refused["id"] == too_deep
        assert refused["type"] == "error", refused
        assert "depth" in refused["payload"][0]["message"]
        query = await client.subscribe("{ viewer { id } }")
        refused = await client.receive()
        assert refused["id"] == query
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_catalog_items_curation_arrives_and_tracker_counts_do_not(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    media_id = await make_media(engine, title="Old title")
    _, token = await make_user(engine)
    async with ws_client(server) as explorer:
        operation = await explorer.subscribe(MEDIA_CHANGED, {"id": media_gid(media_id)})
        await explorer.live()
        await track(server, token, media_id)  # a tracker count changes, the item does not
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE media.media SET title = 'New title', updated_at = now() WHERE id = :id"),
                {"id": media_id},
            )
        curated = (await explorer.next_event(operation))["mediaChanged"]
    assert curated == {"kind": "UPDATED", "mediaId": media_gid(media_id), "media": {"title": "New title"}}


async def test_a_new_relation_reaches_both_items(server: ServerProcess, engine: AsyncEngine) -> None:
    sequel, original = await make_media(engine), await make_media(engine)
    async with ws_client(server) as explorer:
        on_sequel = await explorer.subscribe(MEDIA_CHANGED, {"id": media_gid(sequel)})
        on_original = await explorer.subscribe(MEDIA_CHANGED, {"id": media_gid(original)})
        await explorer.live()
        await link_media(engine, sequel, original, "sequel")
        events = [await explorer.receive(), await explorer.receive()]
    assert sorted(event["id"] for event in events) == sorted([on_sequel, on_original]), events
    assert {event["payload"]["data"]["mediaChanged"]["kind"] for event in events} == {"UPDATED"}


async def test_library_import_progress_reports_each_batch_until_it_finishes(
    server: ServerProcess, engine: AsyncEngine
) -> None:
    user_id, token = await make_user(engine)
    _, other_token = await make_user(engine)
    async with engine.begin() as conn:
        job = await job_queries.create_job(conn, user_id, "letterboxd", "export.zip", "newer")
        await job_queries.start_job(conn, job.id, 4)
    job_gid = to_global_id("LibraryImportJob", job.id)
    async with ws_client(server, other_token) as other:
        refused = await other.subscribe(IMPORT_PROGRESS, {"id": job_gid})
        assert await other.refusal(refused) == "NOT_FOUND"
    async with ws_client(server, token) as client:
        operation = await client.subscribe(IMPORT_PROGRESS, {"id": job_gid})
        first = (await client.next_event(operation))["libraryImportProgress"]
        await client.live()
        async with engine.begin() as conn:
            await job_queries.record_batch(conn, job.id, ImportCounts(created=2), 2)
        second = (await client.next_event(operation))["libraryImportProgress"]
        async with engine.begin() as conn:
            await job_queries.record_batch(conn, job.id, ImportCounts(created=2), 2)
            await job_queries.finish_job(conn, job.id, "succeeded")
        last = (await client.next_event(operation))["libraryImportProgress"]
        assert await client.receive() == {"id": operation, "type": "complete"}
    assert first == {"status": "RUNNING", "counts": {"processed": 0, "created": 0}}
    assert second == {"status": "RUNNING", "counts": {"processed": 2, "created": 2}}
    assert last == {"status": "SUCCEEDED", "counts": {"processed": 4, "created": 4}}


def close_code_of_silent_peer(port: int) -> int:
    """Open a WebSocket with a raw socket and never answer: the close code the server sends."""
    with socket.create_connection(("127.0.0.1", port), timeout=EVENT_TIMEOUT) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    frames = received.split(b"\r\n\r\n", 1)[1]
    while frames:  # server frames are unmasked; ours are small: a 1-byte length
        opcode, length = frames[0] & 0x0F, frames[1] & 0x7F
        if opcode == 0x8:
            return int.from_bytes(frames[2:4], "big")
        frames = frames[2 + length :]
    raise AssertionError("no close frame")


async def test_a_peer_that_stops_answering_pings_is_dropped_and_shutdown_closes_with_1012(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    _, token = await make_user(engine)
    env = {"DATABASE_URL": database_url, "OMT_WS_PING_INTERVAL_SECONDS": "1"}
    with running_server(tmp_path / "server.log", env, "--workers", "1") as server:
        # 1011 (keep-alive ping timeout) well before connection_init's 10 s would close it with 4408.
        assert await asyncio.to_thread(close_code_of_silent_peer, server.port) == 1011
        async with ws_client(server, token) as client:
            await client.subscribe(LIBRARY_CHANGED)
            await client.live()
            server.process.terminate()
            # Service restart: graphql-ws clients reconnect (and refetch).
            assert await client.close_code() == 1012
        assert await asyncio.to_thread(server.process.wait, 30) == 0


async def test_a_subscription_over_http_is_a_clear_client_error(client: GraphQLClient) -> None:
    result = await client(LIBRARY_CHANGED, headers={"accept": "application/graphql-response+json"})
    assert result.response.status_code == 400
    assert [error["extensions"]["code"] for error in result.errors] == ["BAD_REQUEST"]
    assert "WebSocket" in result.errors[0]["message"]
