"""Threads started together against one database, for the tests of numbers that must never be
shared or skipped (request numbers, notices, supervision orders)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` in threads released at the same instant; the first
    failure of any thread is raised here, after all have finished."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait()
            work(worker)
        except BaseException as error:  # a thread's failure fails the test
            errors.append(error)

    pool = [threading.Thread(target=run, args=(w,)) for w in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]


def race_twice(keys: list[str], threads: int, take: Callable[[str], str]) -> dict[str, set[str]]:
    """Every key taken by two of ``threads`` threads at once (an activity and its retry racing):
    thread w takes keys w*n/2 … and so the next thread's first ones. What each key got."""
    per_thread = 2 * len(keys) // threads
    results: dict[str, set[str]] = {key: set() for key in keys}
    lock = threading.Lock()

    def work(worker: int) -> None:
        for j in range(per_thread):
            key = keys[(worker * per_thread // 2 + j) % len(keys)]
            got = take(key)
            with lock:
                results[key].add(got)

    in_threads(threads, work)
    return results
