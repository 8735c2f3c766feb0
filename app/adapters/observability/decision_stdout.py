"""The decision log's stdout sink: one JSON object per decision per line, on standard output
(the service's own logs go to standard error, so the two streams never interleave)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import orjson

from app.domain.decision import DecisionRecord


class StdoutDecisionSink:
    """Implements `app.services.ports.DecisionSink`; writes a batch in one call, off the loop."""

    async def write(self, records: Sequence[DecisionRecord]) -> None:
        lines = b"".join(
            orjson.dumps({"event": "pkg_decision", **r.as_dict()}, default=str) + b"\n"
            for r in records
        )
        await asyncio.to_thread(_write, lines)


def _write(lines: bytes) -> None:
    stream = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    if stream is None:
        sys.stdout.write(lines.decode())
        sys.stdout.flush()
        return
    stream.write(lines)
    stream.flush()
