"""``python -m benchmarks [--only NAME] [options]``: run the benchmarks in :data:`BENCHMARKS`.

Each benchmark module has ``main(argv)`` and ignores options it does not know, so options of
several benchmarks can be given at once (e.g. ``--contributions 100000``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import BenchmarkError

# Add a module here to add a benchmark (e.g. "benchmarks.monitoring").
BENCHMARKS = ["benchmarks.export", "benchmarks.monitoring", "benchmarks.contract_import"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", add_help=False)
    parser.add_argument("--only", action="append", metavar="NAME", help="e.g. --only export")
    parser.add_argument("-h", "--help", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.help:
        print("python -m benchmarks [--only NAME] [benchmark options]")
        print("benchmarks:", ", ".join(name.rsplit(".", 1)[-1] for name in BENCHMARKS))
        for name in BENCHMARKS:
            print(f"\n{name}:")
            importlib.import_module(name).main(["--help"])
        return 0
    selected = [n for n in BENCHMARKS if not args.only or n.rsplit(".", 1)[-1] in args.only]
    if not selected:
        print(f"No benchmark named {args.only}.", file=sys.stderr)
        return 2
    try:
        for name in selected:
            importlib.import_module(name).main(rest)
    except BenchmarkError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
