"""CSV files of the export formats: UTF-8 (with or without BOM), a header row, one dict per row."""

import csv
import io
from collections.abc import Iterator, Sequence

from db.library_import.entry import UnreadableFile


def csv_rows(data: bytes, required: Sequence[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number counting from 1 after the header, the row); UnreadableFile when the header lacks
    a required column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{what} is not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [name for name in required if name not in (reader.fieldnames or ())]
    if missing:
        raise UnreadableFile(f"{what} lacks the columns {', '.join(missing)}")
    for row, values in enumerate(reader, start=1):
        yield row, {key: (value or "").strip() for key, value in values.items() if key is not None}
