"""`python -m bench [--only NAME ...] [--quick]`: run Brenda's benchmarks and print their tables.

Nothing is asserted: every figure is printed, speed as a ratio to a baseline measured in the
same run. Results also go to bench/results/latest.json.
"""

import argparse
import json
import logging
import os
import platform
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from .common import RESULTS_DIR, say, sigterm_as_interrupt

BENCHES = ("calls", "ack", "e2e", "money", "media", "fallback")


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=BENCHES, help="run only this bench (repeatable; default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs and smaller sizes (a rough look)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server for ack/e2e (default: %(default)s; env BENCH_PG_URL)",
    )
    parser.add_argument(
        "--db-name",
        default=os.environ.get("BENCH_DB", "") or "brenda_bench",
        help="ack/e2e database, created and dropped at the end; an existing one the bench did not create is "
        "refused, never dropped (default: %(default)s; env BENCH_DB)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (%(default)s)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (%(default)s)")
    parser.add_argument("--rate", type=float, default=50.0, help="moderate load, requests/s (%(default)s)")
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="ack: full-speed rounds, trivial then webhook; the median ratio is the figure (%(default)s; --quick: 1)",
    )
    parser.add_argument("--latency", type=float, default=0.2, help="e2e: fake OpenAI latency per request, s")
    parser.add_argument("--model-s", type=float, default=0.6, help="e2e: extra time the model works per response, s")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "python", "wrk"),
        default="auto",
        help="full-speed load generator (auto: wrk if installed)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json", help="where to write the results")
    return parser.parse_args(argv)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brenda.settings")
    # The bench runs production settings (DEBUG off) on its own databases: a throwaway key is right
    # here, and a fresh machine has none (the stack's gunicorn gets its own, bench/stack.py).
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    # The service logs every turn at INFO; the bench wants its tables, and warnings.
    logging.getLogger().setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = [name for name in BENCHES if not args.only or name in args.only]
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "benches": selected,
    }
    started = time.monotonic()
    exit_code = 0
    with sigterm_as_interrupt():
        try:
            if "calls" in selected:
                setup_django()
                from . import calls

                results["calls"] = calls.run(quick=args.quick)
            if "money" in selected:
                setup_django()
                from . import money

                results["money"] = money.run(quick=args.quick)
            if "media" in selected:
                setup_django()
                from . import media

                results["media"] = media.run(quick=args.quick, latency_s=args.latency)
            if "fallback" in selected:
                setup_django()
                from . import fallback

                results["fallback"] = fallback.run(quick=args.quick)
            if "ack" in selected or "e2e" in selected:
                from .stack import BenchStack

                with BenchStack(args) as stack:
                    if "ack" in selected:
                        from . import ack

                        results["ack"] = ack.run(stack, args)
                    if "e2e" in selected:
                        from . import e2e

                        results["e2e"] = e2e.run(stack, args)
        except KeyboardInterrupt:
            say("interrupted; cleaned up")
            results["interrupted"] = True
            exit_code = 130
        finally:
            results["elapsed_s"] = round(time.monotonic() - started, 1)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
            say(f"results written to {args.json} ({results['elapsed_s']} s)")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
