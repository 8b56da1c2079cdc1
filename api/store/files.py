"""Litestar's file store, made safe to start after a crash, and cheap per request.

Litestar's ``FileStore`` writes each value to a temporary file beside it and renames it
into place, so a value is never half-written — but a process killed mid-write leaves the
temporary file (``<key>.tmp…``) behind, and ``delete_expired`` (run at every start) read
it, failed to decode it and stopped the app from starting. Here an undecodable file is a
missing value, and the clean-up at start removes what an interrupted write left.

Its values are small (a session, a counter: a few hundred bytes) and the files local (the
embedded default's ``var/``): each is read and written on the event loop, tens of µs
in the page cache, where Litestar's store hands every read and every write to a worker
thread (and asks for the folder with ``mkdir`` first), each hop costing more than the
I/O. The folder is made when the first write finds it missing.
"""

from __future__ import annotations

import os
from datetime import timedelta

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
            with open(path, "rb") as file:  # on the loop: see the module docstring
                data = file.read()
        except FileNotFoundError:
            return None
        try:
            return StorageObject.from_bytes(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None  # cut short by a crash, or not ours: as if it were not there

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        path = self._path_from_key(key)
        stored = StorageObject.new(
            data=value.encode() if isinstance(value, str) else value, expires_in=expires_in
        )
        if not os.path.isdir(self.path):
            os.makedirs(self.path, exist_ok=True)
        self._write_sync(path, stored)

    async def delete_expired(self) -> None:
        """Delete expired values, and what an interrupted write or a damaged disk left."""
        async for file in self.path.iterdir():
            if _TEMPORARY in file.name:
                await file.unlink(missing_ok=True)
                continue
            stored = await self._load_from_path(file)
            if stored is None or stored.expired:
                await file.unlink(missing_ok=True)
