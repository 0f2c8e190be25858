"""A finding written as a script loads back as the very scenario the explorer played."""

from __future__ import annotations

from pathlib import Path

from harness.checker import Violation
from harness.explore.script import (
    ScriptText,
    describe_scenario,
    render_script,
    replay_command,
)
from harness.scenario import (
    DropColumn,
    Latest,
    Poll,
    RedisOutage,
    RestartWorker,
    Scenario,
    Start,
    load,
)
from reference_impl import StrategyProfile

SCENARIO = Scenario(
    name="explored-demo-s3",
    description='a "quoted" description',
    duration=211.5,
    steps=(
        Start(at=0.0, user="alice", scan="s1", worker=1),
        Poll(scan="s1", start=5.0, until=45.0, every=10.0, fanout=2, user="bob"),
        Latest(user="alice", start=13.0, until=13.0),
    ),
    faults=(
        RestartWorker(at=2.0, scan="s1"),
        RedisOutage(at=3.0, duration=200.0),
        DropColumn(at=4.0, column="sharpe"),
    ),
    profile=StrategyProfile(seconds=0.5, hang=frozenset({0, 5})),
    catches=("no-user-scope",),
)


def _text(path: Path, seed: int = 0) -> ScriptText:
    violation = Violation("isolated", "user bob read scan s1 of user alice", at=5.0)
    return ScriptText(
        violations=(violation,),
        bugs=("no-user-scope",),
        cluster_seed=seed,
        explore_command="scanchaos explore --bug no-user-scope --seed 3 --budget 60",
        replay_command=replay_command(path, ("no-user-scope",), seed),
        fixed_command=replay_command(path, (), seed),
    )


def test_the_script_loads_as_the_same_scenario(tmp_path: Path) -> None:
    path = tmp_path / "explored_demo_s3.py"
    path.write_text(render_script(SCENARIO, _text(path)), encoding="utf-8")
    loaded, source = load(str(path))
    assert loaded == SCENARIO
    assert source == str(path)


def test_the_docstring_tells_the_seed_the_violation_and_how_to_replay(tmp_path: Path) -> None:
    path = tmp_path / "explored_demo_s3.py"
    source = render_script(SCENARIO, _text(path, seed=42))
    doc = source.split('"""')[1]
    assert "isolated: user bob read scan s1 of user alice" in doc
    assert "Found by:  scanchaos explore --bug no-user-scope --seed 3 --budget 60" in doc
    assert "Cluster seed: 42" in doc
    assert f"Replay:    scanchaos run {path} --bug no-user-scope --seed 42" in doc
    assert f"Fixed:     scanchaos run {path} --seed 42" in doc
    assert "at 2 s: the worker running s1 restarts (its memory is lost)" in doc


def test_replay_command_leaves_out_seed_zero() -> None:
    assert replay_command(Path("x.py"), ("a", "b"), 0) == "scanchaos run x.py --bug a --bug b"


def test_describe_scenario_goes_step_by_step_in_time_order() -> None:
    assert describe_scenario(SCENARIO) == [
        "setup: 3 workers; each strategy takes 0.5 s; strategies 0 (momentum), "
        "5 (earnings_drift) hang",
        "at 0 s: alice starts scan s1 on worker 1",
        "at 2 s: the worker running s1 restarts (its memory is lost)",
        "at 3 s: Redis goes down for 200 s (until 203 s)",
        "at 4 s: column sharpe is dropped from the performance table",
        "at 5 s: bob (not the owner, alice) polls scan s1 through the load balancer, "
        "2 concurrent requests, every 10 s until 45 s",
        "at 13 s: alice asks for their latest scan",
        "end at 211.5 s",
    ]
