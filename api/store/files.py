"""Litestar's file store, made safe to start after a crash.

Litestar's ``FileStore`` writes each value to a temporary file beside it and renames it
into place, so a value is never half-written — but a process killed mid-write leaves the
temporary file (``<key>.tmp…``) behind, and ``delete_expired`` (run at every start) read
it, failed to decode it and stopped the app from starting. Here an undecodable file is a
missing value, and the clean-up at start removes what an interrupted write left.
"""

from __future__ import annotations

import msgspec
from anyio import Path
from litestar.stores.base import StorageObject
from litestar.stores.file import FileStore as LitestarFileStore

#: What ``FileStore`` names its temporary files: ``<key's file name>.tmp<random>``.
_TEMPORARY = ".tmp"


class FileStore(LitestarFileStore):
    """See the module docstring."""

    @staticmethod
    async def _load_from_path(path: Path) -> StorageObject | None:
        try:
            data = await path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return StorageObject.from_bytes(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None  # cut short by a crash, or not ours: as if it were not there

    async def delete_expired(self) -> None:
        """Delete expired values, and what an interrupted write or a damaged disk left."""
        async for file in self.path.iterdir():
            if _TEMPORARY in file.name:
                await file.unlink(missing_ok=True)
                continue
            stored = await self._load_from_path(file)
            if stored is None or stored.expired:
                await file.unlink(missing_ok=True)
