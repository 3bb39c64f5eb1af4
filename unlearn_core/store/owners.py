"""Who holds a claim or a job (``host:pid``) and whether that process is still alive."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

OWNER = f"{socket.gethostname()}:{os.getpid()}"
# A claim held by a process on another host counts as dead when its row has not been touched for this long.
REMOTE_CLAIM_TIMEOUT_S = 3600.0


def owner_alive(owner: str | None, updated: float | None) -> bool:
    """Whether the process that holds a claim or a job is still alive (same host: its pid; else its heartbeat)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_s = rest.split(":")[0]
    if host != socket.gethostname():
        return updated is not None and time.time() - float(updated) < REMOTE_CLAIM_TIMEOUT_S
    if not pid_s.isdigit():
        return False
    pid = int(pid_s)
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process of this host is alive; a zombie (killed, not yet reaped by its parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (not Linux), or it exited just now
        return not Path("/proc").exists()
