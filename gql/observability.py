"""`extensions.db` on every response outside production: SQL statements run, round trips to
PostgreSQL (statements, prepares, BEGIN/COMMIT/ROLLBACK) and the statements' total time."""

from typing import Any

from strawberry.extensions import SchemaExtension

from db.engine import current_stats


class DatabaseStats(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        stats = current_stats.get()
        if stats is None:
            return {}
        return {
            "db": {
                "queries": stats.queries,
                "roundTrips": stats.round_trips,
                "prepares": stats.prepares,
                "timeMs": round(stats.seconds * 1000, 3),
            }
        }
