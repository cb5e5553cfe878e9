"""Quick mode: one benchmark at small sizes, for `python -m bench --quick` (and its test).

    python -m bench.quick bench_queues          (from the project folder)

The benchmark modules are changed by several people; this shrinks their sizes from the outside
(their constants, and the few sizes written inside a function, by capping that function's argument)
so that no line of their measuring code changes. The figures of a quick run only show that every
benchmark still runs and writes its figures where the table expects them: they are not comparable
with the targets. A size this file names that a module no longer has fails loudly (an
AttributeError), so a renamed constant shows up in the quick test instead of silently running the
full size."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _set(module: ModuleType, **sizes) -> None:
    for name, value in sizes.items():
        if not hasattr(module, name):
            raise AttributeError(f"quick mode: {module.__name__} has no {name} any more; update bench/quick.py")
        setattr(module, name, value)


def _cap(module: ModuleType, function: str, shrink: Callable) -> None:
    """Replace module.function by one whose arguments pass through `shrink(*args, **kwargs)` first."""
    original = getattr(module, function)  # AttributeError when it was renamed, as above

    @functools.wraps(original)
    def smaller(*args, **kwargs):
        args, kwargs = shrink(*args, **kwargs)
        return original(*args, **kwargs)

    setattr(module, function, smaller)


def _defaults(module: ModuleType, function: str, *values) -> None:
    """Defaults are bound when a function is defined, so changing the constant they came from is not enough."""
    getattr(module, function).__defaults__ = values


def screening(m: ModuleType) -> None:
    _set(m, LATENCY_RUNS=10, VARIANT_PERSONS=20, VARIANT_ENTITIES=10, ORDINARY_PEOPLE=60, ORDINARY_COMPANIES=40,
         LISTED_PER_SCRIPT=6, ORDINARY_PER_SCRIPT=30)
    sample = m.SANCTIONS_FIXTURES / "ofac-sample"
    _set(m, OFAC_FULL=sample)
    _defaults(m, "run", sample, m.SEED)


def checks(m: ModuleType) -> None:
    _set(m, OFAC_FULL=m.SANCTIONS_FIXTURES / "ofac-sample")
    _cap(m, "big_pdf", lambda target_bytes: ((min(target_bytes, MB),), {}))
    _cap(m, "seed_institutions", lambda app, count, start=0: ((app, min(count, 5), start), {}))


def queues(m: ModuleType) -> None:
    _set(m, REQUESTS=3)
    _cap(m, "build", lambda size, url=None: ((min(size, 300), url), {}))
    _defaults(m, "main", ("sqlite",))  # a throwaway PostgreSQL adds a minute to say nothing more


def letters(m: ModuleType) -> None:
    _set(m, RUNS=2)
    _defaults(m, "timings", 2)


def authorize(m: ModuleType) -> None:
    _set(m, INSTITUTIONS=10, KEYS=100, CALLED_KEYS=10, TIMED_ROUNDS=1, PROFILED_DECISIONS=10, WRK_SECONDS=1,
         WARMUP_SECONDS=1, SIGNED_CALLS=300, WARMUP_CALLS=50)


def case_page(m: ModuleType) -> None:
    _set(m, DOCUMENTS=1, BASELINE_REQUESTS=3, IMAGE_CONNECTIONS=1)
    _set(m, keep_worker_busy=lambda app, n: None)  # no further application for the worker to check meanwhile


SHRINK = {"bench_screening": screening, "bench_checks": checks, "bench_queues": queues, "bench_letters": letters,
          "bench_authorize": authorize, "bench_case_page": case_page}


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in SHRINK:
        raise SystemExit(f"usage: python -m bench.quick {{{','.join(SHRINK)}}}")
    sys.path.insert(0, str(ROOT))
    module = importlib.import_module(f"bench.{argv[0]}")
    SHRINK[argv[0]](module)
    module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
