"""Run the benchmark sections: ``python -m src.bench [--quick] [section ...]``."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time

from . import SECTIONS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m src.bench", description=__doc__)
    p.add_argument("sections", nargs="*", help=f"sections to run (default all): {SECTIONS}")
    p.add_argument("--quick", action="store_true", help="smaller budgets, rougher figures")
    args = p.parse_args(argv)
    names = args.sections or list(SECTIONS)
    for name in names:
        if name not in SECTIONS:
            print(f"error: unknown section {name!r}; accepted: {', '.join(SECTIONS)}")
            return 2
    print(f"# WANN benchmarks on {platform.node()} ({platform.processor() or platform.machine()})")
    for name in names:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            print(f"\n## {name}: not available yet")
            continue
        print(f"\n## {name}")
        start = time.perf_counter()
        module.run(quick=args.quick)
        print(f"({name}: {time.perf_counter() - start:.0f} s)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
