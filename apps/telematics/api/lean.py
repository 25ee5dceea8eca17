"""The OsmAnd request of a device this web process knows, answered in front of Django's request
cycle (apps.common.wsgi.LeanRoutes, mounted by fleetops.wsgi): the same parsing, window, consent
state and cleaning as the view (apps.telematics.api.positions.osmand) and the same Redis append,
without the middleware stack, URL resolution and request objects that cost more than the
position. It answers only the case that needs no database: a GET whose device and driver's
consent this process checked within the last seconds, positions accepted, the device and
consent versions unmoved. Everything else returns None and the view answers it, with every
middleware: an unknown device, a bad or refused position (400/401/403/404), a POST, the buffer
off, a host, header or parameter the middleware would refuse, a plain-HTTP request that
SECURE_SSL_REDIRECT redirects. The answer carries the headers Django's middleware would add,
and the request is counted in the same metrics."""

import time

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpResponse, QueryDict
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from apps.common.logging import request_id_var
from apps.common.metrics import LATENCY, REQUESTS
from apps.common.middleware import headers_refused, query_refused, request_id_for
from apps.telematics.ingest import UploadInvalid
from apps.telematics.positions.buffer import positions_accept_remembered
from apps.telematics.positions.parse import parse_osmand_params

# Set in the environ when this path appended the positions but a version had moved: the view
# then checks the device again without appending a second time.
APPENDED = "fleetops.osmand.appended"
VIEW_NAMES = ("api:telematics-osmand", "api:telematics-osmand-key")


def osmand_lean(environ: dict):
    """(status, headers, body) for a request answered here, None for Django to answer."""
    started = time.perf_counter()
    if environ.get("REQUEST_METHOD") != "GET" or not settings.TELEMATICS["POSITION_BUFFER"]:
        return None
    rest = environ.get("PATH_INFO", "").partition("/osmand")[2]
    if rest and (not rest.isascii() or rest.count("/") != 1 or len(rest) < 2):
        return None  # not this view's path: Django resolves it
    secure = _is_secure(environ)
    if (settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(environ) or headers_refused(environ):
        return None
    try:
        params = QueryDict(environ.get("QUERY_STRING", "").encode("iso-8859-1"), encoding=settings.DEFAULT_CHARSET)
    except Exception:  # too many fields, undecodable: the middleware's answer
        return None
    if query_refused(params):
        return None
    key = rest[1:] or params.get("key")
    if not key:
        return None
    try:
        outcome = positions_accept_remembered(batch=parse_osmand_params(params), raw_key=key)
    except UploadInvalid:
        return None
    if outcome == "appended":
        environ[APPENDED] = True
    if outcome != "accepted":
        return None
    request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
    request_id_var.set(request_id)
    view = VIEW_NAMES[1] if rest else VIEW_NAMES[0]
    REQUESTS.labels("GET", view, "200").inc()
    LATENCY.labels(view).observe(time.perf_counter() - started)
    return "200 OK", [*_headers(secure), ("X-Request-ID", request_id)], b""


def _is_secure(environ: dict) -> bool:
    """HttpRequest.is_secure() without the request (SECURE_PROXY_SSL_HEADER first)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _host_allowed(environ: dict) -> bool:
    """HttpRequest.get_host()'s check (X-Forwarded-Host, when trusted: left to Django)."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        return False
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if settings.DISALLOWED_USER_AGENTS:
        return False
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


_HEADERS: dict[bool, list[tuple[str, str]]] = {}


def _headers(secure: bool) -> list[tuple[str, str]]:
    """The headers Django's stack gives the view's empty 200, made by the same middleware."""
    if secure not in _HEADERS:
        response = HttpResponse()
        response["Content-Length"] = "0"  # CommonMiddleware's
        SecurityMiddleware(lambda request: response).process_response(_Request(secure), response)
        XFrameOptionsMiddleware(lambda request: response).process_response(_Request(secure), response)
        _HEADERS[secure] = list(response.items())
    return _HEADERS[secure]


class _Request:
    def __init__(self, secure: bool):
        self.secure = secure

    def is_secure(self) -> bool:
        return self.secure


def _forget_headers(**kwargs) -> None:
    _HEADERS.clear()


setting_changed.connect(_forget_headers)
