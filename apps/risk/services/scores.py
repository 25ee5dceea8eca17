"""Risk writes: rescoring requests and scoring drivers with the active model."""

import contextlib
import logging
import threading

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.services import event_raise
from apps.common.exceptions import ApplicationError
from apps.risk.hooks import rescore_wanted, scores_changed
from apps.risk.models import RiskModel, RiskScore
from apps.risk.services.notices import scores_changed_notify
from apps.telematics.services import driver_features_refresh

logger = logging.getLogger(__name__)

# A driver's trips arrive in bursts; one rescore per driver per window is plenty.
RESCORE_DEBOUNCE_SECONDS = getattr(settings, "RISK_RESCORE_DEBOUNCE_SECONDS", 180)


def _rescore_key(driver_id: int) -> str:
    # The database name keeps two deployments (or two test databases) sharing one Redis apart.
    return f"risk:rescore:{connection.settings_dict['NAME']}:{driver_id}"


def driver_rescore_requested(*, driver_id: int) -> None:
    """Asks for a driver to be rescored, at most once per driver per RESCORE_DEBOUNCE_SECONDS.

    The first request of a window enqueues the rescore (after the caller's transaction commits,
    delayed by the window so trips of the same burst are all in); later requests in the window
    are absorbed. A Redis outage never reaches the caller: the request is logged and dropped,
    and the scheduled batch scoring picks the driver up."""
    try:
        added = cache.add(_rescore_key(driver_id), 1, timeout=RESCORE_DEBOUNCE_SECONDS)
    except Exception:  # the cache is configured to swallow errors; this is belt and braces
        logger.warning("risk rescore debounce unavailable for driver %s", driver_id, exc_info=True)
        added = None
    if added is False:
        return  # already requested in this window

    def enqueue() -> None:
        try:
            rescore_wanted.send(driver_id=driver_id, countdown=RESCORE_DEBOUNCE_SECONDS if added else 0)
        except Exception:
            logger.warning("risk rescore of driver %s could not be enqueued", driver_id, exc_info=True)

    transaction.on_commit(enqueue)


def drivers_trips_computed(*, driver_ids: list[int]) -> None:
    """Receiver of telematics' `trip_features_computed` hook (connected in RiskConfig.ready):
    each driver with newly computed trips is asked to be rescored."""
    for driver_id in driver_ids:
        driver_rescore_requested(driver_id=driver_id)


def driver_rescore(*, driver_id: int):
    """Event-driven rescoring after new trips: the driver's features are first brought up to
    today (their trips of the model's window up to now, written as today's features row; the
    nightly refresh rewrites that row once the day is complete), then scored with the active
    model (see driver_score_refresh)."""
    model = RiskModel.objects.filter(is_active=True).first()
    if model is None:
        logger.info("no active risk model: driver %s not rescored", driver_id)
        return None
    driver_features_refresh(as_of=timezone.localdate(), window_days=model.window_days, driver_ids=[driver_id])
    return driver_score_refresh(model=model, driver_id=driver_id)


# --- scoring -------------------------------------------------------------------------------------


def _scores_follow_up(*, model, as_of, written: list[tuple]) -> list[int]:
    """After new scores: a `safety` event for each driver whose band worsened to high (event_raise
    keeps one live event per driver), a notification to each driver whose band or score changed
    (a first score counts as a change; one statement for the chunk), and `scores_changed` sent on
    commit (pricing requotes) for those drivers. Returns the changed driver ids."""
    changed = []
    for driver_id, band, score, before_band, before_score in written:
        if before_band is None or (before_band, before_score) != (band, score):
            changed.append(int(driver_id))
        if band == RiskScore.Band.HIGH and before_band is not None and before_band != RiskScore.Band.HIGH:
            event_raise(
                event_type="safety",
                severity="high",
                entity_type="customers.customer",
                entity_id=driver_id,
                title=f"Driver {driver_id} moved into the high risk band",
                description=f"Safety score {before_score} ({before_band}) → {score} (high) with model {model.version}"
                f" on features as of {as_of}.",
                metadata={"model": model.version, "as_of": str(as_of), "from_band": before_band, "safety_score": score},
                score=float(100 - score),
                source="risk.scoring",
            )
    if changed:
        scores_changed_notify(model=model, as_of=as_of, written=written)
        transaction.on_commit(lambda ids=tuple(changed): scores_changed.send(driver_ids=list(ids)))
    return changed


@transaction.atomic
def scores_chunk_save(*, model, as_of, driver_ids, values, explain: bool = True, update_changed: bool = False) -> dict:
    """Scores one chunk of drivers and writes it, with its follow-ups, in one transaction."""
    from apps.risk import scoring

    chunk = scoring.scores_compute(model=model, driver_ids=driver_ids, values=values, explain=explain)
    written = scoring.scores_write(model=model, as_of=as_of, chunk=chunk, update_changed=update_changed)
    changed = _scores_follow_up(model=model, as_of=as_of, written=written)
    return {"scored": len(driver_ids), "written": len(written), "changed": len(changed)}


def _chunk_score(*, model, as_of, driver_ids, explain: bool) -> dict:
    """One chunk: its features read in one query, scored, written with its follow-ups."""
    from apps.risk import selectors

    chunk_ids, values = selectors.features_chunk(model=model, as_of=as_of, driver_ids=driver_ids)
    return scores_chunk_save(model=model, as_of=as_of, driver_ids=chunk_ids, values=values, explain=explain)


def _thread_connections_close(pool, workers: int) -> None:
    """Closes the database connection of each of the pool's threads. A worker thread keeps its
    own connection (and its session's stage table) from chunk to chunk: opening one per chunk
    cost a backend start and a temporary table each time, about a third of the database's CPU
    at 1,000-driver chunks. The barrier makes each thread take exactly one of the closes."""
    barrier = threading.Barrier(workers)

    def close(_) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        connection.close()

    list(pool.map(close, range(workers)))


def drivers_score(
    *,
    model=None,
    as_of=None,
    driver_ids: list[int] | None = None,
    explain: bool = True,
    chunk_size: int = 1000,
    workers: int = 2,
    ctx=None,
) -> dict:
    """Batch scoring: every driver with features as of `as_of` (default: the latest feature day
    before today) that this model has not scored for that day yet, in chunks of `chunk_size`: each chunk's
    features read in one query, predicted and explained with one call each, and written with
    its follow-ups in its own transaction. A rerun writes nothing; a killed run, started again,
    scores the rest.

    With `workers` > 1 (and outside a caller's transaction, whose uncommitted rows other
    connections could not see) that many threads score chunks side by side, each on its own
    connection: a chunk spends most of its time in PostgreSQL (the insert, its indexes and
    foreign-key checks), so two connections keep both cores busy. Chunks are independent
    transactions either way, so a failure or a cancel leaves only whole chunks written."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from apps.risk import selectors

    model = model or selectors.risk_model_active()
    if model is None:
        raise ApplicationError("no active risk model: train one and activate it first", code="no_active_model")
    if chunk_size < 1 or chunk_size > 50_000:
        raise ApplicationError("chunk_size must be between 1 and 50,000", code="invalid")
    if as_of is None:
        # The latest complete day: today's rows are only the drivers rescored by events so far.
        today = timezone.localdate()
        dates = [d for d in selectors.feature_dates(window_days=model.window_days) if d < today]
        if not dates:
            raise ApplicationError(
                f"no driver features with a {model.window_days}-day window before today to score",
                code="no_features",
            )
        as_of = dates[-1]
    ids = sorted({int(i) for i in driver_ids}) if driver_ids is not None else None
    todo = selectors.drivers_to_score(model=model, as_of=as_of, driver_ids=ids)
    if ctx:
        ctx.set_total(len(todo), note=f"model {model.version}, features as of {as_of}")
    done = {"scored": 0, "written": 0, "changed": 0, "chunks": 0}

    def account(counts: dict) -> None:
        for key, value in counts.items():
            done[key] += value
        done["chunks"] += 1
        if ctx:
            ctx.advance(counts["scored"])

    chunks = [todo[start : start + chunk_size] for start in range(0, len(todo), chunk_size)]
    if workers <= 1 or len(chunks) < 2 or connection.in_atomic_block:
        for chunk in chunks:
            if ctx:
                ctx.check_cancelled()
            account(_chunk_score(model=model, as_of=as_of, driver_ids=chunk, explain=explain))
    else:
        pending = iter(chunks)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="risk-score") as pool:
            running = set()
            try:
                while True:
                    # At most `workers` chunks in flight: a cancel or a failure stops at once.
                    for chunk in pending:
                        running.add(
                            pool.submit(_chunk_score, model=model, as_of=as_of, driver_ids=chunk, explain=explain)
                        )
                        if len(running) >= workers:
                            break
                    if not running:
                        break
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        account(future.result())
                    if ctx:
                        ctx.check_cancelled()
            finally:
                for future in running:
                    future.cancel()
                wait(running)
                _thread_connections_close(pool, workers)
    return {"model": model.version, "as_of": str(as_of), "explain": explain, "to_score": len(todo), **done}


def driver_score_refresh(*, model, driver_id: int):
    """Event-driven rescoring of one driver from their latest features (today or before). The
    day's score is replaced only if the features changed since it was written."""
    from apps.risk import selectors

    as_of = selectors.driver_latest_features_date(
        driver_id=driver_id, window_days=model.window_days, on_or_before=timezone.localdate()
    )
    if as_of is None:
        logger.info("driver %s has no %s-day features: not rescored", driver_id, model.window_days)
        return None
    driver_ids, values = selectors.features_chunk(model=model, as_of=as_of, driver_ids=[driver_id])
    scores_chunk_save(model=model, as_of=as_of, driver_ids=driver_ids, values=values, update_changed=True)
    return RiskScore.objects.get(driver_id=driver_id, model=model, as_of=as_of)
