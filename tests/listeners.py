"""Airflow's real listener managers, set for one test: none at all, or one listener.

Airflow loads plugins' listeners once per process (with ``load_examples`` on, as by default, its
example ``event_listener`` plugin is one). The sensor asks the same managers as Airflow's DAG bag.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

MANAGER_MODULES = ("airflow.sdk.listener", "airflow.listeners.listener")


class TaskListener:
    """A listener as a plugin would register it (it only has to be registered to count)."""


def _managers() -> list[Any]:
    managers = []
    for module in MANAGER_MODULES:
        try:
            managers.append(importlib.import_module(module).get_listener_manager())
        except ImportError:
            continue
    return managers


@contextlib.contextmanager
def listeners(*installed: object) -> Iterator[None]:
    """Exactly these listeners, in every manager, for the duration; the process's own ones after."""
    saved = [(manager, list(manager.pm.get_plugins())) for manager in _managers()]
    try:
        for manager, _plugins in saved:
            manager.clear()
            for listener in installed:
                manager.add_listener(listener)
        yield
    finally:
        for manager, plugins in saved:
            manager.clear()
            for plugin in plugins:
                manager.add_listener(plugin)
