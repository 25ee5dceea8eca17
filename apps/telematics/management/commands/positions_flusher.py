import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from apps.telematics.positions.buffer import positions_flush_forever

logger = logging.getLogger(__name__)
RESTART_DELAY_S = 2.0


class Command(BaseCommand):
    help = (
        "Stores the positions the OsmAnd endpoint buffers in Redis as they arrive, in batches, until "
        "stopped (SIGTERM or Ctrl-C). `make run` starts one; while it runs no request queues a Celery "
        "flush. A database or Redis outage is logged and retried, never the end of the process."
    )

    def handle(self, *args, **options):
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("positions flusher: storing the OsmAnd buffer as it fills")
        while not stopping:
            try:
                counts = positions_flush_forever(should_stop=lambda: bool(stopping))
            except Exception:
                # What was read and not acknowledged stays pending and is claimed on the next round.
                logger.exception("positions flusher: round failed, starting again in %.0f s", RESTART_DELAY_S)
                close_old_connections()
                time.sleep(RESTART_DELAY_S)
            else:
                self.stdout.write(f"positions flusher: stopped after {counts}")
