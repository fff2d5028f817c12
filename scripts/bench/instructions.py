#!/usr/bin/env python
"""Instructions our process executes per incoming call, ours against the bare baseline: the figure of
scripts/bench/cpu.py counted by valgrind (callgrind) instead of timed, so it is the same on a busy machine
as on a quiet one (run twice, it agrees to a few parts in ten thousand) and a change's effect shows even
when it is smaller than the machine's noise. The database server's work is not in it.

    DATABASE_URL=postgres://…/roulette_bench?options=-c%20search_path%3Dlarge \\
        PYTHONPATH=.:scripts/bench python scripts/bench/instructions.py [requests]

Each server runs scripts/bench/cpu.py --only under valgrind twice after the same warm-up: building
`requests` (300) signed requests and sending them, then building the same number and sending none; the
difference divided by `requests` is printed (building the requests, Twilio's side, is not in it). Needs valgrind (the
Debian package); several minutes, as valgrind runs Python about fifty times slower.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def instructions(server: str, requests: int, *, sent: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="roulette-callgrind-") as tmp:
        result = subprocess.run(  # noqa: S603 (our own interpreter on our own script)
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable,
             str(HERE / "cpu.py"), "--only", server, str(requests), *([] if sent else ["--unsent"])],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def main() -> None:
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    per_request = {}
    for server in ("ours", "bare"):
        sent, unsent = instructions(server, requests, sent=True), instructions(server, requests, sent=False)
        per_request[server] = (sent - unsent) / requests
        print(f"{server}: {per_request[server] / 1e6:.2f} million instructions per request", flush=True)
    print(f"bare / ours: {per_request['bare'] / per_request['ours']:.2f}")


if __name__ == "__main__":
    main()
