"""deploy/: every file parses, has what operators rely on, and names only real settings and commands.

Nothing here needs Docker or a cluster; `kubectl kustomize` renders the base and every overlay too when
kubectl is installed (it is on this project's machines).
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]
from typer.core import TyperGroup

from archivist.cli import app as cli_app
from archivist.settings import CONFIG_FILE_ENV, FILE_SUFFIX, Settings, env_name, secret_settings
from ingest.topology import Topology

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_BASE = DEPLOY / "k8s" / "base"
K8S_OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
K8S_DEV = DEPLOY / "k8s" / "overlays" / "dev"
OVERLAYS = [K8S_OVERLAY, K8S_DEV]
SYSTEMD = DEPLOY / "systemd"
SAMPLE_TOML = DEPLOY / "archivist.example.toml"

PREFIX = str(Settings.model_config.get("env_prefix", ""))
SETTING_ENV_NAMES = {f"{PREFIX}{name}".upper() for name in Settings.model_fields}
SECRET_FILE_ENV_NAMES = {env_name(name) + FILE_SUFFIX for name in secret_settings()}
"""``ARCHIVIST_DATABASE_URL_FILE`` and the like: a secret read from a file."""
ENV_NAMES = SETTING_ENV_NAMES | SECRET_FILE_ENV_NAMES | {CONFIG_FILE_ENV}
ENGINE_URLS = {f"{PREFIX}{name}".upper() for name in ("elasticsearch_url", "opensearch_url")}
"""The search engines' URLs: credentials may be in them (never a literal password), or none at all when the
engine takes none (OpenSearch without its security plugin, reachable only on an internal network)."""
CREDENTIAL_URLS = {f"{PREFIX}{name}".upper() for name in ("database_url", "broker_url")} | ENGINE_URLS
OPENSEARCH_IMAGE = "opensearchproject/opensearch:2.19."
OPENSEARCH_HTTP_PORT = 9200
OPENSEARCH_DATA = "/usr/share/opensearch/data"
SECRET_WORDS = ("PASSWORD", "PASS", "SECRET", "TOKEN", "KEY")
WORKER_COMMANDS = {"api": "serve", "consumer": "consume", "processor": "process"}
NOTIFIER = "supervision"
"""The escalation webhooks' notifier (`archivist supervision notify --follow`): checked in
tests/supervision/webhooks/test_deploy_notifier.py; here it meets what every role meets."""
WEBHOOK_SECRETS = {f"{PREFIX}{name}".upper() for name in ("supervision_webhook_url", "supervision_webhook_secret")}
"""No password in them (a receiver's URL, the signature's key): a placeholder instead."""


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


class ComposeLoader(yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader, plus the two tags Docker Compose adds to YAML for override files: `!override` (replace
    the value instead of merging it) and `!reset` (remove it). Both hold a plain YAML value."""


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _plain)


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=ComposeLoader) if doc is not None]


def _cli_commands() -> set[str]:
    """The commands of the real typer app, named as a user types them."""
    group = typer.main.get_command(cli_app)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def _cli_options(command: str) -> set[str]:
    """The options a command of the real typer app takes (``--metrics-port``, ...)."""
    group = typer.main.get_command(cli_app)
    assert isinstance(group, TyperGroup)
    return {option for param in group.commands[command].params for option in getattr(param, "opts", [])}


def _metrics_port(argv: list[str]) -> int:
    """The port a worker's arguments pass to ``--metrics-port`` (which must exist and be one)."""
    assert "--metrics-port" in argv, f"{argv}: the worker does not serve its metrics"
    port = int(argv[argv.index("--metrics-port") + 1])
    assert 1 <= port <= 65535
    return port


def _is_secret_name(name: str) -> bool:
    return any(word in name.upper() for word in SECRET_WORDS)


def _pinned(image: str) -> bool:
    """A tag (or digest) that is not ``latest``; a registry port is not a tag."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in {"", "latest"}


def test_the_settings_class_is_what_these_tests_assume() -> None:
    assert PREFIX == "ARCHIVIST_"
    assert {"ARCHIVIST_DATABASE_URL", "ARCHIVIST_BROKER_URL", "ARCHIVIST_QUEUE_TYPE"} <= SETTING_ENV_NAMES


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    documents = _documents(path)
    assert documents, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in documents)


def test_every_archivist_variable_named_anywhere_in_deploy_is_a_real_setting() -> None:
    pattern = re.compile(r"\bARCHIVIST_[A-Z][A-Z0-9_]*\b")
    unknown: dict[str, set[str]] = {}
    for path in (p for p in DEPLOY.rglob("*") if p.is_file()):
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            if name not in ENV_NAMES:
                unknown.setdefault(str(path.relative_to(DEPLOY)), set()).add(name)
    assert not unknown, f"not settings of archivist/settings.py: {unknown}"


# --- compose ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


ELASTICSEARCH_OVERRIDE = DEPLOY / "compose.elasticsearch.yaml"


@pytest.fixture(scope="module")
def elasticsearch_override() -> dict[str, Any]:
    (loaded,) = _documents(ELASTICSEARCH_OVERRIDE)
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_every_role_on_the_production_backends(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {
        "rabbitmq",
        "rabbitmq-topology",
        "postgres",
        "opensearch",
        "api",
        "consumer",
        "processor",
    } <= set(services)
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13")
    assert "management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["opensearch"]["image"].startswith(OPENSEARCH_IMAGE)
    assert services["api"]["command"][:3] == ["serve", "--host", "0.0.0.0"]  # noqa: S104 (inside its container)
    for role in ("consumer", "processor"):
        assert services[role]["deploy"]["replicas"] == 2
    commands = _cli_commands()
    for role, command in WORKER_COMMANDS.items():
        service = services[role]
        assert service["command"][0] == command
        assert command in commands
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"]).resolve() == DEPLOY.parent, "built from the repository root"
        env = service["environment"]
        assert env["ARCHIVIST_QUEUE_TYPE"] == "quorum", "compose declares a quorum queue; the code must agree"
        assert set(env) <= ENV_NAMES


def _url_parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL whose ${VARIABLE}s are not interpolated."""
    match = re.match(r"^([a-z]+)://(?:[^@/]+@)?([a-z0-9.-]+):(\d+)/?$", url)
    assert match, f"{url}: not scheme://[user:password@]host:port"
    return match.group(1), match.group(2), int(match.group(3))


def _compose_settings(env: dict[str, str]) -> Settings:
    """The settings a container of compose gets, its ${VARIABLE}s replaced by a password."""
    interpolated = {key: re.sub(r"\$\{[^}]*\}", "password", str(value)) for key, value in env.items()}
    return Settings.model_validate({key.removeprefix(PREFIX).lower(): value for key, value in interpolated.items()})


def test_compose_indexes_into_opensearch_from_every_processor(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role in ("api", "processor"):
        service = services[role]
        settings = _compose_settings(service["environment"])
        assert settings.opensearch_url is not None
        assert settings.elasticsearch_url is None, "one search engine: OpenSearch"
        adapters = settings.adapters.split(",")
        assert "opensearch" in adapters
        assert not {"index", "elasticsearch"} & set(adapters), "no single-writer Tantivy index, no second engine"
        _, host, port = _url_parts(settings.opensearch_url.get_secret_value())
        assert (host, port) == ("opensearch", OPENSEARCH_HTTP_PORT), "the URL names the opensearch service"
        assert service["depends_on"]["opensearch"]["condition"] == "service_healthy"
        assert set(service["networks"]) & set(services["opensearch"]["networks"]), f"{role} cannot reach it"
    assert services["processor"]["deploy"]["replicas"] > 1, "processors index side by side"
    consumer = services["consumer"]
    assert "opensearch" not in consumer.get("depends_on", {})
    assert not set(consumer["networks"]) & set(services["opensearch"]["networks"]), "consumers never search"


def test_compose_opensearch_is_one_healthy_node_with_its_own_volume(compose: dict[str, Any]) -> None:
    service = compose["services"]["opensearch"]
    env = service["environment"]
    assert env["discovery.type"] == "single-node"
    heap = re.findall(r"-Xm([sx])(\S+)", env["OPENSEARCH_JAVA_OPTS"])
    assert {kind for kind, _ in heap} == {"s", "x"}
    assert len({size for _, size in heap}) == 1, "the same minimum and maximum heap"
    (volume,) = service["volumes"]
    name, path = volume.split(":")
    assert path == OPENSEARCH_DATA
    assert name in compose["volumes"], "a named volume, not a folder of the host"
    test = " ".join(service["healthcheck"]["test"])
    assert "_cluster/health" in test
    assert f"localhost:{OPENSEARCH_HTTP_PORT}" in test
    assert service["restart"] == "unless-stopped"


def test_compose_opensearch_is_secured_or_unreachable(compose: dict[str, Any]) -> None:
    """The security plugin is on with the admin password from deploy/.env (and an https:// URL), or off
    with OpenSearch only on internal networks, no port published, and no demo certificates either way."""
    services = compose["services"]
    service = services["opensearch"]
    env = service["environment"]
    assert env.get("DISABLE_INSTALL_DEMO_CONFIG") == "true", "the demo certificates are not for production"
    url = services["api"]["environment"]["ARCHIVIST_OPENSEARCH_URL"]
    if env.get("DISABLE_SECURITY_PLUGIN") == "true":
        assert "ports" not in service, "nothing published on the host"
        assert "OPENSEARCH_INITIAL_ADMIN_PASSWORD" not in env
        assert "@" not in url, "no credentials for a server that checks none"
        networks = service["networks"]
        assert networks
        for network in networks:
            assert compose["networks"][network]["internal"] is True, f"{network}: a route out of the host"
            members = {name for name, other in services.items() if network in other.get("networks", ["default"])}
            assert members <= {"opensearch", "elasticsearch", "api", "processor"}, members
    else:
        assert re.match(r"^\$\{[A-Z_]+:\?[^}]*\}$", env["OPENSEARCH_INITIAL_ADMIN_PASSWORD"])
        assert url.startswith("https://")


def test_elasticsearch_is_an_override_that_swaps_the_engine(
    compose: dict[str, Any], elasticsearch_override: dict[str, Any]
) -> None:
    """compose.elasticsearch.yaml starts Elasticsearch instead of OpenSearch and points every Archivist
    container at it (its environment entries replace compose.yaml's, key by key)."""
    assert "compose.elasticsearch.yaml" in (DEPLOY / "compose.yaml").read_text(encoding="utf-8"), "documented"
    services = elasticsearch_override["services"]
    assert "elasticsearch" in services["elasticsearch"]["image"]
    assert services["opensearch"] == {"profiles": ["opensearch"]}, "left off, not deleted from compose.yaml"
    assert services["elasticsearch"]["networks"] == ["search"]
    assert "ports" not in services["elasticsearch"]
    assert set(services["elasticsearch"]["networks"]) <= set(compose["networks"])
    (volume,) = services["elasticsearch"]["volumes"]
    assert volume.split(":")[0] in elasticsearch_override["volumes"]
    text = ELASTICSEARCH_OVERRIDE.read_text(encoding="utf-8")
    for role in ("api", "processor", "consumer"):
        env = compose["services"][role]["environment"] | services[role]["environment"]
        settings = _compose_settings(env)
        assert settings.opensearch_url is None, "emptied: one engine"
        assert settings.elasticsearch_url is not None
        _, host, port = _url_parts(settings.elasticsearch_url.get_secret_value())
        assert (host, port) == ("elasticsearch", 9200)
        adapters = settings.adapters.split(",")
        assert "elasticsearch" in adapters
        assert "opensearch" not in adapters
    for role in ("api", "processor"):
        dependencies = services[role]["depends_on"]
        assert dependencies["elasticsearch"]["condition"] == "service_healthy"
        assert "opensearch" not in dependencies
        assert set(dependencies) >= set(compose["services"][role]["depends_on"]) - {"opensearch"}
    assert "depends_on: !override" in text, "replaces compose.yaml's dependencies (with opensearch)"


def test_compose_workers_serve_metrics_inside_the_network(compose: dict[str, Any]) -> None:
    for role in ("consumer", "processor"):
        service = compose["services"][role]
        argv = service["command"]
        assert {"--metrics-port", "--metrics-host"} <= _cli_options(argv[0])
        port = _metrics_port(argv)
        assert argv[argv.index("--metrics-host") + 1] == "0.0.0.0", "reachable from the compose network"  # noqa: S104
        assert service["expose"] == [str(port)]
        assert "ports" not in service, "metrics are not published on the host"


def test_compose_images_are_pinned(compose: dict[str, Any], elasticsearch_override: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert _pinned(service["image"]), f"{name}: {service['image']} is not pinned to a tag"
    for name, service in elasticsearch_override["services"].items():
        if "image" in service:
            assert _pinned(service["image"]), f"{name}: {service['image']} is not pinned to a tag"


def test_compose_passwords_come_from_the_environment_only(
    compose: dict[str, Any], elasticsearch_override: dict[str, Any]
) -> None:
    interpolated = re.compile(r"^\$\{[A-Z_]+(:\?[^}]*)?\}$")
    for name, service in [*compose["services"].items(), *elasticsearch_override["services"].items()]:
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        for key, value in env.items():
            if _is_secret_name(key):
                assert interpolated.match(str(value)), f"{name}: {key} must be ${{VARIABLE}}, not a literal"
            if key in ENGINE_URLS and "@" not in str(value):
                continue  # no credentials at all (see test_compose_opensearch_is_secured_or_unreachable)
            if key in CREDENTIAL_URLS:
                with_password = re.match(r"^[a-z]+://[^:/@]+:(\$\{[^}]*\})@", str(value))
                assert with_password, f"{name}: {key} must take its password from ${{VARIABLE}}"
                assert interpolated.match(with_password.group(1))


def test_rabbitmq_definitions_match_the_topology_the_code_declares() -> None:
    definitions = json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text(encoding="utf-8"))
    topology = Topology(queue_type="quorum")
    exchanges = {e["name"]: e for e in definitions["exchanges"]}
    for exchange in (topology.events_exchange(), topology.dead_exchange()):
        declared = exchanges.pop(exchange.name)
        assert (declared["type"], declared["durable"], declared["auto_delete"]) == (exchange.type, True, False)
        assert declared["arguments"] == {}
    assert not exchanges
    queues = {q["name"]: q for q in definitions["queues"]}
    for queue in (topology.events_queue(), topology.dead_queue()):
        declared = queues.pop(queue.name)
        assert (declared["durable"], declared["auto_delete"]) == (True, False)
        assert declared["arguments"] == (queue.queue_arguments or {}), f"{queue.name}: arguments differ"
    assert not queues
    assert definitions["queues"][0]["arguments"] == {
        "x-dead-letter-exchange": "archivist.dead",
        "x-queue-type": "quorum",
    }
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    assert bindings == {
        (topology.exchange, topology.queue, "#"),
        (topology.dead_letter_exchange, topology.dead_letter_queue, "#"),
    }
    assert all(b["destination_type"] == "queue" for b in definitions["bindings"])
    assert {"users", "permissions"}.isdisjoint(definitions), "no credentials in the definitions file"


def test_dockerfile_builds_a_non_root_image_of_the_package() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages
    assert all(image == "python:3.11-slim" for image in stages)
    assert 'pip install ".[${PACKAGE_EXTRAS}]"' in text, (
        "the package itself, with the Elasticsearch client extra (es8 or es9)"
    )
    assert "ARG PACKAGE_EXTRAS=es9" in text
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["archivist"\]', text, flags=re.MULTILINE)


def test_dockerfile_installs_the_pdf_reports_fonts() -> None:
    """The image draws PDF reports with the fonts scripts/services.sh installs for the tests."""
    services = (DEPLOY.parent / "scripts" / "services.sh").read_text(encoding="utf-8")
    listed = re.search(r"^PDF_PACKAGES=\((.*)\)$", services, flags=re.MULTILINE)
    assert listed
    fonts = [package for package in listed.group(1).split() if package.startswith("fonts-")]
    assert "fonts-dejavu-core" in fonts
    installs = re.findall(r"apt-get install [^\n]*", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    assert any(all(font in line.split() for font in fonts) for line in installs)


# --- Kubernetes ------------------------------------------------------------------------------


def _kustomization(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def base_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for resource in _kustomization(K8S_BASE)["resources"]:
        objects.extend(_documents(K8S_BASE / resource))
    return objects


def _of_kind(objects: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] == kind)


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return containers


def test_secrets_are_referenced_never_part_of_the_build(base_objects: list[dict[str, Any]]) -> None:
    resources = _kustomization(K8S_BASE)["resources"]
    assert "secret.example.yaml" not in resources
    assert (K8S_BASE / "secret.example.yaml").is_file()
    assert not list(_of_kind(base_objects, "Secret"))
    example = _documents(K8S_BASE / "secret.example.yaml")[0]
    assert example["kind"] == "Secret"
    assert set(example["stringData"]) <= SETTING_ENV_NAMES
    for name, value in example["stringData"].items():
        # A password is always a placeholder; OpenSearch without its security plugin takes none.
        password = re.match(r"^[a-z]+://[^:/@]+:([^@]*)@", value)
        if name in WEBHOOK_SECRETS:
            assert not password, f"{name}: no credentials in the webhook's URL"
            assert name.endswith("_URL") or value.startswith("REPLACE-ME"), f"{name}: a real-looking secret"
            continue
        if name not in ENGINE_URLS or password:
            assert password, f"{name}: no password"
            assert password.group(1) == "REPLACE-ME", f"{name}: a real-looking password"
    secret_name = example["metadata"]["name"]
    for deployment in _of_kind(base_objects, "Deployment"):
        for container in _containers(deployment):
            for variable in container.get("env", []):
                name = variable["name"]
                assert name in ENV_NAMES, f"{name} is not a setting"
                if _is_secret_name(name) or name in CREDENTIAL_URLS:
                    assert "value" not in variable, f"{name} is inlined in {deployment['metadata']['name']}"
                    reference = variable["valueFrom"]["secretKeyRef"]
                    assert reference["name"] == secret_name
                    assert reference["key"] in example["stringData"]


def test_the_configmap_holds_only_non_secret_settings(base_objects: list[dict[str, Any]]) -> None:
    (config,) = _of_kind(base_objects, "ConfigMap")
    names = set(config["data"])
    assert names <= SETTING_ENV_NAMES
    assert not names & CREDENTIAL_URLS
    assert not [name for name in names if _is_secret_name(name)]
    assert config["data"]["ARCHIVIST_QUEUE_TYPE"] == "quorum"
    Settings.model_validate({key.removeprefix(PREFIX).lower(): value for key, value in config["data"].items()})
    for deployment in _of_kind(base_objects, "Deployment"):
        for container in _containers(deployment):
            refs = [source["configMapRef"]["name"] for source in container.get("envFrom", [])]
            assert refs == [config["metadata"]["name"]]


def test_deployments_have_probes_resources_and_real_commands(base_objects: list[dict[str, Any]]) -> None:
    commands = _cli_commands()
    deployments = {d["metadata"]["name"]: d for d in _of_kind(base_objects, "Deployment")}
    assert set(deployments) == {f"archivist-{role}" for role in WORKER_COMMANDS} | {"archivist-notifier"}
    for role, command in WORKER_COMMANDS.items():
        deployment = deployments[f"archivist-{role}"]
        spec = deployment["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["args"][0] == command
        assert command in commands
        assert container["image"] == "archivist", "the tag is set once, by the kustomization's images"
        assert "readinessProbe" in container
        assert "livenessProbe" in container
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{role}: resources.{kind}"
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    api = _containers(deployments["archivist-api"])[0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["timeoutSeconds"] >= 3, "/readyz may take up to 2.5 s"
    for role in ("consumer", "processor"):
        container = _containers(deployments[f"archivist-{role}"])[0]
        probe_command = container["readinessProbe"]["exec"]["command"]
        assert probe_command[0] == "archivist"
        assert probe_command[1] in commands


def test_workers_expose_a_metrics_port_that_prometheus_is_told_about(base_objects: list[dict[str, Any]]) -> None:
    deployments = {d["metadata"]["name"]: d for d in _of_kind(base_objects, "Deployment")}
    for role in ("consumer", "processor"):
        deployment = deployments[f"archivist-{role}"]
        (container,) = _containers(deployment)
        assert {"--metrics-port", "--metrics-host"} <= _cli_options(container["args"][0])
        port = _metrics_port(container["args"])
        host = container["args"][container["args"].index("--metrics-host") + 1]
        assert host == "0.0.0.0", f"{role}: a scraper in another pod must reach it"  # noqa: S104
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"metrics": port}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    api = deployments["archivist-api"]
    (container,) = _containers(api)
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_every_deployment_has_a_disruption_budget_that_selects_its_pods(base_objects: list[dict[str, Any]]) -> None:
    budgets = list(_of_kind(base_objects, "PodDisruptionBudget"))
    for deployment in _of_kind(base_objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(matching) == 1, f"{deployment['metadata']['name']}: {len(matching)} budgets select it"
        selector = matching[0]["spec"]["selector"]["matchLabels"]
        others = [d for d in _of_kind(base_objects, "Deployment") if d is not deployment]
        assert not [d for d in others if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert {"minAvailable", "maxUnavailable"} & set(matching[0]["spec"])


def test_the_service_selects_the_api_pods(base_objects: list[dict[str, Any]]) -> None:
    (service,) = (s for s in _of_kind(base_objects, "Service") if s["metadata"]["name"] == "archivist-api")
    (api,) = (d for d in _of_kind(base_objects, "Deployment") if d["metadata"]["name"] == "archivist-api")
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()


def test_persistent_volume_claims_exist_for_every_mount(base_objects: list[dict[str, Any]]) -> None:
    claims = {c["metadata"]["name"] for c in _of_kind(base_objects, "PersistentVolumeClaim")}
    for deployment in _of_kind(base_objects, "Deployment"):
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


@pytest.mark.parametrize("overlay_folder", OVERLAYS, ids=lambda p: p.name)
def test_kustomizations_pin_images_and_the_overlay_refers_to_real_things(
    base_objects: list[dict[str, Any]], overlay_folder: Path
) -> None:
    for folder in (K8S_BASE, overlay_folder):
        for image in _kustomization(folder).get("images", []):
            assert image["newTag"] not in {"", "latest"}, f"{folder}: {image}"
    overlay = _kustomization(overlay_folder)
    assert overlay["resources"] == ["../../base"]
    assert overlay["namePrefix"]
    scalable = {d["metadata"]["name"] for kind in ("Deployment", "StatefulSet") for d in _of_kind(base_objects, kind)}
    assert {r["name"] for r in overlay["replicas"]} <= scalable
    base_names = {(o["kind"], o["metadata"]["name"]) for o in base_objects}
    for patch in overlay["patches"]:
        target = yaml.safe_load((overlay_folder / patch["path"]).read_text(encoding="utf-8"))
        assert (target["kind"], target["metadata"]["name"]) in base_names, patch
        if target["kind"] == "ConfigMap":
            assert set(target["data"]) <= SETTING_ENV_NAMES


# --- OpenSearch on Kubernetes ----------------------------------------------------------------

QUANTITY = re.compile(r"^(\d+)([KMGT]i|[kmgt])?$")
KIB = 1024
FACTORS: dict[str | None, int] = {None: 1, "k": KIB, "m": KIB * KIB, "g": KIB * KIB * KIB, "t": KIB * KIB * KIB * KIB}
FACTORS |= {f"{unit.upper()}i": FACTORS[unit] for unit in "kmgt"}


def _bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity (4Gi) or a JVM size (2g, 512m)."""
    match = QUANTITY.match(quantity)
    assert match, f"{quantity}: not a size these tests read"
    return int(match.group(1)) * FACTORS[match.group(2)]


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector of matchLabels and `In` expressions (the only forms deploy/ uses) against labels."""
    expressions = selector.get("matchExpressions", [])
    assert all(e["operator"] == "In" for e in expressions), expressions
    return selector.get("matchLabels", {}).items() <= labels.items() and all(
        labels.get(e["key"]) in e["values"] for e in expressions
    )


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {variable["name"]: variable.get("value", variable.get("valueFrom")) for variable in container["env"]}


def _opensearch(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (stateful_set,) = _of_kind(objects, "StatefulSet")
    (container,) = _containers(stateful_set)
    assert container["image"].startswith(OPENSEARCH_IMAGE)
    return stateful_set


def _check_opensearch_cluster(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """What every build (base or overlay) must keep: the nodes find each other under the names they get,
    their Services, budget and network policy select them, the heap fits the memory. Returns the set."""
    stateful_set = _opensearch(objects)
    name, replicas = stateful_set["metadata"]["name"], stateful_set["spec"]["replicas"]
    labels = _pod_labels(stateful_set)
    assert stateful_set["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = _containers(stateful_set)
    env = _env(container)
    assert env["node.name"] == {"fieldRef": {"fieldPath": "metadata.name"}}, "node names are the pod names"
    services = {s["metadata"]["name"]: s for s in _of_kind(objects, "Service")}
    headless = services[stateful_set["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True, "peers are found before they are ready"
    if env.get("discovery.type") == "single-node":
        assert replicas == 1
        assert not {"discovery.seed_hosts", "cluster.initial_cluster_manager_nodes"} & set(env), "refused then"
    else:
        assert replicas >= 3, "a majority of cluster managers survives the loss of one node"
        assert env["discovery.seed_hosts"] == headless["metadata"]["name"]
        managers = env["cluster.initial_cluster_manager_nodes"].split(",")
        assert managers == [f"{name}-{index}" for index in range(replicas)], "the pods' own names"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": OPENSEARCH_HTTP_PORT, "transport": 9300}
    for service in (s for s in services.values() if s["spec"]["selector"].items() <= labels.items()):
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"], f"{service['metadata']['name']}: {port}"
    (budget,) = (b for b in _of_kind(objects, "PodDisruptionBudget") if _selects(b["spec"]["selector"], labels))
    assert budget["spec"]["maxUnavailable"] == 1
    heap = re.findall(r"-Xm([sx])(\S+)", env["OPENSEARCH_JAVA_OPTS"])
    assert {kind for kind, _ in heap} == {"s", "x"}
    ((size,),) = {(size,) for _, size in heap}
    memory = container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["memory"] == memory, "no memory overcommitted under the heap"
    assert 2 * _bytes(size) <= _bytes(memory), "the heap is at most half the memory"
    assert _bytes(size) < 32 * 1024**3, "compressed object pointers end near 32 GB"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    (claim,) = stateful_set["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], "each node its own volume"
    assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == OPENSEARCH_DATA
    if env.get("DISABLE_SECURITY_PLUGIN") == "true":
        _check_only_archivist_reaches(objects, stateful_set)
    assert env["DISABLE_INSTALL_DEMO_CONFIG"] == "true", "the demo certificates are not for production"
    pod = stateful_set["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert not [c for c in pod.get("initContainers", []) if c.get("securityContext", {}).get("privileged")]
    return stateful_set


def _check_only_archivist_reaches(objects: list[dict[str, Any]], stateful_set: dict[str, Any]) -> None:
    """Without the security plugin, a NetworkPolicy lets only the API and processor pods reach HTTP, and only
    the OpenSearch pods reach the transport port."""
    labels = _pod_labels(stateful_set)
    (policy,) = (p for p in _of_kind(objects, "NetworkPolicy") if _selects(p["spec"]["podSelector"], labels))
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    deployments = {d["metadata"]["name"]: _pod_labels(d) for d in _of_kind(objects, "Deployment")}
    allowed: dict[str, set[str]] = {}
    for rule in policy["spec"]["ingress"]:
        sources = rule["from"]
        assert all(set(source) == {"podSelector"} for source in sources), "no address ranges, no namespaces"
        reached = {
            name
            for name, pod_labels in {**deployments, "opensearch": labels}.items()
            if any(_selects(source["podSelector"], pod_labels) for source in sources)
        }
        for port in rule["ports"]:
            allowed.setdefault(port["port"], set()).update(reached)
    api, processor = (n for n in deployments if n.endswith(("archivist-api", "archivist-processor")))
    assert allowed["http"] == {api, processor, "opensearch"}
    assert allowed["transport"] == {"opensearch"}


def test_base_runs_a_three_node_opensearch_cluster(base_objects: list[dict[str, Any]]) -> None:
    stateful_set = _check_opensearch_cluster(base_objects)
    assert stateful_set["spec"]["replicas"] == 3
    assert stateful_set["spec"]["podManagementPolicy"] == "Parallel", "the first election needs every node"
    affinity = stateful_set["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (rule,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert rule["topologyKey"] == "kubernetes.io/hostname", "a replica never beside its primary"
    assert _selects(rule["labelSelector"], _pod_labels(stateful_set))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (a test node on loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_health_checks_are_real_requests_of_the_real_node(
    opensearch_url: str, base_objects: list[dict[str, Any]], compose: dict[str, Any]
) -> None:
    """On the real OpenSearch 2.19 test node, compose's healthcheck URL and the StatefulSet's readiness path answer
    200. The readiness path waits for a cluster manager: on a node that has none (a cluster that never formed) it
    answered 503 after 2 s, where `_cluster/health?local=true` still said 200 (tried by hand on the test node: a
    node that cannot elect takes 30 s more to start, discovery.initial_state_timeout, too slow for every run)."""
    (container,) = _containers(_opensearch(base_objects))
    readiness = container["readinessProbe"]
    assert readiness["httpGet"]["port"] == "http"
    path = readiness["httpGet"]["path"]
    waits = re.search(r"cluster_manager_timeout=(\d+)s", path)
    assert waits, "without a cluster manager the call must fail, not answer from the node's own state"
    assert int(waits.group(1)) < readiness["timeoutSeconds"], "the probe gives the call time to fail"
    healthcheck = " ".join(compose["services"]["opensearch"]["healthcheck"]["test"])
    health = re.search(rf'"http://localhost:{OPENSEARCH_HTTP_PORT}(/[^"]+)"', healthcheck)
    assert health
    assert _status(opensearch_url + health.group(1)) == 200
    assert _status(opensearch_url + path) == 200


def test_processors_and_the_api_use_opensearch(base_objects: list[dict[str, Any]]) -> None:
    (config,) = _of_kind(base_objects, "ConfigMap")
    adapters = config["data"]["ARCHIVIST_ADAPTERS"].split(",")
    assert "opensearch" in adapters
    assert not {"index", "elasticsearch"} & set(adapters)
    deployments = {d["metadata"]["name"]: d for d in _of_kind(base_objects, "Deployment")}
    assert deployments["archivist-processor"]["spec"]["replicas"] > 1
    (client,) = (s for s in _of_kind(base_objects, "Service") if s["metadata"]["name"] == "opensearch")
    example = _documents(K8S_BASE / "secret.example.yaml")[0]
    _, host, port = _url_parts(example["stringData"]["ARCHIVIST_OPENSEARCH_URL"])
    assert (host, port) == ("opensearch", client["spec"]["ports"][0]["port"]), "the example names the Service"
    for role in ("api", "processor", "consumer"):
        env = _env(_containers(deployments[f"archivist-{role}"])[0])
        assert "ARCHIVIST_ELASTICSEARCH_URL" not in env
        if role == "consumer":
            assert "ARCHIVIST_OPENSEARCH_URL" not in env
        else:
            assert env["ARCHIVIST_OPENSEARCH_URL"]["secretKeyRef"]["key"] == "ARCHIVIST_OPENSEARCH_URL"


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


KUSTOMIZE_BUILDS = [(K8S_BASE, 3), (K8S_OVERLAY, 3), (K8S_DEV, 1)]
"""Each build and its number of OpenSearch nodes: 3 in production, 1 for development."""


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize(("folder", "nodes"), KUSTOMIZE_BUILDS, ids=["base", "overlay", "dev"])
def test_kubectl_kustomize_builds(folder: Path, nodes: int) -> None:
    objects = _kustomize(folder)
    workloads = [o for o in objects if o["kind"] in {"Deployment", "StatefulSet"}]
    images = {c["image"] for o in workloads for c in _containers(o)}
    assert images
    assert all(_pinned(image) for image in images), images
    assert not [o for o in objects if o["kind"] == "Secret"]
    stateful_set = _check_opensearch_cluster(objects)
    assert stateful_set["spec"]["replicas"] == nodes
    (processor,) = (d for d in workloads if d["metadata"]["name"].endswith("archivist-processor"))
    assert processor["spec"]["replicas"] > 1, "processors index side by side"


# --- systemd ---------------------------------------------------------------------------------


def _units() -> list[Path]:
    return sorted(SYSTEMD.glob("*.service"))


def test_there_is_a_unit_per_role() -> None:
    assert {p.name for p in _units()} == {
        "archivist-api.service",
        "archivist-consume@.service",
        "archivist-process@.service",
        "archivist-notify.service",
    }


@pytest.mark.parametrize("unit", _units(), ids=lambda p: p.name)
def test_systemd_units_parse_run_a_real_command_and_are_hardened(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit, encoding="utf-8")
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    service = parser["Service"]
    argv = service["ExecStart"].split()
    assert Path(argv[0]).name == "archivist"
    command = next(arg for arg in argv[1:] if not arg.startswith("-"))
    commands = _cli_commands()
    assert command in commands, f"{unit.name}: `archivist {command}` does not exist"
    assert command in {*WORKER_COMMANDS.values(), NOTIFIER}
    if command in {"consume", "process"}:
        # Template units: the instance name (%i) is the metrics port, so instances never collide.
        assert "--metrics-port" in _cli_options(command)
        assert argv[argv.index("--metrics-port") + 1] == "%i"
        assert unit.name.endswith("@.service")
        examples = re.findall(rf"{unit.name.removesuffix('@.service')}@(\w+)\.service", unit.read_text("utf-8"))
        assert examples, f"{unit.name}: show how instances are named"
        assert all(1024 < int(port) <= 65535 for port in examples), examples
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/archivist" in service["ReadWritePaths"].split()
    assert service.get("User") == "archivist" or service.get("DynamicUser") == "yes"
    assert service["NoNewPrivileges"] == "yes"
    assert service["EnvironmentFile"].startswith("/etc/archivist/")
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    # Environment= may repeat (configparser keeps the last); read every one from the text.
    lines = unit.read_text(encoding="utf-8").splitlines()
    names = {line.split("=", 2)[1] for line in lines if line.startswith("Environment=")}
    ours = {name for name in names if name.startswith(PREFIX)}
    assert ours
    assert ours <= ENV_NAMES


def test_the_environment_file_shows_the_opensearch_settings() -> None:
    text = (SYSTEMD / "archivist.env.example").read_text(encoding="utf-8")
    shown = set(re.findall(r"^# (ARCHIVIST_[A-Z_]+)=", text, flags=re.MULTILINE))
    assert {"ARCHIVIST_OPENSEARCH_URL", "ARCHIVIST_OPENSEARCH_TLS_CA_FILE", "ARCHIVIST_ELASTICSEARCH_URL"} <= shown
    assert shown <= ENV_NAMES


# --- the sample configuration ----------------------------------------------------------------

ASSIGNMENT = re.compile(r"^#?\s?([a-z][a-z0-9_]*) = (.+)$")  # names may hold digits (s3_bucket)


def _sample_assignments() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in SAMPLE_TOML.read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} appears twice"
            found[match.group(1)] = match.group(2)
    return found


def test_the_sample_configuration_documents_every_setting() -> None:
    documented = _sample_assignments()
    missing = set(Settings.model_fields) - set(documented)
    assert not missing, f"deploy/archivist.example.toml does not document {sorted(missing)}"
    assert not set(documented) - set(Settings.model_fields), "it documents settings that do not exist"
    lines = SAMPLE_TOML.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match:
            above = lines[index - 1]
            assert above.startswith("# "), f"{match.group(1)} has no description above it"
            assert not ASSIGNMENT.match(above), f"{match.group(1)} has no description above it"


def test_the_sample_configuration_shows_the_real_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommented, the file is valid TOML that the settings class accepts, and every value
    shown for a setting with a default is that default (unset URLs show an example)."""
    assignments = _sample_assignments()
    for name in (name for name in assignments if name.endswith("_file")):
        # The example paths do not exist here, and the settings insist on readable files.
        example = tmp_path / name
        example.write_text("PEM", encoding="utf-8")
        assignments[name] = json.dumps(str(example))
    uncommented = "\n".join(f"{key} = {value}" for key, value in assignments.items())
    values = tomllib.loads(uncommented)
    for name, field in Settings.model_fields.items():
        if field.default is not None:
            assert Settings.model_validate({name: values[name]}).model_dump()[name] == field.default, name
    monkeypatch.delenv("ARCHIVIST_DATA_DIR")
    # One search engine at a time (both URLs are refused): the file as it is with the other one's lines out.
    for engine, other in (("elasticsearch", "opensearch"), ("opensearch", "elasticsearch")):
        config = tmp_path / f"archivist-{engine}.toml"
        config.write_text(
            "\n".join(f"{key} = {value}" for key, value in assignments.items() if not key.startswith(f"{other}_")),
            encoding="utf-8",
        )
        monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
        loaded = Settings()  # through the real TOML source, as archivist reads it
        assert loaded.broker_url is not None
        assert loaded.broker_url.get_secret_value().startswith("amqps://")
        assert getattr(loaded, f"{engine}_url") is not None
        assert getattr(loaded, f"{engine}_tls_ca_file") is not None
        assert loaded.database_url is not None
