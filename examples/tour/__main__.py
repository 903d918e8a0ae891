"""``make tour``: run the handler tour against an in-process moto server on 127.0.0.1; exit 0 only if all passed."""

from __future__ import annotations

import argparse
import os
import sys

from . import SCENARIOS, report
from .driver import local_aws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.tour",
        description="Drive eventweave handlers against emulated AWS (moto, loopback only) and check the end states.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SCENARIOS),
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show handler log lines and metric lines")
    args = parser.parse_args(argv)
    # Handlers log poison and retries at ERROR/WARNING (captured per invocation); INFO chatter is not the story here.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    with local_aws() as endpoint:
        sys.stdout.write(
            f"eventweave handler tour: moto on {endpoint}, region us-east-1, dummy credentials.\n"
            "Every queue, topic, stream and table below is real emulated AWS state; delivery follows Lambda's rules.\n"
        )
        return report(args.only, out=sys.stdout, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
