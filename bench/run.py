"""The entry point: start the system, run the sections in order, print and save the figures.

Order matters. The lifecycle section runs on an empty server; the open-work section measures its
empty point next (nothing open yet), then the latency section runs; then N open requests are made
(while the read model's bulk loads for section 4 run: nothing is measured then) and the open-work
section measures again; the escalation section runs on that full server (a county always has open
work); the read-model queries run after it, on a quiet machine, and the board's queries at a
million rows last.

Every child process is stopped in a ``finally`` (also on Ctrl-C or SIGTERM), and the process
ends with ``os._exit`` after flushing (temporalio/sdk-python#300, docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from bench import board, escalation, latency, lifecycle, openwork, readmodel, report
from bench.config import MODES, Mode, Sizes
from bench.load import JSON, Api, http_client
from bench.system import System
from daiban.run.priority import BACKGROUND_NICENESS

SECTIONS = ("lifecycle", "latency", "open_work", "read_model", "escalation", "board")
OUT_DIR = Path("var/bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: only proves it runs")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the JSON goes")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run directory (logs, temporal.db)"
    )
    parser.add_argument("--log-level", default="INFO", help="log level of the worker and the API")
    parser.add_argument(
        "--background-niceness",
        type=int,
        default=BACKGROUND_NICENESS,
        help="niceness of the worker and the Temporal dev server, as `daiban run` starts them "
        f"(default {BACKGROUND_NICENESS}; 0 runs them at the API's priority)",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def run_sections(system: System, sizes: Sizes, only: set[str], console: Console) -> JSON:
    results: JSON = {}
    timings: dict[str, float] = {}

    async def section(name: str, job: Callable[[], Awaitable[JSON]]) -> None:
        if name not in only:
            return
        console.print(f"[bold]{name}[/bold] …", highlight=False)
        start = time.monotonic()
        results[name] = await job()
        timings[name] = round(time.monotonic() - start, 1)
        system.children.check()

    async with http_client(system.api_url) as http:
        api = Api(http, system.people)
        await section("lifecycle", lambda: lifecycle.run(system, sizes, api))
        work = openwork.OpenWork(system, sizes, api)
        if "open_work" in only:
            await section("open_work", work.empty_point)
        await section("latency", lambda: latency.run(system, sizes, api))
        loader = readmodel.Loader(system, sizes) if "read_model" in only else None
        if "open_work" in only:
            # Nothing is measured while the open requests are made, so the read model's bulk load
            # (PostgreSQL and this process) runs meanwhile; the next point waits for both.
            start = time.monotonic()
            loading = asyncio.create_task(loader.load()) if loader is not None else None
            fill = await work.fill(sizes.open_requests)
            if loading is not None:
                await loading
                fill["read_model_load_overlapped"] = True
            results["open_work"] = await work.full_point(results["open_work"], fill)
            timings["open_work"] += round(time.monotonic() - start, 1)
            system.children.check()
        await section("escalation", lambda: escalation.run(system, sizes, api))
        if loader is not None:
            await section("read_model", loader.measure)
        # Needs none of the running system: its own SQLite file, kept between runs.
        await section("board", lambda: asyncio.to_thread(board.run, sizes))
    results["section_seconds"] = timings
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    mode: Mode = "quick" if args.quick else "smoke" if args.smoke else "full"
    sizes = MODES[mode]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    # Wide enough that the Markdown tables never wrap (they are pasted into BENCHMARKS.md).
    console = Console(width=200)
    if unknown:
        console.print(f"unknown section(s): {', '.join(sorted(unknown))}")
        _exit(2)
    # Ctrl-C and SIGTERM stop the run (and every child), even when started from a shell that
    # ignores SIGINT for background jobs: asyncio then cancels the running section.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    run_dir = Path(tempfile.mkdtemp(prefix="daiban-bench-"))
    started = datetime.now().astimezone()
    system = System(run_dir, log_level=args.log_level, background_niceness=args.background_niceness)
    code = 1
    try:
        console.print(f"daiban bench ({mode}); logs in {run_dir / 'log'}", highlight=False)
        begin = time.monotonic()
        # One event loop for everything: Temporal clients belong to the loop that made them.
        results = asyncio.run(_run(system, sizes, only, console))
        document: dict[str, Any] = {
            "started_at": started.isoformat(),
            "mode": mode,
            "sizes": vars(sizes) | {"readmodel_rows": list(sizes.readmodel_rows)},
            "machine": report.machine(),
            "background_niceness": args.background_niceness,
            **results,
            "wall_seconds": round(time.monotonic() - begin, 1),
        }
        document["targets"] = report.targets(document)
        path = report.save(document, args.out, started)
        report.print_tables(console, document)
        console.print(f"\nwritten: {path}", highlight=False)
        code = 0
    except KeyboardInterrupt:
        console.print("interrupted: stopping every child process", highlight=False)
        code = 130
    except Exception:
        console.print(traceback.format_exc(), highlight=False, markup=False)
        console.print(f"bench failed; logs in {run_dir / 'log'}", highlight=False)
        args.keep = True
    finally:
        system.close()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    _exit(code)


async def _run(system: System, sizes: Sizes, only: set[str], console: Console) -> JSON:
    await system.start()
    return await run_sections(system, sizes, only, console)


def _exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def dump(document: JSON) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str)
