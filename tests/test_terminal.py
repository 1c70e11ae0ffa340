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
        ("\x1b[1;5Cx", ["unknown", "x"]),
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


@pytest.mark.parametrize(
    "sequence",
    [
        "\x1b[H",
        "\x1b[F",
        "\x1b[1~",
        "\x1b[4~",
        "\x1b[3~",
        "\x1b[2~",
        "\x1bOP",
        "\x1b[11~",
        "\x1b[1;2A",
        "\x1b[15;5~",
        "\x1bx",
    ],
)
def test_keys_other_than_escape_never_read_as_escape(sequence):
    keys = parse_keys(sequence + "q")
    assert keys[-1] == "q" and len(keys) == 2
    assert keys[0] != "escape"
