"""What operators run, checked by the tools that run it: the compose stack and its profiles, the
image, the reverse proxy (nginx -t), Prometheus's configuration and alert rules (promtool
check and promtool test), Grafana's dashboards (every PromQL parses and names only metrics the
app exports) and the CI workflow (GitHub's schema)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

import gateway.app  # noqa: F401  (registers every metric the gateway exports)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
COMPOSE = ROOT / "docker-compose.yml"
CI = bool(os.environ.get("CI"))
NAME = re.compile(r"\b(movehub_[a-z0-9_]+)\b")  # recording rules (movehub:...) are not exports
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def tool(name: str) -> str:
    """The path of a system tool; in CI a missing tool fails (setup.sh installs it)."""
    found = shutil.which(name)
    if found is None:
        if CI:
            pytest.fail(f"{name} is not installed: scripts/setup.sh --test installs it")
        pytest.skip(f"{name} is not installed (scripts/setup.sh --test installs it)")
    return found


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=60)


def exported_names() -> set[str]:
    """Every sample name the app's registry can export (a labelled family that has not been
    observed yet has no samples, so names come from the family's type)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("_sum", "_count", "_created"),
        "gauge": ("",),
        "info": ("_info",),
        "stateset": ("",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "unknown": ("",),
    }
    families: list[Metric] = list(REGISTRY.collect())
    return {family.name + suffix for family in families for suffix in suffixes[family.type]} | {
        s.name for f in families for s in f.samples
    }


def promql_of_dashboards() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


def expressions_of_rules() -> list[tuple[str, str]]:
    return [
        (f"{path.name}: {rule.get('alert') or rule.get('record')}", rule["expr"])
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


# ---- Prometheus ------------------------------------------------------------------------------
def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    promtool = tool("promtool")
    assert RULES and RULE_TESTS
    checked = run(promtool, "check", "rules", *RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", *RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_a_broken_rule_unit_test_fails(tmp_path: Path) -> None:
    """The control for the test above: promtool does fail a rule test that expects otherwise."""
    promtool = tool("promtool")
    broken = yaml.safe_load(RULE_TESTS[0].read_text())
    broken["rule_files"] = [str(p) for p in RULES]
    first = broken["tests"][0]["alert_rule_test"][-1]
    first["exp_alerts"] = []  # the 5xx alert does fire at this time
    path = tmp_path / "broken.test.yml"
    path.write_text(yaml.safe_dump(broken))
    assert run(promtool, "test", "rules", path).returncode != 0


def test_prometheus_configuration_is_valid(tmp_path: Path) -> None:
    promtool = tool("promtool")
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    token = tmp_path / "metrics_token"
    token.write_text("a-token")
    rules = tmp_path / "rules"
    shutil.copytree(DEPLOY / "prometheus" / "rules", rules)
    (scrape,) = config["scrape_configs"]
    assert scrape["authorization"]["credentials_file"] == "/prometheus/metrics_token"
    scrape["authorization"]["credentials_file"] = str(token)  # where compose's entrypoint writes it
    config["rule_files"] = [str(rules / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    checked = run(promtool, "check", "config", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_rules_name_only_metrics_the_app_exports() -> None:
    exported = exported_names()
    for where, expr in expressions_of_rules():
        assert set(NAME.findall(expr)) <= exported, (where, set(NAME.findall(expr)) - exported)


# ---- Grafana ---------------------------------------------------------------------------------
def test_every_dashboard_panel_parses_and_names_only_exported_metrics(tmp_path: Path) -> None:
    promtool = tool("promtool")
    queries = promql_of_dashboards()
    assert DASHBOARDS and queries
    exported = exported_names()
    rules = []
    for index, (where, expr) in enumerate(queries):
        names = set(NAME.findall(expr)) | ({"up"} if re.search(r"\bup\{", expr) else set())
        assert names, f"{where}: names no metric"
        assert names - {"up"} <= exported, (where, names - exported)
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"panel:{index}", "expr": expr})
    # promtool parses each panel's query as a recording rule's expression.
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    checked = run(promtool, "check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_panel_with_bad_promql_is_caught(tmp_path: Path) -> None:
    promtool = tool("promtool")
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "p",
                        "rules": [{"record": "panel:0", "expr": "sum(rate(movehub_http_requests_total[5m])"}],
                    }
                ]
            }
        )
    )
    assert run(promtool, "check", "rules", path).returncode != 0
    assert "movehub_no_such_metric_total" not in exported_names()


def test_grafana_is_provisioned_with_the_dashboards_and_the_datasource_they_use() -> None:
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uids = {d["uid"] for d in datasources["datasources"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "movehub.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"].startswith("MoveHub")
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])


# ---- compose, image, proxy -------------------------------------------------------------------
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_has_the_briefs_services_each_with_a_health_check() -> None:
    services = compose()["services"]
    assert {
        "postgis",
        "redis",
        "migrate",
        "ray-head",
        "ray-worker",
        "api",
        "proxy",
        "jaeger",
        "prometheus",
        "grafana",
    } <= set(services)
    one_shots = {"migrate", "seed", "simulator"}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no health check"
        if name in one_shots:
            assert check == {"disable": True}  # the image's HEALTHCHECK is the gateway's
        else:
            assert check.get("test"), f"{name}'s health check tests nothing"


def test_compose_migrates_once_and_lets_the_gateway_scale() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["movehub", "bootstrap"]
    api = services["api"]
    assert api["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "bootstrap" not in " ".join(api["command"]) and "seed" not in " ".join(api["command"])
    assert "ports" not in api  # replicas: the proxy is the one published port
    assert api["environment"]["RAY_ADDRESS"] == "ray-head:6379"
    assert "--num-cpus=0" in services["ray-head"]["command"]  # shards go to the workers
    assert services["seed"]["profiles"] == ["dev"]  # demo data never reaches production
    for name in ("jaeger", "prometheus", "grafana"):
        assert set(services[name]["profiles"]) == {"dev", "prod"}


@pytest.mark.parametrize("profile", [None, "dev", "prod"])
def test_compose_config_validates_for_each_profile(profile: str | None, tmp_path: Path) -> None:
    compose_bin = tool("docker-compose")
    env = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose-env.sh")], capture_output=True, text=True, check=True
    ).stdout
    env_file = tmp_path / "compose.env"
    env_file.write_text(env)
    args = [compose_bin, "--env-file", env_file, "-f", COMPOSE]
    if profile:
        args += ["--profile", profile]
    answer = run(*args, "config", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert set(yaml.safe_load(answer.stdout)["services"]) >= {"api", "proxy", "migrate"}
    profiles = run(*args, "config", "--profiles", cwd=tmp_path)
    assert set(profiles.stdout.split()) == {"dev", "prod"}, profiles.stderr


def test_the_image_is_multi_stage_unprivileged_and_health_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", text, re.MULTILINE | re.IGNORECASE)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "pip install" not in runtime and "uv sync" not in runtime  # built in the first stage
    user = re.search(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in ("0", "root")
    assert re.search(r"^HEALTHCHECK .*CMD", runtime, re.MULTILINE | re.DOTALL)
    assert "MOVEHUB_ENVIRONMENT=production" in runtime


def test_the_proxy_configuration_passes_nginx_and_upgrades_websockets(tmp_path: Path) -> None:
    nginx = tool("nginx")
    conf = DEPLOY / "nginx" / "nginx.conf"
    (tmp_path / "logs").mkdir()
    checked = run(nginx, "-t", "-p", tmp_path, "-c", conf)
    assert checked.returncode == 0, checked.stderr
    ws = conf.read_text().split("location /ws/", 1)[1].split("}", 1)[0]
    assert "proxy_set_header Upgrade $http_upgrade" in ws
    assert "Connection $connection_upgrade" in ws


# ---- CI workflow -----------------------------------------------------------------------------
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_the_workflow_is_valid_for_github_and_has_its_jobs() -> None:
    checked = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    assert {
        "lint",
        "frontend-lint",
        "test",
        "security",
        "image",
        "deploy-staging",
        "deploy-production",
    } <= set(jobs)
    assert any(step.get("run") == "bash .ci/run" for step in jobs["test"]["steps"])
    pages = jobs["frontend-lint"]["steps"]
    node = next(s for s in pages if s.get("uses", "").startswith("actions/setup-node@"))
    assert str(node["with"]["node-version"]) == "20"
    assert any(step.get("run") == "bash scripts/frontend-lint.sh" for step in pages)
    assert "frontend-lint" in jobs["image"]["needs"]
    build = next(s for s in jobs["image"]["steps"] if "build-push" in s.get("uses", ""))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert "refs/tags/v" in build["with"]["push"]
    assert jobs["deploy-staging"]["if"] == "github.ref == 'refs/heads/develop'"
    assert "refs/tags/v" in jobs["deploy-production"]["if"]


def test_github_schema_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = yaml.safe_load(WORKFLOW.read_text())
    broken["jobs"]["lint"]["runs-on"] = {"not": "valid"}
    del broken["jobs"]["lint"]["steps"]
    path = tmp_path / "ci.yml"
    path.write_text(yaml.safe_dump(broken))
    checked = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", path)
    assert checked.returncode != 0
