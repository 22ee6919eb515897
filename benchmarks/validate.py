"""The simulator against exact queueing theory, at full length (the test suite runs the same
cases short). Each case runs the production switchboard through ``sim.runner``; a check passes
when the exact value lies within 1.5 batch-means 95% half-widths of the estimate.

    python benchmarks/validate.py [--json] [--scale X] [--seed S] [--case NAME ...]

Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.validation import CASES, run_case


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the full length")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--case", action="append", choices=sorted(CASES))
    args = p.parse_args(argv)
    results = []
    failed = 0
    for name in args.case or list(CASES):
        started = time.perf_counter()
        checks = run_case(name, scale=args.scale, seed=args.seed)
        wall = time.perf_counter() - started
        failed += sum(not c.ok for c in checks)
        results.append({"case": name, "wall_s": round(wall, 2), "checks": [
            {"label": c.label, "simulated": c.simulated, "exact": c.exact,
             "half_width": c.half_width, "relation": c.relation, "ok": c.ok} for c in checks
        ]})
        if not args.json:
            for c in checks:
                print(c)
            print(f"  ({name}: {wall:.1f} s)")
    if args.json:
        print(json.dumps({"cases": results, "failed": failed}))
    else:
        print(f"{sum(len(r['checks']) for r in results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
