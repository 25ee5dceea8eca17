"""`python -m tests.transactions.stalled_ingest <delivery> <point>`: ingests a delivery and stalls
at the named checkpoint of the run (inside its open transaction for "transactions_loaded"),
after printing `stalled <run id>`, so that a test can kill the process there."""

import os
import sys
import time

import django

STALL_SECONDS = 120


def main(path: str, stall_at: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.test")
    django.setup()
    from apps.transactions.services import ingest_run_create, ingest_run_execute

    run = ingest_run_create(paths=[path])

    def checkpoint(point: str) -> None:
        if point == stall_at:
            print(f"stalled {run.pk}", flush=True)
            time.sleep(STALL_SECONDS)

    ingest_run_execute(run=run, checkpoint=checkpoint)
    sys.exit(f"the run never reached {stall_at}")


if __name__ == "__main__":
    main(*sys.argv[1:])
