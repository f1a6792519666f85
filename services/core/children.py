"""Helper processes that live and die with the process that started them."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tie_to_parent(parent: int) -> None:
    """Called first thing in a helper process (a process pool's worker) that holds nothing
    to clean up; ``parent`` is the pid of the process that started it, as that process saw
    itself (``os.getpid()``).

    * A Ctrl-C in a terminal reaches the whole process group: the helper leaves it to its
      parent, which stops it in order (and prints no traceback of the helper's).
    * It dies when its parent dies, however the parent dies (SIGKILL included), instead of
      staying blocked on a pipe nobody writes to: on Linux the kernel sends it SIGKILL
      (``prctl(PR_SET_PDEATHSIG)``; note that this follows the *thread* that started the
      helper — start a pool from a thread that lives as long as the pool, such as an event
      loop's); elsewhere a daemon thread sees within a second that its parent changed. If
      the parent is already gone, it exits at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    elif os.name == "posix":

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="tie-to-parent", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the tie was made
        os._exit(1)
