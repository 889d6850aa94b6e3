"""Exports that come as a ZIP of files: the members by base name, bounded so a small ZIP cannot
expand into gigabytes."""

import io
import zipfile

from db.library_import.entry import UnreadableFile

MAX_EXPANDED_BYTES = 500_000_000


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def zip_members(data: bytes, suffix: str) -> dict[str, bytes]:
    """{base name (lowercase): content} of the members ending in `suffix`, in any folder."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if info.filename.lower().endswith(suffix)]
        if sum(info.file_size for info in members) > MAX_EXPANDED_BYTES:
            raise UnreadableFile(f"the ZIP expands to more than {MAX_EXPANDED_BYTES} bytes")
        return {info.filename.rsplit("/", 1)[-1].lower(): archive.read(info) for info in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise UnreadableFile("the ZIP file is damaged") from exc
