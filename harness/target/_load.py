"""Reading a target file: decode, validate every field, refuse a mistake with one line."""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
from pathlib import Path

import msgspec

from harness.exits import BadInput
from harness.history_format import field_problem
from harness.target._model import HARNESS_STATUSES, HttpBody, HttpContract, TargetFile
from harness.target._target import Target
from reference_impl.config import TIMING_FIELDS
from reference_impl.performance import OPTIONAL_COLUMNS

__all__ = ["TargetError", "load_target"]

_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TargetError(BadInput):
    """A target file that cannot be used: `FILE: field: what is wrong`."""


def load_target(path: Path | str) -> Target:
    """Read, validate and return the target file at `path`.

    >>> load_target("targets/reference.toml").name
    'reference'
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise TargetError(
            f"{path}: cannot read the target file: {error.strerror or error}"
        ) from None
    try:
        spec = msgspec.toml.decode(raw, type=TargetFile)
    except msgspec.ValidationError as error:
        raise TargetError(f"{path}: {field_problem(str(error))}") from None
    except msgspec.DecodeError as error:
        raise TargetError(f"{path}: not valid TOML: {_plain(error)}") from None
    target = Target(spec=spec, path=path.resolve())
    problem = _problem(target)
    if problem is not None:
        raise TargetError(f"{path}: {problem}")
    return target


def _plain(error: Exception) -> str:
    text = str(error)
    return text[0].lower() + text[1:] if text else type(error).__name__


def _problem(target: Target) -> str | None:
    """The first thing wrong with an otherwise well-typed target file, as `field: why`."""
    spec = target.spec
    checks = (
        _identity(spec),
        _kind(target),
        _durations(spec),
        _http(spec.http) if spec.http is not None else None,
        _jobs(spec),
        _faults(spec),
        _regressions(spec),
    )
    return next((c for c in checks if c is not None), None)


def _identity(spec: TargetFile) -> str | None:
    if not _NAME.match(spec.name):
        return f"field name: {spec.name!r} must be lower-case letters, digits, '-' or '_'"
    if not 1 <= spec.workers <= 32:
        return f"field workers: must be between 1 and 32, got {spec.workers}"
    if not 1 <= spec.strategies <= 1000:
        return f"field strategies: must be between 1 and 1000, got {spec.strategies}"
    return None


def _kind(target: Target) -> str | None:
    spec = target.spec
    if (spec.service is None) == (spec.wsgi is None):
        both = "both" if spec.service is not None else "neither"
        return f"field service: give exactly one of [service] and [wsgi], not {both}"
    if spec.service is not None:
        if spec.http is not None:
            return "field http: an in-process [service] is called directly; drop [http]"
        return _factory(spec.service.factory)
    assert spec.wsgi is not None
    if spec.http is None:
        return "field http: a [wsgi] target needs [http]: its endpoints and reply shape"
    wsgi = spec.wsgi
    for i, folder in enumerate(wsgi.pythonpath):
        if not (target.folder / folder).is_dir():
            return f"field wsgi.pythonpath[{i}]: no folder {folder!r} beside the target file"
    folders = [target.folder / f for f in wsgi.pythonpath]
    for field, ref in (("app", wsgi.app), ("database_init", wsgi.database_init)):
        if ref is None:
            continue
        if not _REF.match(ref):
            return f"field wsgi.{field}: {ref!r} is not `module:attribute`"
        module = ref.partition(":")[0]
        if _find_module(module, folders) is None:
            return f"field wsgi.{field}: no module {module!r} on the target's pythonpath"
    for field, name in (
        ("redis_url_env", wsgi.redis_url_env),
        ("database_url_env", wsgi.database_url_env),
    ):
        if name is not None and not _ENV_NAME.match(name):
            return f"field wsgi.{field}: {name!r} is not an environment variable name"
    return _env_names("wsgi.env", wsgi.env)


def _factory(ref: str) -> str | None:
    if not _REF.match(ref):
        return f"field service.factory: {ref!r} is not `module:function`"
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return f"field service.factory: cannot import {module_name!r}: {error}"
    if not callable(getattr(module, attr, None)):
        return f"field service.factory: {module_name} has no function {attr!r}"
    return None


def _find_module(name: str, folders: list[Path]) -> object | None:
    saved = list(sys.path)
    sys.path[:0] = [str(f) for f in folders]
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    finally:
        sys.path[:] = saved


def _durations(spec: TargetFile) -> str | None:
    durations = spec.durations
    for name in TIMING_FIELDS:
        value = getattr(durations, name)
        if not (math.isfinite(value) and value > 0):
            return f"field durations.{name}: must be a positive number of seconds, got {value}"
    for name, variable in durations.env.items():
        if name not in TIMING_FIELDS:
            return f"field durations.env.{name}: not a duration; known: {', '.join(TIMING_FIELDS)}"
        if not _ENV_NAME.match(variable):
            return f"field durations.env.{name}: {variable!r} is not an environment variable name"
    if spec.service is not None and durations.env:
        return "field durations.env: an in-process [service] gets its durations directly"
    if spec.service is not None and durations.real:
        return "field durations.real: an in-process [service] runs in the harness's time"
    return None


def _http(http: HttpContract) -> str | None:
    for name, wanted in (("start", set()), ("status", {"scan_id"}), ("latest", set())):
        endpoint = getattr(http, name)
        where = f"field http.{name}.path"
        if not endpoint.path.startswith("/"):
            return f"{where}: {endpoint.path!r} must start with '/'"
        found = set(_PLACEHOLDER.findall(endpoint.path))
        if unknown := found - {"scan_id", "user"}:
            known = "{scan_id}, {user}"
            return f"{where}: unknown placeholder {{{sorted(unknown)[0]}}}; known: {known}"
        if name != "status" and "scan_id" in found:
            return f"{where}: {{scan_id}} belongs in http.status only"
        if missing := wanted - found:
            return f"{where}: must hold {{{sorted(missing)[0]}}}"
    user = http.user
    given = [n for n in ("header", "cookie") if getattr(user, n) is not None] + (
        ["bearer"] if user.bearer else []
    )
    if len(given) != 1:
        return "field http.user: give exactly one of header, cookie and bearer = true"
    if "{user}" not in user.value:
        return f"field http.user.value: {user.value!r} must hold {{user}}"
    for field in HttpBody.__struct_fields__:
        path = getattr(http.body, field)
        if path is not None and not all(path.split(".")):
            return f"field http.body.{field}: {path!r} is not a dotted path (`progress.done`)"
    known = ", ".join(HARNESS_STATUSES)
    for table in ("statuses", "codes"):
        for key, value in getattr(http, table).items():
            if value not in HARNESS_STATUSES:
                return f"field http.{table}.{key}: {value!r} is not one of {known}"
    mapped = set(http.statuses.values())
    for needed in ("scanning", "complete"):
        if needed not in mapped:
            return f"field http.statuses: no status word maps to {needed!r}"
    for code in http.codes:
        if not (code.isdigit() and 100 <= int(code) <= 599):
            return f"field http.codes.{code}: not an HTTP status code"
    return None


def _jobs(spec: TargetFile) -> str | None:
    jobs = spec.jobs
    if jobs is None:
        return None
    if spec.wsgi is None or spec.http is None:
        return "field jobs: job workers serve a [wsgi] app's queue; give [wsgi] and [http]"
    if spec.http.runs_to_end:
        return "field http.runs_to_end: with [jobs] the start request only enqueues; set it false"
    if not spec.durations.real:
        return "field durations.real: a job queue's timers are wall seconds; set it true"
    if not _NAME.match(jobs.queue):
        return f"field jobs.queue: {jobs.queue!r} must be lower-case letters, digits, '-' or '_'"
    if not 1 <= jobs.workers <= 32:
        return f"field jobs.workers: must be between 1 and 32, got {jobs.workers}"
    for name in ("job_monitoring_interval", "maintenance_interval", "worker_ttl"):
        if getattr(jobs, name) < 1:
            return f"field jobs.{name}: must be a whole number of seconds, at least 1"
    return None


def _faults(spec: TargetFile) -> str | None:
    if spec.wsgi is not None and spec.faults.replication:
        return (
            "field faults.replication: a [wsgi] app is handed one Redis URL "
            f"({spec.wsgi.redis_url_env}), so it cannot follow a failover; set it false"
        )
    columns = spec.faults.drop_column
    if not columns:
        return None
    if spec.wsgi is not None and spec.wsgi.database_url_env is None:
        return "field faults.drop_column: dropping a column needs wsgi.database_url_env"
    for i, column in enumerate(columns):
        if spec.service is not None and column not in OPTIONAL_COLUMNS:
            known = ", ".join(OPTIONAL_COLUMNS)
            where = f"field faults.drop_column[{i}]"
            return f"{where}: {column!r} is not an optional column; known: {known}"
    return None


def _regressions(spec: TargetFile) -> str | None:
    from harness.scenario import available

    seen: set[str] = set()
    scenarios = available()
    for i, regression in enumerate(spec.regression):
        where = f"field regression[{i}]"
        if not _NAME.match(regression.name):
            return (
                f"{where}.name: {regression.name!r} must be lower-case letters, digits, '-' or '_'"
            )
        if regression.name in seen:
            return f"{where}.name: {regression.name!r} is listed twice"
        seen.add(regression.name)
        if regression.env and spec.service is not None:
            return f"{where}.env: an in-process factory is told the regression by name; drop env"
        if not regression.env and spec.wsgi is not None:
            return f"{where}.env: a [wsgi] target's regression is switched on by its environment"
        if problem := _env_names(f"{where}.env", regression.env):
            return problem
        for j, scenario in enumerate(regression.caught_by):
            if scenario not in scenarios:
                return f"{where}.caught_by[{j}]: no scenario {scenario!r} (see `scanchaos list`)"
    return None


def _env_names(where: str, env: dict[str, str]) -> str | None:
    for name in env:
        if not _ENV_NAME.match(name):
            return f"field {where}: {name!r} is not an environment variable name"
    return None
