"""Defer importing a module until something uses it.

mango-agents imports networkx at module level for its topology and tracing helpers, which
assume does not use; networkx takes about a fifth of assume's start-up (0.1-0.2 s of every
command and of every process a test starts). :func:`defer` puts a stand-in into
``sys.modules`` that imports the real module on the first attribute anyone reads from it, so
``import networkx as nx`` in mango costs nothing until ``nx.DiGraph`` (say) is used.

The stand-in carries the real module's spec, so ``importlib.util.find_spec`` answers as it
would. Importing a submodule first (``import networkx.utils``) makes the import system read
the stand-in's ``__path__``, which imports the real package, and that imports the submodule
itself; :class:`_Imported` then hands the import system that module instead of letting it run
the submodule's code a second time.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute is read; then imports it and delegates."""

    def __init__(self, name: str, spec: importlib.machinery.ModuleSpec):
        super().__init__(name)
        # real attributes: the import system reads them from modules in sys.modules, and
        # reading them must not import the module
        self.__spec__ = spec
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with _lock:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._real = importlib.import_module(self.__name__)
            return self._real

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __dir__(self):
        return dir(self._load())


class _Imported(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """For a submodule of a deferred package that appeared in sys.modules while the import
    system was looking for it (loading the package imported it): that module, as it is."""

    def __init__(self, package: str):
        self.prefix = package + "."

    def find_spec(self, fullname, path, target=None):
        module = sys.modules.get(fullname)
        if module is None or not fullname.startswith(self.prefix):
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=hasattr(module, "__path__")
        )

    def create_module(self, spec):
        module = sys.modules[spec.name]
        spec.loader_state = module.__spec__  # the import system replaces it; exec restores it
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = module.__spec__.loader_state


def defer(name: str) -> None:
    """Import module ``name`` only when an attribute of it is first read (nothing happens if it
    is imported already or cannot be found)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    sys.modules[name] = _Deferred(name, spec)
    sys.meta_path.insert(0, _Imported(name))
