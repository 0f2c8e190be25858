"""A process pool that Ctrl-C or SIGTERM ends without leaving a worker behind.

Used by the gate and the explorer. Pools come from `multiprocess` (dill: closures cross the
process boundary) and must be started outside a freezegun-frozen block, where they hang.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and ends the pool, so the
    # workers ignore it rather than each print a traceback; SIGTERM (pool.terminate) ends them.
    # A worker is forked with both signals held; one that arrived before this point is now
    # dropped (SIGINT) or ends the worker (SIGTERM) instead of running the parent's handler.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def interruptible_pool(processes: int) -> Iterator[Any]:
    """A `multiprocess.Pool` that is terminated on Ctrl-C and SIGTERM (raised as
    KeyboardInterrupt in the caller), however early the signal comes."""
    import multiprocess
    from freezegun.api import freeze_factories

    if freeze_factories:
        raise RuntimeError("a process pool must not be started while time is frozen (it hangs)")
    main = threading.current_thread() is threading.main_thread()
    # A CI job cancelled with SIGTERM must not leave workers behind: leaving the `with` block
    # through the exception terminates the pool.
    # A handler the caller set (the CLI's, which names the signal in the exit code) is kept.
    previous = signal.getsignal(signal.SIGTERM) if main else None
    if main and not callable(previous):
        signal.signal(signal.SIGTERM, _interrupted)
    # An interrupt raised inside `Pool()` (after its worker-handler thread started, before the
    # pool registers its own cleanup) leaves a pool nobody terminates: at exit its workers are
    # killed, the still-running handler forks replacements, and those outlive the parent. So
    # Ctrl-C and SIGTERM are held until the pool exists and are taken inside the `with` block.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        pool = multiprocess.Pool(processes=processes, initializer=_worker_init)
        with pool:
            # A signal that came while held is handled here, inside the block that ends the pool.
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            yield pool
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # when Pool() itself failed
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
