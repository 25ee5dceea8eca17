import json
import re
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

from apps.common.api import api_error_response, input_error_response, short
from apps.common.logging import request_id_var

_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A lone surrogate (JSON's "\ud800" decodes to one) cannot be encoded, stored or logged.
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPES = ("application/json",)
_BODY_METHODS = ("POST", "PUT", "PATCH")


def text_problem(text: str) -> str | None:
    """What makes a text unfit to store, log or echo (a NUL, a lone surrogate), or None: for a
    view that checks its own JSON body (`checks_own_json`)."""
    return _text_problem(text)


def request_id_for(incoming: str) -> str:
    """The id of a request: its X-Request-ID when sane, a new one otherwise."""
    return incoming if _VALID.match(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) and returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_for(request.headers.get("X-Request-ID", ""))
        # Not reset on the way out: Django logs a 4xx/5xx (django.request) after the middleware.
        request_id_var.set(request.request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain a NUL character"
    if _SURROGATE.search(text):
        return "is not valid Unicode (a lone surrogate)"
    return None


def json_problem(data, max_depth: int) -> tuple[str, str] | None:
    """The first (field path, problem) of a parsed JSON body that no view may see: nesting
    deeper than `max_depth`, a NUL character or a lone surrogate in a key or a string."""
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                return path or "body", f"is nested deeper than {max_depth} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (problem := _text_problem(key)):
                    return child, f"the field name {problem}"
                stack.append((item, child, depth + 1))
        elif isinstance(value, str) and (problem := _text_problem(value)):
            return path or "body", problem
    return None


def query_refused(params) -> bool:
    """Whether ApiBoundaryMiddleware refuses these query parameters (too many, a NUL character or
    a lone surrogate, a blank value), for a path answered before the middleware runs."""
    return len(params) > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or any(
        "" in values or any(_text_problem(text) for text in (key, *values)) for key, values in params.lists()
    )


def headers_refused(environ) -> bool:
    """Whether ApiBoundaryMiddleware refuses the request's headers (a NUL or lone surrogate)."""
    return any(
        name.startswith("HTTP_") and isinstance(value, str) and _text_problem(value) for name, value in environ.items()
    )


class ApiBoundaryMiddleware:
    """One exception boundary for everything under /api/: input that would break a parser, an
    encoder or the database is refused with a 400 naming the field before any view runs; bodies
    over the size limit and requests with too many fields are a 413; a method the view does not
    have is a 405 (before authentication and scopes); and an exception that bad input still causes
    inside a view is a 400, all in the API's error format."""

    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def applies(request) -> bool:
        return request.path_info.startswith("/api/")

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self.applies(request):
            return None
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        if view_class is not None and (refusal := self._method_refusal(request, view_class)):
            return refusal
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and (problem := _text_problem(value)):
                header = name[5:].replace("_", "-").title()
                return api_error_response(request, 400, "invalid", errors={header: [f"The header {problem}."]})
        try:
            params = request.GET
            if len(params) > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
                raise TooManyFieldsSent("too many query parameters")
            for key, values in params.lists():
                for text in (key, *values):
                    if problem := _text_problem(text):
                        return api_error_response(
                            request, 400, "invalid", errors={short(key): [f"The value {problem}."]}
                        )
                if "" in values:
                    return api_error_response(request, 400, "invalid", errors={short(key): ["Must not be blank."]})
            if request.method in _BODY_METHODS and not getattr(view_class, "raw_body", False):
                return self._body_refusal(request, walk_json=not getattr(view_func, "checks_own_json", False))
        except (RequestDataTooBig, TooManyFieldsSent) as exc:
            return input_error_response(request, exc)
        return None

    def process_exception(self, request, exception):
        if not self.applies(request):
            return None
        return input_error_response(request, exception)

    @staticmethod
    def _method_refusal(request, view_class):
        method = request.method.lower()
        allowed = [m for m in view_class.http_method_names if hasattr(view_class, m)]
        if "get" in allowed and "head" not in allowed:
            allowed.append("head")
        if method in allowed:
            return None
        return api_error_response(
            request,
            405,
            "method_not_allowed",
            detail=f'Method "{short(request.method, 10)}" not allowed.',
            headers={"Allow": ", ".join(m.upper() for m in allowed)},
        )

    @staticmethod
    def _body_refusal(request, *, walk_json: bool = True):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is not None and length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestDataTooBig("the body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE")
        if request.content_type in _JSON_TYPES and walk_json:
            try:
                data = json.loads(request.body)
            except RecursionError:
                return api_error_response(
                    request, 400, "parse_error", errors={"body": ["The body is nested too deeply."]}
                )
            except ValueError:
                return None  # DRF's parser answers its own parse error
            if problem := json_problem(data, settings.API_MAX_JSON_DEPTH):
                field, message = problem
                return api_error_response(request, 400, "invalid", errors={short(field): [f"The value {message}."]})
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, values in request.POST.lists():
                for text in (key, *values):
                    if problem := _text_problem(text):
                        return api_error_response(
                            request, 400, "invalid", errors={short(key): [f"The value {problem}."]}
                        )
        return None
