"""Lean routes: a WSGI application in front of Django's that offers the requests of a few hot
paths to a handler of their own first. A handler answers what it can answer from memory (the
streamed positions of a device the process knows) without Django's request cycle, and returns
None for everything else, which Django then answers as always; so a handler only ever skips
work, never changes an answer. A handler that fails is logged and Django answers."""

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

# (status line, headers, body), or None: let Django answer.
Answer = tuple[str, list[tuple[str, str]], bytes] | None


class LeanRoutes:
    def __init__(self, app, routes: dict[str, Callable[[dict], Answer]]):
        self.app = app
        self.routes = tuple(routes.items())

    def offer(self, environ: dict) -> Answer:
        """The answer of the handler whose path prefix matches, or None."""
        path = environ.get("PATH_INFO", "")
        for prefix, handler in self.routes:
            if path.startswith(prefix):
                try:
                    return handler(environ)
                except Exception:
                    logger.exception("lean route %s failed; Django answers", prefix)
                    return None
        return None

    def __call__(self, environ, start_response):
        answer = self.offer(environ)
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]
