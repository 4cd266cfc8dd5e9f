"""Generate a synthetic country into a database (see scripts/benchmarks/country.py) and print one JSON line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import country  # noqa: E402
from benchmarks.platform import Platform, log  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the country (0.01 for a quick run)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (disjoint regions)")
    parser.add_argument("--seed", type=int, default=583)
    parser.add_argument("--database-url", default="",
                        help="an empty database (migrated here); default: a fresh database on DATABASE_URL's server "
                             "(or a private server), dropped at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the fresh database (and servers) until Ctrl-C")
    parser.add_argument("--tokens", default="",
                        help="write the result with the busiest tenant's tokens here (mode 600)")
    args = parser.parse_args()
    platform = None
    url = args.database_url
    if not url:
        platform = Platform(prefix="country")
        platform.start(web=False, projector=False, dispatcher=False, workers=0, redis=False)
        url = platform.env["DATABASE_URL"]
    try:
        result = country.generate(url, scale=args.scale, processes=args.processes, seed=args.seed,
                                  tokens_path=args.tokens or None, migrate=platform is None)
        shown = {**result, "busiest": {k: v for k, v in result["busiest"].items() if not k.endswith("token")}}
        print(json.dumps(shown, ensure_ascii=False), flush=True)
        if platform is not None and args.keep:
            log(f"the country is in {url}; Ctrl-C drops it")
            try:
                import time

                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        if platform is not None:
            platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
