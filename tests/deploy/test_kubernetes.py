"""The Kubernetes manifests and the Helm chart render to objects a real cluster accepts: schema
valid for Kubernetes 1.33 (kubernetes-validate, strict), pods that pass the restricted Pod
Security Standard as the image's numeric user, a drain on shutdown, migrations before serving,
a first-boot policy, and no example credentials."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import kubernetes_validate
import pytest

from app.domain.document import parse_policy_document
from app.domain.fixtures import run_fixtures
from app.services.evaluator import PKGEvaluator
from app.services.policy_text import load_policy_text
from bench.server import ROOT
from tests.deploy.tools import (
    CHART,
    HELM_VALUES,
    K8S_VERSION,
    documents,
    helm_template,
    of_kind,
    run,
    tool,
)


@cache
def kustomized() -> tuple[dict[str, Any], ...]:
    out = run(tool("kubectl"), "kustomize", str(ROOT / "deploy" / "kubernetes")).stdout
    return tuple(documents(out))


@cache
def helm_default() -> tuple[dict[str, Any], ...]:
    return tuple(helm_template(*HELM_VALUES))


def dockerfile_user() -> tuple[int, int]:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), flags=re.M)
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"the image's USER must be numeric uid:gid, not {users[-1]!r}"
    return int(match[1]), int(match[2])


def rendered() -> list[tuple[str, tuple[dict[str, Any], ...]]]:
    return [("kustomize", kustomized()), ("helm", helm_default())]


RENDERERS = pytest.mark.parametrize("renderer", ["kustomize", "helm"])


def objects_of(renderer: str) -> tuple[dict[str, Any], ...]:
    return dict(rendered())[renderer]


def test_the_image_runs_as_a_numeric_user() -> None:
    uid, gid = dockerfile_user()
    assert uid >= 10000 and gid >= 10000


def test_hadolint_passes_the_dockerfile() -> None:
    result = run(tool("hadolint"), "--failure-threshold", "info", "Dockerfile", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@RENDERERS
def test_every_object_is_valid_for_kubernetes(renderer: str) -> None:
    objects = objects_of(renderer)
    assert {o["kind"] for o in objects} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_a_broken_object_is_refused_by_the_validator() -> None:
    deployment = dict(of_kind(kustomized(), "Deployment")[0])
    deployment["spec"] = {**deployment["spec"], "replicas": "three"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@RENDERERS
def test_pods_pass_the_restricted_standard_as_the_images_user(renderer: str) -> None:
    uid, gid = dockerfile_user()
    (deployment,) = of_kind(objects_of(renderer), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid)
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    containers = pod["containers"] + pod.get("initContainers", [])
    assert len(containers) == 2
    for container in containers:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert "resources" in container


@RENDERERS
def test_a_pod_drains_before_it_stops(renderer: str) -> None:
    (deployment,) = of_kind(objects_of(renderer), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    command = server["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(command[1])


@RENDERERS
def test_every_pod_migrates_before_it_serves(renderer: str) -> None:
    objects = objects_of(renderer)
    (deployment,) = of_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["command"] == ["pkgctl", "migrate"]
    assert migrate["image"] == pod["containers"][0]["image"]
    assert not of_kind(objects, "Job")  # no Job to re-create for every new image
    config = _config_data(objects)
    assert config["PKG_AUTO_MIGRATE"] == "false"


def _config_data(objects: tuple[dict[str, Any], ...]) -> dict[str, str]:
    (deployment,) = of_kind(objects, "Deployment")
    refs = [
        source["configMapRef"]["name"]
        for source in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        if "configMapRef" in source
    ]
    maps = {m["metadata"]["name"]: m for m in of_kind(objects, "ConfigMap")}
    data: dict[str, str] = {}
    for name in refs:
        data.update(maps[name]["data"])
    return data


@RENDERERS
def test_a_fresh_cluster_is_seeded_with_a_valid_policy(renderer: str) -> None:
    objects = objects_of(renderer)
    config = _config_data(objects)
    seed_path = config["PKG_SEED_FILE"]
    (deployment,) = of_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (mount,) = [
        m for m in pod["containers"][0]["volumeMounts"] if seed_path.startswith(m["mountPath"])
    ]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    maps = {m["metadata"]["name"]: m for m in of_kind(objects, "ConfigMap")}
    text = maps[volume["configMap"]["name"]]["data"][seed_path.rsplit("/", 1)[1]]
    document = parse_policy_document(load_policy_text(text))
    assert document.env == config["PKG_ENV"]  # promoted in the env the replicas serve
    report = run_fixtures(PKGEvaluator(document.to_snapshot()).evaluate, list(document.fixtures))
    assert (report["passed"], report["failed"]) == (1, 0)


def test_the_kustomization_deploys_no_secret_and_pins_the_image() -> None:
    objects = kustomized()
    assert of_kind(objects, "Secret") == []
    (deployment,) = of_kind(objects, "Deployment")
    images = {c["image"] for c in deployment["spec"]["template"]["spec"]["initContainers"]}
    images |= {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert images == {"pkg:0.1.0"}
    assert "CHANGE-ME" not in str(objects)


def test_the_chart_makes_the_same_objects_as_the_kustomization() -> None:
    kinds = sorted(o["kind"] for o in kustomized() if o["kind"] != "Namespace")
    chart_kinds = sorted(o["kind"] for o in helm_default() if o["kind"] != "Secret")
    assert chart_kinds == kinds


def test_chart_values_reach_the_objects() -> None:
    objects = helm_template(
        *HELM_VALUES,
        "--set", "autoscaling.enabled=false", "--set", "replicaCount=5",
        "--set", "resources.limits.memory=2Gi", "--set", "image.tag=1.2.3",
        "--set", "podAnnotations.prometheus\\.io/port=9090",
    )  # fmt: skip
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    (deployment,) = of_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 5
    assert of_kind(objects, "HorizontalPodAutoscaler") == []
    pod = deployment["spec"]["template"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"
    assert pod["spec"]["containers"][0]["image"] == "pkg:1.2.3"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    (secret,) = of_kind(objects, "Secret")
    assert secret["stringData"] == {
        "PKG_DATABASE_URL": "postgresql+asyncpg://pkg:secret@db:5432/pkg",
        "PKG_REDIS_URL": "redis://redis:6379/0",
        "PKG_ADMIN_TOKENS": "admin-token",
        "PKG_EVALUATOR_TOKENS": "reader-token",
    }


def test_the_chart_can_use_an_existing_secret() -> None:
    objects = helm_template("--set", "existingSecret=my-pkg-secrets")
    assert of_kind(objects, "Secret") == []
    (deployment,) = of_kind(objects, "Deployment")
    refs = [
        s["secretRef"]["name"]
        for s in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        if "secretRef" in s
    ]
    assert refs == ["my-pkg-secrets"]


def test_the_chart_refuses_to_render_without_tokens() -> None:
    result = run(
        tool("helm"), "template", "pkg", str(CHART),
        "--set", "database.url=postgresql+asyncpg://pkg@db/pkg", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "tokens.admin is required" in result.stderr
