"""The ``archivist`` command line: the composition root that starts every role.

Each area's commands live in a module of their own; this module puts them together, in the
order ``archivist --help`` lists them, and turns the errors every command can meet (a database
that cannot be used, a file that cannot be read, a search server this client cannot use) into a
message and exit code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from archivist.cli import (
    demo,
    directory,
    events,
    exports,
    imports,
    operations,
    retention,
    supervision,
    threads,
    tokens,
    workers,
)
from archivist.cli.common import err
from archivist.logs import configure_logging
from archivist.settings import get_settings
from search.es_version import UnsupportedServer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Compliance archiving for group chat.",
)
# Added without a name, an area's commands are the main app's own: `archivist consume`.
app.add_typer(events.app)
app.add_typer(workers.app)
app.add_typer(operations.app)
app.add_typer(demo.app)
app.add_typer(exports.app)
app.add_typer(imports.app, name="import")
app.add_typer(tokens.app, name="token")
app.add_typer(directory.app, name="directory")
app.add_typer(retention.app, name="retention")
app.add_typer(threads.app, name="threads")
app.add_typer(supervision.app, name="supervision")


def _configure_logging(verbose: bool) -> None:
    """Text or JSON lines (``ARCHIVIST_LOG_FORMAT``) for every command. Settings that do not
    validate leave text logging on; the command then reports them when it reads its settings."""
    try:
        log_format = get_settings().log_format
    except ValidationError:
        log_format = "text"
    configure_logging(logging.INFO if verbose else logging.WARNING, log_format)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False) -> None:
    _configure_logging(verbose)


def main() -> None:
    try:
        app()
    except DBAPIError as error:
        err.print(f"error: cannot use the database: {error.orig}", highlight=False, markup=False)
        sys.exit(2)
    except OSError as error:
        err.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(2)
    except UnsupportedServer as error:  # e.g. an Elasticsearch 8 server and the 9.x client
        err.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(2)
