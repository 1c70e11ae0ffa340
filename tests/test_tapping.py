"""The tap loop on a scripted keyboard and clock: which keys count, when it stops."""

import itertools

from cadence.tapping import collect_tap_times, tap_status


class ScriptedKeys:
    """Key presses by poll: each read returns the next list and moves the clock on."""

    def __init__(self, script, clock, step_s=0.35):
        self.script, self.clock, self.step_s = list(script), clock, step_s

    def read(self, timeout_s):
        self.clock.now += self.step_s
        return self.script.pop(0) if self.script else ["eof"]


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_one_tap_per_read_and_escape_is_no_tap():
    clock = Clock()
    keys = ScriptedKeys([["space"], ["space", "space"], ["escape"], ["a"], ["enter"]], clock)
    statuses = []
    times = collect_tap_times(keys, seconds=30, on_status=statuses.append, clock=clock)
    assert times == [0.35, 0.7, 1.4]
    assert statuses[-1].startswith("\r    3 taps")


def test_stops_seconds_after_the_first_tap():
    clock = Clock()
    keys = ScriptedKeys([["space"]] * 100, clock, step_s=1.0)
    times = collect_tap_times(keys, seconds=5, on_status=lambda s: None, clock=clock)
    assert times[0] == 1.0 and times[-1] == 6.0


def test_status_shows_the_rate_once_there_are_enough_taps():
    assert tap_status([0.0]) == "  1 tap" and tap_status([0.0, 0.4]) == "  2 taps"
    assert "171.4 steps/min" in tap_status([i * 0.35 for i in range(8)])


def test_the_countdown_runs_on_between_taps():
    clock = Clock()
    keys = ScriptedKeys([["space"]] + [[]] * 30 + [["enter"]], clock, step_s=0.1)
    statuses = []
    collect_tap_times(keys, seconds=30, on_status=statuses.append, clock=clock)
    lefts = [s.split()[-3] for s in statuses]  # "... 29 s left"
    assert "27" in lefts  # three seconds on, without another key


def test_a_shorter_status_covers_the_longer_one_before_it():
    clock = Clock()
    keys = ScriptedKeys([["space"]] * 6 + [["enter"]], clock, step_s=0.35)
    statuses = []
    collect_tap_times(keys, seconds=30, on_status=statuses.append, clock=clock)
    for before, after in itertools.pairwise(statuses):
        assert len(after) >= len(before)
