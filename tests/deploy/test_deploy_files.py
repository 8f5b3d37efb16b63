"""deploy/: every file parses, has what operators rely on, and names only real settings and commands.

Nothing here needs Docker or a cluster; `kubectl kustomize` is run too when kubectl is installed.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import tomllib
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
SYSTEMD = DEPLOY / "systemd"
SAMPLE_TOML = DEPLOY / "archivist.example.toml"

PREFIX = str(Settings.model_config.get("env_prefix", ""))
SETTING_ENV_NAMES = {f"{PREFIX}{name}".upper() for name in Settings.model_fields}
SECRET_FILE_ENV_NAMES = {env_name(name) + FILE_SUFFIX for name in secret_settings()}
"""``ARCHIVIST_DATABASE_URL_FILE`` and the like: a secret read from a file."""
ENV_NAMES = SETTING_ENV_NAMES | SECRET_FILE_ENV_NAMES | {CONFIG_FILE_ENV}
CREDENTIAL_URLS = {f"{PREFIX}{name}".upper() for name in ("database_url", "broker_url", "elasticsearch_url")}
SECRET_WORDS = ("PASSWORD", "PASS", "SECRET", "TOKEN", "KEY")
WORKER_COMMANDS = {"api": "serve", "consumer": "consume", "processor": "process"}


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


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


def test_compose_runs_every_role_on_the_production_backends(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"rabbitmq", "rabbitmq-topology", "postgres", "elasticsearch", "api", "consumer", "processor"} <= set(
        services
    )
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13")
    assert "management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"] == "postgres:16"
    assert "elasticsearch" in services["elasticsearch"]["image"]
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


def test_compose_workers_serve_metrics_inside_the_network(compose: dict[str, Any]) -> None:
    for role in ("consumer", "processor"):
        service = compose["services"][role]
        argv = service["command"]
        assert {"--metrics-port", "--metrics-host"} <= _cli_options(argv[0])
        port = _metrics_port(argv)
        assert argv[argv.index("--metrics-host") + 1] == "0.0.0.0", "reachable from the compose network"  # noqa: S104
        assert service["expose"] == [str(port)]
        assert "ports" not in service, "metrics are not published on the host"


def test_compose_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert _pinned(service["image"]), f"{name}: {service['image']} is not pinned to a tag"


def test_compose_passwords_come_from_the_environment_only(compose: dict[str, Any]) -> None:
    interpolated = re.compile(r"^\$\{[A-Z_]+(:\?[^}]*)?\}$")
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        for key, value in env.items():
            if _is_secret_name(key):
                assert interpolated.match(str(value)), f"{name}: {key} must be ${{VARIABLE}}, not a literal"
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
    assert "pip install ." in text
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
    assert all("REPLACE-ME" in value for value in example["stringData"].values())
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
    assert set(deployments) == {f"archivist-{role}" for role in WORKER_COMMANDS}
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
    (service,) = _of_kind(base_objects, "Service")
    (api,) = (d for d in _of_kind(base_objects, "Deployment") if d["metadata"]["name"] == "archivist-api")
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()


def test_persistent_volume_claims_exist_for_every_mount(base_objects: list[dict[str, Any]]) -> None:
    claims = {c["metadata"]["name"] for c in _of_kind(base_objects, "PersistentVolumeClaim")}
    for deployment in _of_kind(base_objects, "Deployment"):
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_kustomizations_pin_images_and_the_overlay_refers_to_real_things(base_objects: list[dict[str, Any]]) -> None:
    for folder in (K8S_BASE, K8S_OVERLAY):
        for image in _kustomization(folder).get("images", []):
            assert image["newTag"] not in {"", "latest"}, f"{folder}: {image}"
    overlay = _kustomization(K8S_OVERLAY)
    assert overlay["resources"] == ["../../base"]
    assert overlay["namePrefix"]
    deployments = {d["metadata"]["name"] for d in _of_kind(base_objects, "Deployment")}
    assert {r["name"] for r in overlay["replicas"]} <= deployments
    base_names = {(o["kind"], o["metadata"]["name"]) for o in base_objects}
    for patch in overlay["patches"]:
        target = yaml.safe_load((K8S_OVERLAY / patch["path"]).read_text(encoding="utf-8"))
        assert (target["kind"], target["metadata"]["name"]) in base_names, patch
        if target["kind"] == "ConfigMap":
            assert set(target["data"]) <= SETTING_ENV_NAMES


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", [K8S_BASE, K8S_OVERLAY], ids=["base", "overlay"])
def test_kubectl_kustomize_builds(folder: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert built.returncode == 0, built.stderr
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    images = {c["image"] for o in objects if o["kind"] == "Deployment" for c in _containers(o)}
    assert images
    assert all(_pinned(image) for image in images), images
    assert not [o for o in objects if o["kind"] == "Secret"]


# --- systemd ---------------------------------------------------------------------------------


def _units() -> list[Path]:
    return sorted(SYSTEMD.glob("*.service"))


def test_there_is_a_unit_per_role() -> None:
    assert {p.name for p in _units()} == {
        "archivist-api.service",
        "archivist-consume@.service",
        "archivist-process@.service",
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
    assert command in WORKER_COMMANDS.values()
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
    config = tmp_path / "archivist.toml"
    config.write_text(uncommented, encoding="utf-8")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.delenv("ARCHIVIST_DATA_DIR")
    loaded = Settings()  # through the real TOML source, as archivist reads it
    assert loaded.broker_url is not None
    assert loaded.broker_url.get_secret_value().startswith("amqps://")
    assert loaded.elasticsearch_url is not None
    assert loaded.database_url is not None
