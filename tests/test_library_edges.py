"""The analyzer at the edges of a real music folder: odd names, links, owners,
read-only places, tags in every container, the cache under other spellings."""

import json
import os
import subprocess

import pytest

from cadence.cli import main
from cadence.tags import bpm_tag_value, read_tags, write_bpm_tag
from tests.music import groove, write


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """One 15 s groove at 166 BPM, copied by the tests that need a file."""
    return write(tmp_path_factory.mktemp("src") / "t.wav", groove(166, 15)).read_bytes()


def _copy(track: bytes, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(track)
    return path


def test_names_with_brackets_and_control_characters_print_literally(track, runner, tmp_path):
    music = tmp_path / "music"
    names = ["Song [remix].wav", "[b]bold.wav", "[/]closer.wav", "new\nline.wav", "esc\x1b[2J.wav"]
    for name in names:
        _copy(track, music / name)
    playlist = tmp_path / "run.m3u8"
    scan = runner.invoke(
        main,
        [
            "scan",
            str(music),
            "--target",
            "166",
            "--no-cache",
            "-j",
            "1",
            "--playlist",
            str(playlist),
        ],
    )
    assert scan.exit_code == 0, scan.output
    for shown in ["Song [remix].wav", "[b]bold.wav", "[/]closer.wav", "new\\nline.wav"]:
        assert shown in scan.output
    assert "\x1b" not in scan.output
    assert "esc\\x1b[2J.wav" in scan.output
    entries = [line for line in playlist.read_text("utf-8").splitlines() if line[:1] != "#"]
    assert sorted(entries) == sorted(f"music/{n}" for n in names[:3] + names[4:])
    assert "1 track left out" in scan.output
    bpm = runner.invoke(main, ["bpm", str(music / "[/]closer.wav"), str(music / "new\nline.wav")])
    assert bpm.exit_code == 0, bpm.output
    assert "[/]closer.wav" in bpm.output and "new\\nline.wav" in bpm.output


def test_wav_and_aiff_bpm_tags_are_read_and_written(track, tmp_path):
    import soundfile as sf

    audio, sr = sf.read(_copy(track, tmp_path / "t.wav"))
    for name in ("t.wav", "t.aiff"):
        path = write(tmp_path / name, audio, sr=sr)
        assert read_tags(str(path))["tag_bpm"] is None
        assert write_bpm_tag(str(path), 165.6) is True
        assert read_tags(str(path))["tag_bpm"] == 166
        assert write_bpm_tag(str(path), 166.2) is False  # the same number: not rewritten
        assert sf.read(path)[0] == pytest.approx(audio, abs=1e-4)


def test_write_tags_keeps_links_and_owner_and_skips_what_is_tagged(track, runner, tmp_path):
    music, outside = tmp_path / "music", tmp_path / "outside"
    real = _copy(track, outside / "real.wav")
    music.mkdir()
    os.symlink(real, music / "link.wav")
    hard = _copy(track, music / "hard.wav")
    os.link(hard, outside / "hard-other.wav")
    owned = _copy(track, music / "owned.wav")
    if os.getuid() == 0:  # as root (sudo), the file's owner must not become root
        os.chown(owned, 65534, 65534)
    owner = (owned.stat().st_uid, owned.stat().st_gid)
    cache = tmp_path / "cache.sqlite3"
    args = ["scan", str(music), "--target", "166", "--cache", str(cache), "--write-tags", "-j", "1"]

    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Wrote the BPM tag into 2 files" in first.output
    assert "hard.wav: has 1 other hard link(s)" in first.output
    assert (music / "link.wav").is_symlink()
    assert read_tags(str(real))["tag_bpm"] in (83, 166)
    assert hard.stat().st_ino == (outside / "hard-other.wav").stat().st_ino
    assert read_tags(str(hard))["tag_bpm"] is None
    assert (owned.stat().st_uid, owned.stat().st_gid) == owner
    mtime = owned.stat().st_mtime_ns

    second = runner.invoke(main, [*args, "--format", "json"])
    assert "Wrote the BPM tag into 0 files (2 already had it)" in second.output
    assert owned.stat().st_mtime_ns == mtime
    assert "3 from the cache" in second.output  # the tagged files were not analysed again
    rows = {os.path.basename(r["path"]): r for r in json.loads(second.stdout)}
    assert rows["owned.wav"]["tag_bpm"] == bpm_tag_value(rows["owned.wav"]["bpm"])


def test_tag_write_that_cannot_start_is_one_warning_and_the_scan_prints(
    track, runner, tmp_path, monkeypatch
):
    _copy(track, tmp_path / "music" / "t.wav")

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("cadence.tags.tempfile.mkstemp", refuse)
    result = runner.invoke(
        main, ["scan", str(tmp_path / "music"), "--target", "166", "--no-cache", "--write-tags"]
    )
    assert result.exit_code == 0, result.output
    assert "t.wav: cannot write the BPM tag (Operation not permitted), left as it was" in (
        result.output
    )
    assert "half time" in result.output or "1 step/beat" in result.output
    assert list((tmp_path / "music").iterdir()) == [tmp_path / "music" / "t.wav"]


def test_folder_argument_that_is_not_a_folder_exits_1(track, runner, tmp_path):
    path = _copy(track, tmp_path / "t.wav")
    result = runner.invoke(main, ["scan", str(path), "--target", "166"])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: not a folder\n"


def test_output_paths_are_checked_before_the_scan(track, runner, tmp_path):
    _copy(track, tmp_path / "music" / "t.wav")
    for option in ("--playlist", "--plot"):
        result = runner.invoke(
            main,
            ["scan", str(tmp_path / "music"), "--target", "166", option, "/nonexistent/x.out"],
        )
        assert result.exit_code == 2
        assert "folder /nonexistent does not exist" in result.output
        assert "Scanned" not in result.output


def test_error_keeps_a_colon_in_the_file_name(runner, tmp_path):
    bad = tmp_path / "live: set.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    result = runner.invoke(main, ["bpm", str(bad), "--json"])
    assert json.loads(result.output)[0]["error"].startswith("cannot decode audio")


def test_bpm_of_a_pipe_fails_at_once(tmp_path, cadence_cmd, subprocess_env):
    fifo = tmp_path / "fifo.mp3"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*cadence_cmd, "bpm", str(fifo), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)[0]["error"] == "not a regular file (a pipe, device or socket)"


def test_bpm_json_is_utf8_for_names_that_are_not(track, runner, tmp_path):
    path = _copy(track, tmp_path / os.fsdecode(b"caf\xe9.wav"))
    result = runner.invoke(main, ["bpm", str(path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout_bytes.decode("utf-8"))[0]["path"].endswith("caf\ufffd.wav")


def test_truncated_flac_is_used_and_reported(track, runner, tmp_path):
    import soundfile as sf

    audio, sr = sf.read(_copy(track, tmp_path / "t.wav"))
    (tmp_path / "music").mkdir()
    whole = write(tmp_path / "music" / "whole.flac", audio, sr=sr)
    cut = tmp_path / "music" / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = runner.invoke(
        main, ["scan", str(tmp_path / "music"), "--target", "166", "--no-cache", "--format", "json"]
    )
    assert result.exit_code == 0
    assert "cut.flac: decoding stopped at" in result.stderr
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    assert rows["cut.flac"]["bpm"] is not None and "decoding stopped" in rows["cut.flac"]["note"]
    assert rows["whole.flac"]["note"] is None


def test_problems_are_listed_even_when_quiet(runner, tmp_path):
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "empty.mp3").write_bytes(b"")
    result = runner.invoke(main, ["scan", str(tmp_path / "music"), "--target", "166", "-q"])
    assert result.exit_code == 0
    assert "empty.mp3: empty file" in result.stderr
    assert "Scanned" not in result.stderr


def test_cache_is_shared_by_every_spelling_of_the_folder(track, runner, tmp_path, monkeypatch):
    _copy(track, tmp_path / "music" / "a" / "t.wav")
    cache = str(tmp_path / "cache.sqlite3")
    monkeypatch.chdir(tmp_path)
    spellings = ["music", "./music/", str(tmp_path / "music"), "music/a/.."]
    outputs = [
        runner.invoke(main, ["scan", s, "--target", "166", "--cache", cache]).output
        for s in spellings
    ]
    assert "1 analysed, 0 from the cache" in outputs[0]
    for out in outputs[1:]:
        assert "0 analysed, 1 from the cache" in out


def test_a_folder_linked_inside_the_library_is_listed_once_under_its_own_path(
    track, runner, tmp_path
):
    music = tmp_path / "music"
    _copy(track, music / "b" / "t.wav")
    (music / "a").mkdir()
    os.symlink("../b", music / "a" / "to-b")
    os.symlink("..", music / "b" / "up")
    result = runner.invoke(
        main, ["scan", str(music), "--target", "166", "--no-cache", "--format", "json"]
    )
    assert [r["path"] for r in json.loads(result.stdout)] == [str(music / "b" / "t.wav")]
    assert "b/up: symlink loop: not followed" in result.stderr
    assert "to-b" not in result.stderr


def test_bpm_measures_the_good_files_past_missing_and_folder_arguments(track, runner, tmp_path):
    good = _copy(track, tmp_path / "good.wav")
    (tmp_path / "folder.mp3").mkdir()
    args = ["bpm", str(tmp_path / "missing.mp3"), str(tmp_path / "folder.mp3"), str(good)]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 1, result.output
    missing, folder, measured = json.loads(result.output)
    assert missing["error"] == "no such file"
    assert folder["error"] == "a folder, not a file (cadence scan reads folders)"
    assert measured["error"] is None
    assert min(abs(measured["bpm"] - 166), abs(2 * measured["bpm"] - 166)) < 1  # 166 or 83
    # Every entry has the same keys, whether it failed or not.
    assert set(missing) == set(folder) <= set(measured)
    assert {"title", "artist", "tag_bpm"} <= set(missing)


def test_no_beat_says_whether_it_is_silence_or_too_short(runner, tmp_path):
    import numpy as np

    silence = write(tmp_path / "silence.wav", np.zeros(10 * 22050))
    short = write(tmp_path / "short.wav", groove(150, 2))
    result = runner.invoke(main, ["bpm", str(silence), str(short), "--json"])
    assert result.exit_code == 0, result.output
    quiet, brief = json.loads(result.output)
    assert (quiet["bpm"], quiet["note"]) == (None, "silence: no beat")
    assert brief["bpm"] is None
    assert brief["note"] == "too short to measure (2.0 s of audio; needs 3 s)"


def test_playlist_lists_a_symlinked_track_under_its_own_name(track, runner, tmp_path):
    music = tmp_path / "music"
    _copy(track, music / "a.wav")
    os.symlink("a.wav", music / "b.wav")
    playlist = tmp_path / "lists" / "run.m3u8"
    playlist.parent.mkdir()
    args = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1"]
    result = runner.invoke(main, [*args, "--playlist", str(playlist)])
    assert result.exit_code == 0, result.output
    entries = [line for line in playlist.read_text("utf-8").splitlines() if line[:1] != "#"]
    assert sorted(entries) == ["../music/a.wav", "../music/b.wav"]


def test_playlist_left_out_warning_shows_even_with_quiet(track, runner, tmp_path):
    music = tmp_path / "music"
    _copy(track, music / "new\nline.wav")
    _copy(track, music / "fine.wav")
    playlist = tmp_path / "run.m3u8"
    args = ["scan", str(music), "--target", "166", "--no-cache", "-j", "1", "-q"]
    result = runner.invoke(main, [*args, "--playlist", str(playlist)])
    assert result.exit_code == 0, result.output
    assert "warning: playlist: 1 track left out (names not UTF-8 or with line breaks)" in (
        result.output
    )


@pytest.mark.parametrize(
    ("bpm", "written"), [(84.5, "85"), (87.5, "88"), (127.49, "127"), (165.6, "166")]
)
def test_bpm_tag_is_rounded_half_up(track, tmp_path, bpm, written):
    from mutagen.wave import WAVE

    path = _copy(track, tmp_path / "t.wav")
    assert write_bpm_tag(str(path), bpm) is True
    assert str(WAVE(path).tags["TBPM"]) == written
    assert read_tags(str(path))["tag_bpm"] == float(written)


@pytest.mark.parametrize(
    ("text", "value"),
    [("128", 128.0), ("128 BPM", 128.0), ("92,5", 92.5), (" 174bpm", 174.0), ("fast", None)],
)
def test_bpm_tags_are_read_with_units_and_decimal_commas(track, tmp_path, text, value):
    from mutagen.id3 import TBPM
    from mutagen.wave import WAVE

    path = _copy(track, tmp_path / "t.wav")
    wave = WAVE(path)
    wave.add_tags()
    wave.tags.add(TBPM(encoding=3, text=[text]))
    wave.save()
    assert read_tags(str(path))["tag_bpm"] == value
