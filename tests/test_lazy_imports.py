"""networkx, which mango imports and assume does not use, is imported only when used, and then
behaves as if imported normally."""

import subprocess
import sys

import pytest


def run(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, assume, mango\n" + code],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_assume_does_not_import_networkx_until_it_is_used():
    assert run("print(type(sys.modules['networkx']).__name__)") == ["_Deferred"]
    # mango's own reference imports it on first use
    out = run(
        "from mango.util import tracing\n"
        "graph = tracing.nx.DiGraph(); graph.add_edge('a', 'b')\n"
        "import networkx\n"
        "print(type(sys.modules['networkx']).__name__, networkx.is_directed_acyclic_graph(graph))"
    )
    assert out == ["module", "True"]


def test_find_spec_answers_as_for_a_module_not_yet_imported():
    out = run(
        "import importlib.util\n"
        "spec = importlib.util.find_spec('networkx')\n"
        "print(spec.name, spec.origin.endswith('__init__.py'))"
    )
    assert out == ["networkx", "True"]


@pytest.mark.parametrize(
    "first", ["import networkx.utils", "from networkx.algorithms import community"]
)
def test_a_submodule_imported_first_is_the_package_s_own(first):
    """Its code runs once: the module in sys.modules is the package's attribute."""
    out = run(
        f"{first}\n"
        "real = sys.modules['networkx']\n"
        "print(type(real).__name__, sys.modules['networkx.utils'] is real.utils,\n"
        "      hasattr(real.utils, 'decorators'),\n"
        "      sys.modules['networkx.utils'].__spec__.name == 'networkx.utils')"
    )
    assert out == ["module", "True", "True", "True"]


def test_threads_that_use_it_first_at_once_get_one_module():
    out = run(
        "import threading\n"
        "from mango.util import tracing\n"
        "found = []\n"
        "threads = [threading.Thread(target=lambda: found.append(tracing.nx.Graph))"
        " for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(len(found), len(set(found)))"
    )
    assert out == ["8", "1"]
