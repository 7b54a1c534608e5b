# SPDX-License-Identifier: GPL-2.0-only
"""killat.py PID [SECONDS]: SIGKILL process PID once it waits at its
CNF_APPLY_TEST_PAUSE point (blocked opening the pause FIFO, which nothing
ever opens for writing), and print "killed"; print "finished" if it ends
first, "timeout" after SECONDS (default 20). It dies inside the open: the
run goes no further than the point."""

import os
import signal
import sys
import time


def state(pid):
    """'Z' for an ended process, else what it waits in ('' when running)."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return "Z"
        with open("/proc/%d/wchan" % pid) as fh:
            return fh.read().strip()
    except OSError:
        return "Z"


def main(pid, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s = state(pid)
        if s == "wait_for_partner":     # fifo_open(), waiting for a writer
            os.kill(pid, signal.SIGKILL)
            return "killed"
        if s == "Z":
            return "finished"
        time.sleep(0.001)
    return "timeout"


if __name__ == "__main__":
    print(main(int(sys.argv[1]), *[float(a) for a in sys.argv[2:]]))
