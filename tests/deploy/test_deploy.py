"""Static checks of deploy/: the files parse, and they agree with the code and with each other.

No Docker engine and no cluster here: settings names come from ``daiban.core.settings.Settings``,
search attributes from ``models.search_attributes``, entry points from pyproject.toml; the compose
file, the Kubernetes manifests and the Helm values are read as YAML and cross-checked.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from daiban.core.settings import Settings
from models import search_attributes

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"

SETTINGS = {f"DAIBAN_{name.upper()}": name for name in Settings.model_fields}
REQUIRED_IN_PRODUCTION = {
    "DAIBAN_DATABASE_URL",
    "DAIBAN_TEMPORAL_ADDRESS",
    "DAIBAN_TEMPORAL_NAMESPACE",
    "DAIBAN_TASK_QUEUE",
    "DAIBAN_JWT_SECRET",
    "DAIBAN_CODEC_KEYS",
    "DAIBAN_ENVIRONMENT",
}
# Settings that only ever come from a Secret (Kubernetes) or the git-ignored .env (compose).
SECRET_SETTINGS = {"DAIBAN_DATABASE_URL", "DAIBAN_JWT_SECRET", "DAIBAN_CODEC_KEYS"}
DAIBAN_NAME = re.compile(r"\bDAIBAN_[A-Z0-9_]*[A-Z0-9]\b")
SEARCH_ATTRIBUTE_FLAGS = re.compile(r"--name\s+(\S+)\s+--type\s+(\S+)")
API_PORT = 8000


# --- loading -----------------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


@cache
def load_docs(path: Path) -> tuple[Any, ...]:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)


def load_one(path: Path) -> Any:
    (doc,) = load_docs(path)
    return doc


@cache
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = load_one(DEPLOY / "compose.yaml")
    return doc


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def parse_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(set, commented): ``KEY=value`` lines, and ``# KEY=value`` lines showing a default."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=(.*)", line):
            commented[match[1]] = match[2]
        elif line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {raw!r}"
            active[key.strip()] = value
    return active, commented


@cache
def env_example() -> dict[str, str]:
    return parse_env_file(DEPLOY / ".env.example")[0]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def compose_environment(svc: dict[str, Any]) -> dict[str, str]:
    """The variables a compose service gets: its env_file (``.env`` is the user's copy of
    ``.env.example``), then ``environment`` (list or mapping) over it."""
    env: dict[str, str] = {}
    for entry in as_list(svc.get("env_file")):
        file = entry if isinstance(entry, str) else entry["path"]
        source = DEPLOY / (".env.example" if file == ".env" else file)
        assert source.exists(), f"env_file {file} has no template in deploy/"
        env.update(parse_env_file(source)[0])
    environment = svc.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    env.update({key: str(value) for key, value in environment.items()})
    return env


def command_text(value: Any) -> str:
    return " ".join(as_list(value))


def expected_search_attributes() -> dict[str, str]:
    return dict(flag.split("=", 1) for flag in search_attributes.cli_flags())


def image_tag(image: str) -> tuple[str, str]:
    name, sep, tag = image.rpartition(":")
    assert sep and "/" not in tag, f"image {image!r} has no tag"
    return name, tag


@cache
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_docs(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{key} defined twice"
            found[key] = doc
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for (k, _), doc in manifests().items() if k == kind]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(workload)["containers"]
    found: dict[str, Any] = only
    return found


def k8s_environment(cont: dict[str, Any]) -> dict[str, str]:
    """Variable name -> where it comes from ("ConfigMap", "Secret" or "literal"), with envFrom
    and valueFrom references resolved against the manifests (a dangling reference fails)."""
    sources: dict[str, str] = {}
    for ref in cont.get("envFrom", []):
        kind = "ConfigMap" if "configMapRef" in ref else "Secret"
        name = ref["configMapRef" if kind == "ConfigMap" else "secretRef"]["name"]
        doc = manifests().get((kind, name))
        assert doc is not None, f"envFrom refers to a missing {kind} {name}"
        for key in {**doc.get("data", {}), **doc.get("stringData", {})}:
            sources[ref.get("prefix", "") + key] = kind
    for var in cont.get("env", []):
        if "value" in var:
            sources[var["name"]] = "literal"
            continue
        for ref_key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if ref := var.get("valueFrom", {}).get(ref_key):
                doc = manifests().get((kind, ref["name"]))
                assert doc is not None, f"{var['name']} refers to a missing {kind} {ref['name']}"
                keys = {**doc.get("data", {}), **doc.get("stringData", {})}
                assert ref["key"] in keys, f"{kind} {ref['name']} has no key {ref['key']}"
                sources[var["name"]] = kind
    return sources


def config_value(key: str) -> str:
    value: str = manifests()[("ConfigMap", "daiban-config")]["data"][key]
    return value


# --- every file --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert load_docs(path), f"{path} is empty"


def test_expected_files_exist() -> None:
    for relative in (
        "Dockerfile",
        "compose.yaml",
        ".env.example",
        "temporal/dynamic-config.yaml",
        "helm/temporal-values.yaml",
        "kubernetes/kustomization.yaml",
        "README.md",
    ):
        assert (DEPLOY / relative).is_file(), relative


def test_every_daiban_name_in_deploy_is_a_setting() -> None:
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for name in DAIBAN_NAME.findall(path.read_text(encoding="utf-8")):
            assert name in SETTINGS, f"{path.relative_to(ROOT)}: {name} is not a setting"


def test_env_example_lists_every_setting() -> None:
    active, commented = parse_env_file(DEPLOY / ".env.example")
    missing = set(SETTINGS) - set(active) - set(commented)
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert REQUIRED_IN_PRODUCTION - {"DAIBAN_DATABASE_URL"} <= set(active)
    assert active["DAIBAN_ENVIRONMENT"] == "production"


def test_env_example_shows_the_real_defaults() -> None:
    """A commented ``# DAIBAN_X=value`` line documents the default: it must be the code's."""
    examples_not_defaults = {
        "DAIBAN_DATABASE_URL",
        "DAIBAN_CATALOG",
        "DAIBAN_JWT_JWKS_URL",
        "DAIBAN_JWT_AUDIENCE",
        "DAIBAN_JWT_ISSUER",
        "DAIBAN_RATING_LINK_SECRET",
        "DAIBAN_TEMPORAL_TLS_CERT",
        "DAIBAN_TEMPORAL_TLS_KEY",
        "DAIBAN_TEMPORAL_TLS_CA",
        "DAIBAN_TEMPORAL_TLS_SERVER_NAME",
        "DAIBAN_NOTIFY_WEBHOOK_URL",
        "DAIBAN_EXPORT_WEBHOOK_URL",
        "DAIBAN_EXPORT_WEBHOOK_SECRET",
        "DAIBAN_WARNING_SHARE",  # off by default; the example shows a common share
    }
    _, commented = parse_env_file(DEPLOY / ".env.example")
    for key, text in commented.items():
        if key not in SETTINGS or key in examples_not_defaults:
            continue
        field = Settings.model_fields[SETTINGS[key]]
        assert field.annotation is not None
        assert TypeAdapter(field.annotation).validate_python(text) == field.default, key


def production_values(source: dict[str, str]) -> dict[str, Any]:
    return {SETTINGS[k]: v for k, v in source.items() if k in SETTINGS} | {
        "environment": "production"
    }


def test_shipped_placeholders_cannot_start_in_production() -> None:
    secret = manifests()[("Secret", "daiban-secrets")]["stringData"]
    for source in (env_example(), secret):
        values = production_values(source)
        with pytest.raises(ValidationError, match="DAIBAN_JWT_SECRET"):
            Settings(_env_file=None, **values)
        real_jwt = values | {"jwt_secret": "a-real-secret-of-enough-length-0123456789"}
        with pytest.raises(ValidationError, match="DAIBAN_CODEC_KEYS"):
            Settings(_env_file=None, **real_jwt)


def test_env_example_is_valid_once_secrets_are_set() -> None:
    values = production_values(env_example()) | {
        "jwt_secret": "a-real-secret-of-enough-length-0123456789",
        "codec_keys": "k1:" + "A" * 43 + "=",
    }
    settings = Settings(_env_file=None, **values)
    assert settings.environment == "production"


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_builds_one_non_root_image_of_the_project() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.MULTILINE))
    bases = [args.get(b[2:-1], b) for b in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    assert re.search(r"pip install \.(\s|$)", text)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(rf"^EXPOSE\s+{API_PORT}\b", text, re.MULTILINE)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {"**/.env", ".venv", ".git"} <= set(ignore)


def test_entry_points_used_by_deploy_exist() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "daiban" in pyproject["project"]["scripts"]
    assert {"api", "worker"} <= set(pyproject["tool"]["setuptools"]["py-modules"])


# --- compose -----------------------------------------------------------------------------------

DAIBAN_SERVICES = ("migrate", "worker", "api")


def test_compose_has_every_role() -> None:
    assert {"postgresql", "temporal", "ui", "setup", *DAIBAN_SERVICES} <= set(compose()["services"])


def test_compose_images_are_pinned() -> None:
    images = {name: svc["image"] for name, svc in compose()["services"].items()}
    for name, image in images.items():
        assert image_tag(image)[1] not in {"latest", ""}, name
    assert images["postgresql"] == "postgres:16"
    server = image_tag(images["temporal"])
    assert server[0] == "temporalio/auto-setup" and server[1].startswith("1.28.")
    tools = image_tag(images["setup"])
    assert tools[0] == "temporalio/admin-tools" and tools[1].startswith(server[1] + "-")
    ui = image_tag(images["ui"])
    assert ui[0] == "temporalio/ui" and re.fullmatch(r"2\.3\d\.\d+", ui[1])


def test_compose_daiban_services_share_one_image() -> None:
    assert len({service(name)["image"] for name in DAIBAN_SERVICES}) == 1
    for name in DAIBAN_SERVICES:
        build = service(name)["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_compose_commands() -> None:
    assert as_list(service("worker")["command"]) == ["python", "-m", "worker"]
    api = command_text(service("api")["command"])
    assert "uvicorn api:app" in api and f"--port {API_PORT}" in api
    assert "--host 0.0.0.0" in api
    assert "daiban db upgrade && daiban offices load" in command_text(service("migrate")["command"])


def test_compose_workers_are_several_and_stop_gracefully() -> None:
    worker = service("worker")
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker and "ports" not in worker
    assert worker["stop_grace_period"] == "60s"


def test_compose_serves_the_api_first_when_the_host_is_short_of_cpu() -> None:
    # Docker's default weight is 1024: the API (and PostgreSQL, which its pages read) keep it.
    assert "cpu_shares" not in service("api") and "cpu_shares" not in service("postgresql")
    for name in ("worker", "temporal"):
        assert service(name)["cpu_shares"] < 1024


def published(svc: dict[str, Any], target: int) -> int:
    for mapping in svc.get("ports", []):
        parts = str(mapping).split(":")
        if int(parts[-1]) == target:
            return int(parts[-2])
    raise AssertionError(f"port {target} is not published")


def test_compose_api_port_and_healthcheck() -> None:
    api = service("api")
    assert published(api, API_PORT) == API_PORT
    probe = command_text(api["healthcheck"]["test"])
    assert re.search(rf"127\.0\.0\.1:{API_PORT}/(readyz|healthz)\b", probe), probe


def test_compose_ui_codec_endpoint_points_at_the_api() -> None:
    ui = service("ui")
    endpoint = urlsplit(ui["environment"]["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.hostname == "localhost"  # the browser calls it, through the host's port
    assert endpoint.port == published(service("api"), API_PORT)
    assert endpoint.path == "/codec"
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    origin = f"http://localhost:{published(ui, 8080)}"
    assert env_example()["DAIBAN_CODEC_CORS_ORIGIN"] == origin


def test_compose_dependencies_wait_for_health_and_one_shots() -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in service(name)["depends_on"].items()}

    for name in ("worker", "api"):
        assert conditions(name) == {
            "postgresql": "service_healthy",
            "temporal": "service_healthy",
            "setup": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }
    assert conditions("migrate") == {"postgresql": "service_healthy"}
    assert conditions("temporal") == {"postgresql": "service_healthy"}
    assert conditions("setup") == {"temporal": "service_healthy"}
    assert conditions("ui") == {"temporal": "service_healthy"}
    for name, svc in compose()["services"].items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in service(dep), f"{name} waits for {dep}'s health"
            if spec["condition"] == "service_completed_successfully":
                assert service(dep)["restart"] == "no", f"{dep} is one-shot"


def test_compose_temporal_uses_postgres_and_the_dynamic_config() -> None:
    temporal = service("temporal")
    env = temporal["environment"]
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in temporal["volumes"])
    source = next(s for s, target in mounts.items() if target.endswith(".yaml"))
    assert (DEPLOY / source).resolve() == DEPLOY / "temporal" / "dynamic-config.yaml"
    assert "/etc/temporal/" + env["DYNAMIC_CONFIG_FILE_PATH"] == mounts[source]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in service("postgresql")["volumes"])
    assert "postgres-data" in compose()["volumes"]


@pytest.mark.parametrize("name", ["worker", "api", "migrate"])
def test_compose_gives_daiban_every_required_setting(name: str) -> None:
    env = compose_environment(service(name))
    missing = REQUIRED_IN_PRODUCTION - set(env)
    assert not missing, f"compose service {name} lacks {sorted(missing)}"


def interpolate(text: str) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` with .env.example values."""

    def value(match: re.Match[str]) -> str:
        name, op, rest = match[1], match[2] or "", match[3] or ""
        if name in env_example():
            return env_example()[name]
        assert op.endswith("-"), f"${{{name}}} is not in .env.example"
        return rest

    return re.sub(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", value, text)


def test_compose_database_url_uses_the_bundled_database() -> None:
    url = interpolate(compose_environment(service("api"))["DAIBAN_DATABASE_URL"])
    parts = urlsplit(url)
    assert parts.scheme == "postgresql+psycopg" and parts.hostname == "postgresql"
    assert parts.password == env_example()["APP_DB_PASSWORD"]
    assert "APP_DB_PASSWORD" in service("postgresql")["environment"]
    assert env_example()["DAIBAN_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_compose_variables_are_in_env_example() -> None:
    interpolate((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def registered(script: str) -> dict[str, str]:
    assert re.search(r'search-attribute create -n "\$\$?NAMESPACE"', script), script
    return dict(SEARCH_ATTRIBUTE_FLAGS.findall(script))


def test_compose_setup_registers_exactly_the_search_attributes() -> None:
    setup = service("setup")
    assert registered(command_text(setup["command"])) == expected_search_attributes()
    assert setup["environment"]["NAMESPACE"].startswith("${DAIBAN_TEMPORAL_NAMESPACE")
    assert setup["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


# --- Kubernetes --------------------------------------------------------------------------------


@cache
def kustomization() -> dict[str, Any]:
    doc: dict[str, Any] = load_one(K8S / "kustomization.yaml")
    return doc


def test_kustomization_lists_every_manifest() -> None:
    files = {p.name for p in K8S.glob("*.y*ml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(files)


def test_every_resource_is_in_the_daiban_namespace() -> None:
    namespace = kustomization()["namespace"]
    assert ("Namespace", namespace) in manifests()
    for (kind, name), doc in manifests().items():
        if kind != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, f"{kind} {name}"


def workloads() -> list[dict[str, Any]]:
    return of_kind("Deployment") + of_kind("Job")


def test_daiban_images_are_rewritten_by_kustomize() -> None:
    names = {entry["name"] for entry in kustomization()["images"]}
    daiban_images = set()
    for workload in workloads():
        name, _ = image_tag(container(workload)["image"])
        if not name.startswith("temporalio/"):
            assert name in names, f"{workload['metadata']['name']}: {name} not in images:"
            daiban_images.add(container(workload)["image"])
    assert len(daiban_images) == 1


def test_pods_run_as_non_root() -> None:
    for workload in workloads():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert container(workload)["securityContext"]["allowPrivilegeEscalation"] is False


def test_deployments_request_resources_and_select_their_pods() -> None:
    for deployment in of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        resources = container(deployment)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


@cache
def worker() -> dict[str, Any]:
    return manifests()[("Deployment", "daiban-worker")]


@cache
def api() -> dict[str, Any]:
    return manifests()[("Deployment", "daiban-api")]


@pytest.mark.parametrize("name", ["daiban-worker", "daiban-api"])
def test_kubernetes_gives_daiban_every_required_setting(name: str) -> None:
    sources = k8s_environment(container(manifests()[("Deployment", name)]))
    missing = REQUIRED_IN_PRODUCTION - set(sources)
    assert not missing, f"{name} lacks {sorted(missing)}"
    for key in SECRET_SETTINGS:
        assert sources[key] == "Secret", f"{name}: {key} comes from {sources[key]}"


def test_secrets_only_come_from_secret_objects() -> None:
    assert not SECRET_SETTINGS & set(manifests()[("ConfigMap", "daiban-config")]["data"])
    for workload in workloads():
        for var in container(workload).get("env", []):
            assert var["name"] not in SECRET_SETTINGS or "value" not in var, var["name"]
        text = yaml.safe_dump(workload)
        secret = manifests()[("Secret", "daiban-secrets")]["stringData"]
        for key in SECRET_SETTINGS:
            assert secret[key] not in text, f"{workload['metadata']['name']} holds {key}"


def test_worker_deployment() -> None:
    spec = worker()["spec"]
    assert "replicas" not in spec, "the HPA owns the worker count"
    assert pod_spec(worker())["terminationGracePeriodSeconds"] >= 60
    assert container(worker())["command"] == as_list(service("worker")["command"])
    assert "ports" not in container(worker())


def test_worker_hpa_targets_the_worker_deployment() -> None:
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", worker()["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"


def container_port(cont: dict[str, Any], port: int | str) -> int:
    for entry in cont.get("ports", []):
        if port in (entry["containerPort"], entry.get("name")):
            number: int = entry["containerPort"]
            return number
    raise AssertionError(f"no container port {port!r}")


def test_api_deployment_probes_and_port() -> None:
    cont = container(api())
    assert container_port(cont, API_PORT) == API_PORT
    assert cont["command"] == as_list(service("api")["command"])
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = cont[probe]["httpGet"]
        assert get["path"] == path, probe
        assert container_port(cont, get["port"]) == API_PORT, probe


def test_api_service_reaches_the_api_pods() -> None:
    svc = manifests()[("Service", "daiban-api")]
    labels = api()["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    (port,) = svc["spec"]["ports"]
    assert port["port"] == API_PORT
    assert container_port(container(api()), port["targetPort"]) == API_PORT


def test_migrate_job() -> None:
    job = manifests()[("Job", "daiban-migrate")]
    cont = container(job)
    assert cont["image"] == container(api())["image"]
    assert command_text(cont["command"]) == command_text(service("migrate")["command"])
    assert REQUIRED_IN_PRODUCTION <= set(k8s_environment(cont))


def test_search_attributes_job_registers_exactly_the_search_attributes() -> None:
    job = manifests()[("Job", "daiban-search-attributes")]
    cont = container(job)
    assert cont["image"] == service("setup")["image"]
    assert registered(command_text(cont["args"])) == expected_search_attributes()
    refs = {
        var["name"]: var["valueFrom"]["configMapKeyRef"]["key"]
        for var in cont["env"]
        if "configMapKeyRef" in var.get("valueFrom", {})
    }
    assert refs == {
        "TEMPORAL_ADDRESS": "DAIBAN_TEMPORAL_ADDRESS",
        "NAMESPACE": "DAIBAN_TEMPORAL_NAMESPACE",
        "TEMPORAL_TLS_SERVER_NAME": "DAIBAN_TEMPORAL_TLS_SERVER_NAME",
    }
    k8s_environment(cont)  # the references resolve


# --- Helm values and dynamic config -------------------------------------------------------------


@cache
def helm() -> dict[str, Any]:
    doc: dict[str, Any] = load_one(DEPLOY / "helm" / "temporal-values.yaml")
    return doc


def test_dynamic_config_enables_what_the_code_uses() -> None:
    config = load_one(DEPLOY / "temporal" / "dynamic-config.yaml")
    for key in (
        "system.enableActivityEagerExecution",
        "frontend.enableUpdateWorkflowExecution",
        "frontend.enableExecuteMultiOperation",
    ):
        assert config[key] == [{"value": True}], key
    assert helm()["server"]["dynamicConfig"] == config


def test_helm_uses_postgresql_for_both_stores() -> None:
    persistence = helm()["server"]["config"]["persistence"]
    assert persistence["defaultStore"] == "default"
    for store in ("default", "visibility"):
        assert persistence[store]["driver"] == "sql", store
        sql = persistence[store]["sql"]
        assert sql["driver"] == "postgres12", store
        assert sql["existingSecret"] and "password" not in sql, store
    for bundled in ("cassandra", "elasticsearch", "mysql", "postgresql"):
        assert helm()[bundled]["enabled"] is False, bundled


def test_helm_versions_match_compose() -> None:
    assert helm()["server"]["image"]["tag"] == image_tag(service("temporal")["image"])[1]
    assert helm()["admintools"]["image"]["tag"] == image_tag(service("setup")["image"])[1]
    assert helm()["web"]["image"]["tag"] == image_tag(service("ui")["image"])[1]


def test_helm_web_ui_decodes_through_the_api() -> None:
    env = {var["name"]: var["value"] for var in helm()["web"]["additionalEnv"]}
    assert urlsplit(env["TEMPORAL_CODEC_ENDPOINT"]).path == "/codec"
    assert env["TEMPORAL_DEFAULT_NAMESPACE"] == config_value("DAIBAN_TEMPORAL_NAMESPACE")
    assert config_value("DAIBAN_TEMPORAL_ADDRESS").startswith("temporal-frontend.temporal.svc")
