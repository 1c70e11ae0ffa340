"""The layering rules, checked on the source: core is pure, heavy imports are lazy."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cadence"
HEAVY = {
    "librosa",
    "scipy",
    "numba",
    "sounddevice",
    "matplotlib",
    "soundfile",
    "av",
    "jack",
    "python_stretch",
}
#: Parsers of recorded activities: light, but only needed by `--from FILE`.
ACTIVITY_PARSERS = {"fitdecode", "defusedxml"}


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
    "library",
    ["sounddevice", "librosa", "matplotlib", "python_stretch", *sorted(ACTIVITY_PARSERS)],
)
def test_one_module_talks_to_each_heavy_io_library(library):
    users = [p.name for p in _modules() if any(n.split(".")[0] == library for n in _imports(p))]
    assert len(users) <= 1, f"{library} is imported by {users}"


#: Libraries that format for a terminal: the command line's own.
TERMINAL_OUTPUT = {"click", "rich"}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_formats_for_the_terminal(path):
    """Outside cadence/cli/: no click or rich, no print, no writes to stdout/stderr.

    Everything else returns values (or calls a callback it was given); what
    the user sees is decided in one place.
    """
    if path.relative_to(PACKAGE).parts[0] == "cli":
        return
    used = {n.split(".")[0] for n in _imports(path)} & TERMINAL_OUTPUT
    assert not used, f"{path.name} imports {used}: terminal output belongs in cadence/cli/"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints"
        if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr"):
            owner = node.value
            assert not (isinstance(owner, ast.Name) and owner.id == "sys"), (
                f"{path.name}:{node.lineno} uses sys.{node.attr}"
            )


def test_core_knows_nothing_of_the_command_line():
    """The core names Python parameters; it never imports click, rich or cadence.cli."""
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        names = set(_imports(path))
        assert not {n.split(".")[0] for n in names} & TERMINAL_OUTPUT, path.name
        assert not any(n.startswith("cadence.cli") for n in names), path.name


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dependencies_point_inward(path):
    """cli -> edges -> core: nothing outside cadence/cli/ imports it (but `python -m cadence`)."""
    if path.relative_to(PACKAGE).parts[0] == "cli" or path.name == "__main__.py":
        return
    assert not any(n.startswith("cadence.cli") for n in _imports(path)), path.name


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small_enough_to_read(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 520, f"{path.name} has {lines} lines: split it by what it owns"


def test_readme_layout_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") : readme.index("## Speed")]
    missing = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.name not in ("__init__.py", "__main__.py") and p.name not in layout
    ]
    assert not missing, f"README's Layout does not mention {missing}"
    for folder in ("core/", "audio/", "cli/"):
        assert folder in layout
