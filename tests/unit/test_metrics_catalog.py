"""The metrics the app exports and what operators look at agree both ways: every MoveHub metric
family is on a dashboard or in an alert rule, and each dashboard the issue asks for shows its
series (tests/unit/test_operations_config.py checks the other way: each panel parses and names
only exported metrics; the controls here show that check can fail)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import gateway.app  # noqa: F401  (registers every metric the gateway exports)
import persistence.metrics  # noqa: F401  (and the gathered ones)
from tests.unit.test_operations_config import (
    DASHBOARDS,
    NAME,
    RULES,
    exported_names,
    promql_of_dashboards,
    run,
    tool,
)

FAMILY_SUFFIX = re.compile(r"_(bucket|sum|count|total|created)$")


def families() -> set[str]:
    return {f.name for f in REGISTRY.collect() if f.name.startswith("movehub_")}


def names_in(exprs: list[str]) -> set[str]:
    """Family names a list of PromQL expressions reads (suffixes of samples stripped)."""
    return {FAMILY_SUFFIX.sub("", name) for expr in exprs for name in NAME.findall(expr)}


def dashboard_exprs(name: str) -> list[str]:
    panels = json.loads((DASHBOARDS[0].parent / f"{name}.json").read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_every_metric_family_is_on_a_dashboard_or_in_a_rule() -> None:
    shown = names_in([expr for _, expr in promql_of_dashboards()] + rule_exprs())
    exported = families()
    assert len(exported) >= 25, sorted(exported)
    assert exported - shown == set()


def test_the_dashboards_show_what_the_issue_asks_for() -> None:
    wanted = {
        "fleet": {  # drivers online, jobs by status, assignments per minute, ingest rate
            "movehub_shard_live_drivers",
            "movehub_bookings_open",
            "movehub_outbox_deliveries",
            "movehub_pings",
            "movehub_shard_up",
        },
        "realtime": {"movehub_ws_connections", "movehub_board_fanout_lag_seconds"},
        "money": {"movehub_refunds", "movehub_payment_webhooks", "movehub_invoices"},
        "api": {"movehub_http_requests", "movehub_http_request_seconds"},
    }
    for dashboard, names in wanted.items():
        missing = names - names_in(dashboard_exprs(dashboard))
        assert not missing, (dashboard, missing)
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)) >= 4


def test_the_panel_checks_can_fail(tmp_path: Path) -> None:
    """Controls: a misspelt metric is not an exported name, and promtool refuses bad PromQL."""
    exported = exported_names()
    assert "movehub_pings_total" in exported and "movehub_pings_totl" not in exported
    assert "movehub_shard_call_seconds_bucket" in exported
    promtool = tool("promtool")
    broken = tmp_path / "broken.yml"
    rule = {"record": "p:0", "expr": "sum(rate(movehub_pings_total[5m])"}  # one ) short
    broken.write_text(yaml.safe_dump({"groups": [{"name": "p", "rules": [rule]}]}))
    assert run(promtool, "check", "rules", broken).returncode != 0
