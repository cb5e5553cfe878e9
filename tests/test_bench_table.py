"""`make bench`: every benchmark in one go, one table, bench/results.json (bench/__main__.py, bench/table.py).

The table's rules are checked on made-up results (fast). The runner itself runs two benchmarks at
quick sizes in every `make test` (about 10 s); all six at quick sizes take one to three minutes,
too long for every test run: `BENCH_QUICK_TEST=1 python -m pytest tests/test_bench_table.py` (or
`make bench ARGS=--quick`) runs them."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import quick
from bench.__main__ import RESULTS, main, run_one, table_with_failures
from bench.table import BENCHES, FAIL, FIGURES, NO_TARGET, NOT_MEASURED, PASS, Bench, render, rows

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRESQL = os.environ.get("TEST_DATABASE", "sqlite") == "postgresql"
ONCE = pytest.mark.skipif(ON_POSTGRESQL, reason="the benchmarks use their own SQLite files: the SQLite pass "
                                                "runs this already")


def row_named(table, figure):
    return next(row for row in table if row["figure"] == figure)


def test_a_figure_within_its_target_passes_and_one_beyond_it_fails():
    results = {"letters": {"render": {"median_seconds": 0.4}, "baseline_minimal_pdf": {"median_seconds": 0.05}},
               "authorize": {"in_process": {"decide": {"median_us": 190.0}, "refused": {},
                                            "baseline_key_hash_lookup": {"median_us": 120.0}}}}
    table = rows(results)
    letter = row_named(table, "letters: render the approval letter, median")
    assert (letter["value"], letter["baseline"], letter["ratio"], letter["result"]) == (0.4, 0.05, 8.0, PASS)
    decide = row_named(table, "authorize: decide(), median")
    assert decide["result"] == FAIL and decide["target"] == "≤ 150 µs"


def test_a_ratio_target_compares_the_figure_with_the_baseline_of_the_same_run():
    http = {"authorize": {"requests_per_second": 2483.0}, "healthz": {"requests_per_second": 5633.0},
            "all_decisions_allowed": True}
    throughput = row_named(rows({"authorize": {"http": http}}), "authorize: POST /authorize under gunicorn")
    assert throughput["ratio"] == 0.441 and throughput["result"] == FAIL  # 44 % of /healthz, target 60 %
    http["authorize"]["requests_per_second"] = 4000.0
    assert row_named(rows({"authorize": {"http": http}}), throughput["figure"])["result"] == PASS
    # Fast because it refused the calls is not a pass.
    http["all_decisions_allowed"] = False
    refused = row_named(rows({"authorize": {"http": http}}), throughput["figure"])
    assert refused["result"] == FAIL and refused["notes"] == ["http.all_decisions_allowed is False"]


def test_every_key_of_a_starred_dictionary_gets_its_own_row():
    pages = {"document queue": {"value": 31.0, "baseline": 10.0, "statements": [6], "baseline_statements": [6]},
             "search by a name fragment": {"value": 72.0, "baseline": 10.0, "statements": [7],
                                           "baseline_statements": [6]}}
    table = rows({"queues": {"pages": pages}})
    assert row_named(table, "queues: document queue, median")["result"] == FAIL  # ×3.1
    assert row_named(table, "queues: search by a name fragment, median")["result"] == FAIL
    assert row_named(table, "queues: document queue, SQL statements")["result"] == PASS
    assert row_named(table, "queues: search by a name fragment, SQL statements")["result"] == FAIL
    pages["document queue"]["value"] = 29.0
    assert row_named(rows({"queues": {"pages": pages}}), "queues: document queue, median")["result"] == PASS


def test_a_missing_figure_is_a_not_measured_row_and_nothing_breaks():
    table = rows({"screening": {"latency": {"median_ms": 12.0}}})  # nothing else measured
    assert len({row["figure"] for row in table}) == len(table)
    assert row_named(table, "screening: one application (company + 6 people), median")["result"] == PASS
    assert row_named(table, "screening: one application, 99th percentile")["result"] == NOT_MEASURED
    assert row_named(table, "checks: re-screen 1,000 institutions")["notes"] == [
        "no checks.rescreen.institutions_1000.seconds in the results"]
    assert row_named(table, "queues: *, median")["result"] == NOT_MEASURED
    assert {row["bench"] for row in table} == {bench.section for bench in BENCHES}
    assert "not measured" in render(table)


def test_a_figure_without_a_target_is_reported_with_its_ratio():
    gateway = {"gateway": {"requests_per_second": 900.0}, "plain_proxy": {"requests_per_second": 9000.0},
               "all_requests_allowed_and_forwarded": True}
    row = row_named(rows({"authorize": {"gateway": gateway}}), "authorize: through the nginx gateway")
    assert (row["ratio"], row["result"], row["target"]) == (0.1, NO_TARGET, "")


def test_fractions_are_shown_and_compared_as_percentages():
    scripts = {"arabic": {"false_hit_rate": 0.0065, "recall": 0.95}, "chinese": {"false_hit_rate": 0.0}}
    table = rows({"screening": {"scripts": scripts}})
    arabic = row_named(table, "screening: false hits, arabic script")
    assert (arabic["value"], arabic["target"], arabic["result"]) == (0.65, "≤ 0.3 %", FAIL)
    assert row_named(table, "screening: false hits, chinese script")["result"] == PASS
    recall = {"value": 93.48, "target": 87.82, "unit": "%"}  # already in per cent: shown as it is
    table = rows({"screening": {"recall_arabic": recall}})
    assert row_named(table, "screening: recall, arabic script")["result"] == PASS
    recall["value"] = 87.0
    dropped = rows({"screening": {"recall_arabic": recall}})
    assert row_named(dropped, "screening: recall, arabic script")["result"] == FAIL


def test_every_figure_belongs_to_a_benchmark_the_runner_runs():
    sections = {bench.section for bench in BENCHES}
    assert {figure.section for figure in FIGURES} <= sections
    assert {bench.module for bench in BENCHES} == {path.stem for path in (ROOT / "bench").glob("bench_*.py")}
    assert set(quick.SHRINK) == {bench.module for bench in BENCHES}


@pytest.mark.parametrize("module", sorted(quick.SHRINK))
def test_quick_mode_still_finds_every_size_it_shrinks(module):
    """A renamed constant would make the quick run silently run at full size, or not at all."""
    bench = importlib.import_module(f"bench.{module}")
    try:
        quick.SHRINK[module](bench)
    finally:
        importlib.reload(bench)


def test_nothing_under_bench_reads_files_outside_the_repository():
    """Issue 14: nothing in `make bench` may depend on files outside the repository (beside it, /work)."""
    for path in sorted((ROOT / "bench").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                assert "../" not in text and "shared/" not in text, f"{path.name}: {text[:80]!r}"
                assert not text.startswith(("/work", "/home", "/root", "~/")), f"{path.name}: {text[:80]!r}"
            if isinstance(node, ast.Attribute) and node.attr == "parent":
                chain, inner = 1, node.value
                while isinstance(inner, ast.Attribute) and inner.attr == "parent":
                    chain, inner = chain + 1, inner.value
                assert chain <= 2, f"{path.name}: a path above the repository (line {node.lineno})"
            if isinstance(node, ast.Name) and node.id == "ROOT":
                parent = next((p for p in ast.walk(tree) if isinstance(p, ast.Attribute) and p.value is node), None)
                assert parent is None or parent.attr != "parent", f"{path.name}: ROOT.parent (line {node.lineno})"


def test_the_table_can_be_made_again_from_the_figures_after_the_spec_changes(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"letters": {"render": {"median_seconds": 1.4}}, "table": []}))
    assert main(["--table", "--results", str(results)]) == 0
    letter = row_named(json.loads(results.read_text())["table"], "letters: render the approval letter, median")
    assert letter["result"] == FAIL
    printed = capsys.readouterr().out
    assert "letters: render the approval letter, median" in printed and "1.40 s" in printed


@ONCE
def test_a_benchmark_that_crashes_is_a_fail_row_with_its_error(monkeypatch):
    missing = Bench("bench_missing", "missing", 600)
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    try:
        outcome = run_one(missing, quick=True)
    finally:
        if before is not None:
            RESULTS.write_bytes(before)
    assert outcome["exit_code"] != 0 and outcome["section"] is None
    outcome.pop("section")
    table = table_with_failures({}, {"bench_missing": outcome}, benches=(*BENCHES, missing))
    failed = row_named(table, "bench_missing (the whole benchmark)")
    assert failed["result"] == FAIL and failed["value"] == "exit status 1"
    assert "usage: python -m bench.quick" in failed["notes"][0]


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    output = tmp_path / "results.json"
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--results", str(output), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    after = RESULTS.read_bytes() if RESULTS.exists() else None
    assert after == before, "a quick run must leave the full run's bench/results.json as it was"
    assert output.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(output.read_text())


def check_shape(done: subprocess.CompletedProcess, results: dict, modules: list[str]) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sections = [bench.section for bench in BENCHES if bench.module in modules]
    run = results["run"]
    assert set(run["benches"]) == set(modules)
    assert all(outcome["exit_code"] == 0 and "error" not in outcome for outcome in run["benches"].values())
    assert run["quick"] is True and run["machine"]["cores"] >= 1 and len(run["machine"]["load_average"]) == 3
    assert len(run["machine"]["git_commit"]) == 40
    for section in sections:
        assert isinstance(results[section], dict) and results[section]
        measured = [row for row in results["table"] if row["bench"] == section]
        assert measured and all(row["result"] != NOT_MEASURED for row in measured), measured
    assert {row["bench"] for row in results["table"]} == set(sections)
    for key in ("figure", "value", "unit", "baseline", "ratio", "target", "result"):
        assert all(key in row for row in results["table"])
    assert "Benchmarks: one table" in done.stdout and "QUICK RUN" in done.stdout
    for row in results["table"]:
        assert row["figure"] in done.stdout


@ONCE
def test_the_runner_runs_benchmarks_and_writes_one_table(tmp_path):
    modules = ["bench_screening", "bench_checks"]
    done, results = run_bench(tmp_path, "--only", *modules)
    check_shape(done, results, modules)
    recall = row_named(results["table"], "screening: recall on variants of listed names")
    assert recall["unit"] == "%" and 0 <= recall["value"] <= 100


@ONCE
@pytest.mark.skipif(not os.environ.get("BENCH_QUICK_TEST"), reason="every benchmark at quick sizes takes 1-3 "
                    "minutes: BENCH_QUICK_TEST=1 runs it (or make bench ARGS=--quick)")
def test_every_benchmark_runs_at_quick_sizes_and_fills_the_table(tmp_path):
    modules = [bench.module for bench in BENCHES]
    done, results = run_bench(tmp_path)
    check_shape(done, results, modules)
