import math

import pytest

from cadence.core.calc import (
    cadence_report,
    check_plausible_spm,
    round_half_up,
    steps_to_spm,
    target_spm,
)
from cadence.errors import CadenceError, ParameterError


def test_one_foot_count_is_doubled():
    assert steps_to_spm(78, one_foot=True) == 156.0
    assert steps_to_spm(78) == 78.0


@pytest.mark.parametrize(
    ("steps", "seconds", "one_foot", "expected"),
    [
        (41, 15, False, 164.0),
        (82, 30, False, 164.0),
        (43, 30, True, 172.0),
        (170, 60, False, 170.0),
        (343, 120, False, 171.5),
        (100, 37, False, 100 * 60 / 37),
    ],
)
def test_other_durations(steps, seconds, one_foot, expected):
    assert steps_to_spm(steps, seconds=seconds, one_foot=one_foot) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": -5}, "steps"),
        ({"steps": 80, "seconds": 0}, "seconds"),
        ({"steps": 80, "seconds": -60}, "seconds"),
        ({"steps": math.nan}, "steps"),
        ({"steps": math.inf}, "steps"),
        ({"steps": "80"}, "steps"),
        ({"steps": True}, "steps"),
    ],
)
def test_bad_counts_name_the_parameter(kwargs, parameter):
    with pytest.raises(ParameterError) as info:
        steps_to_spm(**kwargs)
    assert info.value.parameter == parameter
    assert str(info.value).startswith(f"{parameter}:")


@pytest.mark.parametrize(("steps", "seconds"), [(20, 60), (59, 60), (300, 60), (80, 10)])
def test_implausible_cadence_is_refused(steps, seconds):
    with pytest.raises(ParameterError, match="plausible human range"):
        steps_to_spm(steps, seconds=seconds)


def test_plausible_range_bounds_are_inclusive():
    assert check_plausible_spm(60) == 60.0
    assert check_plausible_spm(260) == 260.0
    with pytest.raises(ParameterError):
        check_plausible_spm(59.9)
    with pytest.raises(ParameterError):
        check_plausible_spm(260.1)


def test_parameter_error_is_a_cadence_error_with_exit_code_2():
    err = ParameterError("steps", "bad")
    assert isinstance(err, CadenceError)
    assert isinstance(err, ValueError)
    assert err.exit_code == 2


@pytest.mark.parametrize(
    ("cadence", "pct", "expected"),
    [
        (156.0, 5, 164),  # 163.8
        (156.0, 10, 172),  # 171.6
        (170.0, 5, 179),  # 178.5: half up, not to even
        (150.0, 5, 158),  # 157.5
        (150.0, 10, 165),
        (160.0, 5, 168),
        (171.5, 5, 180),  # 180.075
    ],
)
def test_targets_round_half_up_to_whole_spm(cadence, pct, expected):
    assert target_spm(cadence, pct) == expected


def test_round_half_up_uses_the_decimal_value():
    assert round_half_up(2.5) == 3
    assert round_half_up(163.85, ndigits=1) == 163.9
    assert round_half_up(0.125, ndigits=2) == 0.13


def test_report_for_the_issue_example():
    report = cadence_report(steps_to_spm(78, one_foot=True))
    assert report.cadence_spm == 156.0
    assert (report.target_5_spm, report.target_10_spm) == (164, 172)
    assert report.below_rule_of_thumb is True


def test_report_rounds_cadence_to_one_decimal_and_targets_follow_it():
    report = cadence_report(100 * 60 / 37 + 0)  # 162.162...
    assert report.cadence_spm == 162.2
    assert report.target_5_spm == target_spm(162.2, 5) == 170
    assert report.below_rule_of_thumb is False


def test_160_exactly_is_not_below_the_rule_of_thumb():
    assert cadence_report(160).below_rule_of_thumb is False
    assert cadence_report(159.96).below_rule_of_thumb is False  # shows as 160.0
    assert cadence_report(159.94).below_rule_of_thumb is True


def test_advice_follows_the_coaching_guidance():
    advice = " ".join(cadence_report(156).advice)
    for phrase in ("5-10 %", "+5 % (164", "4-6 weeks", "distance, speed and terrain", "physio"):
        assert phrase in advice
    assert "rule of thumb" in cadence_report(175).advice[0]
    assert "optional" in cadence_report(175).advice[0]


def test_report_to_dict_has_the_json_fields():
    d = cadence_report(156, source={"spm": 156}).to_dict()
    assert d["cadence_spm"] == 156.0
    assert d["target_5_spm"] == 164
    assert d["target_10_spm"] == 172
    assert d["below_160"] is True
    assert d["source"] == {"spm": 156}


def test_advice_never_recommends_what_the_metronome_or_the_plan_refuses():
    import re

    from cadence.core.plan import progression_plan
    from cadence.core.session import MAX_SPM, MIN_SPM

    for tenth in range(600, 2601, 7):  # every plausible cadence, 0.7 spm apart
        report = cadence_report(tenth / 10)
        for line in report.advice:
            for n in re.findall(r"cadence metronome (\d+)", line):
                assert MIN_SPM <= int(n) <= MAX_SPM, (report.cadence_spm, line)
        for target in (report.target_5_spm, report.target_10_spm):
            if target is not None:
                assert target <= MAX_SPM
                plan = progression_plan(report.cadence_spm, goal_spm=target)
                assert plan.weeks[-1].spm == target


def test_a_cadence_too_high_to_raise_gets_no_targets_and_says_why():
    report = cadence_report(235)
    assert (report.target_5_spm, report.target_10_spm) == (None, None)
    assert "no need to raise it" in report.advice[0]
    assert cadence_report(220).target_5_spm == 231 and cadence_report(220).target_10_spm is None


def test_numpy_numbers_are_numbers_and_a_huge_int_is_refused_by_name():
    import numpy as np

    from cadence.core.plan import progression_plan

    assert steps_to_spm(np.int64(160)) == 160.0
    plan = progression_plan(156, goal_spm=np.int64(172), weeks_per_stage=np.int64(6))
    assert plan.weeks[-1].spm == 172 and len(plan.weeks) == 6
    with pytest.raises(ParameterError, match="steps: is too large"):
        steps_to_spm(10**400)
    with pytest.raises(ParameterError, match="weeks_per_stage"):
        progression_plan(156, weeks_per_stage=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: target_spm(156, float("nan")), r"^increase_pct: must be a finite number"),
        (lambda: target_spm(156, float("inf")), r"^increase_pct: must be a finite number"),
        (lambda: target_spm(156, None), r"^increase_pct: must be a number, got None"),
        (lambda: target_spm(156, -200), r"^increase_pct: must be above -100"),
        (lambda: round_half_up("163.85"), r"^x: must be a number"),
        (lambda: round_half_up(2.5, ndigits=1.5), r"^ndigits: must be a whole number"),
        (lambda: cadence_report(160, source=[1, 2]), r"^source: must be a dict"),
    ],
)
def test_the_api_refuses_bad_arguments_by_name(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_round_half_up_keeps_infinities_and_nan_as_round_does():
    assert round_half_up(math.inf) == math.inf == round(math.inf, 1)
    assert round_half_up(-math.inf, ndigits=2) == -math.inf
    assert math.isnan(round_half_up(math.nan))


def test_a_cut_in_cadence_is_a_target_too():
    assert target_spm(170, -5) == 162  # 161.5 rounds up
    assert target_spm(170, 0) == 170
