"""deploy/ runs the escalation notifier: a compose service (profile "supervision"), a Kubernetes
Deployment and a systemd unit, each running `archivist supervision notify --follow` with the
webhook's URL and secret taken from where the other secrets come from."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from archivist.cli import app

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
NOTIFY = ["supervision", "notify", "--follow"]
WEBHOOK_SETTINGS = {"ARCHIVIST_SUPERVISION_WEBHOOK_URL", "ARCHIVIST_SUPERVISION_WEBHOOK_SECRET"}


def _yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_the_command_the_deployments_run_exists() -> None:
    result = CliRunner().invoke(app, [*NOTIFY[:2], "--help"])
    assert result.exit_code == 0, result.output
    assert "--follow" in result.output
    assert "--interval" in result.output


def test_compose_runs_the_notifier_on_request_with_the_secret_from_the_environment() -> None:
    (compose,) = _yaml(DEPLOY / "compose.yaml")
    notifier = compose["services"]["notifier"]
    assert notifier["command"][:3] == NOTIFY
    assert notifier["profiles"] == ["supervision"], "only started when a webhook is configured"
    env = notifier["environment"]
    assert env["ARCHIVIST_DATABASE_URL"] == compose["services"]["processor"]["environment"]["ARCHIVIST_DATABASE_URL"]
    # Not ${...:?}: compose interpolates every service, the ones of inactive profiles too.
    assert env["ARCHIVIST_SUPERVISION_WEBHOOK_URL"] == "${SUPERVISION_WEBHOOK_URL}"
    assert env["ARCHIVIST_SUPERVISION_WEBHOOK_SECRET"] == "${SUPERVISION_WEBHOOK_SECRET}"
    assert "default" in notifier["networks"], "it needs a route out to the receiver"
    example = (DEPLOY / "compose.env.example").read_text(encoding="utf-8")
    assert "SUPERVISION_WEBHOOK_URL=" in example
    assert "SUPERVISION_WEBHOOK_SECRET=" in example


def test_kubernetes_runs_one_notifier_with_the_webhook_from_the_secret() -> None:
    base = DEPLOY / "k8s" / "base"
    assert "notifier.yaml" in yaml.safe_load((base / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    (deployment,) = _yaml(base / "notifier.yaml")
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == "archivist-notifier"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"][:3] == NOTIFY
    assert container["image"] == "archivist"
    assert container["readinessProbe"]["exec"]["command"][:2] == ["archivist", "status"]
    assert "livenessProbe" in container
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["envFrom"] == [{"configMapRef": {"name": "archivist-config"}}]
    references = {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]["key"]
        for variable in container["env"]
        if "valueFrom" in variable
    }
    assert set(references) >= WEBHOOK_SETTINGS
    assert all(name == key for name, key in references.items())
    secret = _yaml(base / "secret.example.yaml")[0]["stringData"]
    assert set(secret) >= WEBHOOK_SETTINGS
    assert "REPLACE-ME" in secret["ARCHIVIST_SUPERVISION_WEBHOOK_SECRET"]
    budgets = [b for b in _yaml(base / "pdb.yaml") if b["metadata"]["name"] == "archivist-notifier"]
    assert len(budgets) == 1


def test_systemd_runs_the_notifier_hardened() -> None:
    unit = DEPLOY / "systemd" / "archivist-notify.service"
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit, encoding="utf-8")
    argv = parser["Service"]["ExecStart"].split()
    assert argv[0] == "/opt/archivist/bin/archivist"
    assert argv[1:4] == NOTIFY
    assert parser["Service"]["User"] == "archivist"
    assert parser["Service"]["ProtectSystem"] == "strict"
    example = (DEPLOY / "systemd" / "archivist.env.example").read_text(encoding="utf-8")
    assert "ARCHIVIST_SUPERVISION_WEBHOOK_URL=" in example
    assert "ARCHIVIST_SUPERVISION_WEBHOOK_SECRET=" in example
