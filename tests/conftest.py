import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


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
