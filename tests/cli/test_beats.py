"""`cadence beats` through click's CliRunner, on real audio files; the beat grid in bpm and scan."""

import json
import sqlite3

import numpy as np
import pytest
import soundfile as sf

from cadence.cli import main
from tests.music import drums_on_beats, write

BPM = 150.0
TRUE_BEATS = 0.3 + np.arange(75) * 60 / BPM


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """30 s of drums at 150 BPM, beats known, as FLAC."""
    folder = tmp_path_factory.mktemp("beats")
    return write(folder / "song.flac", drums_on_beats(TRUE_BEATS, seconds=30.5))


def test_beats_json_has_every_key_and_the_beats_of_the_whole_track(song, runner):
    result = runner.invoke(main, ["beats", str(song), "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)
    for key in (
        "path",
        "bpm",
        "beats",
        "first_beat_s",
        "period_s",
        "grid_residual_ms",
        "confidence",
        "downbeats",
        "error",
    ):
        assert key in entry
    assert entry["error"] is None
    assert entry["bpm"] == pytest.approx(BPM, abs=0.3)
    assert set(entry["grid_residual_ms"]) == {"median", "p95"}
    beats = np.array(entry["beats"])
    assert len(beats) >= len(TRUE_BEATS) - 2
    assert beats[0] < 0.8 and beats[-1] > 29.0  # from the start to the end of the track
    assert all(round(b, 3) == b for b in entry["beats"])
    assert np.median(np.abs(beats[:, None] - TRUE_BEATS[None, :]).min(axis=1)) < 0.005


def test_beats_table_lists_each_file_and_a_bad_one_does_not_stop_the_others(song, runner, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    result = runner.invoke(main, ["beats", str(bad), str(song)])
    assert result.exit_code == 1
    assert "broken.mp3" in result.output and "error:" in result.output
    assert "150.0" in result.output and "song.flac" in result.output


def test_silence_has_no_beats_and_is_no_error_but_gets_no_click_file(runner, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(22050 * 10, dtype=np.float32), 22050)
    for command in ("beats", "bpm"):  # the same exit code as bpm's
        result = runner.invoke(main, [command, str(quiet), "--json"])
        assert result.exit_code == 0, result.output
        (entry,) = json.loads(result.stdout)
        assert entry["error"] is None and entry["bpm"] is None
    out = tmp_path / "clicked.wav"
    result = runner.invoke(main, ["beats", str(quiet), "--click", str(out)])
    assert result.exit_code == 1
    assert "--click not written" in result.output and not out.exists()


def test_beats_click_writes_the_song_with_a_click_on_each_beat(song, runner, tmp_path):
    out = tmp_path / "clicked.wav"
    result = runner.invoke(main, ["beats", str(song), "--click", str(out), "--json"])
    assert result.exit_code == 0, result.output
    beats = np.array(json.loads(result.stdout)[0]["beats"])
    clicked, sr = sf.read(out, always_2d=True)
    music, sr_in = sf.read(song, always_2d=True)
    assert sr == sr_in and clicked.shape == music.shape
    # What was added to the music (at its gain) is the clicks: each starts on its beat's sample.
    from cadence.beat_click import MUSIC_GAIN_DB
    from cadence.core.synth import db_to_gain

    added = clicked[:, 0] - music[:, 0] * db_to_gain(MUSIC_GAIN_DB)
    loud = np.abs(added) > 0.01
    starts = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))
    starts = starts[np.concatenate([[True], np.diff(starts) > 0.1 * sr])]
    assert len(starts) == len(beats)
    np.testing.assert_allclose(starts / sr, beats, atol=2.5 / sr)


def test_a_cut_song_is_clicked_as_far_as_it_decodes(song, runner, tmp_path):
    # The analysis uses what decoded before the cut; the click file is made
    # of the same (it was "cannot decode audio" while the row had beats).
    cut = tmp_path / "cut.flac"
    cut.write_bytes(song.read_bytes()[: song.stat().st_size // 2])
    out = tmp_path / "clicked.wav"
    result = runner.invoke(main, ["beats", str(cut), "--click", str(out), "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert "of the 30.5 s it declares" in entry["note"]
    clicked, sr = sf.read(out)
    assert 12 < len(clicked) / sr < 18
    assert entry["beats"] and entry["beats"][-1] < len(clicked) / sr
    assert f"Wrote {out}: " in result.stderr


def test_beats_click_refuses_a_broken_symbolic_link_and_says_so(song, runner, tmp_path):
    link = tmp_path / "out.wav"
    link.symlink_to(tmp_path / "gone.wav")
    result = runner.invoke(main, ["beats", str(song), "--click", str(link)])
    assert result.exit_code == 2
    assert "out.wav is a broken symbolic link (to " in result.output
    assert "gone.wav); it is left as it is" in result.output
    assert link.is_symlink() and not link.exists()
    # Into a folder that does not exist: no --force would help.
    deeper = tmp_path / "deeper.wav"
    deeper.symlink_to(tmp_path / "gone" / "song.wav")
    result = runner.invoke(main, ["beats", str(song), "--click", str(deeper), "--force"])
    assert result.exit_code == 2 and "in a folder that does not exist" in result.output


def test_beats_click_never_replaces_a_file_that_is_not_its_own(song, runner, tmp_path):
    precious = tmp_path / "precious.wav"
    sf.write(precious, np.zeros((1000, 1)), 22050)
    before = precious.read_bytes()
    result = runner.invoke(main, ["beats", str(song), "--click", str(precious)])
    assert result.exit_code != 0
    assert "Error: click:" in result.output and "--force" in result.output
    assert precious.read_bytes() == before
    # Its own render it replaces.
    own = tmp_path / "own.wav"
    assert runner.invoke(main, ["beats", str(song), "--click", str(own)]).exit_code == 0
    assert runner.invoke(main, ["beats", str(song), "--click", str(own)]).exit_code == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--click", "OUT.wav", "OTHER"], "click: takes one FILE, got 2"),
        (["--click", "OUT.xyz"], "click"),
        (["--click", "OUT.wav", "--voice", "kazoo"], "'kazoo' is not one of 'click', 'beep'"),
        (["--click", "OUT.wav/"], "click: OUT.wav/ ends with a slash; give a file name"),
        (["--click", "OUT.xyz"], "click: 'OUT.xyz': unknown format .xyz"),
        (["--click", "DIR/.wav"], "'DIR/.wav' is a name with no extension (a hidden file)"),
        (["--voice", "beep"], "voice: needs --click (it is about the clicked file)"),
        (["--force"], "force: needs --click"),
    ],
)
def test_beats_click_bad_arguments_are_one_error_line(song, runner, tmp_path, extra, message):
    out = str(tmp_path / "out")

    def filled(text: str) -> str:
        return text.replace("OUT", out).replace("OTHER", str(song)).replace("DIR", str(tmp_path))

    result = runner.invoke(main, ["beats", str(song), *map(filled, extra)])
    assert result.exit_code == 2
    assert filled(message) in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_beats_click_never_writes_over_the_song_itself_even_with_force(song, runner, tmp_path):
    own = tmp_path / "own.flac"
    own.write_bytes(song.read_bytes())
    result = runner.invoke(main, ["beats", str(own), "--click", str(own), "--force"])
    assert result.exit_code == 2
    assert "is the song itself" in result.output
    assert own.read_bytes() == song.read_bytes()


def test_beats_click_says_why_nothing_was_written_and_what_was(song, runner, tmp_path):
    missing = runner.invoke(
        main, ["beats", str(tmp_path / "no.mp3"), "--click", str(tmp_path / "a.wav")]
    )
    assert missing.exit_code == 1
    assert "no such file: --click not written" in missing.stderr
    out = tmp_path / "b.wav"
    written = runner.invoke(main, ["beats", str(song), "--click", str(out), "--json"])
    assert written.exit_code == 0 and out.exists()
    json.loads(written.stdout)  # stdout stays pure JSON
    assert written.stderr.startswith(f"Wrote {out}:")


def test_bpm_and_scan_report_the_tempo_of_the_beat_grid(song, runner, tmp_path):
    beats = json.loads(runner.invoke(main, ["beats", str(song), "--json"]).output)[0]
    bpm = json.loads(runner.invoke(main, ["bpm", str(song), "--json"]).output)[0]
    assert bpm["bpm"] == beats["bpm"]
    assert "beats" not in bpm  # the beat list is for `beats`
    assert bpm["first_beat_s"] == beats["first_beat_s"]
    cache = tmp_path / "cache.sqlite3"
    scan = runner.invoke(
        main,
        ["scan", str(song.parent), "--target", "150", "--format", "json", "--cache", str(cache)],
    )
    (entry,) = [e for e in json.loads(scan.stdout) if e["path"].endswith("song.flac")]
    assert entry["bpm"] == beats["bpm"]
    for key in ("first_beat_s", "period_s", "grid_residual_ms"):
        assert entry[key] == beats[key]


def test_scan_caches_the_beats_so_a_rescan_needs_no_analysis(song, runner, tmp_path):
    cache = tmp_path / "cache.sqlite3"
    args = ["scan", str(song.parent), "--target", "150", "--format", "json", "--cache", str(cache)]
    first = runner.invoke(main, args)
    assert "1 analysed" in first.stderr
    with sqlite3.connect(cache) as db:
        ((version, stored),) = db.execute("SELECT version, result FROM tracks").fetchall()
    entry = json.loads(stored)
    assert version.startswith("beats-")
    assert entry["period_s"] and "ms_b64" in entry["beats"]
    from cadence.cache import TrackCache
    from cadence.core.tracks import TrackResult

    with TrackCache(cache, analyzer_version=version) as c:
        (size_mtime_result,) = c.load().values()
    cached = TrackResult.from_cache(str(song), size_mtime_result[2])
    fresh = json.loads(runner.invoke(main, ["beats", str(song), "--json"]).output)[0]
    assert cached.beats == fresh["beats"]
    second = runner.invoke(main, args)
    assert "0 analysed, 1 from the cache" in second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)


def test_an_older_analysers_cache_entries_are_redone_once(song, runner, tmp_path):
    cache = tmp_path / "cache.sqlite3"
    args = ["scan", str(song.parent), "--target", "150", "--cache", str(cache)]
    assert runner.invoke(main, args).exit_code == 0
    with sqlite3.connect(cache) as db:
        db.execute("UPDATE tracks SET version = 'tempo-6'")
    again = runner.invoke(main, args)
    assert "1 analysed" in again.stderr
    assert "0 analysed" in runner.invoke(main, args).stderr


@pytest.mark.parametrize(
    ("command", "columns"),
    [
        ("beats", 80),
        ("beats", 60),
        ("beats", 45),
        ("bpm", 80),
        ("bpm", 60),
        ("bpm", 45),
        ("bpm", 40),
    ],
)
def test_a_table_drops_columns_on_a_narrow_terminal_rather_than_cut_numbers_or_the_name(
    song, cadence_cmd, command, columns
):
    from tests.tty import lines_at_width

    lines = lines_at_width([*cadence_cmd, command, song], columns)
    header = next(line for line in lines if "BPM" in line)
    assert all(len(line) <= columns for line in lines), lines
    assert "…" not in "".join(lines) and any("150.0" in line for line in lines), (
        lines
    )  # what matters stays
    if command == "beats":
        assert "Off ms" in header
    assert not any(line.endswith(" ") for line in lines), lines
    # The path is longer than its column: folded, its pieces fill the column's width.
    assert max(len(line) for line in lines) - header.index("File") >= 16, lines


def test_scan_table_marks_a_track_whose_beat_drifts(runner, tmp_path):
    # 30 s at 146 BPM, then 30 s at 160: fine to run to, useless under a steady click.
    first = 0.25 + np.arange(73) * 60 / 146
    true = np.concatenate([first, first[-1] + 60 / 146 + np.arange(80) * 60 / 160])
    write(tmp_path / "live band.flac", drums_on_beats(true, seconds=61.0))
    write(tmp_path / "programmed.flac", drums_on_beats(0.3 + np.arange(150) * 0.4, seconds=61.0))
    result = runner.invoke(
        main, ["scan", str(tmp_path), "--target", "150", "--tolerance", "15", "--no-cache", "-q"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = {ln.split()[-1]: ln for ln in lines if ".flac" in ln and "off a steady grid" not in ln}
    assert "~" in rows["band.flac"] and "~" not in rows["programmed.flac"]
    assert "off a steady grid" in result.output and "live band.flac" in result.output


def test_a_six_channel_song_clicked_to_mp3_is_mixed_down(runner, tmp_path):
    beats = 0.25 + np.arange(20) * 60 / 160
    mono = drums_on_beats(beats, seconds=8.0, sr=44100)
    song = tmp_path / "surround.flac"
    sf.write(song, np.repeat(mono[:, None], 6, axis=1) * 0.5, 44100)
    out = tmp_path / "clicked.mp3"
    result = runner.invoke(main, ["beats", str(song), "--click", str(out)])
    assert result.exit_code == 0, result.output
    info = sf.info(str(out))
    assert info.channels == 1 and info.duration == pytest.approx(8.0, abs=0.01)


def test_the_click_line_says_how_many_downbeats_were_accented_or_why_none(song, tmp_path):
    from cadence.beat_click import write_click_track
    from cadence.core.tracks import TrackResult

    beats = [round(float(t), 3) for t in TRUE_BEATS[TRUE_BEATS < 30.0]]
    told = TrackResult(path=str(song), bpm=150.0, beats=beats, downbeats=beats[::4])
    line = write_click_track(told, str(tmp_path / "told.wav"))
    assert f"with {len(beats)} clicks ({len(beats[::4])} accented downbeats" in line
    untold = TrackResult(path=str(song), bpm=150.0, beats=beats, downbeats=[])
    line = write_click_track(untold, str(tmp_path / "untold.wav"))
    assert "(no accents: its downbeats could not be told" in line
    assert "0 accented" not in line
