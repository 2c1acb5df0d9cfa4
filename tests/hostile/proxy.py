"""A hostile front for a real registry: requests go to the real registry (distribution or
ggcr on 127.0.0.1), and chosen answers come back changed the way a broken or malicious registry
would change them (a ``Link`` header naming the same page again; bytes dripped one at a time).

The registry semantics stay real (the answers are the real registry's); only the transformation
under test is ours.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: (method, path, status, headers, body) -> (status, headers, body); None: pass through.
Rewrite = Callable[
    [str, str, int, list[tuple[str, str]], bytes], tuple[int, list[tuple[str, str]], bytes] | None
]


@dataclass
class Behaviour:
    """What the front does: ``rewrite`` answers; drip the answers whose path matches
    ``drip_paths`` (the whole answer, or only the body with ``drip_body_only``) one byte every
    ``drip_every`` seconds."""

    rewrite: Rewrite | None = None
    drip_paths: re.Pattern[str] | None = None
    drip_every: float = 1.0
    drip_body_only: bool = False
    seen: list[str] = field(default_factory=list)


def _handler(upstream: str, behaviour: Behaviour) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn = http.client.HTTPConnection(upstream, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                status = resp.status
                out_headers = [
                    (k, v)
                    for k, v in resp.getheaders()
                    if k.lower() not in ("connection", "transfer-encoding", "content-length")
                ]
                data = resp.read()
            finally:
                conn.close()
            behaviour.seen.append(f"{self.command} {self.path}")
            if behaviour.rewrite is not None:
                changed = behaviour.rewrite(self.command, self.path, status, out_headers, data)
                if changed is not None:
                    status, out_headers, data = changed
            head = f"HTTP/1.1 {status} {http.client.responses.get(status, '')}\r\n"
            for k, v in out_headers:
                head += f"{k}: {v}\r\n"
            head += f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            raw = head.encode("latin-1") + (b"" if self.command == "HEAD" else data)
            self.close_connection = True
            drip = behaviour.drip_paths is not None and behaviour.drip_paths.search(self.path)
            try:
                if not drip:
                    self.wfile.write(raw)
                    return
                start = len(head) if behaviour.drip_body_only else 0
                self.wfile.write(raw[:start])
                self.wfile.flush()
                for i in range(start, len(raw)):
                    self.wfile.write(raw[i : i + 1])
                    self.wfile.flush()
                    time.sleep(behaviour.drip_every)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                return

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

    return Handler


@contextmanager
def hostile_front(upstream: str, behaviour: Behaviour) -> Iterator[str]:
    """A front on a free 127.0.0.1 port for the registry at ``upstream`` (``host:port``);
    yields its ``host:port``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, behaviour))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def same_page_again(pattern: str) -> Rewrite:
    """Answers to paths matching ``pattern`` name themselves as the next page."""
    regex = re.compile(pattern)

    def rewrite(
        method: str, path: str, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if method != "GET" or status != 200 or not regex.search(path):
            return None
        return status, [*headers, ("Link", f'<{path}>; rel="next"')], body

    return rewrite
