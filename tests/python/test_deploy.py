"""The shipped deployment files agree with each other and with berth's own timings: a
replica that is told to stop must leave the balancer's rotation before it stops accepting,
and finish its calls before Kubernetes kills it. (`make test-deploy` also checks every
manifest against the Kubernetes API schemas and `haproxy.cfg` with HAProxy itself.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
# berth's drain when clustered and http.drain_secs is unset (config::Config::drain).
DEFAULT_CLUSTER_DRAIN_SECS = 5


def manifests() -> dict[str, dict]:
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def berth_toml() -> dict:
    return tomllib.loads(manifests()["ConfigMap"]["data"]["berth.toml"])


def test_every_kind_the_deployment_needs_is_shipped() -> None:
    kinds = set(manifests())
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= kinds


def test_a_stopping_pod_drains_and_finishes_before_it_is_killed() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    http = berth_toml()["http"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain, grace = http["drain_secs"], http["shutdown_grace_secs"]
    assert pre_stop + drain + grace < pod["terminationGracePeriodSeconds"], (pre_stop, drain, grace)
    # Readiness notices the drain before berth stops accepting.
    probe = container["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"
    assert probe["periodSeconds"] * probe["failureThreshold"] < drain
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_pod_runs_unprivileged_on_a_read_only_root() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # Whatever berth writes goes to a volume: the plugins pulled, the compiled cache.
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    config = berth_toml()
    assert {config["plugins"]["dir"], config["cache_dir"]} <= mounted
    assert config["plugins"]["sources"], "plugins come from OCI sources, so pods need no volume of their own"


def test_the_secret_supplies_what_a_clustered_non_loopback_replica_needs() -> None:
    secret = manifests()["Secret"]["stringData"]
    assert {"BERTH_REDIS_URL", "BERTH_CLUSTER_SECRET", "BERTH_AUTH_TOKENS"} <= set(secret)
    assert berth_toml()["listen"].startswith("0.0.0.0:")


def test_haproxy_takes_a_draining_replica_out_before_it_stops_accepting() -> None:
    config = (REPO / "deploy" / "haproxy.cfg").read_text()
    checks = re.search(r"default-server inter (\d+)s fall (\d+)", config)
    assert checks, "deploy/haproxy.cfg: no `default-server inter Ns fall N`"
    inter, fall = int(checks[1]), int(checks[2])
    assert "option httpchk GET /readyz" in config
    assert inter * (fall + 1) < DEFAULT_CLUSTER_DRAIN_SECS
