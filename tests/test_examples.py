"""The examples in examples/ run and print what the README says they do."""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED


def run_example(name, subprocess_env, *args):
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / name), *args],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )


def test_api_calculator_example(subprocess_env):
    result = run_example("api_calculator.py", subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "cadence 156.0 spm -> +5 %: 164, +10 %: 172" in result.stdout


@pytest.mark.skipif(not (SHARED / "data" / "activities").is_dir(), reason="no ../shared")
def test_api_recorded_run_example(subprocess_env):
    result = run_example("api_recorded_run.py", subprocess_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run: median 166.0 spm")
    assert "targets: +5 % 174, +10 % 183" in result.stdout


def test_api_recorded_run_example_reports_errors_without_traceback(subprocess_env, tmp_path):
    empty = tmp_path / "empty.gpx"
    empty.write_bytes(b"")
    result = run_example("api_recorded_run.py", subprocess_env, str(empty))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {empty} is empty (0 bytes)"


def test_api_beats_example(subprocess_env):
    result = run_example("api_beats.py", subprocess_env)
    assert result.returncode == 0, result.stderr
    first = re.match(r"164\.0 BPM, 71 beats, first at (\d\.\d{3}) s\n", result.stdout)
    assert first, result.stdout
    # The song's first kick starts 48.0 ms in (its generator's lead-in and jitter).
    assert abs(float(first.group(1)) - 0.048) <= 0.003
    assert "array: 50 beats, the missing one bridged; grid 0.10 s + k x 0.40 s" in result.stdout


def test_api_play_example_renders_a_ramp_through_a_programme(subprocess_env, tmp_path):
    out = tmp_path / "api-play.flac"
    result = run_example("api_play.py", subprocess_env, str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("api-play.flac: 179.0 s, ramp 160 -> 168 spm")
    assert lines[1] == "  run  round 1:    0.0 s at 160 spm, click"
    assert "walk round 2" in result.stdout and "no click" in result.stdout
    assert out.is_file()
