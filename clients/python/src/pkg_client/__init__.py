"""pkg-client: a typed HTTP client for PKG, the policy-decision service, on httpx only.

```python
from pkg_client import PKGHttpClient

with PKGHttpClient("http://pkg.internal", token="...") as pkg:
    decision = pkg.evaluate({"tags": ["vip"], "signals": {"urgency": 0.9}})
```

`AsyncPKGHttpClient` has the same methods as coroutines. Answers are the `TypedDict`s of
`pkg_client.types`; a problem answer raises `PKGError`, an unreachable server
`PKGConnectionError`.
"""

from __future__ import annotations

from pkg_client.client import DEFAULT_TIMEOUT_S, AsyncPKGHttpClient, PKGHttpClient, __version__
from pkg_client.errors import PKGConnectionError, PKGError
from pkg_client.types import (
    AuditVerification,
    Comparison,
    Coverage,
    Decision,
    DecisionRecord,
    Deployment,
    Device,
    Facts,
    FieldError,
    Fixture,
    Guard,
    GuardStatus,
    Health,
    LaneMode,
    Metadata,
    PolicyDocument,
    Promotion,
    ShadowReport,
    Simulation,
    Snapshot,
    SnapshotSummary,
    Status,
    ValidationRun,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "AsyncPKGHttpClient",
    "AuditVerification",
    "Comparison",
    "Coverage",
    "Decision",
    "DecisionRecord",
    "Deployment",
    "Device",
    "Facts",
    "FieldError",
    "Fixture",
    "Guard",
    "GuardStatus",
    "Health",
    "LaneMode",
    "Metadata",
    "PKGConnectionError",
    "PKGError",
    "PKGHttpClient",
    "PolicyDocument",
    "Promotion",
    "ShadowReport",
    "Simulation",
    "Snapshot",
    "SnapshotSummary",
    "Status",
    "ValidationRun",
    "__version__",
]
