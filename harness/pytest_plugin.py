"""The `scanchaos` pytest plugin: clusters and scenarios as fixtures, for your own resilience tests.

Registered through the `pytest11` entry point, so it is active wherever `scan-resilience` is
installed. Fixtures:

- `sim_cluster`: a `SimCluster` (3 workers, fixed service, seed 0), entered; drive it, then read
  `.history`.
- `live_cluster`: a `LiveCluster` (3 workers, fixed service, `--scanchaos-scale`), entered and
  stopped after the test, also when it fails.
- `make_sim_cluster` / `make_live_cluster`: factories taking the clusters' keyword arguments,
  for other worker counts, regressions or profiles; everything they start is stopped at teardown.
- `run_scenario(scenario, *, mode="sim", bugs=(), seed=0, target=None) -> RunResult`: runs a
  `Scenario` (or a scenario name or path) in simulation or live on `target` (a target file or
  `Target`; default `--scanchaos-target`, else the reference) and returns its history and
  verdict; `bugs` are then the target's own regressions.
- `redis_server_binary`: the `redis-server` live tests use. Without one the test is skipped,
  except under `CI=true`, where it fails: live tests never skip silently in CI.

Options: `--scanchaos-scale` (live time factor, default 0.05), `--redis-server PATH`,
`--scanchaos-target FILE` (the service under test for `run_scenario` and the live clusters: a
`[wsgi]` target runs live only; see docs/targets.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.live.cluster import LiveCluster, RedisServerMissing, find_redis_server
from harness.live.runner import DEFAULT_SCALE, LiveOptions, run_live
from harness.runner import RunResult, simulate
from harness.scenario import Scenario, load
from harness.sim.cluster import SimCluster
from harness.target import Target, load_target
from reference_impl import ServiceConfig

RunScenario = Callable[..., RunResult]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scanchaos", "scan-resilience harness")
    group.addoption(
        "--scanchaos-scale",
        type=float,
        default=DEFAULT_SCALE,
        help="live clusters run every duration times this factor (default 0.05)",
    )
    group.addoption("--redis-server", default=None, help="the redis-server binary for live tests")
    group.addoption(
        "--scanchaos-target",
        default=None,
        metavar="FILE",
        help="the service under test, a target file (default: the reference)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live: needs a real redis-server and Gunicorn workers on 127.0.0.1"
    )


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def redis_server_binary(request: pytest.FixtureRequest) -> str:
    try:
        return find_redis_server(request.config.getoption("--redis-server"))
    except RedisServerMissing as error:
        if _in_ci():
            pytest.fail(f"live tests must run in CI: {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def scanchaos_target(request: pytest.FixtureRequest) -> Target | None:
    """`--scanchaos-target`, loaded (a bad file fails the session at once); None: the reference."""
    path = request.config.getoption("--scanchaos-target")
    return None if path is None else load_target(path)


def _target(value: Target | str | Path | None) -> Target | None:
    return load_target(value) if isinstance(value, str | Path) else value


@pytest.fixture
def scanchaos_scale(request: pytest.FixtureRequest) -> float:
    scale: float = request.config.getoption("--scanchaos-scale")
    return scale


AnyCluster = TypeVar("AnyCluster", SimCluster, LiveCluster)


def _maker(
    stack: ExitStack, cluster: Callable[..., AnyCluster], **defaults: Any
) -> Callable[..., AnyCluster]:
    """Builds entered clusters of 3 workers of the fixed service; `stack` stops them."""

    def make(**kwargs: Any) -> AnyCluster:
        chosen = {"workers": 3, "config": ServiceConfig(), **defaults, **kwargs}
        return stack.enter_context(cluster(**chosen))

    return make


@pytest.fixture
def make_sim_cluster() -> Iterator[Callable[..., SimCluster]]:
    with ExitStack() as stack:
        yield _maker(stack, SimCluster, seed=0)


@pytest.fixture
def sim_cluster(make_sim_cluster: Callable[..., SimCluster]) -> SimCluster:
    return make_sim_cluster()


@pytest.fixture
def make_live_cluster(
    redis_server_binary: str, scanchaos_scale: float, scanchaos_target: Target | None
) -> Iterator[Callable[..., LiveCluster]]:
    with ExitStack() as stack:
        yield _maker(
            stack,
            LiveCluster,
            scale=scanchaos_scale,
            redis_server=redis_server_binary,
            target=scanchaos_target,
        )


@pytest.fixture
def live_cluster(make_live_cluster: Callable[..., LiveCluster]) -> LiveCluster:
    return make_live_cluster()


@pytest.fixture
def run_scenario(
    request: pytest.FixtureRequest, scanchaos_scale: float, scanchaos_target: Target | None
) -> RunScenario:
    def run(
        scenario: Scenario | str,
        *,
        mode: str = "sim",
        bugs: tuple[str, ...] = (),
        seed: int = 0,
        target: Target | str | Path | None = None,
    ) -> RunResult:
        if isinstance(scenario, str):
            scenario = load(scenario)[0]
        chosen = _target(target) or scanchaos_target
        if mode == "sim":
            if chosen is not None and chosen.kind == "wsgi":
                raise ValueError(f"{chosen.ref}: a WSGI target runs live only: mode='live'")
            return simulate(scenario, bugs=bugs, seed=seed, target=chosen)
        if mode != "live":
            raise ValueError(f"mode must be 'sim' or 'live', not {mode!r}")
        binary = request.getfixturevalue("redis_server_binary")
        options = LiveOptions(scale=scanchaos_scale, redis_server=binary)
        return run_live(scenario, bugs=bugs, seed=seed, options=options, target=chosen)

    return run
