"""Positions streamed by trackers: the OsmAnd protocol (Traccar Client apps, many hardware
trackers) and the gateways' JSON batch. Plain Django views: a tracker sends one small request
every few seconds, and DRF's request wrapper would cost more than storing the position."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.common.middleware import text_problem
from apps.telematics.api.authentication import INVALID_TOKEN
from apps.telematics.api.lean import APPENDED
from apps.telematics.api.views import _error, _json
from apps.telematics.ingest import UploadInvalid, decode_body
from apps.telematics.positions.buffer import positions_accept, positions_accept_remembered
from apps.telematics.positions.parse import parse_batch_json, parse_osmand_params, parse_traccar_json
from apps.telematics.positions.services import positions_screen, positions_store
from apps.telematics.services import ConsentRefused, DeviceRefused, device_authenticate_for_upload
from apps.telematics.services.devices import device_version

UNKNOWN_DEVICE = "No device with this identifier uses this key."


def _device_for(identifier: str, key: str | None, **version):
    """(device, None) or (None, reason): `authentication_failed` for a missing or bad key,
    `unknown_device` when the key is a device's but the identifier is not its serial."""
    device = device_authenticate_for_upload(raw_token=key, **version) if key else None
    if device is None:
        return None, "authentication_failed"
    if device.serial != identifier:
        return None, "unknown_device"
    return device, None


def _body(request) -> bytes:
    limit = settings.TELEMATICS["MAX_BODY_BYTES"]
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise UploadInvalid(f"the body is larger than {limit} bytes", field="body")
    return decode_body(raw, request.META.get("HTTP_CONTENT_ENCODING", ""))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def osmand(request, key: str | None = None):
    """One position, as the OsmAnd protocol sends it: GET or POST with query/form parameters, or
    POST with the current Traccar Client's JSON body. The device key is the `key` query parameter
    of the configured server URL (or its last path segment). 200 with an empty body when stored
    or buffered (or stored before); 400 naming the field; 401 for a missing or wrong key, 404 when the
    identifier is not the key's device; 403 when the driver's consent is not in force.

    With POSITION_BUFFER (the default) a checked position is appended to a Redis stream and the
    answer does not wait for the database; a flusher stores the stream in batches
    (apps.telematics.positions.buffer), checking device and consent again."""
    key = key or request.GET.get("key") or request.POST.get("key")
    try:
        if request.method == "POST" and request.content_type.strip().lower() == "application/json":
            batch = parse_traccar_json(_body(request))
        else:
            params = request.GET.copy()
            if request.method == "POST":
                params.update(request.POST)
            batch = parse_osmand_params(params)
        buffered = settings.TELEMATICS["POSITION_BUFFER"]
        if request.META.get(APPENDED):  # the lean path (apps.telematics.api.lean) appended them
            fast = "appended"
        else:
            fast = positions_accept_remembered(batch=batch, raw_key=key) if buffered else None
        if fast == "accepted":
            return HttpResponse(status=200)
        device, problem = _device_for(batch.identifiers[0], key)
        if problem == "authentication_failed":
            return _error(request, 401, problem, {"detail": INVALID_TOKEN})
        if problem:
            return _error(request, 404, problem, {"detail": UNKNOWN_DEVICE})
        if buffered:
            positions_accept(batch=batch, device=device, append=fast is None)
        else:
            kept, _ = positions_screen(batch=batch, device=device)
            if len(kept):
                positions_store(batch=kept, devices={0: device}, strict=True, clean=False)
    except UploadInvalid as exc:
        return _error(request, 400, "invalid", {"errors": {"detail": exc.message, **exc.extra}})
    except ConsentRefused as exc:
        return _error(request, 403, "permission_denied", {"detail": exc.message, "reason": exc.code})
    except DeviceRefused as exc:
        return _error(request, 401, "authentication_failed", {"detail": exc.message})
    return HttpResponse(status=200)


@csrf_exempt
@require_http_methods(["POST"])
def positions_batch(request):
    """Many devices' positions in one request (gateways): each device presents its own key in
    `keys`. 200 with the counts; devices whose key is wrong, or whose driver has no consent in
    force, are listed in `refused` and store nothing; 401 when no device's key is right."""
    try:
        batch, keys = parse_batch_json(_body(request), limit=settings.TELEMATICS["POSITION_BATCH_MAX"])
        _keys_check(keys)
        devices, refused = {}, {}
        version = device_version()  # once for the request, not once per device
        for code, identifier in enumerate(batch.identifiers):
            device, problem = _device_for(identifier, keys[identifier], version=version)
            if device is None:
                refused[identifier] = problem
            else:
                devices[code] = device
        if not devices:
            return _error(request, 401, "authentication_failed", {"detail": INVALID_TOKEN, "refused": refused})
        # Positions of the refused devices are counted as received and never stored.
        result = positions_store(batch=batch, devices=devices, field_of=lambda i: f"positions[{i}].t")
    except UploadInvalid as exc:
        return _error(request, 400, "invalid", {"errors": {"detail": exc.message, **exc.extra}})
    result.refused.update(refused)
    return _json(200, result.as_dict())


# The JSON body is checked here rather than by ApiBoundaryMiddleware (which still enforces the
# size limit), whose walk over every value of a 5,000-position body cost 9 ms (1.8 µs a
# position): orjson refuses lone surrogates and parse_batch_json every non-number, so only the
# keys' texts can carry a NUL.
positions_batch.checks_own_json = True


def _keys_check(keys: dict[str, str]) -> None:
    for identifier, key in keys.items():
        if problem := text_problem(identifier) or text_problem(key):
            raise UploadInvalid(f"keys: a device id or key {problem}", field="keys")
