"""What the HTTP server refuses before the app sees a request, answered as a problem too.

uvicorn parses the request line and headers itself: a malformed request, or headers beyond h11's
limit (16 KB by default), never reaches FastAPI, and uvicorn answers a bare ``text/plain`` 400.
``ProblemH11Protocol`` is uvicorn's h11 protocol answering those with ``application/problem+json``
like every other error of the API: 431 when the headers are too large, 400 otherwise. Select it
with ``uvicorn --http daiban.http.wire:ProblemH11Protocol`` (``daiban serve`` and ``deploy/`` do).
"""

from __future__ import annotations

import json

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

PROTOCOL = "daiban.http.wire:ProblemH11Protocol"


def problem(status: int, title: str, detail: str) -> bytes:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(body, ensure_ascii=False).encode()


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        buffered, _closed = self.conn.trailing_data
        if len(buffered) > limit:
            status, title = 431, "Request Header Fields Too Large"
            detail = f"the request's headers exceed {limit} bytes"
        else:
            status, title = 400, "Bad Request"
            detail = "the request could not be parsed as HTTP/1.1"
        body = problem(status, title, detail)
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=title.encode()),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
