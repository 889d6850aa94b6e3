"""What the edge checks of issue #13 cost, side by side with the code before them (ratios; the
machine is shared and noisy).

.venv/bin/python -m bench.input_checks --before <git revision> [--records 50000] [--rounds 5]

- ingestion parsing: `read_batches` over a generated catalog (bench/ingest_generate.py), this
  tree's db/ingest_format.py against the one at `--before`;
- GraphQL: the per-request checks of gql/input_guard.py on the apps' operations
  (tests/client-operations.graphql) with typical variables, in microseconds per request.
"""

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from graphql import OperationDefinitionNode, parse

from bench.ingest_generate import record
from gql.input_guard import literal_errors, operation_errors, variable_errors

ROOT = Path(__file__).resolve().parent.parent


def module_at(revision: str, path: str, name: str, folder: Path) -> ModuleType:
    source = subprocess.run(  # noqa: S603 - git with a revision the operator gave
        ["git", "show", f"{revision}:{path}"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_reading(module: ModuleType, catalog: Path) -> float:
    started = time.perf_counter()
    for _ in module.read_batches(catalog, 2000, 0):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="git revision with the code before the checks")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        catalog = Path(folder) / "catalog.jsonl"
        rng = random.Random(6)
        with catalog.open("w") as out:
            for n in range(args.records):
                out.write(json.dumps(record(n, args.records, rng)) + "\n")
        before = module_at(args.before, "db/ingest_format.py", "ingest_format_before", Path(folder))
        from db import ingest_format as after

        timings: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):  # interleaved, so both see the same noise
            timings["before"].append(time_reading(before, catalog))
            timings["after"].append(time_reading(after, catalog))
    best = {name: min(values) for name, values in timings.items()}
    print(f"read_batches, {args.records:,} records, best of {args.rounds}:")
    for name, seconds in best.items():
        print(f"  {name:6} {seconds:.3f} s  ({args.records / seconds:,.0f} records/s)")
    ratios = sorted(a / b for a, b in zip(timings["after"], timings["before"], strict=True))
    print(
        f"  after/before time ratio: best-of {best['after'] / best['before']:.3f}, "
        f"median of rounds {statistics.median(ratios):.3f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})"
    )

    text = (ROOT / "tests" / "client-operations.graphql").read_text()
    document = parse(text)
    variables: dict[str, dict[str, Any]] = {
        "Catalog": {
            "filter": {"search": "dune", "mediaTypes": ["BOOK"], "attributes": {"platforms": ["PC"]}}
        },
        "Track": {"input": {"mediaId": "TWVkaWE6MQ", "status": "COMPLETED", "notes": "Great." * 20}},
        "CreateSmartList": {
            "input": {"name": "x", "definition": {"media": {"genresAny": ["sf", "fantasy"]}}}
        },
    }
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    per_request = []
    rounds = 2000
    for name in names:
        given = variables.get(name, {"id": "TWVkaWE6MQ", "first": 20})
        started = time.perf_counter()
        for _ in range(rounds):
            operation_errors(document, name)
            literal_errors(text, document)
            variable_errors(given, {})
        per_request.append((time.perf_counter() - started) / rounds * 1e6)
    print(
        f"input_guard per request over {len(names)} operations: mean {sum(per_request) / len(per_request):.1f} µs, "
        f"max {max(per_request):.1f} µs"
    )


if __name__ == "__main__":
    main()
