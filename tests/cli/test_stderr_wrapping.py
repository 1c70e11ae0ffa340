"""Lines on standard error wrap between words on a narrow terminal, and stay whole when piped."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from cadence.cli import output

#: An error far longer than a narrow terminal, from a command that starts at once.
LONG_ERROR = ["calc", "--steps", "10", "--seconds", "0.5"]
MESSAGE = (
    "Error: steps: 10 steps in 0.5 s gives 1200.0 steps/min, outside the plausible "
    "human range 60-260; check the count and --seconds"
)


def _on_a_terminal(args, env, *, columns, keep_columns=False, stream="stderr"):
    """Run ``cadence ARGS`` with `stream` (stderr or stdout) on a pty `columns`
    wide and the other stream not a terminal; its exit code and text."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    if not keep_columns:
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    # The other stream is not a terminal: its width must not be the one used.
    streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: follower}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadence", *args], stdin=subprocess.DEVNULL, env=env, **streams
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return proc.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


def test_an_error_wraps_between_words_at_the_width_of_the_terminal_stderr_is_on(subprocess_env):
    code, text = _on_a_terminal(LONG_ERROR, subprocess_env, columns=40)
    assert code == 2
    lines = text.rstrip("\n").split("\n")
    assert len(lines) > 2
    assert all(len(line) <= 39 for line in lines), lines
    assert all(line.startswith("  ") for line in lines[1:])  # a hanging indent
    assert " ".join(line.strip() for line in lines) == MESSAGE  # no word broken or lost


def test_columns_of_zero_fall_back_to_the_terminal_s_own_width(subprocess_env):
    code, text = _on_a_terminal(LONG_ERROR, {**subprocess_env}, columns=40)
    assert code == 2
    env = {**subprocess_env, "COLUMNS": "0"}  # wrapping was off with it
    code, zero = _on_a_terminal(LONG_ERROR, env, columns=40, keep_columns=True)
    assert zero == text


def test_an_error_piped_stays_one_line(subprocess_env):
    done = subprocess.run(
        [sys.executable, "-m", "cadence", *LONG_ERROR],
        capture_output=True,
        text=True,
        env={**subprocess_env, "COLUMNS": "40"},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == MESSAGE + "\n"


@pytest.fixture
def columns(monkeypatch):
    """Pretend standard error is a terminal of the width set."""

    def set_width(n):
        monkeypatch.setattr(output, "_stderr_columns", lambda: n)

    return set_width


def test_a_path_wider_than_the_terminal_is_kept_whole_on_a_line_of_its_own(columns):
    columns(30)
    path = "/music/" + "x" * 40 + ".flac"
    wrapped = output.for_stderr(f"warning: {path}: unreadable, skipped")
    assert wrapped.split("\n") == ["warning:", f"  {path}:", "  unreadable, skipped"]


def test_lines_of_their_own_are_wrapped_each_and_short_ones_kept(columns):
    columns(30)
    text = "short\n" + "word " * 10
    assert output.for_stderr(text).split("\n")[0] == "short"
    assert all(len(line) <= 29 for line in output.for_stderr(text).split("\n"))


def test_a_terminal_too_narrow_to_wrap_in_or_none_leaves_the_text_alone(columns):
    text = "word " * 20
    columns(15)
    assert output.for_stderr(text) == text
    columns(None)
    assert output.for_stderr(text) == text


def test_wide_characters_are_measured_by_the_columns_they_take_on_screen(columns):
    columns(31)
    name = "東京の夜明けに走る歌.flac"  # 10 wide characters, 25 columns for 15 characters
    lines = output.for_stderr(f"warning: {name}: unreadable, skipped").split("\n")
    assert lines == ["warning:", f"  {name}:", "  unreadable, skipped"]
    assert all(output.cells(line) <= 30 for line in lines)


def test_combining_marks_take_no_column_of_their_own():
    assert output.cells("Cafe\u0301") == 4
    assert output.cells("Café") == 4
    assert output.cells("東京") == 4


def test_runs_of_spaces_between_words_become_one_when_a_line_is_wrapped():
    assert output.wrap_words("one   two three", width=9, indent="  ") == "one two\n  three"
    assert output.wrap_words("one   two", width=9, indent="  ") == "one   two"  # fits: kept


def test_advice_wraps_at_the_width_of_a_narrow_terminal_stdout_is_on(subprocess_env):
    calc = ["calc", "--steps", "150", "--seconds", "60"]
    code, text = _on_a_terminal(calc, subprocess_env, columns=50, stream="stdout")
    assert code == 0
    advice = text[text.index("Advice") :].rstrip("\n").split("\n")[1:]
    assert len(advice) > 3
    assert max(len(line) for line in advice) <= 49, advice
    assert all(line.startswith(("  - ", "    ")) for line in advice)
