"""Named callers: every token has a name and a role; bare tokens get generated names."""

from __future__ import annotations

import pytest

from app.api.auth import Caller, TokenTable
from app.settings import Settings


def test_named_and_bare_tokens_map_to_names_and_roles() -> None:
    settings = Settings(
        admin_tokens="alice:tok1,ci:tok2,baretok", evaluator_tokens="reader:tok3,tok4"
    )
    table = TokenTable.from_settings(settings)

    assert table.caller_of("tok1") == Caller("alice", "admin")
    assert table.caller_of("tok2") == Caller("ci", "admin")
    assert table.caller_of("baretok") == Caller("admin-1", "admin")
    assert table.caller_of("tok3") == Caller("reader", "evaluator")
    assert table.caller_of("tok4") == Caller("evaluator-1", "evaluator")
    assert table.caller_of("alice:tok1") is None  # the name is not part of the secret
    assert table.caller_of("nope") is None


def test_identify_reads_an_authorization_header() -> None:
    table = TokenTable([("alice:tok1", "admin")])
    assert table.identify("Bearer tok1") == Caller("alice", "admin")
    assert table.identify("bearer tok1") == Caller("alice", "admin")
    assert table.identify("Basic tok1") is None
    assert table.identify(None) is None
    assert table.identify("Bearer ") is None


def test_two_tokens_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="'alice'"):
        TokenTable([("alice:tok1", "admin"), ("alice:tok2", "evaluator")])


def test_the_table_keeps_no_token_in_clear() -> None:
    table = TokenTable([("alice:super-secret-token", "admin")])
    assert "super-secret-token" not in repr(vars(table))
