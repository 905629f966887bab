"""deploy/: the Grafana dashboard queries only metrics (and labels) the OCS exports, and
the Prometheus scrape config points at the OCS's default metrics address."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from ocs.config import OcsConfig
from ocs.metrics import Metrics
from protocol.layouts import CcrReader

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: the series names prometheus_client derives from a metric family of each type
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def exported() -> dict[str, set[str]]:
    """Series name -> label names, for every metric of ``Metrics`` (children or not),
    and the series of the collectors it registers (read at scrape time)."""
    metrics = Metrics()
    metrics.watch_ccr_reader(CcrReader())
    out: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        family = next(iter(value.describe()))
        labels = set(value._labelnames) | ({"le"} if family.type == "histogram" else set())
        for suffix in SUFFIXES[family.type]:
            out[family.name + suffix] = labels
    return out


def expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    return exprs


def test_every_metric_the_dashboard_uses_exists() -> None:
    names = exported()
    used = {m for e in expressions() for m in re.findall(r"\bocs_[a-z_]+\b", e)}
    assert used, "the dashboard queries no OCS metric"
    assert used <= set(names), sorted(used - set(names))
    # what the issue asks the dashboard to show
    for wanted in (
        "ocs_requests_total",
        "ocs_answers_total",
        "ocs_request_seconds_bucket",
        "ocs_active_sessions",
        "ocs_reserved_micros",
        "ocs_commit_queued_rows",
        "ocs_commit_batch_rows_bucket",
        "ocs_server_requests_total",
        "ocs_peers",
        "ocs_storage_healthy",
    ):
        assert wanted in used, wanted


def test_every_label_the_dashboard_groups_or_filters_by_exists() -> None:
    names = exported()
    for expr in expressions():
        for grouping, metric in re.findall(r"by \(([^)]*)\)\s*\(\s*\w*\(?(ocs_[a-z_]+)", expr):
            labels = {label.strip() for label in grouping.split(",")}
            assert labels <= names[metric], (expr, labels - names[metric])
        for metric, matchers in re.findall(r"(ocs_[a-z_]+)\{([^}]*)\}", expr):
            labels = {m.split("=")[0].strip() for m in matchers.split(",")}
            assert labels <= names[metric], (expr, labels)


def test_prometheus_scrapes_the_default_metrics_address() -> None:
    text = (DEPLOY / "prometheus.yml").read_text()
    metrics = OcsConfig().metrics
    assert f'"{metrics.host}:{metrics.port}"' in text and "metrics_path: /metrics" in text
