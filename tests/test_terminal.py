import pytest

from cadence.errors import CadenceError
from cadence.terminal import KeyReader, parse_keys


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        ("q", ["q"]),
        (" ", ["space"]),
        ("\r\n", ["enter", "enter"]),
        ("\x1b[A\x1b[B", ["up", "down"]),
        ("\x1bOA", ["up"]),
        ("\x1b[5~\x1b[6~", ["pageup", "pagedown"]),
        ("\x1b[1;5Cx", ["escape", "x"]),
        ("\x1b", ["escape"]),
        ("ab", ["a", "b"]),
    ],
)
def test_parse_keys(data, keys):
    assert parse_keys(data) == keys


def test_key_reader_refuses_a_non_terminal(tmp_path):
    path = tmp_path / "not-a-tty"
    path.write_text("x")
    with open(path) as f, pytest.raises(CadenceError, match="not a terminal"):
        KeyReader(f.fileno())
