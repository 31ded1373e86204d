"""Temporary files and folders a build names with its process id: leftovers once that process is gone."""
from __future__ import annotations

import os
from pathlib import Path


def owner_running(tmp: Path) -> bool:
    """Whether the build whose pid ends this temporary name still runs (its files are not leftovers)."""
    pid = tmp.name.rsplit("-", 1)[-1]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
