"""How a live cluster starts its target's workers and talks to them: one `Launch` per target.

The reference (`[service]`, the reference's factory) runs `reference_impl.web` with a settings
file; a `[wsgi]` target runs its own app through `harness.live.wsgi_adapter`, configured the
way its target file says: its fixed `env`, the Redis and database URLs in the variables it
names, each duration it reads from the environment scaled like every other, and the `env` of
each of its regressions switched on. Either way the cluster seeds the strategy database first
and speaks to the workers through a `Contract`.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import inspect, text

from harness.live.contract import Contract, reference_contract
from harness.live.job_workers import JobWorkers
from harness.live.redis_server import LiveClusterError
from harness.live.wsgi_adapter import APP_ENV, HEALTH_ENV, HEALTH_PATH, PATH_ENV, STATE_ENV
from reference_impl import ServiceConfig, StrategyProfile, open_engine, seed_database
from reference_impl import drop_column as reference_drop
from reference_impl.config import TIMING_FIELDS
from reference_impl.strategies import strategy_names
from reference_impl.web import SETTINGS_ENV, WebSettings

if TYPE_CHECKING:
    from harness.live.cluster import LiveCluster
    from harness.target import Target

__all__ = ["Launch", "drop_column", "job_workers", "launch_reference", "launch_wsgi", "prepare"]


@dataclass(frozen=True)
class Launch:
    """What `GunicornServer` runs for a target, and how requests to it are spoken."""

    app: str
    config: str
    env: dict[str, str]
    health: str
    contract: Contract
    #: where the workers' own output goes (None: the harness's stderr, as the reference's)
    output: Path | None = None


@dataclass(frozen=True)
class Where:
    """What the cluster has set up for the workers (times in `config` already scaled)."""

    workdir: Path
    state_dir: Path
    database_url: str
    redis_url: str
    config: ServiceConfig
    scale: float
    strategies: int
    missing_columns: tuple[str, ...]


def prepare(cluster: LiveCluster, sentinels: tuple[tuple[str, int], ...]) -> Launch:
    """Seed `cluster`'s database and say how to start its target's workers."""
    assert cluster.redis is not None
    where = Where(
        workdir=cluster.workdir,
        state_dir=cluster.state_dir,
        database_url=cluster.database_url,
        redis_url=cluster.redis.url,
        config=cluster.worker_config,
        scale=cluster.scale,
        strategies=cluster.config.strategies,
        missing_columns=cluster.missing_columns,
    )
    if cluster.target is None:
        return launch_reference(where, cluster.profile, sentinels)
    return launch_wsgi(where, cluster.target, cluster.regressions)


def launch_reference(
    where: Where, profile: StrategyProfile, sentinels: tuple[tuple[str, int], ...]
) -> Launch:
    """`reference_impl.web`, its settings in a file the workers read."""
    _seed_reference(where)
    settings = WebSettings(
        sentinels=sentinels,
        config=where.config,
        redis_url=where.redis_url,
        database_url=where.database_url,
        profile=StrategyProfile(seconds=profile.seconds * where.scale, hang=profile.hang),
        state_dir=str(where.state_dir),
        scale=where.scale,
    )
    settings_path = where.workdir / "web-settings.json"
    settings_path.write_text(settings.to_json(), encoding="utf-8")
    return Launch(
        app="reference_impl.web:app",
        config="python:reference_impl.gunicorn_conf",
        env={SETTINGS_ENV: str(settings_path)},
        health="/health",
        contract=reference_contract(),
    )


def launch_wsgi(where: Where, target: Target, regressions: Sequence[str]) -> Launch:
    """A `[wsgi]` target's app under the adapter, configured through its environment."""
    wsgi, http = target.spec.wsgi, target.spec.http
    assert wsgi is not None and http is not None
    folders = [str((target.folder / folder).resolve()) for folder in wsgi.pythonpath]
    if wsgi.database_init is None:
        _seed_reference(where)
    else:
        init = cast("Callable[[str, int, list[str]], None]", _imported(wsgi.database_init, folders))
        try:
            init(where.database_url, where.strategies, list(where.missing_columns))
        except Exception as error:
            raise LiveClusterError(
                f"{target.ref}: field wsgi.database_init: {wsgi.database_init} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
    env = dict(wsgi.env)
    env[wsgi.redis_url_env] = where.redis_url
    if wsgi.database_url_env is not None:
        env[wsgi.database_url_env] = where.database_url
    for name, variable in target.spec.durations.env.items():
        env[variable] = repr(float(getattr(where.config, name)))
    by_name = {r.name: r for r in target.spec.regression}
    for name in regressions:
        env.update(by_name[name].env)
    env.update(
        {
            APP_ENV: wsgi.app,
            PATH_ENV: os.pathsep.join(folders),
            STATE_ENV: str(where.state_dir),
            HEALTH_ENV: json.dumps(
                {
                    "status": "ok",
                    "scale": where.scale,
                    "config": {name: getattr(where.config, name) for name in TIMING_FIELDS},
                    "bugs": sorted(regressions),
                }
            ),
        }
    )
    return Launch(
        app="harness.live.wsgi_adapter:app",
        config="python:harness.live.adapter_conf",
        env=env,
        health=HEALTH_PATH,
        contract=Contract(http),
        # An app logs as it pleases (a warning per 503): into a file, not the harness's output.
        output=where.workdir / "app.log",
    )


def job_workers(cluster: LiveCluster, launch: Launch) -> JobWorkers | None:
    """A `[jobs]` target's job workers, started on the cluster's Redis with the app's
    environment (None for a target without them)."""
    target = cluster.target
    if target is None or target.spec.jobs is None or target.spec.wsgi is None:
        return None
    assert cluster.redis is not None
    folders = [str((target.folder / folder).resolve()) for folder in target.spec.wsgi.pythonpath]
    jobs = JobWorkers(
        target.spec.jobs,
        redis_url=cluster.redis.url,
        client=cluster.redis_client,
        folders=folders,
        env=launch.env,
        log=cluster.workdir / "rq.log",
        kill=cluster.kill,
    )
    try:
        jobs.start()
    except BaseException:
        jobs.stop()  # the cluster does not hold it yet: it would not stop it
        raise
    return jobs


def gunicorn_timeout(config: ServiceConfig) -> int:
    """Gunicorn's `--timeout`: the scaled worker timeout, in whole seconds."""
    return max(1, math.ceil(config.worker_timeout))


def drop_column(database_url: str, column: str, *, reference: bool) -> None:
    """Drop `column` from the reference's table, or from every table of a target's database
    that has it: the harness knows no other schema, only the column the target file says may
    go missing."""
    engine = open_engine(database_url)
    try:
        if reference:
            reference_drop(engine, column)
            return
        tables = [
            table
            for table in inspect(engine).get_table_names()
            if column in {c["name"] for c in inspect(engine).get_columns(table)}
        ]
        with engine.begin() as conn:
            for table in tables:
                conn.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
    finally:
        engine.dispose()


def _imported(ref: str, folders: list[str]) -> object:
    saved = list(sys.path)
    sys.path[:0] = folders
    try:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)
    finally:
        sys.path[:] = saved


def _seed_reference(where: Where) -> None:
    engine = open_engine(where.database_url)
    try:
        seed_database(engine, strategy_names(where.strategies), where.missing_columns)
    finally:
        engine.dispose()
