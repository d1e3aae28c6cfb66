"""Named points where a process can be made to stop, so tests can kill it at an exact moment.

`FTRUN_FAILPOINTS=job-created` makes the process announce `failpoint job-created reached` on stderr and then block
until it is killed. Unset (always, for users), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time


def failpoint(name: str) -> None:
    names = os.environ.get("FTRUN_FAILPOINTS")
    if not names or name not in names.split(","):
        return
    print(f"failpoint {name} reached", file=sys.stderr, flush=True)
    while True:  # wait here to be killed
        time.sleep(3600)
