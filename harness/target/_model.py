"""The target file's shape: every table and field, validated by msgspec as it is decoded.

Named structs (never free-form tables, except where the keys are the user's own: environment
variables, status words, HTTP codes) so that a mistake is reported at its path, `http.body.status`.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

__all__ = [
    "HARNESS_STATUSES",
    "Durations",
    "Endpoint",
    "Faults",
    "HarnessStatus",
    "HttpBody",
    "HttpContract",
    "JobsSection",
    "Regression",
    "ServiceSection",
    "TargetFile",
    "UserIdentity",
    "WsgiSection",
]

#: what any target's replies are mapped to: the statuses the checker judges
HarnessStatus = Literal["scanning", "complete", "partial", "failed", "not_found", "unavailable"]
HARNESS_STATUSES: tuple[str, ...] = get_args(HarnessStatus)


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Durations(_Table, kw_only=True, frozen=True):
    """The service's real durations, in seconds: the checker judges every run by them."""

    result_ttl: float
    memory_ttl: float
    cleanup_interval: float
    scan_budget: float
    worker_timeout: float
    heartbeat_interval: float
    stall_timeout: float
    #: duration name -> the environment variable the service reads it from; live mode passes
    #: each duration times `--scale` through it (a duration without one cannot be scaled)
    env: dict[str, str] = {}
    #: true: these are wall seconds that no scale reaches (a job queue's own timers): live
    #: mode passes them unscaled and runs the scenario at scale 1 unless told `--scale`, when
    #: only the scenario's timeline is compressed and the durations are judged as they are
    real: bool = False


class ServiceSection(_Table, kw_only=True, frozen=True):
    """An in-process Python service: `module:factory` builds one worker's `ScanService`."""

    factory: str


class WsgiSection(_Table, kw_only=True, frozen=True):
    """A WSGI app served by the harness's Gunicorn, with N sync workers."""

    app: str
    #: folders put on the app's import path, relative to the target file's folder
    pythonpath: list[str] = msgspec.field(default_factory=lambda: ["."])
    #: the environment variable the app reads its Redis URL from
    redis_url_env: str
    #: the environment variable the app reads its database URL from (column faults need one)
    database_url_env: str | None = None
    #: fixed environment for every worker
    env: dict[str, str] = {}
    #: `module:function` that creates and seeds the strategy table, called by the harness
    #: before the workers start as `function(database_url, strategies, missing_columns)`;
    #: without it the harness seeds the reference's table
    database_init: str | None = None


class Endpoint(_Table, kw_only=True, frozen=True):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    #: a path template: `{scan_id}` and `{user}` are filled in
    path: str


class UserIdentity(_Table, kw_only=True, frozen=True):
    """How a request says who sends it: exactly one of `header`, `cookie`, `bearer`."""

    header: str | None = None
    cookie: str | None = None
    bearer: bool = False
    #: what the header, cookie or token holds; `{user}` is filled in
    value: str = "{user}"


class HttpBody(_Table, kw_only=True, frozen=True):
    """Where each part of a reply sits in the JSON body: dotted paths (`progress.done`)."""

    status: str
    scan_id: str
    owner: str | None = None
    done: str | None = None
    total: str | None = None
    reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    #: how many results the scan found (a number, or a list whose length counts)
    opportunities: str | None = None
    #: the result fields that came back null (a list of names), e.g. for a missing column
    null_fields: str | None = None
    #: where the worker found the scan ("memory" or "redis"), shown in summaries
    source: str | None = None


class HttpContract(_Table, kw_only=True, frozen=True):
    start: Endpoint
    status: Endpoint
    latest: Endpoint
    user: UserIdentity
    body: HttpBody
    #: the service's status words -> the harness's statuses
    statuses: dict[str, str]
    #: HTTP codes whose body carries no status word -> the harness's status (`"404"`)
    codes: dict[str, str] = {}
    #: does the start request run the scan to its end (sync workers) or answer at once?
    runs_to_end: bool


class JobsSection(_Table, kw_only=True, frozen=True):
    """Job workers apart from the web workers: the start request enqueues, they run the scan.

    `kind = "rq"`: RQ's `WorkerPool` with `workers` RQ workers on `queue`, each forking a
    work-horse per job; the other fields are RQ's worker settings, in whole seconds."""

    kind: Literal["rq"]
    queue: str = "default"
    workers: int = 2
    job_monitoring_interval: int = 30
    maintenance_interval: int = 600
    worker_ttl: int = 420


class Faults(_Table, kw_only=True, frozen=True):
    """Which faults the target can take; a scenario needing another is reported not applicable."""

    worker_kill: bool = True
    redis_outage: bool = True
    #: the service can run against a primary, a replica and Sentinels
    replication: bool = False
    #: optional columns that may be dropped from the strategy table (needs a database URL)
    drop_column: list[str] = []


class Regression(_Table, kw_only=True, frozen=True):
    """A defect the target can switch on: a kill-matrix row of its own."""

    name: str
    description: str = ""
    #: environment that switches it on (WSGI targets); an in-process factory is told the name
    env: dict[str, str] = {}
    #: scenarios that must catch it, beside those whose `catches` names it
    caught_by: list[str] = []


class TargetFile(_Table, kw_only=True, frozen=True):
    """A whole target file, as written."""

    name: str
    description: str = ""
    workers: int = 3
    #: strategy calls in one scan (a complete scan reports this many done)
    strategies: int = 14
    service: ServiceSection | None = None
    wsgi: WsgiSection | None = None
    http: HttpContract | None = None
    jobs: JobsSection | None = None
    durations: Durations
    faults: Faults = msgspec.field(default_factory=Faults)
    regression: list[Regression] = []
