"""What a web process does once at start instead of on its first user's request: import the URL
configuration (every view module and what it imports), build the URL reversing tables of every
namespace (the first `{% url %}` of a process otherwise builds them: over half a second on a
portal page) and compile every project template into the cached template loader. Called by
fleetops.wsgi, so each gunicorn worker is warm before it accepts a request."""

import logging
import time
from pathlib import Path

from django.template import TemplateSyntaxError, engines
from django.urls import get_resolver

logger = logging.getLogger(__name__)


def _reverse_tables(resolver) -> None:
    resolver.reverse_dict  # noqa: B018 - built on first access
    for _, namespaced in resolver.namespace_dict.values():
        _reverse_tables(namespaced)


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
    timing = {"urls_ms": (routes - started) * 1000, "templates_ms": (done - routes) * 1000, "templates": compiled}
    logger.info("web process warmed up", extra=timing)
    return timing
