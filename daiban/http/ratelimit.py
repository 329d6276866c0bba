"""Rate limits per token subject: submissions (``DAIBAN_SUBMIT_RATE_PER_MINUTE``) and codec
calls (``DAIBAN_CODEC_RATE_PER_MINUTE``).

A sliding window of the last minute, kept in this process: behind a load balancer each replica
counts on its own, so the effective limit is per replica. It guards against a runaway client, not
a determined attacker (that is the gateway's job).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from daiban.http.problems import RateLimited

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(self, per_minute: int, what: str = "submissions") -> None:
        self._limit = per_minute
        self._what = what
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, subject: str, now: float | None = None) -> None:
        """Count one hit for ``subject``; raise a 429 problem when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(subject, deque())
            while hits and hits[0] <= now - WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= self._limit:
                retry = max(1, math.ceil(hits[0] + WINDOW_SECONDS - now))
                raise RateLimited(
                    f"at most {self._limit} {self._what} per minute",
                    headers={"Retry-After": str(retry)},
                )
            hits.append(now)
            # Forget idle subjects so that the map does not grow without bound.
            if len(self._hits) > 10_000:
                for key in [
                    k for k, v in self._hits.items() if not v or v[-1] <= now - WINDOW_SECONDS
                ]:
                    del self._hits[key]
