import pytest

from app.domain.change import ACTIVATE, DEPLOYMENTS_CHANGED, ChangeMessage, parse_change_message


@pytest.mark.parametrize(
    "raw", ["activate:rules@1.5.0", "  activate:rules@1.5.0 \n", b"activate: rules@1.5.0"]
)
def test_the_seed_wire_form_is_parsed_with_whitespace_stripped(raw: str | bytes) -> None:
    assert parse_change_message(raw) == ChangeMessage(ACTIVATE, version="rules@1.5.0")


def test_the_json_form_carries_action_version_and_env() -> None:
    message = parse_change_message('{"action": "activate", "version": "v2", "env": "staging"}')
    assert message == ChangeMessage(ACTIVATE, version="v2", env="staging")
    assert parse_change_message('{"action": "deployments_changed"}').action == DEPLOYMENTS_CHANGED


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "activate:",
        "deactivate:v1",
        "hello",
        "{not json",
        "[1]",
        '{"action": "drop"}',
        '{"action": "activate"}',
        '{"action": "activate", "version": 3}',
    ],
)
def test_anything_else_is_refused_with_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_change_message(raw)


def test_encode_round_trips_both_forms() -> None:
    plain = ChangeMessage(ACTIVATE, version="v9")
    scoped = ChangeMessage(ACTIVATE, version="v9", env="prod")
    assert plain.encode() == "activate:v9"
    assert parse_change_message(plain.encode()) == plain
    assert parse_change_message(scoped.encode()) == scoped
