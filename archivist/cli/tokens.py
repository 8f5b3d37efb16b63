"""``archivist token``: API tokens."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from archive.principals import create_token, list_tokens, revoke_token
from archivist import wiring
from archivist.cli.common import audit_cli, fail, load_settings, out

app = typer.Typer(no_args_is_help=True, help="API tokens.")


@app.command("create")
def token_create(
    role: Annotated[
        str, typer.Option(help="compliance_officer, legal, security_admin, auditor, ingest, supervisor or admin.")
    ],
    label: Annotated[str, typer.Option(help="Who or what the token is for (shown in the audit log).")] = "",
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    engine = wiring.staging_store(load_settings()).engine
    try:
        token = create_token(engine, role, label or role)
    except ValueError as error:
        fail(str(error))
    token_id = token.split("_")[1]
    audit_cli(engine, "token_create", {"token_id": token_id, "role": role, "label": label or role})
    print(token)


@app.command("list")
def token_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every token issued: id, role, label, when created and revoked (secrets are never stored)."""
    tokens = list_tokens(wiring.staging_store(load_settings()).engine)
    if as_json:
        rows = [
            {
                "token_id": t.token_id,
                "role": t.role,
                "label": t.label,
                "created_at": t.created_at.isoformat(),
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in tokens
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("token id", "role", "label", "created", "revoked")
    for t in tokens:
        table.add_row(t.token_id, t.role, t.label, f"{t.created_at:%Y-%m-%d %H:%M}", f"{t.revoked_at or ''}")
    out.print(table)


@app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The id shown by `archivist token list`.")]) -> None:
    """Revoke a token at once; it authenticates nobody from then on."""
    engine = wiring.staging_store(load_settings()).engine
    revoked = revoke_token(engine, token_id)
    if revoked is None:
        fail(f"no token {token_id!r}; `archivist token list` shows them", code=1)
    audit_cli(engine, "token_revoke", {"token_id": token_id, "role": revoked.role, "label": revoked.label})
    out.print(f"token {token_id} ({revoked.role}, {revoked.label}) revoked at {revoked.revoked_at}", highlight=False)
