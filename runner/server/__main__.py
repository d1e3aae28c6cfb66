"""`python -m runner.server [--host H] [--port P] [--data-dir D] [--max-workers N]`; API keys come from
`FTRUN_SERVER_API_KEY` (comma-separated) so they never show in a process listing."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from runner.server.serve import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, UnsafeBind, serve

API_KEYS_ENV = "FTRUN_SERVER_API_KEY"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.server", description="Run the built-in server.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--max-workers", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    keys = [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
    try:
        serve(args.host, args.port, args.data_dir, keys, args.max_workers)
    except UnsafeBind as e:
        for d in e.diagnostics:
            print(f"error: {d.message}" + (f"\n  hint: {d.hint}" if d.hint else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
