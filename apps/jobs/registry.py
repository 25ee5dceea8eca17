"""The registry of batch job kinds. Each app registers its batch work in its `jobs.py`, under
kind names prefixed with the app's label:

    from apps.jobs.registry import JobContext, register

    @register("transactions.ingest", title="Ingest payment files", params={"paths": list})
    def ingest(ctx: JobContext, *, paths: list) -> dict:
        ctx.set_total(n); ...; ctx.advance(k); ctx.check_cancelled()
        return {"rows": n}          # stored as the run's result

A job function must be idempotent: a run killed half-way and started again does nothing twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import autodiscover_modules


class JobCancelled(Exception):
    pass


@dataclass(frozen=True)
class JobKind:
    name: str
    func: Callable[..., dict | None]
    title: str
    params: dict[str, type] = field(default_factory=dict)
    # Default schedule installed by a data migration: a crontab string "m h dom mon dow" or None.
    schedule: str | None = None
    queue: str = "celery"

    def clean_params(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Coerces CLI/admin strings to the declared types; unknown names are refused."""
        unknown = set(raw) - set(self.params)
        if unknown:
            raise ValueError(f"unknown parameter(s) for {self.name}: {', '.join(sorted(unknown))}")
        cleaned = {}
        for name, value in raw.items():
            kind = self.params[name]
            if isinstance(value, str) and kind is not str:
                if kind is bool:
                    value = value.strip().lower() in {"1", "true", "yes", "on"}
                elif kind is list:
                    value = [part for part in value.split(",") if part]
                else:
                    value = kind(value)
            cleaned[name] = value
        return cleaned


_REGISTRY: dict[str, JobKind] = {}


def register(
    name: str, *, title: str, params: dict[str, type] | None = None, schedule: str | None = None, queue: str = "celery"
):
    def decorator(func):
        _REGISTRY[name] = JobKind(
            name=name, func=func, title=title, params=params or {}, schedule=schedule, queue=queue
        )
        return func

    return decorator


def discover() -> None:
    autodiscover_modules("jobs")


def get(name: str) -> JobKind:
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown job kind {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def all_kinds() -> dict[str, JobKind]:
    discover()
    return dict(sorted(_REGISTRY.items()))


class JobContext:
    """Handed to a job function: progress reporting and cancellation checks on its JobRun."""

    def __init__(self, run):
        self.run = run
        self._nudged_at = 0.0

    def _nudge(self) -> None:
        """Tells the live job pages that this run moved, at most twice a second."""
        import time

        from apps.common import live

        now = time.monotonic()
        if now - self._nudged_at >= 0.5:
            self._nudged_at = now
            live.publish("jobs", {"id": self.run.pk, "kind": self.run.kind})

    def set_total(self, total: int | None, note: str = "") -> None:
        from apps.jobs.models import JobRun

        JobRun.objects.filter(pk=self.run.pk).update(progress_total=total, progress_done=0, progress_note=note[:200])
        self._nudge()

    def advance(self, done: int = 1, note: str | None = None) -> None:
        from django.db.models import F
        from django.db.models.functions import Least

        from apps.jobs.models import JobRun

        update = {"progress_done": F("progress_done") + done}
        if self.run.progress_total is not None:
            update["progress_done"] = Least(F("progress_done") + done, F("progress_total"))
        if note is not None:
            update["progress_note"] = note[:200]
        JobRun.objects.filter(pk=self.run.pk).update(**update)
        self._nudge()

    def set_progress(self, done: int, total: int | None = None, note: str = "") -> None:
        from apps.jobs.models import JobRun

        fields = {"progress_done": done, "progress_note": note[:200]}
        if total is not None:
            fields["progress_total"] = total
        JobRun.objects.filter(pk=self.run.pk).update(**fields)
        self._nudge()

    def check_cancelled(self) -> None:
        from apps.jobs.models import JobRun

        if JobRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise JobCancelled()
