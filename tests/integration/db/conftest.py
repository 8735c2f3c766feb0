"""Fixtures for the storage tests: a `PKGClient` on a fresh database, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.adapters.db import PKGClient
from app.domain.document import PolicyDocument, parse_policy_document

BASE_DOCUMENT: dict[str, Any] = {
    "version": "rules@1.0.0",
    "env": "prod",
    "engine": "native",
    "subtask_types": {
        "escalate": {"default_params": {"level": "normal"}},
        "notify": {"default_params": {"channel": "email", "nested": {"a": [1, 2]}}},
    },
    "rules": [
        {
            "name": "high_priority_vip",
            "priority": 10,
            "metadata": {"owner": "ops", "labels": ["vip"]},
            "conditions": [
                {"type": "TAG", "key": "vip", "op": "EXISTS"},
                {"type": "SIGNAL", "key": "x2", "op": ">=", "value": 0.7},
                {"type": "FACT", "key": "context.domain", "op": "IN", "value": ["a", "b"]},
            ],
            "emissions": [
                {"subtask_type": "escalate", "name": "escalate_vip", "params": {"level": "high"}},
                {"subtask_type": "notify", "relationship": "ORDERS"},
            ],
        },
        {
            "name": "a_fallback",
            "conditions": [{"type": "VALUE", "key": "amount", "op": ">", "value": 100}],
            "emissions": [{"subtask_type": "notify", "params": {"channel": "sms"}}],
        },
    ],
    "fixtures": [
        {
            "name": "vip escalates",
            "input": {"tags": ["vip"], "signals": {"x2": 0.8}, "context": {"domain": "a"}},
            "expect": {"subtasks": [{"name": "escalate_vip", "params": {"level": "high"}}]},
        }
    ],
}


def make_document(
    version: str = "rules@1.0.0", *, env: str = "prod", **changes: Any
) -> PolicyDocument:
    raw = copy.deepcopy(BASE_DOCUMENT)
    raw.update(version=version, env=env, **changes)
    return parse_policy_document(raw)


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[PKGClient]:
    pkg = PKGClient(db_url, env="prod")
    try:
        yield pkg
    finally:
        await pkg.close()


def is_postgres(client: PKGClient) -> bool:
    return client.engine.dialect.name == "postgresql"
