import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")

app = Celery("fleetops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _django_logging(**kwargs):
    """Workers and beat log through the project's LOGGING (JSON lines with the task id) instead of
    Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_prerun.connect
def _task_id_into_logs(task_id=None, **kwargs):
    from apps.common.logging import request_id_var

    request_id_var.set(task_id or "-")


@signals.task_postrun.connect
def _task_id_out_of_logs(**kwargs):
    from apps.common.logging import request_id_var

    request_id_var.set("-")


@signals.worker_ready.connect
def _watch_the_broker(**kwargs):
    from django.conf import settings

    from apps.common.broker import BrokerWatch

    BrokerWatch(interval=settings.BROKER_WATCH_SECONDS, timeout=settings.BROKER_WATCH_TIMEOUT_SECONDS).start()
