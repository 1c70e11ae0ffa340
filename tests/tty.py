"""Running the real command in a pseudo-terminal of a given width."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from tests.conftest import REPO


def lines_at_width(args: list[str], columns: int) -> list[str]:
    """The lines a command prints on a terminal `columns` wide, without colours."""
    command = " ".join(shlex.quote(str(a)) for a in args)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns), "LINES": "50"}
    done = subprocess.run(
        ["script", "-qec", f"stty cols {columns}; {command}", "/dev/null"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip("\r") for line in done.stdout.splitlines()]
