"""The last-known-good snapshot on local disk, so a replica starts even with the database down."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from app.domain.snapshot import PKGSnapshotData, snapshot_from_dict, snapshot_to_dict


class FileSnapshotCache:
    """One JSON file per env in `directory`, replaced atomically (write, fsync, rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, env: str) -> Path:
        return self.directory / f"last-known-good-{env}.json"

    def save(self, snapshot: PKGSnapshotData) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(snapshot_to_dict(snapshot), separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=".lkg-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path_for(snapshot.env))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, env: str) -> PKGSnapshotData | None:
        """The cached snapshot, or None when there is none. Its checksum is not yet verified."""
        try:
            data = json.loads(self.path_for(env).read_bytes())
        except FileNotFoundError:
            return None
        return snapshot_from_dict(data)
