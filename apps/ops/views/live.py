"""Server-Sent Events: one stream per page, forwarding the topics it shows (apps.common.live).

A stream lasts STREAM_SECONDS and then ends; the browser's EventSource reconnects by itself
(after the `retry` we send), so a gunicorn thread is never held forever and a deploy drains."""

from apps.common import live
from apps.ops.views.base import staff_required

STREAM_SECONDS = 300


@staff_required
def stream(request):
    topics = [t for t in request.GET.get("topics", "alerts").split(",") if t in live.TOPICS] or ["alerts"]
    try:
        seconds = min(float(request.GET.get("seconds", STREAM_SECONDS)), STREAM_SECONDS)
    except ValueError:
        seconds = STREAM_SECONDS
    return live.event_stream(topics, seconds=seconds)
