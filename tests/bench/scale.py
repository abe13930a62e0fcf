"""Benchmark: how walking, parsing, planning and resolving grow with the size of the settings.

Run with ``./dev bench scale`` (or ``python -m tests.bench.scale``). Not a test: it prints a
table. No AWS: values come from a :class:`~awsrefs.testing.StaticBackend`, so the numbers are
awsrefs' own work. Each case runs in a child process, stopped after ``--limit`` seconds;
each time is the best of three runs (one when a run takes over 2 s).

Cases:

- ``refs N``: N distinct parameter references (1k, 10k, 100k) in one mapping;
- ``dag D``: a list holding the same list twice, D levels deep (2**D paths, D + 1 lists);
- ``text``: one setting of 1 or 10 MB, plain or with one ``${`` near the start, and
  ``"${ x"`` repeated 128k times (a malformed template).

Columns: ``walk`` (find every string), ``parse`` (parse each one), ``plan`` (item keys,
cache claim and call planning), ``resolve`` (the whole pass from a fresh resolver), and
``per item`` (resolve time per reference or per MB). Linear growth shows as a constant
``per item`` column.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

REF_SIZES = (1_000, 10_000, 100_000)
DAG_DEPTHS = (20, 40)
MB = 1_000_000


def _timed(function: Callable[[], Any]) -> float:
    """The best of up to three runs (the machine may be busy); one run when it is slow."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
        if best > 2:
            break
    return best


def _phases(settings: Any, backend: Any) -> dict[str, float]:
    """Seconds for each phase of resolving ``settings`` from ``backend``."""
    from awsrefs import Resolver
    from awsrefs._fetch import Cache, item_key, plan_calls
    from awsrefs._references import parse_or_error, scan, walk

    tree = walk(settings)
    times = {"walk": _timed(lambda: walk(settings))}
    times["parse"] = _timed(lambda: [parse_or_error(text) for _, text in tree.strings])
    refs = list(scan(settings).refs())

    def plan() -> None:
        keys = list(dict.fromkeys(item_key(ref, "us-east-1") for ref in refs))
        _, mine, _ = Cache(ttl=60).claim(keys)
        plan_calls(backend, mine)

    times["plan"] = _timed(plan)

    def resolve() -> None:
        resolver = Resolver(backend=backend)  # fresh: nothing cached, nothing memoised
        try:
            resolver.resolve(settings)
        except Exception:
            pass  # a malformed setting fails; the pass is still measured
        finally:
            resolver.close()

    times["resolve"] = _timed(resolve)
    return times


def _refs_case(count: int) -> dict[str, float]:
    from awsrefs.testing import StaticBackend

    backend = StaticBackend({f"ssm:/app/p{i}": f"v{i}" for i in range(count)})
    return _phases({f"K{i}": f"ssm:/app/p{i}" for i in range(count)}, backend)


def _dag_case(depth: int) -> dict[str, float]:
    from awsrefs.testing import StaticBackend

    node: Any = ["ssm:/app/host", "plain"]
    for _ in range(depth):
        node = [node, node]
    return _phases(node, StaticBackend({"ssm:/app/host": "db.internal"}))


def _text_case(kind: str, size: int) -> dict[str, float]:
    from awsrefs.testing import StaticBackend

    if kind == "plain":
        text = "x" * size
    elif kind == "one ${":
        text = "${ssm:/app/host} " + "x" * (size - 17)
    else:  # "${ x" repeated: every "${" starts a reference that never closes
        text = "${ x" * (size // 4)
    return _phases({"VALUE": text}, StaticBackend({"ssm:/app/host": "db.internal"}))


def _child(case: Callable[..., dict[str, float]], args: tuple[Any, ...], out: Connection) -> None:
    out.send(case(*args))


def _run(case: Callable[..., dict[str, float]], args: tuple[Any, ...], limit: float) -> Any:
    """The case's phase times, measured in a child process; None when it ran past ``limit``."""
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_child, args=(case, args, send))
    child.start()
    result = receive.recv() if receive.poll(limit) else None
    child.kill()
    child.join()
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=120, help="seconds per case (120)")
    options = parser.parse_args()

    cases: list[tuple[str, str, Callable[..., dict[str, float]], tuple[Any, ...], str, float]] = []
    for count in REF_SIZES:
        cases.append(("refs", f"{count:,}", _refs_case, (count,), "us/ref", count / 1e6))
    for depth in DAG_DEPTHS:
        cases.append(("dag", f"depth {depth}", _dag_case, (depth,), "us/list", (depth + 1) / 1e6))
    for kind in ("plain", "one ${"):
        for size in (MB, 10 * MB):
            label = f"{size // MB} MB {kind}"
            cases.append(("text", label, _text_case, (kind, size), "ms/MB", size / MB / 1e3))
    cases.append(('"${ x" x 128k', "512 kB", _text_case, ("open", 512_000), "ms/MB", 0.512e-3))

    header = ("case", "size", "walk ms", "parse ms", "plan ms", "resolve ms", "per item")
    print("  ".join(f"{h:>14}" for h in header))
    for name, label, case, args, unit, items in cases:
        times = _run(case, args, options.limit)
        if times is None:
            row = (name, label, "-", "-", "-", f"> {options.limit:.0f} s", "")
        else:
            resolve = times["resolve"]
            per = f"{resolve / items:.2f} {unit}"
            row = (
                name,
                label,
                _ms(times["walk"]),
                _ms(times["parse"]),
                _ms(times["plan"]),
                _ms(resolve),
                per,
            )
        print("  ".join(f"{cell:>14}" for cell in row), flush=True)


if __name__ == "__main__":
    main()
