"""Write a synthetic JSON Lines catalog for the ingestion benchmark (docs/ingestion.md format).

.venv/bin/python -m bench.ingest_generate bench/out/catalog.jsonl --count 200000
"""

import argparse
import json
import random
from pathlib import Path
from typing import Any

MEDIA = (
    ("book", "written.book.novel"),
    ("manga", "written.comic.manga"),
    ("anime", "video.series.anime"),
    ("film", "video.film"),
    ("game", "interactive.game"),
    ("music", "audio.music.album"),
)
WORDS = [
    "saga",
    "of",
    "the",
    "desert",
    "star",
    "empire",
    "lost",
    "city",
    "night",
    "river",
    "crown",
    "shadow",
    "winter",
    "dragon",
    "machine",
]
GENRES = ("science fiction", "fantasy", "drama", "comedy", "horror", "mystery", "romance")


def record(n: int, count: int, rng: random.Random) -> dict[str, Any]:
    media_type, media_class = MEDIA[n % len(MEDIA)]
    title = " ".join(rng.choice(WORDS) for _ in range(3)).title()
    item: dict[str, Any] = {
        "external_id": f"bench:{n}",
        "media_type": media_type,
        "media_class": media_class,
        "title": f"{title} {n}",
        "release_date": f"{1950 + n % 75}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "country_of_origin": rng.choice(("US", "JP", "FR", "GB", "KR")),
        "creators": [f"Author {n % 5000}"],
        "cover_url": f"https://covers.example.org/{n}.jpg",
        "description": " ".join(rng.choice(WORDS) for _ in range(30)),
        "attributes": {"genres": rng.sample(GENRES, 2), "page_count": 100 + n % 900},
        "collection_path": f"franchise_{n // 10}.main",
        "external_links": [{"source": "benchisbn", "key": f"{9780000000000 + n}"}],
    }
    relations = []
    if n % 10:
        relations.append(
            {"type": "sequel", "target": f"bench:{n - 1}"}
            if n % 2
            else {"type": "prequel", "target": f"bench:{n - 1}"}
        )
    if n + 5 < count and n % 7 == 0:
        relations.append({"type": "adaptation", "target": f"bench:{n + 5}", "notes": "forward reference"})
    if relations:
        item["relations"] = relations
    return item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for n in range(args.count):
            out.write(json.dumps(record(n, args.count, rng)) + "\n")


if __name__ == "__main__":
    main()
