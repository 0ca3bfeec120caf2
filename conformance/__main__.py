"""python -m conformance --node NODE.json [--json] [--check NAME ...] [--timeout SECONDS] [--api-examples N]

Checks a node from outside, as the alliance depends on it, and prints a report: pass or fail per check, with what was
sent and what came back. Exits 0 when no check failed, 1 when one did, 2 when the description cannot be used.
"""

import argparse
import asyncio
import sys

from conformance.checks import CHECKS
from conformance.description import InvalidDescription, load
from conformance.run import run_checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.split("\n\n")[1])
    parser.add_argument("--node", help="the node description: a JSON file, or an http(s) URL serving it")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (every exchange in full)")
    parser.add_argument("--check", action="append", choices=[c.name for c in CHECKS], help="run only this check (repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0, help="how long to wait for each thing the node must do")
    parser.add_argument("--api-examples", type=int, default=None, help="generated requests per HTTP operation (5)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for check in CHECKS:
            print(f"{check.name:<24} {check.title}")
        return 0
    if not args.node:
        parser.error("--node is required")
    try:
        description = load(args.node)
    except InvalidDescription as error:
        print(f"conformance: {error}", file=sys.stderr)
        return 2
    checks = [check for check in CHECKS if not args.check or check.name in args.check]
    report = asyncio.run(run_checks(description, checks, timeout=args.timeout, api_examples=args.api_examples))
    print(report.json() if args.json else report.text())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
