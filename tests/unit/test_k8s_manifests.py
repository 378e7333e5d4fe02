"""deploy/k8s/ offline: the core objects against Kubernetes' own schemas (kubernetes-validate's
bundled ones), the RayCluster through Ray's KubeRay translator (what the in-tree autoscaler reads
of it), and the names that tie the objects together.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import ray
import yaml
from ray.autoscaler._private.kuberay.autoscaling_config import (
    _derive_autoscaling_config_from_ray_cr,
)

from actors.slots import SHARD_RESOURCE
from gateway.routes.health import router as health_router
from persistence.config import Settings, insecure_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
# Old enough for clusters still in support, and the newest schemas the package ships.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())


def _manifest(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
    manifest["metadata"].setdefault("namespace", KUSTOMIZATION["namespace"])  # as kustomize does
    return manifest


def _by_kind() -> dict[str, dict[str, Any]]:
    manifests = [_manifest(name) for name in KUSTOMIZATION["resources"]]
    return {manifest["kind"]: manifest for manifest in manifests}


def _ray_cr() -> dict[str, Any]:
    return _by_kind()["RayCluster"]


def _pod_labels(kind: str) -> dict[str, str]:
    labels: dict[str, str] = _by_kind()[kind]["spec"]["template"]["metadata"]["labels"]
    return labels


def test_kustomization_applies_every_manifest_and_keeps_secrets_out_of_git() -> None:
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == on_disk
    (generator,) = KUSTOMIZATION["secretGenerator"]
    assert generator["envs"] == ["secrets.env"]
    assert "secrets.env" in (K8S / ".gitignore").read_text().split()


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", [n for n in KUSTOMIZATION["resources"] if n != "raycluster.yaml"])
def test_core_objects_match_the_kubernetes_schemas(name: str, version: str) -> None:
    # strict: an unknown or misplaced field is an error, not silently dropped by the server.
    kubernetes_validate.validate(_manifest(name), version, strict=True)


def test_kubernetes_schemas_refuse_a_misplaced_field() -> None:
    deployment = _manifest("gateway-deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["readyz"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_ray_translator_reads_the_shard_worker_group() -> None:
    cr = _ray_cr()
    assert cr["spec"]["enableInTreeAutoscaling"] is True
    assert cr["spec"]["rayVersion"] == ray.__version__  # the image's Ray, from the lock
    config = _derive_autoscaling_config_from_ray_cr(cr)  # runs Ray's validate_config too
    (group,) = cr["spec"]["workerGroupSpecs"]
    workers = config["available_node_types"][group["groupName"]]
    assert (workers["min_workers"], workers["max_workers"]) == (group["minReplicas"], group["maxReplicas"])
    assert 1 <= workers["min_workers"] <= workers["max_workers"]
    assert workers["resources"][SHARD_RESOURCE] == 4  # what each shard actor asks one of
    assert workers["resources"]["CPU"] >= 1  # from the container's limits
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["CPU"] == 0  # Ray's large-cluster guide: no work on the head
    assert SHARD_RESOURCE not in head["resources"]
    assert config["idle_timeout_minutes"] == cr["spec"]["autoscalerOptions"]["idleTimeoutSeconds"] / 60


def test_ray_translator_refuses_resources_not_in_kuberays_format() -> None:
    cr = _ray_cr()
    cr["spec"]["workerGroupSpecs"][0]["rayStartParams"]["resources"] = '{"fleet_shard": 4}'
    with pytest.raises(ValueError):
        _derive_autoscaling_config_from_ray_cr(cr)


def test_ray_pods_keep_workers_at_normal_priority() -> None:
    spec = _ray_cr()["spec"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for group in groups:
        env = {e["name"]: e.get("value") for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env["RAY_worker_niceness"] == "0"


def _token_sources(env: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    by_name = {e["name"]: e for e in env}
    token = by_name.get("RAY_AUTH_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
    return by_name.get("RAY_AUTH_MODE", {}).get("value"), token.get("name")


def test_every_ray_process_and_client_holds_the_token() -> None:
    """Ray runs whatever code reaches its ports: token auth everywhere, from the Secret."""
    spec, secret = _ray_cr()["spec"], KUSTOMIZATION["secretGenerator"][0]["name"]
    ray_envs = [
        group["template"]["spec"]["containers"][0]["env"]
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    ]
    for env in [*ray_envs, spec["autoscalerOptions"]["env"]]:
        assert _token_sources(env) == ("token", secret)
    gateway = _by_kind()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert _token_sources(gateway["env"])[0] == "token"
    assert ("secretRef", secret) in _env_sources("Deployment")  # RAY_AUTH_TOKEN comes with it
    assert "RAY_AUTH_TOKEN" in _example_secrets()


def test_gateway_joins_the_ray_head_service_with_the_apps_probes() -> None:
    cluster = _ray_cr()
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    client_port = next(p["containerPort"] for p in head["ports"] if p["name"] == "client")
    container = _by_kind()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RAY_ADDRESS"] == f"ray://{cluster['metadata']['name']}-head-svc:{client_port}"
    app_paths = {route.path for route in health_router.routes}  # type: ignore[attr-defined]
    assert {"/readyz", "/healthz"} <= app_paths
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]  # what the HPA's utilization divides by
    pod_security = _by_kind()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_service_hpa_and_pdb_point_at_the_gateway_pods() -> None:
    objects = _by_kind()
    deployment, labels = objects["Deployment"], _pod_labels("Deployment")
    port_names = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    service = objects["Service"]["spec"]
    assert service["selector"] == labels
    assert {p["targetPort"] for p in service["ports"]} <= port_names
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2


def _env_sources(kind: str) -> set[tuple[str, str]]:
    container = _by_kind()[kind]["spec"]["template"]["spec"]["containers"][0]
    return {(kind_ref, ref["name"]) for source in container["envFrom"] for kind_ref, ref in source.items()}


def test_pods_read_the_configmap_and_the_generated_secret() -> None:
    expected = {
        ("configMapRef", _by_kind()["ConfigMap"]["metadata"]["name"]),
        ("secretRef", KUSTOMIZATION["secretGenerator"][0]["name"]),
    }
    assert _env_sources("Deployment") == expected
    assert _env_sources("Job") == expected


def _example_secrets() -> dict[str, str]:
    lines = (K8S / "secrets.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _settings(monkeypatch: pytest.MonkeyPatch, secret_values: dict[str, str]) -> Settings:
    for name, value in {**_by_kind()["ConfigMap"]["data"], **secret_values}.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_the_shipped_secrets_cannot_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, _example_secrets())
    assert settings.environment == "production"  # so insecure settings refuse to start
    assert insecure_settings(settings)


def test_filled_in_secrets_cover_what_production_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    def filled(name: str) -> str:
        if name.endswith("_DATABASE_URL"):
            return f"postgresql+asyncpg://movehub_app:{secrets.token_hex(16)}@db:5432/movehub"
        return secrets.token_hex(32)

    settings = _settings(monkeypatch, {name: filled(name) for name in _example_secrets()})
    assert insecure_settings(settings) == []
