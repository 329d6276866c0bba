"""The county's messaging gateway as the chaos runner plays it: a local HTTP server that the
workers' notification webhook posts to, and that can be told to hang (accept connections and
requests, never answer) as a gateway in trouble does.

It keeps what the invariant "no notification sent twice" needs: how often each notification (its
``Idempotency-Key``) was accepted, and whether one was posted again while an earlier post of it was
still waiting for an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict

# How long after the gateway's answer a killed worker's courier may not have marked its send yet.
KILL_MARGIN = 1.0


class Webhook:
    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()  # key → answers 202
        self.posted: Counter[str] = Counter()  # key → posts received (answered or not)
        self.overlapping: list[str] = []  # keys posted while a post of them was in flight
        self.hung = 0  # posts held without an answer
        self.accepted_at: defaultdict[str, list[float]] = defaultdict(list)  # time.monotonic()
        # While the previous release's workers ran, up to the end of their stop (start, end).
        # That release's couriers could post a row again: another worker's courier claimed a
        # row right after a send and before its "sent" mark, and a stopping worker did not mark
        # its send in flight. A notification it posted first is told apart, not counted.
        self.previous_release: tuple[float, float] | None = None
        # Instants a worker was SIGKILLed. A notification its courier had posted and not yet
        # marked sent (a few milliseconds) is posted again by the next courier, with the same
        # Idempotency-Key, by which the gateway makes it one text. Told apart, not counted.
        self.kills: list[float] = []
        self._in_flight: Counter[str] = Counter()
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: asyncio.Server | None = None
        self._started = time.monotonic()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    async def start(self) -> None:
        self._started = time.monotonic()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._answering.set()  # release the held posts
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def hang(self) -> None:
        self._answering.clear()

    def recover(self) -> None:
        self._answering.set()

    def sent_twice(self) -> list[str]:
        """The notifications the invariant fails on, one line each."""
        twice = [
            f"{key}: accepted {n} times (at {self._times(key)})"
            for key, n in self.accepted.items()
            if n > 1
            and not self._repeat_of_previous_release(key)
            and not self._repeat_after_kill(key)
        ]
        return twice + [f"{key}: posted again while in flight" for key in self.overlapping]

    def _times(self, key: str) -> str:
        return ", ".join(f"{t - self._started:.1f} s" for t in self.accepted_at[key])

    def repeats_of_previous_release(self) -> list[str]:
        return [
            key
            for key, n in self.accepted.items()
            if n > 1 and self._repeat_of_previous_release(key)
        ]

    def repeats_after_kill(self) -> list[str]:
        return [key for key, n in self.accepted.items() if n > 1 and self._repeat_after_kill(key)]

    def _repeat_after_kill(self, key: str) -> bool:
        """Accepted twice exactly, the first time just before a worker was killed (within
        ``KILL_MARGIN``: a courier marks a send as soon as the gateway answers)."""
        times = self.accepted_at[key]
        return len(times) == 2 and any(
            times[0] <= kill <= times[1] and kill - times[0] <= KILL_MARGIN for kill in self.kills
        )

    def _repeat_of_previous_release(self, key: str) -> bool:
        """Accepted twice exactly, first while the previous release's workers ran."""
        window = self.previous_release
        times = self.accepted_at[key]
        return window is not None and len(times) == 2 and window[0] <= times[0] <= window[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                key = await _read_request(reader)
                if key is None:
                    return
                if not await self._answer(key, reader):
                    return
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _answer(self, key: str, reader: asyncio.StreamReader) -> bool:
        """Wait while hanging; False if the sender gave up (closed the connection) meanwhile."""
        self.posted[key] += 1
        if self._in_flight[key]:
            self.overlapping.append(key)
        self._in_flight[key] += 1
        try:
            if not self._answering.is_set():
                self.hung += 1
                answering = asyncio.create_task(self._answering.wait())
                closed = asyncio.create_task(reader.read(1))
                done, pending = await asyncio.wait(
                    {answering, closed}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                # The reader is free again only once the cancelled read has ended.
                await asyncio.gather(*pending, return_exceptions=True)
                if closed in done:
                    return False
            self.accepted[key] += 1
            self.accepted_at[key].append(time.monotonic())
            return True
        finally:
            self._in_flight[key] -= 1


async def _read_request(reader: asyncio.StreamReader) -> str | None:
    """One request's ``Idempotency-Key`` (its body read and dropped); None at the end."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head:
        return None
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return headers.get("idempotency-key", "")
