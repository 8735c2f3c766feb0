import random

import mmh3
import pytest

from app.services.rollout import bucket_of, choose_route, matching_lane

LANES = [
    {
        "id": 7,
        "target": "router",
        "region": "eu-west",
        "percent": 30,
        "is_active": True,
        "snapshot_version": "v2",
    },
    {
        "id": 8,
        "target": "router",
        "region": "global",
        "percent": 100,
        "is_active": True,
        "snapshot_version": "v3",
    },
    {
        "id": 9,
        "target": "edge:door",
        "region": "us-east",
        "percent": 50,
        "is_active": False,
        "snapshot_version": "v4",
    },
]


def test_bucket_is_unsigned_murmur3_of_deployment_and_key_mod_100_plus_1() -> None:
    expected = mmh3.hash("7:guest-42", 0, signed=False) % 100 + 1
    assert bucket_of(7, "guest-42") == expected
    assert all(1 <= bucket_of(7, f"k{i}") <= 100 for i in range(500))


def test_a_caller_is_in_the_canary_when_its_bucket_is_at_most_the_percent() -> None:
    inside = outside = 0
    for i in range(2000):
        route = choose_route(LANES, target="router", region="eu-west", subject=f"s{i}")
        assert route.deployment_id == 7
        assert (route.lane == "canary") == (bucket_of(7, f"s{i}") <= 30)
        inside += route.lane == "canary"
        outside += route.lane == "active"
    assert 500 < inside < 700  # ~30 % of 2000, murmur3 spreads keys evenly
    assert inside + outside == 2000


def test_the_same_subject_always_gets_the_same_lane() -> None:
    routes = {
        choose_route(LANES, target="router", region="eu-west", subject="bob") for _ in range(5)
    }
    assert len(routes) == 1


def test_without_a_subject_only_a_100_percent_lane_applies() -> None:
    assert choose_route(LANES, target="router", region="eu-west", subject=None).lane == "active"
    route = choose_route(LANES, target="router", region="ap-south", subject=None)
    assert (route.lane, route.version) == ("canary", "v3")


@pytest.mark.parametrize(
    ("target", "region", "expected"),
    [
        ("router", "eu-west", 7),
        ("router", "us-east", 8),
        ("edge:door", "us-east", None),
        ("nobody", "eu-west", None),
    ],
)
def test_an_exact_region_beats_global_and_inactive_lanes_never_match(
    target: str, region: str, expected: int | None
) -> None:
    lane = matching_lane(LANES, target=target, region=region)
    assert (lane["id"] if lane else None) == expected


def test_no_target_means_the_active_snapshot() -> None:
    assert choose_route(LANES, target=None, region="eu-west", subject="x").lane == "active"


SHADOW_LANE = {
    "id": 11,
    "target": "router",
    "region": "global",
    "percent": 50,
    "is_active": True,
    "mode": "shadow",
    "snapshot_version": "v9",
}


def test_a_shadow_lane_never_changes_who_answers_and_samples_by_bucket() -> None:
    lanes = [*LANES, SHADOW_LANE]
    for i in range(500):
        route = choose_route(lanes, target="router", region="eu-west", subject=f"s{i}")
        plain = choose_route(LANES, target="router", region="eu-west", subject=f"s{i}")
        assert (route.lane, route.version, route.deployment_id) == (
            plain.lane,
            plain.version,
            plain.deployment_id,
        )
        sampled = bucket_of(11, f"s{i}") <= 50
        assert (route.shadow_version, route.shadow_deployment_id) == (
            ("v9", 11) if sampled else (None, None)
        )


def test_a_shadow_lane_alone_is_never_a_canary() -> None:
    route = choose_route([SHADOW_LANE], target="router", region="eu-west", subject="bob")
    assert route.lane == "active" and route.version is None and route.deployment_id is None
    assert matching_lane([SHADOW_LANE], target="router", region="eu-west") is None


def test_without_a_subject_a_shadow_lane_samples_at_random_about_its_percent() -> None:
    draws = random.Random(11)
    sampled = sum(
        choose_route(
            [SHADOW_LANE], target="router", region=None, subject=None, sample=draws.random
        ).shadow_version
        is not None
        for _ in range(2000)
    )
    assert 0.45 <= sampled / 2000 <= 0.55
    zero = {**SHADOW_LANE, "percent": 0}
    full = {**SHADOW_LANE, "percent": 100}
    assert choose_route([zero], target="router", region=None, subject=None).shadow_version is None
    assert choose_route([full], target="router", region=None, subject=None).shadow_version == "v9"
