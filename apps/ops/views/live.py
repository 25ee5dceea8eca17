"""Server-Sent Events: one stream per page, forwarding the topics it shows (apps.common.live).

A stream lasts STREAM_SECONDS and then ends; the browser's EventSource reconnects by itself
(after the `retry` we send), so a gunicorn thread is never held forever and a deploy drains."""

import json

from django.db import connection
from django.http import StreamingHttpResponse

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

    def events():
        # A stream lives for minutes and never queries: give its database connection back now.
        connection.close()
        yield "retry: 2000\n: connected\n\n"
        for message in live.subscribe(topics, seconds=seconds):
            if message is None:
                yield ": keep-alive\n\n"
                continue
            topic, data = message
            yield f"event: {topic}\ndata: {json.dumps(data, default=str)}\n\n"

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
