"""What every area of the command line shares: its consoles, its settings, and how it fails."""

from __future__ import annotations

import getpass
import logging
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine

from archive.audit import record
from archive.principals import Principal
from archivist.settings import Settings, env_name, get_settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("archivist")


def load_settings() -> Settings:
    """The settings, or a clear error (exit 2) naming each one that does not validate."""
    try:
        return get_settings()
    except ValidationError as error:
        fail(f"invalid settings: {settings_problems(error)}")


def settings_problems(error: ValidationError) -> str:
    """Each problem as ``ARCHIVIST_NAME (name in the TOML file): what is wrong``; never the
    value, which may be a secret."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{env_name(where)} ({where}): {problem['msg']}" if where else problem["msg"])
    return "; ".join(problems)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def require_files(files: list[Path]) -> None:
    problems = []
    for path in files:
        if path.is_dir():
            problems.append(f"{path} is a directory, not a file")
        elif not path.exists():
            problems.append(f"no such file: {path}")
        elif not path.is_file():
            problems.append(f"{path} is not a regular file")
    if problems:
        fail("; ".join(problems))


def audit_cli(engine: Engine, action: str, details: dict[str, object]) -> None:
    """Administrative commands are audited like API calls, as the operator who ran them."""
    record(engine, cli_operator(), action, dict(details))


def cli_operator() -> Principal:
    """Whoever runs the command line, with the admin role."""
    return Principal("cli", f"command line ({getpass.getuser()})", "admin")
