"""Static checks of the trust boundary in deploy/: mutual TLS between daiban, the UI and the
Temporal frontend, and a network policy that lets only them reach it (docs/design.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daiban.core.settings import Settings
from tests.deploy.test_deploy import (
    DEPLOY,
    container,
    helm,
    k8s_environment,
    load_one,
    manifests,
    pod_spec,
    workloads,
)

TLS_SETTINGS = (
    "DAIBAN_TEMPORAL_TLS_CERT",
    "DAIBAN_TEMPORAL_TLS_KEY",
    "DAIBAN_TEMPORAL_TLS_CA",
    "DAIBAN_TEMPORAL_TLS_SERVER_NAME",
)
TEMPORAL_CALLERS = {"daiban-api", "daiban-worker", "daiban-search-attributes"}


def config() -> dict[str, str]:
    data: dict[str, str] = manifests()[("ConfigMap", "daiban-config")]["data"]
    return data


def tls_mount(workload: dict[str, Any]) -> str:
    """Where the workload mounts the Secret daiban-temporal-tls (fails if it does not)."""
    volumes = {
        v["name"]: v["secret"]["secretName"] for v in pod_spec(workload)["volumes"] if "secret" in v
    }
    [name] = [n for n, secret in volumes.items() if secret == "daiban-temporal-tls"]
    [mount] = [m for m in container(workload)["volumeMounts"] if m["name"] == name]
    assert mount["readOnly"] is True
    path: str = mount["mountPath"]
    return path


def test_every_caller_of_temporal_presents_the_client_certificate() -> None:
    callers = {w["metadata"]["name"]: w for w in workloads()}
    assert TEMPORAL_CALLERS <= set(callers)
    for name in ("daiban-api", "daiban-worker"):
        environment = k8s_environment(container(callers[name]))
        assert all(environment[key] == "ConfigMap" for key in TLS_SETTINGS), name
        mount = tls_mount(callers[name])
        for key in (
            "DAIBAN_TEMPORAL_TLS_CERT",
            "DAIBAN_TEMPORAL_TLS_KEY",
            "DAIBAN_TEMPORAL_TLS_CA",
        ):
            assert Path(config()[key]).parent == Path(mount), key
        # The files are readable by the pod's user: through its group.
        security = pod_spec(callers[name])["securityContext"]
        assert security["fsGroup"] == security["runAsGroup"]
    job = callers["daiban-search-attributes"]
    mount = tls_mount(job)
    env = {v["name"]: v.get("value") for v in container(job)["env"]}
    for var in ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH"):  # fmt: skip
        assert Path(str(env[var])).parent == Path(mount), var


def test_the_tls_settings_are_accepted_once_the_files_are_there(tmp_path: Path) -> None:
    paths = {}
    for key in TLS_SETTINGS[:3]:
        path = tmp_path / Path(config()[key]).name
        path.write_text("PEM\n")
        paths[key.removeprefix("DAIBAN_").lower()] = path
    settings = Settings(
        _env_file=None,
        temporal_tls_server_name=config()["DAIBAN_TEMPORAL_TLS_SERVER_NAME"],
        **paths,  # type: ignore[arg-type]
    )
    assert settings.temporal_tls_server_name == "temporal-frontend.temporal.svc.cluster.local"
    assert config()["DAIBAN_TEMPORAL_ADDRESS"].startswith(settings.temporal_tls_server_name)


def test_the_frontend_requires_client_certificates() -> None:
    server = helm()["server"]
    frontend = server["config"]["tls"]["frontend"]
    assert frontend["server"]["requireClientAuth"] is True
    assert frontend["server"]["clientCaFiles"]
    mounts = {m["name"]: m["mountPath"] for m in server["additionalVolumeMounts"]}
    volumes = {v["name"]: v["secret"]["secretName"] for v in server["additionalVolumes"]}
    for path in (frontend["server"]["certFile"], *frontend["server"]["clientCaFiles"]):
        assert any(path.startswith(m + "/") and n in volumes for n, m in mounts.items()), path
    assert frontend["client"]["serverName"] == config()["DAIBAN_TEMPORAL_TLS_SERVER_NAME"]
    web = {e["name"]: e["value"] for e in helm()["web"]["additionalEnv"]}
    assert {"TEMPORAL_TLS_CERT_PATH", "TEMPORAL_TLS_KEY_PATH", "TEMPORAL_TLS_CA_PATH"} <= set(web)
    assert web["TEMPORAL_TLS_SERVER_NAME"] == config()["DAIBAN_TEMPORAL_TLS_SERVER_NAME"]


def test_only_daiban_the_ui_and_temporal_reach_the_frontend() -> None:
    policy = load_one(DEPLOY / "helm" / "temporal-frontend-networkpolicy.yaml")
    assert (policy["kind"], policy["metadata"]["namespace"]) == ("NetworkPolicy", "temporal")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "frontend"
    allowed_components: set[str] = set()
    for rule in spec["ingress"]:
        assert [p["port"] for p in rule["ports"]] == [7233]
        for peer in rule["from"]:
            # No rule admits everyone: each names a namespace's pods or Temporal's own pods.
            assert peer.get("podSelector"), peer
            namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
            if namespace:
                assert namespace == {"kubernetes.io/metadata.name": "daiban"}
                [expression] = peer["podSelector"]["matchExpressions"]
                allowed_components |= set(expression["values"])
            else:
                assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "temporal"}
    callers = {w["metadata"]["name"]: w for w in workloads()}
    components = {
        callers[name]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for name in TEMPORAL_CALLERS
    }
    assert allowed_components == components  # the migrate job, say, does not reach Temporal
