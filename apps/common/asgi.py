"""The lean routes in front of Django's ASGI application, for a process that serves a few hot
paths on an event loop (the positions receiver, fleetops.asgi): the same handlers as the WSGI
front (apps.common.wsgi.LeanRoutes) see the request as a WSGI environ made from the ASGI scope;
what they do not answer goes to Django, which runs its views in a thread as usual.

An event loop answers a keep-alive request without the thread hand-offs of gunicorn's gthread
worker: a WSGI callable that does nothing costs about 225 µs of server CPU a request there and
tens of µs under uvicorn (bench/RESULTS.md, "Streamed positions").

Every request gets one access log line, as gunicorn's (fleetops/gunicorn_conf.py): JSON with the
request id and the path without its query string (where trackers send their position and
token), a key in the path redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from apps.common.keys import redact_keys
from apps.common.wsgi import Answer, LeanRoutes

access_logger = logging.getLogger("fleetops.access")


def environ_from_scope(scope: dict) -> dict:
    """The WSGI environ of an ASGI HTTP scope's request line and headers (no body: the lean
    handlers answer bodiless requests only), as a WSGI server would build it (PEP 3333: the
    path as the bytes it came as, read as latin-1)."""
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value  # repeated headers join
    return environ


async def send_whole(send, status: int, headers, body: bytes) -> None:
    """An ASGI response in one piece from WSGI-style headers ((name, value) strings)."""
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})


class LeanRoutesASGI:
    """ASGI: offers each HTTP request to the lean handlers (see LeanRoutes), else to `app`."""

    def __init__(self, app, routes: dict[str, Callable[[dict], Answer]]):
        self.app = app
        self.lean = LeanRoutes(None, routes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        environ = environ_from_scope(scope)
        answer = self.lean.offer(environ)
        if answer is not None:
            status, headers, body = answer
            code = int(status[:3])
            await send_whole(send, code, headers, body)
            self.log(scope, code, len(body), dict(headers).get("X-Request-ID", "-"), started)
            return
        seen = {"status": 0, "bytes": 0, "request_id": "-"}
        # The environ goes along: a handler may have marked it (apps.telematics.api.lean.APPENDED).
        scope = {**scope, "wsgi_environ": environ}

        async def sending(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-request-id":
                        seen["request_id"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.log(scope, seen["status"], seen["bytes"], seen["request_id"], started)

    def log(self, scope: dict, status: int, size: int, request_id: str, started: float) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        line = {
            "time": time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
            "level": "INFO",
            "logger": "fleetops.access",
            "message": f"{scope['method']} {redact_keys(scope['path'])} HTTP/{scope.get('http_version', '1.1')}",
            "status": str(status),
            "bytes": str(size),
            "duration_ms": str(int((time.perf_counter() - started) * 1000)),
            "remote": (scope.get("client") or ("-", 0))[0],
            "request_id": request_id,
        }
        access_logger.info(json.dumps(line))


class WsgiInThreads:
    """ASGI: a WSGI application (Django's) run in a pool of persistent threads, as gunicorn's
    gthread worker runs it, for the requests the lean handlers leave. Not Django's ASGI handler:
    it runs each request's sync code in a thread of its own (ThreadSensitiveContext), so every
    request opened a database connection of its own — 8 ms of CPU a request, measured with the
    positions receiver — where a persistent thread keeps its connection (CONN_MAX_AGE).
    The body is read whole, up to one byte past DATA_UPLOAD_MAX_MEMORY_SIZE (Django answers a
    larger one 413 from its Content-Length); responses are sent whole (no streaming here)."""

    def __init__(self, app, *, threads: int = 4):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        limit = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or sys.maxsize) + 1
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            if len(body) < limit:
                body += message.get("body", b"")[: limit - len(body)]
            more = message.get("more_body", False)
        environ = dict(scope.get("wsgi_environ") or environ_from_scope(scope))
        environ.update(
            {
                "wsgi.input": io.BytesIO(bytes(body)),
                "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0),
                "wsgi.multithread": True,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
            }
        )
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(self.pool, self._run, environ)
        await send_whole(send, status, headers, b"".join(chunks))

    def _run(self, environ: dict) -> tuple[int, list, list[bytes]]:
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = int(status[:3]), headers
            return lambda data: chunks.append(data)  # the legacy write()

        chunks: list[bytes] = []
        result = self.app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()  # Django's request_finished: the connection kept or closed as usual
        return started["status"], started["headers"], chunks
