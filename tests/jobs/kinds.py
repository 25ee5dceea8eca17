"""Job kinds used only by the jobs tests (registered on import)."""

import threading

from apps.jobs.registry import JobContext, register

calls = {"blocking": 0, "counting": 0}
release = threading.Event()


@register("tests.counting", title="Counts its runs", params={"size": int, "label": str, "flag": bool, "ids": list})
def counting(ctx: JobContext, *, size: int = 3, label: str = "", flag: bool = False, ids: list | None = None) -> dict:
    ctx.set_total(size)
    for _ in range(size):
        ctx.check_cancelled()
        ctx.advance(1)
    calls["counting"] += 1
    return {"size": size, "label": label, "flag": flag, "ids": ids or []}


@register("tests.blocking", title="Waits until the test releases it")
def blocking(ctx: JobContext) -> dict:
    calls["blocking"] += 1
    release.wait(timeout=20)
    return {"released": release.is_set()}


@register("tests.failing", title="Always fails", params={"reason": str})
def failing(ctx: JobContext, *, reason: str = "boom") -> dict:
    raise ValueError(reason)


@register("tests.cancellable", title="Cancels itself half-way")
def cancellable(ctx: JobContext) -> dict:
    from apps.jobs.models import JobRun

    ctx.set_total(10)
    ctx.advance(5)
    JobRun.objects.filter(pk=ctx.run.pk).update(cancel_requested=True)  # as the admin's cancel would
    ctx.check_cancelled()
    ctx.advance(5)
    return {}


@register("tests.sleeping", title="Sleeps, checking for cancellation", params={"seconds": float})
def sleeping(ctx: JobContext, *, seconds: float = 1.0) -> dict:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.1)
    return {"slept": seconds}


probed: dict = {}


@register("tests.probing", title="Looks at its own run lock from outside while it runs")
def probing(ctx: JobContext) -> dict:
    from apps.common.sql import own_connection
    from apps.jobs.services import _run_lock_key, job_runs_recover

    with own_connection(application_name="test-probe") as other:
        probed["free"] = other.execute("SELECT pg_try_advisory_lock(%s)", [_run_lock_key(ctx.run.pk)]).fetchone()[0]
    probed["recover"] = job_runs_recover()
    return {}
