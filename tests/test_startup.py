"""`cadence --help` and `cadence calc` must not import heavy libraries."""

import json
import subprocess

import pytest

HEAVY = (
    "librosa",
    "scipy",
    "numba",
    "sounddevice",
    "matplotlib",
    "soundfile",
    "av",
    "numpy",
    "fitdecode",
    "gpxpy",
    "defusedxml",
    "python_stretch",
)

PROBE = """
import json, sys
from cadence.cli import main
try:
    main(sys.argv[1:], prog_name="cadence")
except SystemExit as e:
    code = e.code
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["calc", "--steps", "78", "--one-foot"],
        ["calc", "--spm", "156", "--json"],
        ["calc", "--steps", "0"],
        ["plan", "--current", "156", "--json"],
    ],
)
def test_cheap_commands_do_not_import_heavy_libraries(args, run_python):
    proc = run_python(PROBE.format(heavy=set(HEAVY)), *args, timeout=60)
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert loaded == []


def test_installed_console_script_runs_calc(cadence_cmd, subprocess_env):
    proc = subprocess.run(
        [*cadence_cmd, "calc", "--steps", "78", "--one-foot", "--json"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target_10_spm"] == 172
