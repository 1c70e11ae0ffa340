"""The layering rules, checked on the source: core is pure, heavy imports are lazy."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cadence"
HEAVY = {"librosa", "scipy", "numba", "sounddevice", "matplotlib", "soundfile", "av", "jack"}
#: Parsers of recorded activities: light, but only needed by `--from FILE`.
ACTIVITY_PARSERS = {"fitdecode", "gpxpy", "defusedxml"}


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path, *, top_level_only=False):
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda p: p.name)
def test_core_imports_only_stdlib_numpy_and_itself(path):
    allowed_cadence = ("cadence.errors", "cadence.core")
    for name in _imports(path):
        root = name.split(".")[0]
        if root == "cadence":
            assert name.startswith(allowed_cadence), f"{path.name} imports {name}"
        else:
            assert root in sys.stdlib_module_names or root == "numpy", f"{path.name} imports {name}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_heavy_library_at_module_level(path):
    lazy = HEAVY | ACTIVITY_PARSERS
    heavy = {n for n in _imports(path, top_level_only=True) if n.split(".")[0] in lazy}
    assert not heavy, f"{path.name} imports {heavy} at module level; import inside the function"


@pytest.mark.parametrize(
    "library", ["sounddevice", "librosa", "matplotlib", *sorted(ACTIVITY_PARSERS)]
)
def test_one_module_talks_to_each_heavy_io_library(library):
    users = [p.name for p in _modules() if any(n.split(".")[0] == library for n in _imports(p))]
    assert len(users) <= 1, f"{library} is imported by {users}"
