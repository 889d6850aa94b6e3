"""Generate a benchmark catalog straight into the embedded cluster of a bench data dir.

    .venv/bin/python -m bench.generate --data-dir .data/bench --items 100000

Franchises of heavy-tailed size (most items stand alone, a few universes hold hundreds): a sequel
chain of source works, adaptations with their own sequels, spin-offs, side stories, shared-universe
links between sub-series and a few crossovers between franchises. Writes samples.json (search
words, traversal roots) beside the cluster for bench/load.py.
"""

import argparse
import asyncio
import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from db.cluster import DATABASE_NAME, EmbeddedCluster
from db.counters import REBUILD_CATALOG_COUNTS, REBUILD_MEDIA_STATS, REBUILD_TITLE_WORDS
from db.migrate import upgrade

ADJECTIVES = [
    "silent",
    "crimson",
    "hollow",
    "iron",
    "golden",
    "broken",
    "last",
    "distant",
    "burning",
    "frozen",
    "hidden",
    "endless",
    "wild",
    "quiet",
    "fallen",
    "bright",
    "dark",
    "lost",
    "final",
    "secret",
    "ancient",
    "shattered",
    "northern",
    "velvet",
    "savage",
    "gentle",
    "electric",
    "sunken",
    "scarlet",
    "pale",
    "restless",
    "lonely",
    "stolen",
    "eternal",
    "forgotten",
    "rising",
    "wandering",
    "bitter",
    "silver",
]
NOUNS = [
    "harbor",
    "kingdom",
    "river",
    "witch",
    "empire",
    "garden",
    "machine",
    "winter",
    "desert",
    "city",
    "forest",
    "tower",
    "moon",
    "ocean",
    "dragon",
    "throne",
    "signal",
    "mirror",
    "orchard",
    "voyage",
    "station",
    "comet",
    "archive",
    "circus",
    "lantern",
    "frontier",
    "citadel",
    "valley",
    "storm",
    "island",
    "engine",
    "requiem",
    "labyrinth",
    "covenant",
    "horizon",
    "monsoon",
    "atlas",
    "cathedral",
    "sparrow",
    "wolf",
    "serpent",
    "phoenix",
    "orbit",
    "glacier",
    "canyon",
]
FIRST_NAMES = [
    "Ada",
    "Kenji",
    "Maria",
    "Ivan",
    "Aiko",
    "Omar",
    "Lena",
    "Tomas",
    "Chloe",
    "Ravi",
    "Yuki",
    "Elena",
    "Jonas",
    "Amara",
    "Felix",
    "Hana",
]
LAST_NAMES = [
    "Okafor",
    "Tanaka",
    "Novak",
    "Silva",
    "Moreau",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Ito",
    "Reyes",
    "Brandt",
    "Osei",
    "Kim",
]
GENRES = [
    "science fiction",
    "fantasy",
    "horror",
    "romance",
    "mystery",
    "thriller",
    "comedy",
    "drama",
    "adventure",
    "historical",
    "cyberpunk",
    "slice of life",
    "action",
    "documentary",
]
COUNTRIES = ("US", "JP", "GB", "FR", "KR", "DE", "PL", "CA", "IT", "ES", "CN", "SE")
PLATFORMS = ("PC", "PS5", "Switch", "Xbox", "Mobile")
SOURCE_TYPES = ("book", "book", "book", "manga", "comic", "game", "podcast")
ADAPTATION_TYPES = ("film", "film", "series", "anime", "game", "audiobook", "live_event", "music")
MEDIA_CLASSES = {
    "book": "written.book.novel",
    "comic": "written.comic",
    "manga": "written.comic.manga",
    "anime": "video.series.anime",
    "film": "video.film",
    "series": "video.series",
    "game": "interactive.game",
    "podcast": "audio.podcast",
    "audiobook": "audio.audiobook",
    "music": "audio.music.album",
    "live_event": "live.event",
}
NUMERALS = ("", " II", " III", " IV", " V", " VI", " VII", " VIII", " IX", " X")


@dataclass
class Catalog:
    media: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    relations: dict[tuple[uuid.UUID, uuid.UUID], tuple[Any, ...]] = field(default_factory=dict)
    roots: list[uuid.UUID] = field(default_factory=list)

    def add(
        self,
        rng: random.Random,
        title: str,
        media_type: str,
        released: dt.date | None,
        collection_path: str | None,
    ) -> uuid.UUID:
        media_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        n = len(self.media)
        attributes: dict[str, Any] = {"genres": rng.sample(GENRES, rng.randint(1, 3))}
        if media_type in ("book", "manga", "comic"):
            attributes["page_count"] = rng.randint(40, 900)
        elif media_type == "film":
            attributes["runtime_minutes"] = rng.randint(75, 200)
        elif media_type in ("series", "anime"):
            attributes["episodes"] = rng.randint(6, 120)
        elif media_type == "game":
            attributes["platforms"] = rng.sample(PLATFORMS, rng.randint(1, 3))
        creators = [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(rng.randint(1, 2))]
        self.media.append(
            (
                media_id,
                f"bench:{n}",
                media_type,
                MEDIA_CLASSES[media_type],
                title,
                released,
                rng.choice(COUNTRIES),
                creators,
                f"Item {n}: {title}, a {media_type.replace('_', ' ')} about a {rng.choice(NOUNS)}.",
                json.dumps(attributes),
                collection_path,
                int(rng.paretovariate(1.2)) - 1,
            )
        )
        self.links.append((media_id, "bench", str(n)))
        return media_id

    def relate(self, source: uuid.UUID, target: uuid.UUID, relation_type: str) -> None:
        if source != target and (target, source) not in self.relations:
            self.relations[(source, target)] = (source, target, relation_type)


def release(rng: random.Random, after: dt.date | None = None) -> dt.date | None:
    if rng.random() < 0.05:
        return None
    start = after or dt.date(1950, 1, 1)
    return start + dt.timedelta(days=rng.randint(200, 1500) if after else rng.randint(0, 27000))


def franchise(rng: random.Random, catalog: Catalog, number: int, size: int) -> list[uuid.UUID]:
    name = f"The {rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS).title()}"
    path = f"{name.split()[-1].lower()}_{number}"
    members: list[uuid.UUID] = []
    source_type = rng.choice(SOURCE_TYPES)
    chain_length = max(1, min(len(NUMERALS), size // 3 or 1))
    released = release(rng)
    previous = None
    chain = []
    for part in range(chain_length):
        released = release(rng, released) if released else release(rng)
        item = catalog.add(rng, name + NUMERALS[part], source_type, released, f"{path}.main")
        if previous is not None:
            catalog.relate(previous, item, "sequel")
        previous = item
        chain.append(item)
    members += chain
    while len(members) < size:
        base = rng.choice(members)
        roll = rng.random()
        kind = rng.choice(ADAPTATION_TYPES)
        title = f"{name}: {rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS).title()}"
        item = catalog.add(rng, title, kind, release(rng), f"{path}.{kind}")
        if roll < 0.5:
            catalog.relate(base, item, "adaptation")
        elif roll < 0.65:
            catalog.relate(base, item, "spin-off")
        elif roll < 0.8:
            catalog.relate(base, item, "side-story")
        elif roll < 0.9:
            catalog.relate(base, item, "sequel")
        else:
            catalog.relate(base, item, rng.choice(("shared-universe", "alternative-version", "remake")))
        members.append(item)
    return members


def build(items: int, seed: int) -> Catalog:
    rng = random.Random(seed)
    catalog = Catalog()
    franchises: list[list[uuid.UUID]] = []
    while len(catalog.media) < items:
        size = min(400, int(rng.paretovariate(1.1)))
        if size == 1:
            title = f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS).title()}"
            catalog.add(rng, title, rng.choice(tuple(MEDIA_CLASSES)), release(rng), None)
            continue
        members = franchise(rng, catalog, len(franchises), size)
        franchises.append(members)
        if len(members) >= 8:
            catalog.roots.append(members[0])
    for _ in range(len(franchises) // 50):
        a, b = rng.sample(franchises, 2)
        catalog.relate(rng.choice(a), rng.choice(b), "crossover")
    return catalog


MEDIA_INSERT = """
INSERT INTO media.media (id, external_id, media_type, media_class, title, release_date,
    country_of_origin, creators, description, attributes, collection_path, tracker_count)
VALUES ($1, $2, $3, $4::text::ltree, $5, $6, $7, $8, $9, $10::text::jsonb, $11::text::ltree, $12)
"""


async def load(url_host: str, catalog: Catalog) -> None:
    conn = await asyncpg.connect(host=url_host, user="postgres", database=DATABASE_NAME)
    try:
        async with conn.transaction():
            # Row by row the search dictionary's and the counters' statement triggers would fire per
            # item: they are off for the load, and rebuilt below by the same SQL they run.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("TRUNCATE media.media, media.title_words CASCADE")
            await conn.executemany(MEDIA_INSERT, catalog.media)
            await conn.copy_records_to_table(
                "external_links",
                schema_name="media",
                records=catalog.links,
                columns=["media_id", "source_name", "external_key"],
            )
            await conn.executemany(
                "INSERT INTO media.relationships (media_id, related_media_id, relation_type) "
                "VALUES ($1, $2, $3::text::media.relation_type) ON CONFLICT DO NOTHING",
                list(catalog.relations.values()),
            )
            for statement in (*REBUILD_TITLE_WORDS, *REBUILD_CATALOG_COUNTS, *REBUILD_MEDIA_STATS):
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE media.media")
        await conn.execute("VACUUM ANALYZE media.relationships")
        await conn.execute("VACUUM ANALYZE media.external_links")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    catalog = build(args.items, args.seed)
    print(f"built {len(catalog.media)} media, {len(catalog.relations)} relations in memory")
    cluster = EmbeddedCluster(args.data_dir.resolve(), allow_root=True)
    cluster.start()
    try:
        cluster.ensure_database(DATABASE_NAME)
        upgrade(cluster.url(DATABASE_NAME))
        asyncio.run(load(cluster.socket_dir, catalog))
    finally:
        cluster.stop()
    samples = {
        "words": NOUNS + ADJECTIVES,
        "roots": [str(root) for root in catalog.roots[:500]],
    }
    (args.data_dir / "samples.json").write_text(json.dumps(samples))
    print(f"loaded into {args.data_dir} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
