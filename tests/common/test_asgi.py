"""apps.common.asgi.WsgiInThreads: a WSGI application answered from persistent threads (each
with its own database connection kept, as under gunicorn's gthread worker)."""

import asyncio
import threading

from apps.common.asgi import WsgiInThreads


def _call(app, *, body_parts=(b"",), path="/x"):
    messages = [{"type": "http.request", "body": part, "more_body": i < len(body_parts) - 1} for i, part in
                enumerate(body_parts)]  # fmt: skip
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"a=1", "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent


def test_requests_are_answered_by_a_few_threads_that_live_on():
    seen = []

    def wsgi(environ, start_response):
        seen.append(threading.get_ident())
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Thing", "1")])
        return [environ["wsgi.input"].read(), b"|", environ["QUERY_STRING"].encode()]

    app = WsgiInThreads(wsgi, threads=2)
    for _ in range(12):
        start, body = _call(app, body_parts=(b"he", b"llo"))
        assert start["status"] == 201 and (b"x-thing", b"1") in start["headers"]
        assert body["body"] == b"hello|a=1"
    # the same two threads each time, not a thread (and a database connection) per request
    assert len(set(seen)) <= 2 and all(t != threading.get_ident() for t in seen)


def test_a_body_past_the_upload_limit_is_not_read_whole(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    got = []

    def wsgi(environ, start_response):
        got.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    _call(WsgiInThreads(wsgi, threads=1), body_parts=(b"0123456789", b"abcdef", b"ghij"))
    assert got == [b"0123456789a"]  # one byte past the limit: Django answers 413 from the length
