"""The Locust load test: many users start and poll scans; the harness's checker judges the run.

Plain Locust runs it against any live cluster (e.g. `scanchaos serve`)::

    locust -f scenarios/locustfile.py --host http://127.0.0.1:8000 --headless -u 20 -r 10 -t 60s

Users:
- `ScanUser` (a fixed number, `--scanners`): starts a scan (the start request runs for the scan's
  whole length, so it is sent from a second greenlet), finds the new scan through "latest", polls
  it by id until it is terminal, then keeps polling for `--linger` scenario seconds, the window in
  which the incident's 404 struck.
- `PollUser`: polls the scans being watched, as their owners (and now and then as a stranger,
  which must get 404).
- `LatestUser`: reads "latest" of the users with scans.

With `--target FILE` (a target file, see docs/targets.md) the users speak that target's `[http]`
contract (its paths, its user identity, its reply shape) and read its timing from the WSGI
adapter's health path; without it, the reference's API.

Every request is also recorded (see `harness.load.record`) in `--history-dir`: a single Locust
process writes its own file there; the workers of a distributed run write nothing to disk, they
send their records to the master in batches over Locust's messaging (`harness.load.relay`), and
the master writes one file per worker. At quit the process that owns the verdict (the local
runner, or the master once every worker's last batch has come) merges the folder, runs the
harness's `Checker` on it, writes `history.jsonl` and `verdict.json` beside the raw files, and sets
the exit code: 0 when every invariant held, 1 otherwise (a post-completion 404, a 5xx outside a
fault window...).
"""

from __future__ import annotations

import json
import os
import random
import shlex
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.checker import Checker
from harness.history import History
from harness.live.contract import Contract, Operation, reference_contract
from harness.live.wsgi_adapter import HEALTH_PATH, LABEL_HEADER
from harness.load import locust_relay
from harness.load.record import (
    OpRecorder,
    ServiceInfo,
    clear_folder,
    read_folder,
    standalone_history,
)
from harness.report import format_run, write_run
from reference_impl import Reply

HISTORY_ENV = "SCANCHAOS_HISTORY_DIR"


@dataclass
class _Watched:
    owner: str
    #: wall time until which the scan is polled; None while it is still scanning
    until: float | None = None


@dataclass
class _State:
    """What one Locust process knows about its run, kept on its `Environment`."""

    folder: Path = Path("reports/runs/locust")
    linger: float = 60.0
    poll_interval: float = 0.05
    #: how requests and replies are spoken (the target's `[http]`; the reference's by default)
    contract: Contract = field(default_factory=reference_contract)
    health: str = "/health"
    service: ServiceInfo = field(default_factory=ServiceInfo)
    #: this process's own file, or (on a worker) the batches it sends the master
    recorder: History | None = None
    #: scans this process is watching, shared by its users (scan id -> owner)
    watched: dict[str, _Watched] = field(default_factory=dict)


STATE_ATTRIBUTE = "scanchaos"


def state_of(environment: Environment) -> _State:
    """This run's state, on the environment Locust hands every listener and user."""
    state = getattr(environment, STATE_ATTRIBUTE, None)
    if not isinstance(state, _State):
        state = _State()
        setattr(environment, STATE_ATTRIBUTE, state)
    return state


def _options(parser: LocustArgumentParser) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parser.add_argument(
        "--history-dir",
        default=os.environ.get(HISTORY_ENV, f"reports/runs/{stamp}-locust"),
        help="where the master (or the only Locust process) keeps the requests and the verdict",
    )
    parser.add_argument(
        "--scanners", type=int, default=2, help="users that start scans (each holds one worker)"
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=60.0,
        help="scenario seconds a finished scan is still polled (the incident struck at 12 s)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.05, help="wall seconds between a user's requests"
    )
    parser.add_argument(
        "--target",
        default="",
        help="a target file: speak its [http] contract (default: the reference)",
    )


def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None:
        ScanUser.fixed_count = max(0, int(options.scanners))
    locust_relay.install(environment)


def _service_info(host: str, health: str) -> ServiceInfo:
    """What the service declares about its timing, read from its health path once."""
    deadline = time.time() + 30.0
    while True:
        try:
            with urllib.request.urlopen(f"{host.rstrip('/')}{health}", timeout=5) as response:
                data: dict[str, Any] = json.loads(response.read())
            return ServiceInfo.from_health(data)
        except OSError:
            if time.time() > deadline:
                raise
            gevent.sleep(0.2)


def _test_start(environment: Environment, **_: Any) -> None:
    state = state_of(environment)
    options = environment.parsed_options
    assert options is not None
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        # The one process that owns the verdict starts from a clean folder (a worker's
        # test_start comes later, when the master sends it users).
        clear_folder(Path(options.history_dir))
    if isinstance(runner, MasterRunner):
        locust_relay.open_inbox(environment, Path(options.history_dir))
        return
    if state.recorder is not None:
        return
    assert environment.host is not None
    state.folder = Path(options.history_dir)
    state.linger = float(options.linger)
    state.poll_interval = float(options.poll_interval)
    if options.target:
        from harness.target import load_target

        http = load_target(options.target).spec.http
        if http is not None:  # a [wsgi] target, under the harness's WSGI adapter
            state.contract, state.health = Contract(http), HEALTH_PATH
    state.service = _service_info(environment.host, state.health)
    if isinstance(runner, WorkerRunner):
        # A worker's --history-dir is the master's (Locust passes it on): not a folder here.
        state.recorder = locust_relay.start_worker(environment, state.service)
    else:
        state.recorder = OpRecorder(state.folder, state.service)


def _reply(response: FastResponse, contract: Contract) -> tuple[Reply, str]:
    code = response.status_code
    headers = response.headers
    worker = str(headers.get("X-Worker") or "?") if headers is not None else "?"
    if code == 0:
        return Reply("lost", reason=str(getattr(response, "error", "connection dropped"))), worker
    # Not a reply of the contract (Gunicorn's error page, a proxy's...) reads as error or
    # bad_request with its HTTP code.
    return contract.reply(code, response.content or b""), worker


#: the name Locust's statistics give each operation (one row per endpoint, not per scan id)
_NAMES: dict[Operation, Callable[[Contract], str]] = {
    "start": lambda c: " ".join(c.endpoint("start", "[user]")),
    "status": lambda c: c.spec.status.path.replace("{scan_id}", "[id]"),
    "latest": lambda c: c.spec.latest.path,
}


class _ScanClient(FastHttpUser):
    """A user that speaks the scan service's HTTP API and records every call."""

    abstract = True
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 5.0

    def call(
        self,
        op: Operation,
        user: str,
        scan_id: str | None = None,
        found: dict[str, str] | None = None,
    ) -> Reply:
        """One request, recorded. `found` is where a start learns the id of its scan when its
        own reply has none (its worker was killed): the client found it through "latest"."""
        contract = self.state.contract
        method, path = contract.endpoint(op, user, scan_id)
        headers = contract.identify(user)
        if op == "start":
            # A WSGI target's worker files its running start under this label, so the nemesis
            # can aim `kill-scan` at it (the reference keeps state files of its own).
            headers[LABEL_HEADER] = user
        start = time.time()
        with self.client.request(
            method,
            path,
            name=_NAMES[op](contract),
            headers=headers,
            catch_response=True,
        ) as response:
            end = time.time()
            reply, worker = _reply(response, contract)
            if reply.status in ("error", "lost"):
                response.failure(f"{reply.status}: {reply.reason or response.status_code}")
            else:
                response.success()
        scan_id = scan_id or reply.scan_id or (found or {}).get("scan_id")
        recorder = self.state.recorder
        if recorder is not None:
            recorder.record(
                op, user=user, worker=worker, start=start, end=end, reply=reply, scan_id=scan_id
            )
        return reply

    @property
    def state(self) -> _State:
        return state_of(self.environment)

    def status(self, user: str, scan_id: str) -> Reply:
        return self.call("status", user, scan_id)

    def latest(self, user: str) -> Reply:
        return self.call("latest", user)

    def pause(self) -> None:
        gevent.sleep(self.state.poll_interval)


class ScanUser(_ScanClient):
    """Starts a scan, finds it through "latest", polls it to the end and past it."""

    fixed_count = 2

    def on_start(self) -> None:
        self.user_id = f"owner-{os.getpid()}-{id(self) % 100000}"

    @task
    def scan_cycle(self) -> None:
        service = self.state.service
        watching = self.state.watched
        scale, timing = service.scale, service.timing
        began = time.time()
        found: dict[str, str] = {}
        starter = gevent.spawn(self.call, "start", self.user_id, found=found)
        # Budget + stall timeout: by then a scan is terminal even when its worker died.
        settle = (timing.scan_budget + timing.stall_timeout + timing.heartbeat_interval) * scale
        give_up = began + settle + 10 * timing.cleanup_interval * scale + 5.0
        scan_id = self._find(starter, began, give_up)
        if scan_id is None:
            starter.join(timeout=max(0.0, give_up - time.time()))
            self.pause()
            return
        found["scan_id"] = scan_id
        watched = watching.setdefault(scan_id, _Watched(self.user_id))
        try:
            while time.time() < give_up:
                if self.status(self.user_id, scan_id).terminal:
                    break
                self.pause()
            watched.until = time.time() + self.state.linger * scale
            while time.time() < watched.until:
                self.pause()
                self.status(self.user_id, scan_id)
        finally:
            watching.pop(scan_id, None)
        starter.join(timeout=max(0.0, give_up - time.time()))

    def _find(
        self, starter: gevent.Greenlet[Any, Reply], began: float, give_up: float
    ) -> str | None:
        """The new scan's id, as a client finds it while the start request still runs."""
        while time.time() < give_up:
            if starter.ready():
                done = starter.value
                return done.scan_id if done is not None and done.scan_id else None
            reply = self.latest(self.user_id)
            if reply.scan_id and reply.started_at is not None and reply.started_at >= began:
                return reply.scan_id
            self.pause()
        return None


class PollUser(_ScanClient):
    """Polls the watched scans by id as their owners; now and then as a stranger."""

    weight = 3

    def on_start(self) -> None:
        self.stranger = f"stranger-{os.getpid()}-{id(self) % 100000}"

    def _pick(self) -> tuple[str, _Watched] | None:
        watching = self.state.watched
        if not watching:
            return None
        scan_id = random.choice(list(watching))
        watched = watching.get(scan_id)
        return (scan_id, watched) if watched is not None else None

    @task(20)
    def poll_owned(self) -> None:
        picked = self._pick()
        if picked is not None:
            self.status(picked[1].owner, picked[0])
        self.pause()

    @task(1)
    def poll_as_stranger(self) -> None:
        picked = self._pick()
        if picked is not None:
            self.status(self.stranger, picked[0])
        self.pause()


class LatestUser(_ScanClient):
    """Reads the latest scan of users who have one."""

    weight = 1

    @task
    def read_latest(self) -> None:
        owners = sorted({w.owner for w in self.state.watched.values()})
        if owners:
            self.latest(random.choice(owners))
        self.pause()


def _verdict(environment: Environment, **_: Any) -> None:
    """The run's verdict by the one checker, on everything this run recorded."""
    state = state_of(environment)
    if isinstance(state.recorder, OpRecorder):
        state.recorder.close()
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    if options is not None:
        state.folder = Path(options.history_dir)
    inbox = locust_relay.collect(environment)
    if inbox is not None and not inbox.complete:
        print("scanchaos: judged without some workers' last records (see above)", file=sys.stderr)
    if not state.folder.exists():
        return
    run = read_folder(state.folder)
    if not run.ops:
        print("scanchaos: no scan-service requests were recorded", file=sys.stderr)
        environment.process_exit_code = 1
        return
    history = standalone_history(run, shlex.join(["locust", *sys.argv[1:]]))
    verdict = Checker().check(history)
    write_run(state.folder, history, verdict, report=False)
    print(format_run(history, verdict), file=sys.stderr)
    print(f"scanchaos: wrote {state.folder}/history.jsonl and verdict.json", file=sys.stderr)
    environment.process_exit_code = 0 if verdict.passed else 1


events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_test_start)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_verdict)  # type: ignore[no-untyped-call]
