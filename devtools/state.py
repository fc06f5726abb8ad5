"""The state folder and the processes in it: pid files, liveness, start, stop, a lock.

Everything a dev server leaves behind (pid file, log, data) is under one folder, so `down` and a
plain `rm -rf` clean up completely. A pid alone is not trusted: the process's command line must
still carry the server's marker (its state path), or the pid was reused by something else.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from devtools.models import PidRecord

MAX_LOG_BYTES = 20 * 1024 * 1024

# Popen objects of servers started by this process: kept so they are reaped, not left as zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


def ensure_state_dir(path: Path) -> Path:
    """Create the state folder; it ignores itself in git so no checkout ever commits server data."""
    path.mkdir(parents=True, exist_ok=True)
    root = path.parent if path.parent.name == ".socpipe" else path
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# socpipe dev: local server state, never committed\n*\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """Serialise up/down on one state folder (two test sessions starting at once, say)."""
    ensure_state_dir(path)
    with (path / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_record(pid_file: Path) -> PidRecord | None:
    try:
        return PidRecord.model_validate_json(pid_file.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return None


def write_record(pid_file: Path, record: PidRecord) -> None:
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(pid_file)


def _reaped(pid: int) -> bool:
    """True when `pid` was our child and has exited (reaping it, so it stops being a zombie)."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _children[pid]
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def is_alive(pid: int, marker: str) -> bool:
    """Whether `pid` is still the server we started: alive, not a zombie, marker in its command line."""
    if pid <= 0 or _reaped(pid):
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the pid now belongs to another user
        return False
    return _proc_matches(Path(f"/proc/{pid}"), marker)


def _proc_matches(proc: Path, marker: str) -> bool:
    """Not a zombie, and `marker` in its command line (where /proc exists; elsewhere trust the pid)."""
    if not proc.is_dir():
        return True
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z" and marker in cmdline


def spawn(command: list[str], log_file: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start `command` detached: its own session, so it outlives `socpipe dev up` and its terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.is_file() and log_file.stat().st_size > MAX_LOG_BYTES:
        log_file.replace(log_file.with_name(log_file.name + ".1"))  # keep one older log, not all of them
    with log_file.open("ab") as out:
        out.write(f"\n===== socpipe dev: starting at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        out.flush()
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _children[child.pid] = child
    _await_command_line(child, command)
    return child.pid


def _await_command_line(child: subprocess.Popen[bytes], command: list[str], timeout: float = 2.0) -> None:
    """Wait until /proc shows the new command line: Popen returns once exec has begun, and for a moment
    after that /proc can still show no or the old command line, so `is_alive` (which looks for the
    marker there) took a server that had just been started for one that had exited (seen under load)."""
    cmdline = Path(f"/proc/{child.pid}/cmdline")
    expected = ("\0".join(command) + "\0").encode(errors="surrogateescape")
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        try:
            if cmdline.read_bytes() == expected:
                return
        except OSError:  # no /proc here, or the process is gone: nothing to wait for
            return
        time.sleep(0.001)


def stop(pid: int, marker: str, timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to `timeout` seconds for a clean shutdown, then SIGKILL. True if it was killed."""
    if not is_alive(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid, marker):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log, for error messages that say why a server did not come up."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
