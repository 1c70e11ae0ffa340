import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.music import groove, write

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def own_user_cache(tmp_path_factory):
    """A user cache folder of the suite's own (the scan cache, numba's functions).

    Commands run without --cache use the user's cache: the suite must not
    read or change the real one, nor share it with another suite running beside.
    """
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield Path(os.environ["XDG_CACHE_HOME"])
    if saved is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cadence_cmd() -> list[str]:
    """The installed console script, or `python -m cadence` as a fallback."""
    script = Path(sys.executable).with_name("cadence")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cadence"]


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def run_python(subprocess_env):
    """Run a Python script (``-c``) with arguments in a child process that
    imports this checkout; returns its CompletedProcess (text output)."""

    def run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env=subprocess_env,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A small music folder: tracks at known tempos in every format, plus junk."""
    root = tmp_path_factory.mktemp("music")
    (root / "Album one").mkdir()
    (root / "Album one" / "deep").mkdir()
    tempos = {
        "Album one/fast run.mp3": 170,
        "Album one/deep/half time.ogg": 86,
        "steady.flac": 128,
        "Ünïcode – naïve.wav": 100,
        "phone.m4a": 172,
    }
    for i, (name, bpm) in enumerate(tempos.items()):
        write(root / name, groove(bpm, 24, seed=i))
    return root, tempos


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """One 15 s groove at 166 BPM, copied by the tests that need a file."""
    return write(tmp_path_factory.mktemp("src") / "t.wav", groove(166, 15)).read_bytes()


@pytest.fixture(scope="module")
def run():
    """A known recorded run (see tests/activities.py)."""
    from tests.activities import make_run

    return make_run()
