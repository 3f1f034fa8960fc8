"""deploy/: the Kubernetes manifests are valid API objects that run what docker-compose.yml runs
(image, commands, settings, ports, the worker's sandbox grants), and the compose files for a
multi-host setup are valid compose files that change only what a split needs."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from kubernetes_validate.utils import (
    SchemaNotFoundError,
    ValidationError,
    latest_version,
    schema_contents,
    validate,
)
from processes import REPO
from referencing import Registry, Resource

from grader.config import Settings

K8S = REPO / "deploy" / "k8s"
# The Kubernetes API schemas hold no CRDs: KEDA's objects are checked against these instead.
KEDA_SCHEMAS = K8S / "schemas" / "keda.yaml"
COMPOSE_FILE = REPO / "docker-compose.yml"
# appArmorProfile, which the worker needs, is a field from Kubernetes 1.30 on.
OLDEST_KUBERNETES = "1.30"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, latest_version())
# The name kustomization.yaml maps to the pushed tag: the image docker-compose.yml builds from `.`.
IMAGE = "grader"
WORKLOAD_KINDS = {"Deployment", "Job"}
# Every key a grader service in docker-compose.yml uses, and where the manifests mirror it. A key
# not listed (privileged, sysctls, devices, ...) fails the test until it is mirrored and listed.
MIRRORED_COMPOSE_KEYS = {
    "build": "image",
    "command": "args",
    "environment": "env from the grader-settings Secret",
    "ports": "container ports",
    "expose": "container ports",
    "user": "securityContext.runAsUser",
    "cap_add": "securityContext.capabilities.add",
    "security_opt": "securityContext.seccompProfile / appArmorProfile",
    "volumes": "hostPath volumes",
    "networks": "the worker's NetworkPolicy",
    "depends_on": "the migrate Job, run first (docs/deploy.md)",
}
SECURITY_OPTS = {
    "seccomp=unconfined": ("seccompProfile", {"type": "Unconfined"}),
    "apparmor=unconfined": ("appArmorProfile", {"type": "Unconfined"}),
}


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def manifests() -> list[dict]:
    return [
        document
        for name in kustomization()["resources"]
        for document in yaml.safe_load_all((K8S / name).read_text())
    ]


def by_kind(kind: str) -> list[dict]:
    return [document for document in manifests() if document["kind"] == kind]


def containers() -> dict[str, tuple[dict, dict]]:
    """Every container of every workload by name, with the pod template it runs in."""
    found = {}
    for workload in manifests():
        if workload["kind"] in WORKLOAD_KINDS:
            pod = workload["spec"]["template"]
            for container in pod["spec"]["containers"]:
                assert container["name"] not in found, f"two containers named {container['name']}"
                found[container["name"]] = (container, pod)
    return found


def grader_services() -> dict[str, dict]:
    """docker-compose.yml's services built from this repository (PostgreSQL and Redis are not)."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return {name: service for name, service in services.items() if "build" in service}


def settings_secret() -> dict:
    (secret,) = by_kind("Secret")
    return secret


def test_kustomization_applies_every_manifest_and_one_image_to_every_container():
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(files)
    assert [image["name"] for image in kustomization()["images"]] == [IMAGE]
    assert {container["image"] for container, _ in containers().values()} == {IMAGE}
    assert not any("namespace" in document["metadata"] for document in manifests())


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_object_validates_strictly_against_the_api_schemas(version):
    core = [document for document in manifests() if not document["apiVersion"].startswith("keda")]
    assert {document["kind"] for document in core} >= {"Secret", "Deployment", "Job", "Service"}
    for document in core:
        try:
            validate(document, version, strict=True)
        except (ValidationError, SchemaNotFoundError) as problem:
            pytest.fail(f"{document['kind']}/{document['metadata']['name']}: {problem}")


def test_strict_validation_refuses_a_misspelt_field():
    (worker,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "grader-worker"]
    misspelt = copy.deepcopy(worker)
    misspelt["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privilegd"] = True
    with pytest.raises(ValidationError, match="privilegd"):
        validate(misspelt, latest_version(), strict=True)


def keda_validator(kind: str) -> jsonschema.protocols.Validator:
    """A validator for KEDA's `kind` from deploy/k8s/schemas/keda.yaml, with the Kubernetes
    schemas it refers to (ObjectMeta, the HPA behaviour) loaded beside it."""
    directory = f"kubernetes-json-schema/v{latest_version()}-local-strict"
    definitions = schema_contents(f"{directory}/_definitions.json", latest_version())
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    schema = yaml.safe_load(KEDA_SCHEMAS.read_text())[kind]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_keda_objects_validate_against_the_fields_of_their_crds():
    keda = [document for document in manifests() if document["apiVersion"].startswith("keda")]
    assert sorted(document["kind"] for document in keda) == [
        "ScaledObject",
        "TriggerAuthentication",
    ]
    for document in keda:
        keda_validator(document["kind"]).validate(document)


@pytest.mark.parametrize(
    "where, key, value",
    [
        (("spec", "triggers", 0, "metadata"), "listname", "grading"),
        (("spec", "triggers", 0, "metadata"), "listLength", 1),
        (
            ("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior", "scaleDown"),
            "stabilisationWindowSeconds",
            600,
        ),
        (("metadata",), "nmae", "grader-worker"),
    ],
    ids=["misspelt-parameter", "numeric-list-length", "misspelt-hpa-field", "misspelt-metadata"],
)
def test_keda_schema_refuses_what_keda_or_kubernetes_would_not_take(where, key, value):
    broken = copy.deepcopy(by_kind("ScaledObject")[0])
    part = broken
    for step in where:
        part = part[step]
    part[key] = value
    with pytest.raises(jsonschema.ValidationError) as refused:
        keda_validator("ScaledObject").validate(broken)
    assert key in refused.value.message or key in refused.value.absolute_path


def test_workers_scale_on_the_grading_queue_of_the_broker_the_grader_uses():
    (scaled,) = by_kind("ScaledObject")
    (authentication,) = by_kind("TriggerAuthentication")
    (trigger,) = scaled["spec"]["triggers"]
    broker = urlsplit(settings_secret()["stringData"]["GRADER_BROKER_URL"])
    assert scaled["spec"]["scaleTargetRef"]["name"] == "grader-worker"
    assert "grader-worker" in {d["metadata"]["name"] for d in by_kind("Deployment")}
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == Settings().queue_name
    assert trigger["metadata"]["address"] == f"{broker.hostname}:{broker.port}"
    assert trigger["metadata"]["databaseIndex"] == broker.path.strip("/")
    assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]
    (password,) = authentication["spec"]["secretTargetRef"]
    assert password["name"] == settings_secret()["metadata"]["name"]
    assert settings_secret()["stringData"][password["key"]] == broker.password


def test_every_grader_service_of_compose_runs_in_kubernetes_and_nothing_else_does():
    assert set(containers()) == set(grader_services())
    for name, service in grader_services().items():
        unmirrored = set(service) - set(MIRRORED_COMPOSE_KEYS)
        assert not unmirrored, f"compose's {name} sets {unmirrored}: mirror it in deploy/k8s"
        assert service["build"] == "."


def test_containers_run_the_commands_of_compose():
    for name, service in grader_services().items():
        container, _ = containers()[name]
        # Compose's `command` replaces the image's CMD, as `args` does; `command` would replace
        # its entrypoint.
        assert "command" not in container
        assert container.get("args") == service.get("command"), name


def test_containers_get_the_settings_of_compose_from_the_secret():
    secret = settings_secret()
    for name, service in grader_services().items():
        container, _ = containers()[name]
        env = {variable["name"]: variable for variable in container.get("env", [])}
        assert set(env) == set(service["environment"]), name
        assert "envFrom" not in container
        for variable, entry in env.items():
            reference = entry["valueFrom"]["secretKeyRef"]
            assert reference == {"name": secret["metadata"]["name"], "key": variable}
            assert variable in secret["stringData"]


def compose_container_ports(service: dict) -> set[int]:
    published = [str(port).rsplit(":", 1)[-1] for port in service.get("ports", [])]
    return {int(port.split("/")[0]) for port in published + service.get("expose", [])}


def test_containers_open_the_ports_of_compose_and_prometheus_scrapes_them():
    for name, service in grader_services().items():
        container, pod = containers()[name]
        ports = {port["containerPort"] for port in container.get("ports", [])}
        assert ports == compose_container_ports(service), name
        annotations = pod["metadata"].get("annotations", {})
        if ports:
            assert annotations["prometheus.io/scrape"] == "true"
            assert int(annotations["prometheus.io/port"]) in ports
            assert annotations["prometheus.io/path"] == "/metrics"
    assert compose_container_ports(grader_services()["worker"]) == {9808}


def test_containers_get_the_privileges_of_compose_and_no_more():
    for name, service in grader_services().items():
        container, pod = containers()[name]
        context = container.get("securityContext", {})
        assert not context.get("privileged") and "privileged" not in service
        assert context.get("capabilities", {}).get("add", []) == service.get("cap_add", []), name
        assert (context.get("runAsUser") == 0) == (service.get("user") == "root"), name
        for option in service.get("security_opt", []):
            field, value = SECURITY_OPTS[option]
            assert context[field] == value, f"{name}: {option}"
        volumes = {volume["name"]: volume for volume in pod["spec"].get("volumes", [])}
        host_mounts = {
            (volumes[mount["name"]]["hostPath"]["path"], mount["mountPath"])
            for mount in container.get("volumeMounts", [])
            if "hostPath" in volumes[mount["name"]] and not mount.get("readOnly")
        }
        compose_mounts = {tuple(volume.split(":")[:2]) for volume in service.get("volumes", [])}
        assert host_mounts == compose_mounts, name
    assert containers()["worker"][0]["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]


def compose_config(*files: str, **variables: str) -> subprocess.CompletedProcess:
    """`docker-compose config` over `files` with `variables` as the only GRADER_* settings."""
    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    env = {name: value for name, value in os.environ.items() if not name.startswith("GRADER_")}
    arguments = [argument for file in files for argument in ("-f", file)]
    return subprocess.run(
        ["docker-compose", *arguments, "config"],
        cwd=REPO,
        env={**env, "GRADER_SECRET_KEY": "k" * 48, **variables},
        capture_output=True,
        text=True,
    )


WORKER_HOST = {
    "GRADER_IMAGE": "registry.example.org/grader:2026.12",
    "GRADER_DATABASE_URL": "postgresql+psycopg://grader:pw@10.0.0.5:5432/grader",
    "GRADER_BROKER_URL": "redis://:pw@10.0.0.5:6379/0",
}


def test_a_worker_host_runs_the_composed_worker_with_the_web_hosts_urls_and_image():
    result = compose_config("docker-compose.yml", "deploy/compose/worker-host.yml", **WORKER_HOST)
    assert result.returncode == 0, result.stderr
    worker = yaml.safe_load(result.stdout)["services"]["worker"]
    composed = grader_services()["worker"]
    assert worker["image"] == WORKER_HOST["GRADER_IMAGE"]
    assert worker["environment"]["GRADER_DATABASE_URL"] == WORKER_HOST["GRADER_DATABASE_URL"]
    assert worker["environment"]["GRADER_BROKER_URL"] == WORKER_HOST["GRADER_BROKER_URL"]
    assert worker["command"] == composed["command"]
    for key in ("user", "cap_add", "volumes"):
        assert worker[key] == composed[key], key
    assert sorted(worker["security_opt"]) == sorted(composed["security_opt"])
    # The backend network is internal: without a second one, PostgreSQL and Redis are unreachable.
    assert set(worker["networks"]) == {"backend", "uplink"}


@pytest.mark.parametrize("missing", sorted(WORKER_HOST))
def test_a_worker_host_refuses_to_start_without_each_setting(missing):
    variables = {name: value for name, value in WORKER_HOST.items() if name != missing}
    result = compose_config("docker-compose.yml", "deploy/compose/worker-host.yml", **variables)
    assert result.returncode != 0 and f"set {missing}" in result.stderr


def test_the_web_host_publishes_postgres_and_redis_with_passwords_on_its_private_address():
    result = compose_config(
        "docker-compose.yml",
        "deploy/compose/web-host.yml",
        GRADER_IMAGE=WORKER_HOST["GRADER_IMAGE"],
        GRADER_DB_PASSWORD="db-secret",
        GRADER_REDIS_PASSWORD="redis-secret",
        GRADER_PRIVATE_ADDRESS="10.0.0.5",
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["postgres"]["ports"] == ["10.0.0.5:5432:5432/tcp"]
    assert services["redis"]["ports"] == ["10.0.0.5:6379:6379/tcp"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "db-secret"
    assert services["redis"]["command"][-2:] == ["--requirepass", "redis-secret"]
    for name in grader_services():
        environment = services[name]["environment"]
        assert services[name]["image"] == WORKER_HOST["GRADER_IMAGE"]
        assert ":db-secret@postgres:5432/" in environment["GRADER_DATABASE_URL"]
        assert environment["GRADER_BROKER_URL"] == "redis://:redis-secret@redis:6379/0"
