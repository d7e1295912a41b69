"""Defer importing a module until something uses it.

mango-agents imports networkx at module level for its topology and tracing helpers, which
assume does not use; networkx takes about a fifth of assume's start-up (0.1-0.2 s of every
command and of every process a test starts). :func:`defer` puts a stand-in into
``sys.modules`` that imports the real module on the first attribute anyone reads from it, so
``import networkx as nx`` in mango costs nothing until ``nx.DiGraph`` (say) is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute is read; then imports it and delegates."""

    def __init__(self, name: str):
        super().__init__(name)
        # the import system reads __spec__ of modules it finds in sys.modules; a real
        # attribute, so that reading it does not import the module
        self.__spec__ = None
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        real = self._real
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = self._real = importlib.import_module(name)
        return real

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __dir__(self):
        return dir(self._load())


def defer(name: str) -> None:
    """Import module ``name`` only when an attribute of it is first read (nothing happens if it
    is imported already or cannot be found)."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    sys.modules[name] = _Deferred(name)
