import datetime as dt
import json

import pytest

from cadence.cli import main


def test_calc_issue_example_json(runner):
    result = runner.invoke(main, ["calc", "--steps", "78", "--one-foot", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cadence_spm"] == 156.0
    assert isinstance(data["cadence_spm"], float)
    assert data["target_5_spm"] == 164
    assert data["target_10_spm"] == 172
    assert data["below_160"] is True
    assert data["source"] == {"steps": 78, "seconds": 60.0, "one_foot": True}


def test_calc_table_for_people(runner):
    result = runner.invoke(main, ["calc", "--steps", "82", "--seconds", "30"])
    assert result.exit_code == 0, result.output
    assert "164.0 steps/min" in result.output
    assert "82 steps in 30 s" in result.output
    assert "+5 %   172 steps/min" in result.output
    assert "+10 %  180 steps/min" in result.output
    assert "at or above the ~160" in result.output
    assert "physiotherapist" in result.output


def test_calc_with_known_spm(runner):
    result = runner.invoke(main, ["calc", "--spm", "150", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["cadence_spm"], data["target_5_spm"], data["target_10_spm"]) == (150.0, 158, 165)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calc", "--steps", "0"], "steps: must be a positive number"),
        (["calc", "--steps", "-3"], "steps: must be a positive number"),
        (["calc", "--steps", "80", "--seconds", "0"], "seconds: must be a positive number"),
        (["calc", "--steps", "80", "--seconds", "-1"], "seconds: must be a positive number"),
        (["calc", "--steps", "20"], "plausible human range"),
        (["calc", "--steps", "200", "--one-foot"], "plausible human range"),
        (["calc", "--spm", "300"], "plausible human range"),
        (["calc", "--spm", "nan"], "spm: must be a positive number"),
        (["calc", "--spm", "160", "--steps", "80"], "spm: give either --spm or --steps"),
        (["calc", "--spm", "160", "--one-foot"], "spm: give either"),
        (["calc"], "steps: give --steps N"),
        (["plan", "--current", "160", "--goal", "150"], "goal: 150 must be above"),
        (["plan", "--current", "150", "--goal", "165", "--weeks", "1"], "weeks: "),
        (["plan", "--current", "20"], "current: "),
    ],
)
def test_bad_input_is_one_error_line_with_exit_code_2(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Error: " in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [
        ["calc", "--steps", "abc"],
        ["calc", "--steps", "7.5"],
        ["calc", "--seconds", "x", "--steps", "80"],
        ["plan"],
        ["plan", "--current", "156", "--start", "23/11/2026"],
        ["tap", "--seconds", "1"],
    ],
)
def test_malformed_options_are_usage_errors(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "Error: " in result.output
    assert "Traceback" not in result.output


def test_plan_json(runner):
    result = runner.invoke(
        main, ["plan", "--current", "156", "--goal", "172", "--start", "2026-11-23", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["goal_spm"] == 172
    assert data["total_weeks"] == 6
    assert [w["spm"] for w in data["weeks"]] == [159, 161, 164, 166, 169, 172]
    assert data["weeks"][1]["start_date"] == "2026-11-30"
    assert data["warnings"] == []


def test_plan_defaults_to_today_and_plus_5(runner):
    result = runner.invoke(main, ["plan", "--current", "156", "--json"])
    data = json.loads(result.output)
    assert data["goal_spm"] == 164
    assert data["weeks"][0]["start_date"] == dt.date.today().isoformat()


def test_plan_table_shows_weeks_and_stages_and_warns(runner):
    result = runner.invoke(
        main, ["plan", "--current", "150", "--goal", "180", "--start", "2026-11-23"]
    )
    assert result.exit_code == 0, result.output
    # The warning on stderr, like every warning: stdout holds the plan only.
    assert "warning: The goal 180" in result.stderr and "warning" not in result.stdout
    assert "2 stages" in result.stderr
    assert "Stage" in result.output
    assert "180 spm" in result.output
    assert "Mon 23 Nov 2026" in result.output
    assert "12 weeks" in result.output


def test_tap_needs_a_terminal(runner):
    result = runner.invoke(main, ["tap"], input="    \n")
    assert result.exit_code == 1
    assert "Error: standard input is not a terminal" in result.output


def test_help_and_version(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("calc", "plan", "tap"):
        assert command in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert "cadence" in result.output
