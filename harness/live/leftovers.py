"""The second line of defence: each run writes down what it started; what a killed run left, goes.

Every process `harness.live.processes` starts is recorded (pid, create time, command line) in a
record of the harness process that started it, written

- in the record folder: `$SCANCHAOS_RECORDS` if set, else `{tempdir}/scanchaos-{uid}/processes`
  (a temporary folder on purpose: no process outlives a reboot, so neither need its record);
- and, once a command knows its output folder, there as `processes.json` (`write_into`).

It also names the temporary folders the run made (a live cluster's working folder, with Redis's
data and Gunicorn's log): a killed run cannot remove them, its reaper does.

A record names its harness (pid and create time) and a token that every process the harness
started carries in its environment (`SCANCHAOS_RUN_TOKEN`, inherited by their own children, such
as Gunicorn's workers). A harness that exits normally has stopped its processes and removes its
record from the record folder; a SIGKILLed one cannot, so its record stays.

`reap_stale()`, called when a live command starts, and `scanchaos cleanup` read the records of
harness processes that no longer run, and SIGKILL every process that is really theirs: a
recorded pid whose create time still matches, and its command line (or, for a program that
rewrites it, its executable or the token), and any process whose
environment carries the run's token. A pid reused by an unrelated process matches neither and is
left alone; so is every process of a harness that still runs.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

__all__ = [
    "RECORDS_ENV",
    "RECORD_FILE",
    "TOKEN_ENV",
    "ProcessEntry",
    "Reaped",
    "RecordError",
    "RunRecord",
    "begin_live",
    "forget_folder",
    "reap",
    "reap_stale",
    "record",
    "record_folder",
    "records_dir",
    "token",
    "write_into",
]

TOKEN_ENV = "SCANCHAOS_RUN_TOKEN"
RECORDS_ENV = "SCANCHAOS_RECORDS"
#: the record's name in a run's output folder
RECORD_FILE = "processes.json"
#: seconds: create times are read from /proc in clock ticks; a reused pid differs by far more
_SAME_START = 0.05
#: seconds to wait for SIGKILLed processes to go
_KILL_WAIT = 5.0


class RecordError(ValueError):
    """A record file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class ProcessEntry:
    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    what: str
    #: the executable: stays what it was when a process rewrites its command line (redis does)
    exe: str = ""

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid})"


@dataclass
class RunRecord:
    token: str
    harness: ProcessEntry
    processes: list[ProcessEntry] = field(default_factory=list)
    #: temporary folders the run made and removes when it ends
    folders: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                token=str(data["token"]),
                harness=_entry(data["harness"]),
                processes=[_entry(item) for item in data["processes"]],
                folders=[str(folder) for folder in data.get("folders", [])],
            )
        except OSError as error:
            raise RecordError(f"{path}: cannot be read: {error.strerror}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise RecordError(f"{path}: not a process record ({error})") from None


def _entry(data: dict[str, object]) -> ProcessEntry:
    cmdline = data["cmdline"]
    if not isinstance(cmdline, list):
        raise TypeError("cmdline is not a list")
    return ProcessEntry(
        pid=int(str(data["pid"])),
        create_time=float(str(data["create_time"])),
        cmdline=tuple(str(part) for part in cmdline),
        what=str(data["what"]),
        exe=str(data.get("exe", "")),
    )


def records_dir() -> Path:
    configured = os.environ.get(RECORDS_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"scanchaos-{os.getuid()}" / "processes"


def _describe(pid: int, what: str) -> ProcessEntry | None:
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            return ProcessEntry(pid, proc.create_time(), tuple(proc.cmdline()), what, proc.exe())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _live(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _token_of(proc: psutil.Process) -> str | None:
    try:
        value = proc.environ().get(TOKEN_ENV)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None
    return None if value is None else str(value)


def _matching(entry: ProcessEntry, run_token: str | None) -> psutil.Process | None:
    """The live process `entry` recorded, or None if it is gone or its pid now names another."""
    try:
        proc = psutil.Process(entry.pid)
        same_start = abs(proc.create_time() - entry.create_time) < _SAME_START
        same = same_start and (
            tuple(proc.cmdline()) == entry.cmdline
            or (entry.exe != "" and proc.exe() == entry.exe)
            or (run_token is not None and _token_of(proc) == run_token)
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return proc if same and _live(proc) else None


def _carrying(run_token: str) -> Iterator[psutil.Process]:
    own = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid != own and _token_of(proc) == run_token and _live(proc):
            yield proc


class _Recorder:
    """This process's record, rewritten whenever it starts a process."""

    def __init__(self) -> None:
        pid = os.getpid()
        harness = _describe(pid, "harness") or ProcessEntry(pid, 0.0, (), "harness")
        self.record = RunRecord(token=f"{pid}-{uuid.uuid4().hex}", harness=harness)
        self.pid = pid
        # Reentrant: the exit hook may run on the thread a Ctrl-C interrupted inside `add`.
        self.lock = threading.RLock()
        self.index = records_dir() / f"{self.record.token}.json"
        self.paths: list[Path] = []
        atexit.register(self.close)

    def add(self, pid: int, what: str) -> None:
        entry = _describe(pid, what)
        with self.lock:
            # Only what still runs: a long gate starts many clusters one after another.
            self.record.processes = [
                e for e in self.record.processes if _matching(e, self.record.token)
            ]
            if entry is not None:
                self.record.processes.append(entry)
            self._save()

    def folder(self, path: Path, keep: bool) -> None:
        with self.lock:
            folders = [f for f in self.record.folders if f != str(path)]
            self.record.folders = [*folders, str(path)] if keep else folders
            self._save()

    def _save(self) -> None:
        if self.index not in self.paths:
            self.index.parent.mkdir(parents=True, exist_ok=True)
            self.paths.append(self.index)
        self._write()

    def also(self, path: Path) -> None:
        with self.lock:
            if path not in self.paths:
                self.paths.append(path)
            self._write()

    def _write(self) -> None:
        text = self.record.to_json()
        for path in self.paths:
            partial = path.with_name(path.name + ".partial")
            with contextlib.suppress(OSError):  # a vanished output folder: the index remains
                partial.write_text(text, encoding="utf-8")
                partial.replace(path)

    def close(self) -> None:
        if os.getpid() != self.pid:
            return  # a forked child inherited this at exit: the record is not its own
        with self.lock:
            running = any(_matching(e, self.record.token) for e in self.record.processes)
            if not running and not self.record.folders:
                with contextlib.suppress(OSError):
                    self.index.unlink()


_recorder: _Recorder | None = None
_recorder_lock = threading.Lock()


def _current() -> _Recorder:
    global _recorder
    with _recorder_lock:
        if _recorder is None or _recorder.pid != os.getpid():
            _recorder = _Recorder()
        return _recorder


def token() -> str:
    """The token this process's children carry in their environment."""
    return _current().record.token


def record(pid: int, what: str) -> None:
    """Write down that this process started `pid` (`what` says which program, for people)."""
    _current().add(pid, what)


def record_folder(path: Path) -> None:
    """Write down that this process made the temporary folder `path` (and will remove it)."""
    _current().folder(path, keep=True)


def forget_folder(path: Path) -> None:
    """`path` was removed: a reaper has nothing to do there."""
    _current().folder(path, keep=False)


def write_into(folder: Path) -> Path:
    """Keep a copy of this process's record in `folder` (a run's output folder), from now on."""
    path = folder / RECORD_FILE
    _current().also(path)
    return path


@dataclass(frozen=True)
class Reaped:
    """What `reap` did with one record."""

    record: RunRecord
    #: the harness of the record still runs: nothing was touched
    still_running: bool = False
    stopped: tuple[ProcessEntry, ...] = ()
    #: temporary folders of the run that were still there, now removed
    removed: tuple[str, ...] = ()

    def line(self) -> str:
        harness = f"harness pid {self.record.harness.pid}"
        if self.still_running:
            return f"left alone: the run of {harness} is still running"
        if not self.stopped and not self.removed:
            return f"nothing left by the run of {harness}"
        parts = []
        if self.stopped:
            names = ", ".join(entry.describe() for entry in self.stopped)
            parts.append(f"stopped {len(self.stopped)} process(es) ({names})")
        if self.removed:
            parts.append(f"removed {len(self.removed)} folder(s) ({', '.join(self.removed)})")
        return f"the killed run of {harness} left things behind: {'; '.join(parts)}"

    @property
    def left_something(self) -> bool:
        return bool(self.stopped or self.removed)


def reap(run: RunRecord) -> Reaped:
    """Stop what `run` started and left running, unless its harness still runs."""
    if _matching(run.harness, None) is not None:
        return Reaped(run, still_running=True)
    stopped: dict[int, ProcessEntry] = {}
    # A Gunicorn master left running forks new workers as the old ones die: look again
    # after each round until nothing carrying the token is left.
    for _ in range(5):
        victims = {p.pid: p for e in run.processes if (p := _matching(e, run.token))}
        victims.update((p.pid, p) for p in _carrying(run.token))
        if not victims:
            break
        for pid, proc in victims.items():
            recorded = next((e for e in run.processes if e.pid == pid), None)
            stopped[pid] = recorded or _describe(pid, "its child") or ProcessEntry(pid, 0, (), "")
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(list(victims.values()), timeout=_KILL_WAIT)
    removed = []
    for folder in run.folders:
        if Path(folder).is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return Reaped(run, stopped=tuple(stopped.values()), removed=tuple(removed))


def _index_records() -> Iterable[tuple[Path, RunRecord | None]]:
    folder = records_dir()
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            yield path, RunRecord.read(path)
        except RecordError:
            yield path, None


def reap_stale() -> list[Reaped]:
    """Reap every record in the record folder whose harness is gone; drop those records."""
    results = []
    own = _recorder.record.token if _recorder is not None else None
    for path, run in _index_records():
        if run is None:
            continue  # being written right now, or not ours to judge: leave it
        if run.token == own:
            continue
        result = reap(run)
        results.append(result)
        if not result.still_running:
            with contextlib.suppress(OSError):
                path.unlink()
    return results


def reap_folder(folder: Path) -> Reaped:
    """Reap the record a run left in its output folder (`RecordError` if it has none)."""
    path = folder / RECORD_FILE
    if not path.is_file():
        raise RecordError(f"{folder}: no {RECORD_FILE} here (only live runs and loads write one)")
    result = reap(RunRecord.read(path))
    if not result.still_running:
        with contextlib.suppress(OSError):
            (records_dir() / f"{result.record.token}.json").unlink()
    return result


def begin_live(out: Path | None) -> None:
    """Before a live command starts anything: stop what killed runs left, record into `out`."""
    for reaped in reap_stale():
        if reaped.left_something:
            print(f"scanchaos: {reaped.line()}", file=sys.stderr)
    if out is not None:
        write_into(out)
