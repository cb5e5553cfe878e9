"""Every benchmark in one go, and one table of their figures (`make bench`).

    python -m bench                 every benchmark at full size (tens of minutes)
    python -m bench --quick         every benchmark at small sizes (about a minute): checks that each
                                    still runs and writes the figures the table reads; the figures
                                    mean nothing against the targets
    python -m bench --only bench_letters bench_queues
    python -m bench --table         the table again from the figures in bench/results.json (after a
                                    change to bench/table.py), running nothing

Each benchmark runs in its own process, one after another (they would skew each other's figures),
so one that crashes or hangs does not hide the others: it becomes a FAIL row with the end of its
output. The figures become rows as bench/table.py declares; the table is printed and written, with
the time, the machine (cores, load average) and the git commit, into the results file under "table"
and "run", beside each benchmark's own section.

Exit status: 1 when a benchmark failed, or (full run only) when a figure missed its target or was not
measured, so a script can tell; 0 otherwise. The table and the results file are written either way."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.table import BENCHES, FAIL, NOT_MEASURED, Bench, render, rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"  # where every benchmark module writes its section
QUICK_RESULTS = Path(__file__).resolve().parent / "results-quick.json"
OUTPUT_TAIL = 15  # lines of a failed benchmark's output kept as its error


def machine() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": git("rev-parse", "HEAD"), "git_uncommitted_changes": bool(status) if status is not None
            else None}


def run_one(bench: Bench, quick: bool) -> dict[str, Any]:
    """Run one benchmark in its own process, its output passed through; what came of it."""
    command = [sys.executable, "-m", "bench.quick", bench.module] if quick else \
        [sys.executable, "-m", f"bench.{bench.module}"]
    timeout = max(bench.timeout_seconds // 10, 120) if quick else bench.timeout_seconds
    RESULTS.unlink(missing_ok=True)  # so a section found afterwards was written by this run
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
    started = time.monotonic()
    print(f"\n=== {bench.module}{' (quick)' if quick else ''} ===", flush=True)
    # Its own session, so that a benchmark stopped for taking too long takes what it started with it.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)

    def pass_through() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            tail.append(line.rstrip())

    reader = threading.Thread(target=pass_through, daemon=True)
    reader.start()
    timed_out = False
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        code = stop(process)
    except BaseException:  # Ctrl-C: stop the benchmark and whatever it started, then stop too
        stop(process)
        raise
    reader.join(timeout=10)
    outcome: dict[str, Any] = {"module": bench.module, "exit_code": code,
                               "seconds": round(time.monotonic() - started, 1)}
    section = None
    if RESULTS.exists():
        try:
            section = json.loads(RESULTS.read_text()).get(bench.section)
        except (OSError, json.JSONDecodeError) as exc:
            tail.append(f"bench/results.json unreadable: {exc}")
    if timed_out:
        outcome["error"] = f"stopped after {timeout} s"
    elif code != 0:
        outcome["error"] = f"exit status {code}"
    elif section is None:
        outcome["error"] = f"wrote no \"{bench.section}\" section to bench/results.json"
    if "error" in outcome:
        outcome["output_tail"] = list(tail)
    outcome["section"] = section
    return outcome


def stop(process: subprocess.Popen) -> int:
    """Stop a benchmark's whole process group: politely (it stops its servers), then for good."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return process.wait()


def failure_row(bench: Bench, outcome: dict[str, Any]) -> dict[str, Any]:
    last = next((line for line in reversed(outcome.get("output_tail", [])) if line.strip()), "")
    return {"bench": bench.section, "figure": f"{bench.module} (the whole benchmark)", "unit": "",
            "value": outcome["error"], "baseline": None, "baseline_of": "", "ratio": None, "target": "runs",
            "result": FAIL, "source": "", "notes": [last] if last else []}


def table_with_failures(results: dict[str, Any], outcomes: dict[str, dict[str, Any]],
                        benches: tuple[Bench, ...] = BENCHES) -> list[dict[str, Any]]:
    """The declared rows, each failed benchmark's FAIL row first among its section's rows."""
    table = rows(results)
    for bench in benches:
        outcome = outcomes.get(bench.module)
        if outcome and "error" in outcome:
            position = next((i for i, row in enumerate(table) if row["bench"] == bench.section), len(table))
            table.insert(position, failure_row(bench, outcome))
    return table


def print_report(table: list[dict[str, Any]], run: dict[str, Any] | None, path: Path) -> None:
    print("\n" + "=" * 20 + " Benchmarks: one table " + "=" * 20)
    if run:
        m = run["machine"]
        print(f"{run['started']} → {run['ended']}, {m['cores']} cores, load average at the start "
              f"{m['load_average_start']} and at the end {m['load_average']}, commit {m['git_commit']}"
              f"{' (with uncommitted changes)' if m['git_uncommitted_changes'] else ''}")
        if run["quick"]:
            print("QUICK RUN: small sizes; the figures only show the benchmarks run, not how fast anything is.")
    print(render(table))
    notes = [(row["figure"], note) for row in table for note in row["notes"]]
    if notes:
        print("\nNotes:")
        for figure, note in notes:
            print(f"  {figure}: {note}")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\nFigures and this table written to {shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: the runner and the table, in about a "
                                                             "minute; figures not comparable with the targets")
    parser.add_argument("--only", nargs="+", metavar="MODULE", choices=[b.module for b in BENCHES],
                        help="run only these benchmarks")
    parser.add_argument("--results", type=Path, help="where to write the figures and the table (default "
                                                     "bench/results.json, or bench/results-quick.json with --quick)")
    parser.add_argument("--table", action="store_true", help="make the table again from the figures in the results "
                                                             "file (after a change to bench/table.py); run nothing")
    args = parser.parse_args(argv)
    path = (args.results or (QUICK_RESULTS if args.quick else RESULTS)).resolve()

    if args.table:  # after a change to bench/table.py: the table again from the same figures
        results = json.loads(path.read_text())
        table = table_with_failures(results, results.get("run", {}).get("benches", {}))
        path.write_text(json.dumps({**results, "table": table}, indent=2, default=str) + "\n")
        print_report(table, results.get("run"), path)
        return 0

    benches = [b for b in BENCHES if not args.only or b.module in args.only]
    # The benchmark modules write bench/results.json themselves: keep what was there, give each module
    # an empty file, collect its section, and put the earlier file back if this run writes elsewhere.
    earlier = RESULTS.read_bytes() if RESULTS.exists() else None
    start_machine = machine()
    started = datetime.now(UTC)
    outcomes: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}
    try:
        for bench in benches:
            outcome = run_one(bench, args.quick)
            section = outcome.pop("section")
            if section is not None:
                results[bench.section] = section
            outcomes[bench.module] = outcome
    finally:  # the merged file replaces it below when this run writes there
        if earlier is None:
            RESULTS.unlink(missing_ok=True)
        else:
            RESULTS.write_bytes(earlier)
    end_machine = machine()
    run = {"started": started.isoformat(timespec="seconds"),
           "ended": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
           "machine": {**end_machine, "load_average_start": start_machine["load_average"]},
           "benches": outcomes}
    table = table_with_failures(results, outcomes)
    if args.only:  # rows of benchmarks not run this time are not news
        ran = {b.section for b in benches}
        table = [row for row in table if row["bench"] in ran]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, "table": table, "run": run}, indent=2, default=str) + "\n")
    print_report(table, run, path)

    crashed = any("error" in outcome for outcome in outcomes.values())
    missed = any(row["result"] in (FAIL, NOT_MEASURED) for row in table)
    return 1 if crashed or (missed and not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
