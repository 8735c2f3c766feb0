"""The Helm chart's options (deploy/helm/pkg, issue 29), rendered by the real helm: the seed
policy follows `env`, unknown values are refused by values.schema.json, the disruption budget
never blocks a drain, a rotated token rolls the pods, and every scheduling, identity, probe,
Ingress, ServiceMonitor and NetworkPolicy option reaches the objects, which stay valid for
Kubernetes (the ServiceMonitor, a CRD, is checked field by field instead)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.domain.document import parse_policy_document
from app.domain.fixtures import run_fixtures
from app.services.evaluator import PKGEvaluator
from app.services.policy_text import load_policy_text
from tests.deploy.tools import (
    CHART,
    HELM_VALUES,
    K8S_VERSION,
    helm_refusal,
    helm_template,
    of_kind,
    run,
    tool,
)

CRD_KINDS = {"ServiceMonitor"}  # no schema in kubernetes-validate: asserted field by field


def with_values(tmp_path: Path, values: dict[str, Any]) -> tuple[str, ...]:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return (*HELM_VALUES, "-f", str(path))


def validate(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def pod_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = of_kind(objects, "Deployment")
    template: dict[str, Any] = deployment["spec"]["template"]
    return template


def seed_of(objects: list[dict[str, Any]]) -> str:
    (seed,) = [m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"] == "pkg-seed"]
    text: str = seed["data"]["seed-policy.yaml"]
    return text


def config_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"] == "pkg"]
    data: dict[str, str] = config["data"]
    return data


# ------------------------------------------------------------------ the seed follows env


def test_the_seed_policy_is_promoted_in_the_env_the_replicas_serve() -> None:
    env = "staging"
    objects = helm_template(*HELM_VALUES, "--set", f"env={env}")
    assert config_of(objects)["PKG_ENV"] == env
    document = parse_policy_document(load_policy_text(seed_of(objects)))
    assert document.env == env
    report = run_fixtures(PKGEvaluator(document.to_snapshot()).evaluate, list(document.fixtures))
    assert (report["passed"], report["failed"]) == (1, 0)


def test_a_seed_policy_that_names_another_env_fails_rendering() -> None:
    policy = "version: mine@1.0.0\nenv: prod\nengine: native\nrules: []\n"
    said = helm_refusal(
        *HELM_VALUES, "--set", "env=staging", "--set-string", f"seed.policy={policy}"
    )
    assert "seed.policy says env: prod but env is staging" in said
    agreeing = helm_template(
        *HELM_VALUES, "--set", "env=prod", "--set-string", f"seed.policy={policy}"
    )
    assert seed_of(agreeing) == policy  # a policy that agrees is kept as written


def test_a_seed_policy_that_is_not_a_mapping_fails_rendering(tmp_path: Path) -> None:
    said = helm_refusal(*with_values(tmp_path, {"seed": {"policy": "- a list\n- not a policy\n"}}))
    assert "seed.policy is not a YAML mapping" in said


def test_pkg_env_is_set_by_env_not_by_extra_env() -> None:
    said = helm_refusal(*HELM_VALUES, "--set", "extraEnv.PKG_ENV=staging")
    assert "extraEnv.PKG_ENV: set `env` instead" in said


# ------------------------------------------------------------------ values.schema.json


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("replicaCont=2", "additional properties 'replicaCont'"),
        ("image.tga=1.2.3", "additional properties 'tga'"),
        ("podDisruptionBudget.minAvaliable=1", "additional properties 'minAvaliable'"),
        ("readinessProbe.periodSecond=3", "additional properties 'periodSecond'"),
        ("ingress.hosts[0].hots=pkg.example.com", "additional properties 'hots'"),
        ("serviceAccount.craete=true", "additional properties 'craete'"),
        ("networkPolicy.enable=true", "additional properties 'enable'"),
    ],
)
def test_an_unknown_value_fails_rendering(setting: str, where: str) -> None:
    said = helm_refusal(*HELM_VALUES, "--set", setting)
    assert "values don't meet the specifications of the schema" in said
    assert where in said


def test_a_value_of_the_wrong_type_fails_rendering() -> None:
    said = helm_refusal(*HELM_VALUES, "--set-string", "replicaCount=three")
    assert "/replicaCount" in said


def test_the_schema_refuses_unknown_keys_in_every_object_it_defines() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def objects(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
        found = [(path, node)] if "properties" in node else []
        for name, child in node.get("properties", {}).items():
            found += objects(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += objects(node["items"], f"{path}[]")
        return found

    defined = objects(schema, "")
    assert len(defined) > 20
    assert [path for path, node in defined if node.get("additionalProperties") is not False] == []
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(defaults) <= set(schema["properties"])


# ------------------------------------------------------------------ the disruption budget


@pytest.mark.parametrize(
    "settings",
    [
        ("autoscaling.enabled=false", "replicaCount=1"),
        ("autoscaling.minReplicas=1",),
    ],
)
def test_a_single_replica_gets_no_budget_that_blocks_drains(settings: tuple[str, ...]) -> None:
    objects = helm_template(*HELM_VALUES, *(a for s in settings for a in ("--set", s)))
    assert of_kind(objects, "PodDisruptionBudget") == []
    validate(objects)


def test_the_default_budget_lets_one_pod_go_at_a_time() -> None:
    objects = helm_template(*HELM_VALUES, "--set", "autoscaling.enabled=false")
    (budget,) = of_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]
    assert (
        budget["spec"]["selector"]["matchLabels"].items()
        <= pod_of(objects)["metadata"]["labels"].items()
    )


def test_min_available_replaces_max_unavailable_and_must_leave_a_pod_to_drain() -> None:
    two = ("--set", "autoscaling.enabled=false", "--set", "replicaCount=2")
    objects = helm_template(*HELM_VALUES, *two, "--set", "podDisruptionBudget.minAvailable=1")
    (budget,) = of_kind(objects, "PodDisruptionBudget")
    assert budget["spec"] == {**budget["spec"], "minAvailable": 1}
    assert "maxUnavailable" not in budget["spec"]
    said = helm_refusal(*HELM_VALUES, *two, "--set", "podDisruptionBudget.minAvailable=2")
    assert "podDisruptionBudget.minAvailable (2) must be below the least number of replicas" in said


# ------------------------------------------------------------------ rolling on a new Secret


def pod_annotations(*args: str) -> dict[str, str]:
    result: dict[str, str] = pod_of(helm_template(*args))["metadata"]["annotations"]
    return result


def test_rotating_a_token_rolls_the_pods() -> None:
    before = pod_annotations(*HELM_VALUES)
    rotated = pod_annotations(*HELM_VALUES, "--set", "tokens.admin=rotated-token")
    assert re.fullmatch(r"[0-9a-f]{64}", before["checksum/secret"])
    assert rotated["checksum/secret"] != before["checksum/secret"]
    assert rotated["checksum/config"] == before["checksum/config"]
    moved = pod_annotations(*HELM_VALUES, "--set", "database.url=postgresql+asyncpg://pkg@db2/pkg")
    assert moved["checksum/secret"] != before["checksum/secret"]
    # the chart cannot see inside a Secret of yours
    assert "checksum/secret" not in pod_annotations("--set", "existingSecret=mine")


# ------------------------------------------------------------------ the pod's options

SCHEDULING: dict[str, Any] = {
    "nodeSelector": {"kubernetes.io/arch": "arm64"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "pkg", "effect": "NoSchedule"}
    ],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "pkg"}},
                    },
                }
            ]
        }
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
        },
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"tier": "policy"}},
        },
    ],
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "podLabels": {"team": "platform", "tier": "policy", "app.kubernetes.io/name": "not-pkg"},
    "podAnnotations": {"example.com/owner": "platform"},
}


def test_scheduling_options_reach_the_pod(tmp_path: Path) -> None:
    objects = helm_template(*with_values(tmp_path, SCHEDULING))
    validate(objects)
    (deployment,) = of_kind(objects, "Deployment")
    template = pod_of(objects)
    pod = template["spec"]
    assert pod["nodeSelector"] == SCHEDULING["nodeSelector"]
    assert pod["tolerations"] == SCHEDULING["tolerations"]
    assert pod["affinity"] == SCHEDULING["affinity"]
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    zone, host = pod["topologySpreadConstraints"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert zone == {
        **SCHEDULING["topologySpreadConstraints"][0],
        "labelSelector": {"matchLabels": selector},
    }
    assert host == SCHEDULING["topologySpreadConstraints"][1]  # a selector given is kept
    labels = template["metadata"]["labels"]
    assert labels == {**selector, "team": "platform", "tier": "policy"}  # the selector's stay
    assert deployment["spec"]["selector"]["matchLabels"] == selector  # the selector is unchanged
    assert template["metadata"]["annotations"]["example.com/owner"] == "platform"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


ROLE_ANNOTATION, ROLE = "eks\\.amazonaws\\.com/role-arn", "arn:aws:iam::1:role/pkg"


def test_the_chart_can_create_a_service_account() -> None:
    objects = helm_template(
        *HELM_VALUES,
        "--set", "serviceAccount.create=true", "--set", "serviceAccount.name=pkg-runtime",
        "--set", f"serviceAccount.annotations.{ROLE_ANNOTATION}={ROLE}",
    )  # fmt: skip
    validate(objects)
    (account,) = of_kind(objects, "ServiceAccount")
    assert account["metadata"]["name"] == "pkg-runtime"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    assert account["automountServiceAccountToken"] is False
    pod = pod_of(objects)["spec"]
    assert pod["serviceAccountName"] == "pkg-runtime"
    assert pod["automountServiceAccountToken"] is False


def test_the_pods_can_use_a_service_account_of_yours() -> None:
    objects = helm_template(
        *HELM_VALUES, "--set", "serviceAccount.name=mine", "--set", "serviceAccount.automount=true"
    )
    assert of_kind(objects, "ServiceAccount") == []
    pod = pod_of(objects)["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("mine", True)
    default = pod_of(helm_template(*HELM_VALUES))["spec"]
    assert "serviceAccountName" not in default
    assert default["automountServiceAccountToken"] is False  # PKG never calls the API


def test_env_from_reaches_both_containers_after_the_charts_own(tmp_path: Path) -> None:
    sources = [
        {"secretRef": {"name": "external-db"}},
        {"configMapRef": {"name": "more", "optional": True}},
    ]
    objects = helm_template(*with_values(tmp_path, {"envFrom": sources}))
    validate(objects)
    pod = pod_of(objects)["spec"]
    (server,), (migrate,) = pod["containers"], pod["initContainers"]
    assert server["envFrom"] == [
        {"configMapRef": {"name": "pkg"}},
        {"secretRef": {"name": "pkg"}},
        *sources,
    ]
    assert migrate["envFrom"] == [{"secretRef": {"name": "pkg"}}, *sources]


def test_probes_can_be_tuned_and_the_startup_probe_dropped() -> None:
    objects = helm_template(
        *HELM_VALUES,
        "--set", "readinessProbe.periodSeconds=7", "--set", "readinessProbe.timeoutSeconds=2",
        "--set", "livenessProbe.failureThreshold=3",
        "--set", "startupProbe.failureThreshold=90",
    )  # fmt: skip
    validate(objects)
    (server,) = pod_of(objects)["spec"]["containers"]
    assert server["readinessProbe"] == {
        "httpGet": {"path": "/health/ready", "port": "http"},
        "periodSeconds": 7,
        "timeoutSeconds": 2,
    }
    assert server["livenessProbe"]["failureThreshold"] == 3
    assert server["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["startupProbe"] == {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 2,
        "failureThreshold": 90,
    }
    (plain,) = pod_of(helm_template(*HELM_VALUES, "--set", "startupProbe.enabled=false"))["spec"][
        "containers"
    ]
    assert "startupProbe" not in plain
    assert plain["readinessProbe"]["httpGet"]["path"] == "/health/ready"


# ------------------------------------------------- Ingress, ServiceMonitor, NetworkPolicy


INGRESS: dict[str, Any] = {
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"},
        "hosts": [
            {"host": "pkg.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]},
            {"host": "policy.example.com", "paths": [{"path": "/evaluate"}]},
        ],
        "tls": [{"secretName": "pkg-tls", "hosts": ["pkg.example.com", "policy.example.com"]}],
    }
}


def test_an_ingress_routes_its_hosts_to_the_service(tmp_path: Path) -> None:
    objects = helm_template(*with_values(tmp_path, INGRESS))
    validate(objects)
    (ingress,) = of_kind(objects, "Ingress")
    (service,) = of_kind(objects, "Service")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["metadata"]["annotations"] == INGRESS["ingress"]["annotations"]
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == INGRESS["ingress"]["tls"]
    assert [rule["host"] for rule in spec["rules"]] == ["pkg.example.com", "policy.example.com"]
    paths = [p for rule in spec["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/", "Prefix"), ("/evaluate", "Prefix")]
    port_names = {port["name"] for port in service["spec"]["ports"]}
    for path in paths:
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"]["name"] in port_names


def test_a_service_monitor_scrapes_the_services_metrics() -> None:
    objects = helm_template(
        *HELM_VALUES,
        "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.interval=15s",
        "--set", "serviceMonitor.labels.release=kube-prometheus-stack",
    )  # fmt: skip
    validate(objects)
    (monitor,) = of_kind(objects, "ServiceMonitor")
    (service,) = of_kind(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["pkg"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "http",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "10s",
    }
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}


NETWORK: dict[str, Any] = {
    "networkPolicy": {
        "enabled": True,
        "from": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                }
            },
            {"podSelector": {"matchLabels": {"role": "caller"}}},
        ],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                "ports": [{"port": 5432, "protocol": "TCP"}],
            },
        ],
    }
}


def test_a_network_policy_admits_the_listed_peers_to_the_http_port(tmp_path: Path) -> None:
    objects = helm_template(*with_values(tmp_path, NETWORK))
    validate(objects)
    (policy,) = of_kind(objects, "NetworkPolicy")
    spec = policy["spec"]
    assert (
        spec["podSelector"]["matchLabels"].items() <= pod_of(objects)["metadata"]["labels"].items()
    )
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress == {
        "ports": [{"port": "http", "protocol": "TCP"}],
        "from": NETWORK["networkPolicy"]["from"],
    }
    dns, database = spec["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert database == NETWORK["networkPolicy"]["egress"][0]
    (container,) = pod_of(objects)["spec"]["containers"]
    assert "http" in {port["name"] for port in container["ports"]}


def test_a_network_policy_without_egress_rules_leaves_egress_open() -> None:
    objects = helm_template(*HELM_VALUES, "--set", "networkPolicy.enabled=true")
    validate(objects)
    (policy,) = of_kind(objects, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_everything_at_once_is_valid_for_kubernetes(tmp_path: Path) -> None:
    extras = {"Ingress", "ServiceMonitor", "NetworkPolicy", "ServiceAccount"}
    assert extras.isdisjoint(o["kind"] for o in helm_template(*HELM_VALUES))  # off by default
    values = {**SCHEDULING, **INGRESS, **NETWORK, "serviceMonitor": {"enabled": True}}
    values["serviceAccount"] = {"create": True, "annotations": {"example.com/a": "b"}}
    objects = helm_template(*with_values(tmp_path, values))
    kinds = {o["kind"] for o in objects}
    assert kinds >= {*extras, "Deployment", "PodDisruptionBudget"}
    validate(objects)
    assert pod_of(objects)["spec"]["serviceAccountName"] == "pkg"


# ------------------------------------------------------------------ NOTES.txt and README.md


def test_the_install_notes_say_how_to_reach_the_service() -> None:
    result = run(
        tool("helm"), "install", "pkg", str(CHART), "-n", "pkg", "--dry-run=client",
        *HELM_VALUES, "--set", "env=staging", "--set", "ingress.enabled=true",
    )  # fmt: skip
    notes = result.stdout.split("NOTES:", 1)[1]
    assert 'serves the "staging" environment' in notes
    assert "kubectl -n pkg port-forward svc/pkg 8080:80" in notes
    assert "http://pkg.example.com/" in notes


WHOLE = {"podAnnotations", "resources", "migrateResources", "readinessProbe", "livenessProbe"}
WHOLE |= {"startupProbe"}  # values documented as one object, not key by key


def leaf_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in values.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value and name not in WHOLE:
            keys |= leaf_keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


def test_the_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.M))
    assert leaf_keys(defaults) | {"podDisruptionBudget.minAvailable"} <= documented
