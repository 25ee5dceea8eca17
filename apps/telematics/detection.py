"""Trip detection from streamed positions (filled in by the next commit)."""

from apps.telematics.positions.services import trips_detect_request_clear


def trips_detect_pending() -> int:
    trips_detect_request_clear()
    return 0
