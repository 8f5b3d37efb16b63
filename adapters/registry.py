"""Finding adapters through the ``archivist.adapters`` entry-point group.

A third party adds an adapter by shipping a distribution with an entry point in that group
naming a factory ``(AdapterContext) -> Adapter``; nothing in this repository changes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from importlib.metadata import EntryPoint
from typing import cast

from adapters.base import Adapter, AdapterContext, AdapterFactory
from adapters.worker_process import AdapterProcess, WorkerSpec
from plugins import did_you_mean, registered, registered_names

GROUP = "archivist.adapters"
SYSTEM_OF_RECORD = "archive"


class UnknownAdapter(ValueError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown adapter {name!r}{did_you_mean(name, known)}; known adapters: {', '.join(sorted(known))}"
        )


def known_adapter_names() -> list[str]:
    return registered_names(GROUP)


def _entry_point(name: str) -> EntryPoint:
    found = registered(GROUP, name)
    if found is None:
        raise UnknownAdapter(name, known_adapter_names())
    return found


def load_factory(name: str) -> AdapterFactory:
    """The factory registered as ``name`` (only that plug-in is imported)."""
    return cast(AdapterFactory, _entry_point(name).load())


def factory_location(name: str) -> str:
    """Where the factory registered as ``name`` is, as ``module:attribute`` (not imported)."""
    return str(_entry_point(name).value)


def parse_adapter_names(spec: str) -> list[str]:
    """Names from ``ARCHIVIST_ADAPTERS``, in order, the archive first and always present."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    return [SYSTEM_OF_RECORD] + [n for n in dict.fromkeys(names) if n != SYSTEM_OF_RECORD]


def build_adapters(spec: str, context: AdapterContext, *, worker_processes: Collection[str] = ()) -> list[Adapter]:
    """Build the adapters ``spec`` names; an unknown name fails before any is built.

    Those named in ``worker_processes`` run each in a worker process of its own
    (:mod:`adapters.worker_process`); the archive cannot, since it writes inside the processor's
    transaction."""
    names = parse_adapter_names(spec)
    known = known_adapter_names()
    for name in [*names, *worker_processes]:
        if name not in known:
            raise UnknownAdapter(name, known)
    if SYSTEM_OF_RECORD in worker_processes:
        raise ValueError(
            f"the {SYSTEM_OF_RECORD} adapter writes in the processor's transaction: it cannot run in a worker process"
        )
    built: list[Adapter] = []
    try:
        for name in names:
            if name in worker_processes:
                built.append(AdapterProcess(WorkerSpec.of(name, factory_location(name), context)))
            else:
                built.append(load_factory(name)(context))
    except BaseException:
        for adapter in built:
            adapter.close()
        raise
    return built
