"""`cadence metronome` and `cadence devices` through click's CliRunner."""

import json
import os
import stat

import numpy as np
import pytest
import soundfile as sf

from cadence import playback
from cadence.cli import main
from cadence.core.render import BeatRenderer
from tests.devices import FAKE


def onsets(x):
    nz = np.flatnonzero(np.abs(x) > 1e-3)
    return np.concatenate([nz[:1], nz[1:][np.diff(nz) > 200]])


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_render_lossless_file_has_every_beat_at_its_sample(runner, tmp_path, ext):
    path = tmp_path / f"beat{ext}"
    result = runner.invoke(
        main, ["metronome", "172", "--duration", "20s", "-o", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["beats"] == 58
    data, sr = sf.read(path, dtype="float32")
    assert sr == 44100
    assert len(data) == 20 * 44100
    got = onsets(data)
    np.testing.assert_array_equal(got, [round(k * 60 * 44100 / 172) for k in range(58)])


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_a_render_to_a_name_that_is_not_utf8_is_written_under_that_name(runner, tmp_path, ext):
    # soundfile encodes names as UTF-8: it raised UnicodeEncodeError (a traceback).
    path = tmp_path / os.fsdecode(b"run-\xff" + ext.encode())
    result = runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == [path.name]  # the file itself, and no temporary
    assert sf.info(os.fsencode(path)).frames > 0


@pytest.mark.parametrize("ext", [".ogg", ".mp3"])
def test_render_compressed_file_for_a_phone(runner, tmp_path, ext):
    path = tmp_path / f"run{ext}"
    result = runner.invoke(
        main,
        [
            "metronome",
            "170",
            "--intervals",
            "run:20s,walk:10s",
            "--repeat",
            "2",
            "-o",
            str(path),
            "--sr",
            "48000",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {path}: 1:00" in result.output
    info = sf.info(path)
    assert info.samplerate == 48000
    assert info.duration == pytest.approx(60, abs=0.2)  # codec padding


def test_render_beats_and_count_in(runner, tmp_path):
    path = tmp_path / "eight.wav"
    result = runner.invoke(main, ["metronome", "164", "--beats", "8", "-o", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["beats"] == 8
    data, _sr = sf.read(path)
    assert len(onsets(data)) == 8


def test_one_beat_is_one_beat_and_a_rate_just_over_the_limit_is_not_shown_as_the_limit(
    runner, tmp_path
):
    path = tmp_path / "one.wav"
    result = runner.invoke(main, ["metronome", "172", "--beats", "4", "--every", "5", "-o", path])
    assert result.exit_code == 0, result.output
    assert ", 1 beat, WAV" in result.stdout
    over = runner.invoke(main, ["metronome", "240.0001", "--beats", "4", "-o", path])
    assert over.exit_code == 2 and "spm: 240.0001 steps/min is outside" in over.stderr


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"duration_s": 60}, "Playing 172 spm on system (JACK), 48000 Hz. Ctrl-C stops."),
        ({"ramp_from_spm": 160, "ramp_over_s": 60}, "Playing 172 spm (starting at 160) on"),
        ({"intervals": "walk:1m@120,run:2m"}, "Playing 172 spm (starting at 120) on"),
    ],
)
def test_the_playing_line_says_where_a_ramp_or_a_walk_part_starts(monkeypatch, options, expected):
    from types import SimpleNamespace

    import cadence.cli.reports as reports
    from cadence.core.session import Session, parse_intervals

    if "intervals" in options:
        options = {"intervals": parse_intervals(options["intervals"])}
    device = SimpleNamespace(name="system", hostapi="JACK")
    said = []
    monkeypatch.setattr(reports, "note", said.append)
    reports.playing(
        Session(172, **options), SimpleNamespace(latency_s=0.0, sr=48000, device=device)
    )
    assert said[0].startswith(expected), said


def test_beats_counts_steps_after_the_count_in_and_the_summary_says_so(runner, tmp_path):
    path = tmp_path / "counted.wav"
    args = ["metronome", "120", "--count-in", "4", "--beats", "4", "-o", str(path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "8 beats (4 of them the count-in)" in result.output
    data, sr = sf.read(path)
    starts = onsets(data)
    assert len(starts) == 8
    # Four count-in beats, then the four steps asked for, all at 120 spm.
    assert np.diff(starts) / sr == pytest.approx([0.5] * 7, abs=1e-3)
    summary = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert (summary["beats"], summary["count_in_beats"]) == (8, 4)


def test_render_an_hour_with_ramp_and_intervals(runner, tmp_path):
    path = tmp_path / "hour.flac"
    args = ["metronome", "172", "--duration", "1h", "--ramp-from", "160", "--ramp-over", "10m"]
    args += ["--intervals", "run:4m,walk:1m", "--accent", "2", "-o", str(path), "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sf.info(path).frames == 3600 * 44100


def test_render_never_leaves_a_partial_file(runner, tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    path.write_bytes(b"the runner's old file")

    def boom(self, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(BeatRenderer, "render", boom)
    result = runner.invoke(main, ["metronome", "172", "--duration", "10s", "-o", str(path)])
    assert result.exit_code != 0
    assert path.read_bytes() == b"the runner's old file"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metronome", "30"], "spm: 30 steps/min is outside"),
        (["metronome", "250"], "spm: 250 steps/min is outside the metronome's 40-240"),
        (["metronome", "172", "--duration", "ten"], "duration: 'ten' is not a duration"),
        (["metronome", "172", "--duration", "0s"], "duration: '0s' must be longer than zero"),
        (
            ["metronome", "172", "--ramp-from", "160"],
            "ramp-from: --ramp-from and --ramp-over go together",
        ),
        (["metronome", "172", "--repeat", "3"], "repeat: needs --intervals"),
        (["metronome", "172", "--intervals", "run:2q"], "intervals:"),
        (["metronome", "172", "--beats", "8", "--duration", "1m"], "beats: give --beats alone"),
        (["metronome", "172", "--volume", "6"], "volume: must be between -60 and 0 dB"),
        (["metronome", "172", "--every", "0"], "every: must be 1-16"),
        (
            ["metronome", "172", "-o", "x.aac", "--duration", "1m"],
            "output: 'x.aac': unknown format .aac",
        ),
        (["metronome", "172", "-o", "x.wav"], "output: an endless session cannot be written"),
        (
            ["metronome", "172", "-o", "x.wav", "--device", "1", "--duration", "1m"],
            "output: --output renders",
        ),
        (["metronome", "172", "--latency", "fast"], "latency: 'fast'"),
        # An empty value ("-o $OUT" with OUT unset) is a mistake, not "not given".
        (["metronome", "172", "--beats", "4", "-o", ""], "output: an empty file name"),
        # Not "choose one, or write .flac": FLAC refuses 0 Hz too.
        (["metronome", "172", "--beats", "4", "--sr", "0", "-o", "x.mp3"], "sr: sample rate must"),
        (
            ["metronome", "172", "--beats", "4", "--fallback-output", ""],
            "fallback-output: an empty file name",
        ),
        (["metronome", "172", "--duration", "", "-o", "x.wav"], "duration: '' is not a duration"),
        (
            ["metronome", "172", "--beats", "4", "--device", " ", "--fallback-output", "x.wav"],
            "device: an empty name",  # a mistake, not a missing device to render instead of
        ),
        (["metronome", "172", "--intervals", "", "--repeat", "2"], "intervals:"),
        (["play", "170", "audio", "-o", ""], "output: an empty file name"),
        (["play", "170", "audio", "--duration", ""], "duration: '' is not a duration"),
    ],
)
def test_bad_metronome_options(runner, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_for_output_is_an_error(runner, tmp_path):
    result = runner.invoke(
        main, ["metronome", "172", "--beats", "4", "-o", str(tmp_path / "no" / "x.wav")]
    )
    assert result.exit_code == 2  # found before any work, as for every output path
    assert "does not exist" in result.output


def test_an_output_under_a_file_says_that_file_is_not_a_folder(runner, tmp_path):
    (tmp_path / "run.mp3").write_bytes(b"")
    out = tmp_path / "run.mp3" / "x.mp3"
    result = runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(out)])
    assert result.exit_code == 2
    assert f"folder {tmp_path / 'run.mp3'} is a file, not a folder" in result.output


def test_no_output_device_is_one_line_and_exit_1(runner, monkeypatch):
    monkeypatch.setattr(playback, "list_output_devices", lambda: [])
    result = runner.invoke(main, ["metronome", "172", "--beats", "4"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no audio output device found; "
        "render the session to a file instead with --output FILE"
    )


def test_missing_portaudio_names_the_package(runner, monkeypatch):
    def no_portaudio(name):
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(playback.importlib, "import_module", no_portaudio)
    monkeypatch.setattr(playback.sys, "platform", "linux")
    result = runner.invoke(main, ["metronome", "172"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: PortAudio library not found: install the package libportaudio2 "
        "(sudo apt-get install libportaudio2); "
        "render the session to a file instead with --output FILE"
    )
    result = runner.invoke(main, ["devices"])
    assert result.exit_code == 1
    assert "libportaudio2" in result.output


def test_fallback_output_renders_when_there_is_no_device(runner, monkeypatch, tmp_path):
    monkeypatch.setattr(playback, "list_output_devices", lambda: [])
    path = tmp_path / "demo.wav"
    result = runner.invoke(
        main, ["metronome", "164", "--beats", "8", "--fallback-output", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert f"No sound: no audio output device found. Rendering to {path} instead." in result.output
    assert f"Wrote {path}" in result.output
    assert len(onsets(sf.read(path)[0])) == 8


def test_devices_lists_outputs(runner, monkeypatch):
    monkeypatch.setattr(playback, "list_output_devices", lambda: FAKE)
    result = runner.invoke(main, ["devices"])
    assert result.exit_code == 0
    assert "*   3  pulse  (ALSA, 32 ch, 44100 Hz)" in result.output
    data = json.loads(runner.invoke(main, ["devices", "--json"]).output)
    assert [d["index"] for d in data] == [0, 3, 5]


def test_library_parameter_names_are_shown_as_option_names(runner, tmp_path):
    from cadence.cli import error_message, option_name
    from cadence.errors import ParameterError

    assert option_name("ramp_over_s") == "ramp-over" and option_name("every") == "every"
    err = ParameterError("ramp_from_spm", "`ramp_from_spm` and `ramp_over_s` go together")
    assert error_message(err) == "ramp-from: --ramp-from and --ramp-over go together"
    out = str(tmp_path / "x.wav")
    result = runner.invoke(main, ["metronome", "170", "--ramp-from", "160", "-o", out])
    assert result.exit_code == 2
    assert result.stderr == "Error: ramp-from: --ramp-from and --ramp-over go together\n"
    result = runner.invoke(main, ["metronome", "170", "--beats", "4", "--duration", "1m"])
    assert result.stderr == (
        "Error: beats: give --beats alone, without --duration, --intervals or --ramp-from\n"
    )


def test_a_render_replaces_only_a_render_unless_forced(runner, tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, np.full(4410, 0.1, dtype=np.float32), 44100)
    before = song.read_bytes()
    refused = runner.invoke(main, ["metronome", "170", "--beats", "4", "-o", str(song)])
    assert refused.exit_code == 2
    assert "exists and is not a session cadence rendered" in refused.stderr
    assert song.read_bytes() == before
    ours = tmp_path / "beat.flac"
    for _ in range(2):  # a render of cadence's own is replaced without asking
        assert (
            runner.invoke(main, ["metronome", "170", "--beats", "4", "-o", str(ours)]).exit_code
            == 0
        )
    forced = runner.invoke(main, ["metronome", "170", "--beats", "4", "-o", str(song), "--force"])
    assert forced.exit_code == 0 and song.read_bytes() != before


def test_a_wav_too_large_for_its_format_is_refused_before_any_work(runner, tmp_path):
    out = tmp_path / "day.wav"
    result = runner.invoke(main, ["metronome", "170", "--duration", "20h", "-o", str(out)])
    assert result.exit_code == 2
    assert "a WAV file holds at most 4 GiB, 13.5 h at 44100 Hz" in result.stderr
    assert ".flac" in result.stderr and list(tmp_path.iterdir()) == []
    huge = runner.invoke(main, ["metronome", "170", "--duration", "100000h", "-o", str(out)])
    assert huge.stderr == "Error: duration: at most 24 h (a day), got 100000 h\n"


def test_no_device_is_an_error_for_devices_too(runner, monkeypatch):
    monkeypatch.setattr(playback, "list_output_devices", lambda: [])
    result = runner.invoke(main, ["devices"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no audio output device found; render sessions to a file with --output FILE\n"
    )
    listed = runner.invoke(main, ["devices", "--json"])
    assert listed.exit_code == 1 and json.loads(listed.stdout) == []
    assert listed.stderr == result.stderr  # it was silent: exit 1 with no word why


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sr", "8000", "--beats", "2"], "sr: is the sample rate of --output"),
        (["--latency", "high", "--beats", "2", "-o", "x.wav"], "latency: is for playing"),
    ],
)
def test_an_option_that_would_be_ignored_is_refused(runner, args, message):
    result = runner.invoke(main, ["metronome", "170", *args])
    assert result.exit_code == 2 and message in result.stderr


def test_an_mp3_at_a_rate_mp3_cannot_carry_is_refused_before_any_work(runner, tmp_path):
    path = tmp_path / "run.mp3"
    result = runner.invoke(
        main, ["metronome", "170", "--beats", "8", "-o", str(path), "--sr", "96000"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: sr: an MP3 file carries 8000, ")
    assert "not 96000; choose one, or write .flac" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_fallback_mp3_at_a_rate_mp3_cannot_carry_is_refused_before_playing(runner, tmp_path):
    path = tmp_path / "fb.mp3"
    args = ["metronome", "170", "--duration", "5s", "--sr", "96000", "--fallback-output", str(path)]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.output.startswith("Error: sr: an MP3 file carries ")
    assert "No sound" not in result.output and list(tmp_path.iterdir()) == []


def test_an_endless_fallback_is_refused_by_its_own_name_before_the_device_is_tried(
    runner, tmp_path
):
    # It used to say "No sound ... Rendering to fb.wav instead" and then refuse
    # the render, naming --output, which had not been given.
    path = tmp_path / "fb.wav"
    result = runner.invoke(main, ["metronome", "170", "--fallback-output", str(path)])
    assert result.exit_code == 2
    assert result.output == (
        "Error: fallback-output: an endless session cannot be written to a file;"
        " give --duration, --beats or --repeat\n"
    )
    assert list(tmp_path.iterdir()) == []
    # A name it could not write anyway is said first: one try, not two.
    result = runner.invoke(main, ["metronome", "170", "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "unknown format .txt" in result.output


def test_a_render_replaced_keeps_its_mode_and_a_symlink_stays_a_link(runner, tmp_path):
    real = tmp_path / "renders" / "run.wav"
    real.parent.mkdir()
    link = tmp_path / "run.wav"
    link.symlink_to(real)
    first = runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(real)])
    assert first.exit_code == 0, first.output
    os.chmod(real, 0o640)
    again = runner.invoke(main, ["metronome", "172", "--beats", "8", "-o", str(link)])
    assert again.exit_code == 0, again.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    data, _sr = sf.read(str(real))
    assert len(onsets(data)) == 8  # the second render, in the file the link names
    assert sorted(p.name for p in real.parent.iterdir()) == ["run.wav"]


def test_a_broken_link_into_a_missing_folder_is_refused_even_with_force(runner, tmp_path):
    link = tmp_path / "dangling.wav"
    link.symlink_to("nowhere/x.wav")
    for force in ([], ["--force"]):
        result = runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(link), *force])
        assert result.exit_code == 2, result.output  # was: --force advised, then "cannot write"
        assert "in a folder that does not exist" in result.stderr
        assert "--force" not in result.stderr
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["dangling.wav"]
    # A broken link into a folder that exists: --force writes where it points.
    usable = tmp_path / "usable.wav"
    usable.symlink_to("target.wav")
    assert (
        runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(usable)]).exit_code == 2
    )
    done = runner.invoke(main, ["metronome", "172", "--beats", "4", "-o", str(usable), "--force"])
    assert done.exit_code == 0, done.output
    assert usable.is_symlink() and (tmp_path / "target.wav").stat().st_size > 0


def test_a_render_made_read_only_is_kept_unless_forced_even_for_root(runner, tmp_path):
    out = tmp_path / "keep.wav"
    assert runner.invoke(main, ["metronome", "170", "--beats", "4", "-o", str(out)]).exit_code == 0
    out.chmod(0o444)
    before = out.read_bytes()
    again = runner.invoke(main, ["metronome", "180", "--beats", "8", "-o", str(out)])
    assert again.exit_code == 2 and "is read-only; it is left as it is" in again.stderr
    assert out.read_bytes() == before
    forced = runner.invoke(main, ["metronome", "180", "--beats", "8", "-o", str(out), "--force"])
    assert forced.exit_code == 0 and out.read_bytes() != before
