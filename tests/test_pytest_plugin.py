"""The `scanchaos` pytest plugin: its fixtures, as a team's own test file would use them."""

from __future__ import annotations

import psutil
import pytest

from harness.live.client import call
from harness.live.cluster import LiveCluster
from harness.scenario import Poll, Scenario, Start
from harness.sim.cluster import SimCluster

pytest_plugins = ("pytester",)

MY_SCENARIO = Scenario(
    name="my-check",
    description="a finished scan stays readable",
    duration=40.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=40.0, every=1.0, fanout=2),
    ),
)


def test_sim_cluster_fixture(sim_cluster: SimCluster) -> None:
    sim_cluster.start_scan(at=0.0, user="alice", label="s1")
    sim_cluster.poll(at=40.0, user="alice", label="s1")
    sim_cluster.run_until(41.0)
    assert [op.reply.status for op in sim_cluster.history.ops] == ["complete", "complete"]


def test_run_scenario_in_simulation(run_scenario) -> None:  # type: ignore[no-untyped-def]
    assert run_scenario(MY_SCENARIO).verdict.passed
    assert not run_scenario("post-completion-404", bugs=("cleanup-ignores-redis",)).verdict.passed


@pytest.mark.live
def test_live_cluster_fixture_and_live_scenario(live_cluster: LiveCluster, run_scenario) -> None:  # type: ignore[no-untyped-def]
    answer = call(live_cluster.port, "POST", "/scans", user="alice", timeout=30)
    assert answer.reply.status == "complete" and answer.worker in live_cluster.worker_pids()
    result = run_scenario(MY_SCENARIO, mode="live", bugs=("no-redis-fallback",))
    assert "reachable-until-expiry" in result.verdict.violated()


@pytest.mark.live
def test_a_failing_test_still_stops_its_live_cluster(
    pytester: pytest.Pytester, redis_server_binary: str
) -> None:
    pytester.makepyfile(
        """
        def test_fails(live_cluster):
            pids = [live_cluster.master_pid, live_cluster.redis_pid, *live_cluster.worker_pids()]
            with open("pids.txt", "w") as handle:
                handle.write(" ".join(map(str, pids)))
            assert False, "a resilience test that fails"
        """
    )
    result = pytester.runpytest_subprocess(
        "--redis-server", redis_server_binary, "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    pids = [int(p) for p in (pytester.path / "pids.txt").read_text().split()]
    assert len(pids) == 5
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []


def test_live_fixture_fails_in_ci_without_redis(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_live(redis_server_binary):\n    pass\n")
    missing = str(pytester.path / "no-redis-server")
    result = pytester.runpytest_subprocess("--redis-server", missing, "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CI", "true")
        result = pytester.runpytest_subprocess("--redis-server", missing, "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*live tests must run in CI*"])
