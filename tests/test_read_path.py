"""Reads that are no batch (top-level pages and their counts, filter menus, lookups) go through the
loaders' read path: one AUTOCOMMIT connection per statement, so no BEGIN and ROLLBACK around them."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.library_import import jobs as job_queries
from gql.relay import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user

# Each read with the most statements it may take, the viewer's session lookup included.
TOP_LEVEL_READS = {
    "{ searchMedia(first: 2) { totalCount totalCountIsExact edges { node { title } } } }": 3,
    '{ searchMedia(first: 2, filter: {search: "dnue"}) { totalCount edges { node { title } } } }': 7,
    '{ franchise(path: "dune") { totalCount edges { node { title } } } }': 3,
    '{ mediaByExternalId(source: "tmdb", key: "1") { title } }': 2,
    "{ mediaTypes { mediaType count } }": 2,
    "{ mediaClasses { mediaClass count } }": 2,
    "{ genres { name count } }": 2,
    "{ ingestConflicts(first: 2) { totalCount edges { node { id } } } }": 3,
    "{ viewer { libraryImports(first: 2) { totalCount edges { node { id } } } } }": 3,
}


@pytest.mark.parametrize("query", TOP_LEVEL_READS)
async def test_top_level_reads_pay_no_transaction_round_trips(
    client: GraphQLClient, engine: AsyncEngine, query: str
) -> None:
    await make_media(engine, title="Dune", collection_path="dune", external_links=[("tmdb", "1")])
    admin_id, admin = await make_user(engine, role="admin")
    async with engine.begin() as conn:
        await job_queries.create_job(conn, admin_id, "letterboxd", "export.zip", "newer")
    result = await client(query, token=admin)
    assert all(value is not None for value in result.data.values())
    assert result.queries <= TOP_LEVEL_READS[query]
    assert result.round_trips == result.queries + result.prepares, "a BEGIN or ROLLBACK around a read"


USERS_IMPORTS = """
query($ids: [ID!]!) {
  nodes(ids: $ids) { ... on User { username libraryImports(first: 2) { totalCount edges { node { fileName } } } } }
}"""


async def test_nodes_over_users_read_library_imports_in_a_constant_number_of_statements(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    """Only the owner sees a user's imports, through a loader: asking for them over many users, the
    viewer's among them twice, reads the viewer's once."""
    user_ids, tokens = [], []
    for n in range(8):
        user_id, token = await make_user(engine, username=f"importer{n}", profile_visibility="public")
        user_ids.append(to_global_id("User", user_id))
        tokens.append(token)
        async with engine.begin() as conn:
            await job_queries.create_job(conn, user_id, "letterboxd", f"export{n}.zip", "newer")
    # The viewer asked for more than once reads its imports once.
    ids = [user_ids[0], *user_ids, user_ids[0]]
    small = await client(USERS_IMPORTS, {"ids": ids[:3]}, token=tokens[0])
    large = await client(USERS_IMPORTS, {"ids": ids}, token=tokens[0])
    own = {"totalCount": 1, "edges": [{"node": {"fileName": "export0.zip"}}]}
    nodes = [{"username": f"importer{n}", "libraryImports": own if n == 0 else None} for n in range(8)]
    assert large.data["nodes"] == [nodes[0], *nodes, nodes[0]]
    assert small.data["nodes"] == large.data["nodes"][:3]
    assert small.queries == large.queries
    assert large.queries <= 4  # the session, the users, the viewer's import page, its count


OWN_IMPORTS = """
query($after: String) {
  viewer {
    libraryImports(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { fileName } }
    }
  }
}"""


async def test_library_imports_page_newest_first_and_refuse_a_bad_cursor(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    user_id, token = await make_user(engine)
    for n in range(3):
        async with engine.begin() as conn:
            job = await job_queries.create_job(conn, user_id, "letterboxd", f"export{n}.zip", "newer")
            await job_queries.finish_job(conn, job.id, "succeeded")
    first = (await client(OWN_IMPORTS, token=token)).data["viewer"]["libraryImports"]
    assert [edge["node"]["fileName"] for edge in first["edges"]] == ["export2.zip", "export1.zip"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (3, True)
    after = {"after": first["pageInfo"]["endCursor"]}
    rest = (await client(OWN_IMPORTS, after, token=token)).data["viewer"]["libraryImports"]
    assert [edge["node"]["fileName"] for edge in rest["edges"]] == ["export0.zip"]
    assert (rest["totalCount"], rest["pageInfo"]["hasNextPage"]) == (3, False)
    refused = await client(OWN_IMPORTS, {"after": "bm90IGEgY3Vyc29y"}, token=token)
    assert [error["extensions"]["code"] for error in refused.errors] == ["BAD_USER_INPUT"]
