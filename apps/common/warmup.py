"""What a web process does once at start instead of on its first user's request: import the URL
configuration (every view module and what it imports), build the URL reversing tables of every
namespace, also through the per-namespace resolvers `reverse` makes (the first `{% url %}` of a
process otherwise builds them: over half a second on a portal page, 40 ms for the admin's on an
ops page), compile every project template into the cached template loader and make the cache's
client. Called by fleetops.wsgi, so each gunicorn worker is warm before it accepts a request."""

import contextlib
import gc
import logging
import time
from pathlib import Path

from django.core.cache import cache
from django.template import TemplateSyntaxError, engines
from django.urls import NoReverseMatch, get_resolver, reverse

logger = logging.getLogger(__name__)


def _reverse_tables(resolver, path: tuple[str, ...] = ()) -> None:
    resolver.reverse_dict  # noqa: B018 - built on first access
    for namespace, (_, namespaced) in resolver.namespace_dict.items():
        _reverse_tables(namespaced, (*path, namespace))
    if path:
        # A name in a namespace is reversed through a resolver made for the namespace's prefix
        # (django.urls.resolvers.get_ns_resolver, cached per process) whose tables its first
        # `reverse` builds: the admin's took 40 ms at load 7 on the ops pages' first request.
        # Reversing a name no namespace has builds them and fails.
        with contextlib.suppress(NoReverseMatch):
            reverse(":".join((*path, "-warm-up-")))


def warm_up() -> dict[str, float]:
    started = time.perf_counter()
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports the URL configuration and its views
    _reverse_tables(resolver)
    routes = time.perf_counter()
    engine = engines["django"]
    compiled = 0
    for folder in engine.dirs:
        for path in sorted(Path(folder).rglob("*.html")):
            try:
                engine.get_template(str(path.relative_to(folder)))
                compiled += 1
            except TemplateSyntaxError:  # a broken template still fails loudly on its own page
                logger.exception("template %s does not compile", path)
    done = time.perf_counter()
    # The cache's client (its modules and connection pool, shared by the process's threads): the
    # ops pages' first viewer paid for it. A cache that is down must not stop the start.
    try:
        cache.get("warm-up")
    except Exception:
        logger.warning("cache unreachable at start", exc_info=True)
    # Everything made so far lives as long as the process: collect once and move it out of the
    # collector's sight (gc.freeze), or the first requests pay a full collection of a heap of
    # some hundred thousand objects (~200 ms at load 8 on a portal page's first request).
    gc.collect()
    gc.freeze()
    timing = {"urls_ms": (routes - started) * 1000, "templates_ms": (done - routes) * 1000, "templates": compiled}
    logger.info("web process warmed up", extra=timing)
    return timing
