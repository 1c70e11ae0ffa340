import datetime as dt
import itertools

import pytest

from cadence.core.calc import target_spm
from cadence.core.plan import progression_plan
from cadence.errors import ParameterError


def _steps_within_cap(plan):
    previous = plan.current_spm
    for week in plan.weeks:
        assert week.spm <= target_spm(previous, 5), (week, previous)
        assert week.spm >= previous - 0.5  # never goes down (beyond rounding the start)
        previous = week.spm


def test_default_goal_is_plus_5_percent_in_4_weeks():
    plan = progression_plan(156)
    assert plan.goal_spm == 164
    assert len(plan.weeks) == 4
    assert plan.weeks[-1].spm == 164
    assert plan.stages == 1
    assert plan.warnings == []
    _steps_within_cap(plan)


def test_plus_10_percent_takes_6_weeks_in_one_stage():
    plan = progression_plan(156, goal_spm=172)
    assert [w.spm for w in plan.weeks] == [159, 161, 164, 166, 169, 172]
    assert plan.stages == 1
    _steps_within_cap(plan)


def test_weeks_are_increasing_and_end_at_goal():
    plan = progression_plan(148.5, goal_spm=160, weeks_per_stage=5)
    spms = [w.spm for w in plan.weeks]
    assert spms == sorted(spms)
    assert spms[-1] == 160
    assert len(spms) == 5
    assert plan.weeks[-1].total_pct == pytest.approx((160 / 148.5 - 1) * 100, abs=0.05)


def test_goal_over_10_percent_is_split_into_stages_with_a_warning():
    plan = progression_plan(150, goal_spm=185)
    assert plan.stages == 3
    assert len(plan.warnings) == 1
    assert "3 stages" in plan.warnings[0]
    assert {w.stage for w in plan.weeks} == {1, 2, 3}
    assert plan.weeks[-1].spm == 185
    _steps_within_cap(plan)
    # No stage rises more than 10 % over the end of the previous one.
    ends = [plan.current_spm] + [
        [w.spm for w in plan.weeks if w.stage == s][-1] for s in range(1, plan.stages + 1)
    ]
    for a, b in itertools.pairwise(ends):
        assert b <= target_spm(a, 10)


def test_too_few_weeks_for_the_step_cap_is_refused():
    with pytest.raises(ParameterError, match=r"weeks_per_stage: .* use 2 or more"):
        progression_plan(150, goal_spm=165, weeks_per_stage=1)
    assert len(progression_plan(150, goal_spm=165, weeks_per_stage=2).weeks) == 2


def test_start_date_gives_each_week_its_date():
    plan = progression_plan(156, start_date=dt.date(2026, 11, 23))
    assert [w.start_date for w in plan.weeks] == [
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 14),
    ]
    assert plan.to_dict()["weeks"][0]["start_date"] == "2026-11-23"


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"current_spm": 156, "goal_spm": 150}, "goal_spm"),
        ({"current_spm": 156, "goal_spm": 156}, "goal_spm"),
        ({"current_spm": 156, "goal_spm": 300}, "goal_spm"),
        ({"current_spm": 156, "goal_spm": 170.5}, "goal_spm"),
        ({"current_spm": 30}, "current_spm"),
        ({"current_spm": 156, "weeks_per_stage": 0}, "weeks_per_stage"),
        ({"current_spm": 156, "weeks_per_stage": 100}, "weeks_per_stage"),
    ],
)
def test_bad_plans_name_the_parameter(kwargs, parameter):
    with pytest.raises(ParameterError) as info:
        progression_plan(**kwargs)
    assert info.value.parameter == parameter


def test_a_goal_the_metronome_cannot_play_is_refused():
    with pytest.raises(ParameterError, match=r"^goal_spm: 250 steps/min is above 240"):
        progression_plan(200, goal_spm=250)
    with pytest.raises(ParameterError, match="needs no raising"):
        progression_plan(235)


def test_a_plan_ending_after_the_year_9999_is_refused():
    import datetime as dt

    with pytest.raises(ParameterError, match="^start_date: 9999-12-31"):
        progression_plan(170, start_date=dt.date(9999, 12, 31))
    with pytest.raises(ParameterError, match="the plan's 1 week would end"):
        progression_plan(150, weeks_per_stage=1, start_date=dt.date(9999, 12, 25))


def test_a_start_given_with_a_time_counts_by_its_day_and_a_string_is_refused():
    import datetime as dt

    plan = progression_plan(156, start_date=dt.datetime(2026, 3, 2, 7, 30))
    assert [w.start_date for w in plan.weeks[:2]] == [dt.date(2026, 3, 2), dt.date(2026, 3, 9)]
    assert plan.to_dict()["weeks"][0]["start_date"] == "2026-03-02"
    with pytest.raises(ParameterError, match=r"^start_date: must be a datetime.date"):
        progression_plan(156, start_date="2026-03-02")


def _every_plan(currents, goals_above, weeks_options):
    for current in currents:
        for goal in range(int(current) + 1, min(int(current) + goals_above, 240) + 1):
            for weeks in weeks_options:
                try:
                    yield progression_plan(current, goal_spm=goal, weeks_per_stage=weeks)
                except ParameterError as exc:
                    assert "use " in str(exc) and weeks is not None, (current, goal, weeks)


def test_every_plan_ends_at_its_goal_within_the_cap_and_never_below_the_start():
    # A sweep found 160 -> 177 in 1 + 1 weeks ending at 176, and 140.1 -> 141
    # beginning at 140 with a step of "-0.1 %".
    currents = [c / 10 for c in range(1400, 2010, 7)]
    plans = 0
    for plan in _every_plan(currents, goals_above=40, weeks_options=(None, 1, 2, 3)):
        plans += 1
        assert plan.weeks[-1].spm == plan.goal_spm
        _steps_within_cap(plan)
        assert plan.weeks[0].spm > plan.current_spm
        for week in plan.weeks:
            assert week.step_pct >= 0 and week.total_pct >= 0  # 200.9 -> 201 is +0.0 %
            assert str(week.step_pct) != "-0.0"
    assert plans > 10_000


def test_the_fewest_weeks_advised_is_a_plan_that_can_be_made():
    with pytest.raises(ParameterError, match=r"use (\d+) or more") as refused:
        progression_plan(160, goal_spm=177, weeks_per_stage=1)
    fewest = int(refused.value.args[-1].rsplit("use ", 1)[1].split()[0])
    assert progression_plan(160, goal_spm=177, weeks_per_stage=fewest).weeks[-1].spm == 177
