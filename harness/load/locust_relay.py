"""Locust's side of `harness.load.relay`: workers send their records, the master writes them.

Imported only by the locustfile, inside Locust processes (it imports gevent and locust, which
monkeypatch the process): never by the harness.

The order of a distributed run's end, as Locust 2.x runs it, and why each step is here:

1. The master quits (run time over, or a signal): it fires its `test_stop`, sends every worker
   `quit`, and half a second later kills its own greenlets, the one receiving messages included.
2. A worker stops its users on `quit` (up to the stop timeout) and fires `test_stop`: it sends its
   last batch and its `done` there. Stopped by a signal instead, it says goodbye to the master in
   its `quitting` listener; ours, added after Locust's own (at `init`), runs before it (`quitting`
   fires its listeners in reverse) and stops the users first, so `done` still precedes the goodbye.
3. The master, in its `quitting` listener (`collect`), receives again until every worker still
   connected has sent `done` (a dead one is dropped once Locust marks it missing), or a deadline
   passes. Locust's messages from one worker arrive in the order they were sent (one ZeroMQ
   connection), so a `done` means every batch before it has arrived.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner

from harness.load.record import ServiceInfo
from harness.load.relay import BATCH_MESSAGE, DONE_MESSAGE, Inbox, Outbox

#: wall seconds between a worker's batches: the master's folder (and the harness's progress line)
#: lags the requests by at most this, and a worker holds at most this much in memory
BATCH_SECONDS = 0.5
#: wall seconds the master waits for its workers' last batches, beyond its stop timeout
DONE_DEADLINE = 30.0

ATTRIBUTE = "scanchaos_relay"


@dataclass
class _Relay:
    """One Locust process's side of the relay, kept on its `Environment`."""

    outbox: Outbox | None = None
    inbox: Inbox | None = None
    sender: gevent.Greenlet[Any, Any] | None = None
    done_sent: bool = False


def _relay(environment: Environment) -> _Relay:
    relay = getattr(environment, ATTRIBUTE, None)
    if not isinstance(relay, _Relay):
        relay = _Relay()
        setattr(environment, ATTRIBUTE, relay)
    return relay


def install(environment: Environment) -> None:
    """At Locust's `init` (its runner exists): the messages and listeners of this process's role."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(BATCH_MESSAGE, _on_batch)
        runner.register_message(DONE_MESSAGE, _on_done)
    elif isinstance(runner, WorkerRunner):
        environment.events.test_stop.add_listener(_send_rest)  # type: ignore[no-untyped-call]
        environment.events.quitting.add_listener(_stop_before_goodbye)  # type: ignore[no-untyped-call]


def open_inbox(environment: Environment, folder: Path) -> None:
    """On the master at `test_start`: received records go to `folder` (cleared by the caller)."""
    relay = _relay(environment)
    if relay.inbox is not None:
        relay.inbox.close()
    relay.inbox = Inbox(folder)


def _inbox(environment: Environment) -> Inbox:
    relay = _relay(environment)
    if relay.inbox is None:
        options = environment.parsed_options
        relay.inbox = Inbox(Path(options.history_dir if options is not None else "."))
    return relay.inbox


def _on_batch(environment: Environment, msg: Message, **_: Any) -> None:
    _inbox(environment).receive(msg.node_id, msg.data, time.time())


def _on_done(environment: Environment, msg: Message, **_: Any) -> None:
    _inbox(environment).finish(msg.node_id, msg.data)


def start_worker(environment: Environment, service: ServiceInfo) -> Outbox:
    """On a worker at `test_start`: the recorder its users write to, and the greenlet that sends
    its batches."""
    relay = _relay(environment)
    relay.outbox = Outbox(service)
    relay.done_sent = False
    relay.sender = gevent.spawn(_send_every, environment, relay.outbox)
    return relay.outbox


def _send_every(environment: Environment, outbox: Outbox) -> None:
    while True:
        gevent.sleep(BATCH_SECONDS)
        _send(environment, outbox)


def _send(environment: Environment, outbox: Outbox) -> None:
    batch = outbox.take(time.time())
    if batch is None or environment.runner is None:
        return
    try:
        environment.runner.send_message(BATCH_MESSAGE, batch)
    except Exception as error:  # Locust's RPC errors: the connection is being reset
        outbox.put_back(batch)
        print(f"scanchaos: a batch of records waits to be sent again: {error}", file=sys.stderr)


def _send_rest(environment: Environment, **_: Any) -> None:
    """On a worker whose users have stopped: the last batch, then `done` with the counts."""
    relay = _relay(environment)
    outbox = relay.outbox
    if relay.done_sent or environment.runner is None:
        return
    if relay.sender is not None:
        relay.sender.kill(block=True)
        relay.sender = None
    # A worker that never had users says so too: the master need not wait for it.
    done = {"ops": 0, "batches": 0}
    if outbox is not None:
        _send(environment, outbox)
        done = outbox.close()
    environment.runner.send_message(DONE_MESSAGE, done)
    relay.done_sent = True
    late = (
        f" ({outbox.late} after its users stopped, not recorded)" if outbox and outbox.late else ""
    )
    print(
        f"scanchaos: worker {getattr(environment.runner, 'client_id', '?')} sent {done['ops']} "
        f"records in {done['batches']} batches to the master{late}",
        file=sys.stderr,
    )


def _stop_before_goodbye(environment: Environment, **_: Any) -> None:
    """A worker quitting on a signal: stop the users (firing `test_stop`, which sends the rest)
    before Locust's own listener says goodbye to the master."""
    runner = environment.runner
    if runner is not None and runner.state != STATE_STOPPED:
        runner.stop()
    _send_rest(environment)


def _connected(runner: MasterRunner) -> set[str]:
    return {client.id for client in runner.clients.all if client.state != STATE_MISSING}


def collect(environment: Environment) -> Inbox | None:
    """On the master at `quitting`: receive until every connected worker's `done` came (or the
    deadline passed); None on any other process."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return None
    inbox = _inbox(environment)
    # Locust killed its receiving greenlet when it quit (step 1 above); the workers' last
    # messages wait in the socket until this one takes them (and Locust handles its own, the
    # workers' final statistics and goodbyes, as it would have). Its heartbeat check runs
    # again too: a worker that died near the end is marked missing in seconds, not waited for
    # until the deadline (a worker stopping its users still sends heartbeats).
    greenlets = [gevent.spawn(runner.client_listener), gevent.spawn(runner.heartbeat_worker)]
    began = time.monotonic()
    try:
        deadline = began + environment.stop_timeout + DONE_DEADLINE
        while inbox.waiting(_connected(runner)) and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        gevent.killall(greenlets, block=True)
        inbox.close()
    if late := inbox.waiting(_connected(runner)):
        waited = time.monotonic() - began
        print(
            f"scanchaos: gave up after {waited:.0f} s waiting for {', '.join(late)}",
            file=sys.stderr,
        )
    for line in inbox.report():
        print(f"scanchaos: {line}", file=sys.stderr)
    return inbox
