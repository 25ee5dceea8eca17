"""What a fix-to-fix interval says at any sampling rate, from 1 Hz uploads to a tracker's
positions minutes apart: whether the vehicle moved, for how long, at what speed, how much of it
fell in a clock-time window, and whether the spacing supports harsh-event detection.

Shared by the trip features (apps.telematics.features) and trip detection, so a trip is cut and
measured by the same reading of its fixes."""

import numpy as np
from django.conf import settings

from apps.telematics.ingest import US

# Up to this spacing a reported speed is believed over a displacement (a standing vehicle's fix
# can jump beyond its accuracy); beyond it both are read.
TRUST_REPORTED_S = 30.0
# Harsh events from speed (and heading) differences need fixes at most this far apart.
EVENT_SPACING_S = 2.0
# A trip's harsh events are measurable when this share of its moving time supports them.
MEASURABLE_SHARE = 0.9


def _cfg(name: str):
    return settings.TELEMATICS[name]


def interval_motion(secs, step_m, speed_a, speed_b, accuracy_a=None, accuracy_b=None):
    """(moving, moving seconds, speed) of each interval.

    Moving: the mean reported speed reaches MOVING_SPEED_MPS (believed alone at short spacing),
    or the displacement goes beyond the fixes' accuracy (at least POSITION_MOVE_MIN_M) at a
    moving pace; a standing vehicle's wander is neither. Moving seconds: past 2 s spacing the
    vehicle may have stood for part of the interval, so it is the displacement over the mean
    reported speed (capped at the interval); at short spacing, the whole interval."""
    v = _cfg("MOVING_SPEED_MPS")
    floor = _cfg("POSITION_MOVE_MIN_M")
    known = ~np.isnan(speed_a) & ~np.isnan(speed_b)
    reported = (np.nan_to_num(speed_a) + np.nan_to_num(speed_b)) / 2
    implied = step_m / np.maximum(secs, 1e-9)
    reach = np.full(len(secs), floor) if accuracy_a is None else np.fmax(np.fmax(accuracy_a, accuracy_b), floor)
    displaced = (step_m > reach) & (implied >= v)
    trusted = known & (secs <= TRUST_REPORTED_S)
    moving = np.where(trusted, reported >= v, np.where(known, (reported >= v) | displaced, displaced))
    speed = np.where(known & (reported >= v), reported, implied)
    partial = known & (secs > EVENT_SPACING_S) & (reported > 0)
    moving_secs = np.where(partial, np.minimum(secs, step_m / np.where(reported > 0, reported, 1.0)), secs) * moving
    return moving, moving_secs, speed


def gap_threshold_s(secs: np.ndarray) -> float:
    """An interval is a gap when longer than GAP_S and GAP_SAMPLING_FACTOR times the device's own
    typical spacing (the median interval of the trip)."""
    typical = float(np.median(secs)) if len(secs) else 0.0
    return max(_cfg("GAP_S"), _cfg("GAP_SAMPLING_FACTOR") * typical)


def window_seconds(local_start_us: np.ndarray, secs: np.ndarray, windows: list[tuple[int, int]], weekdays_only=False):
    """Seconds of each interval [start, start + secs) (local wall-clock µs) inside the daily
    hour windows [start_hour, end_hour): clock time, split at the window edges, so a sparse fix
    before 04:00 does not carry its whole interval into the night."""
    out = np.zeros(len(secs))
    if not len(secs):
        return out
    start = local_start_us.astype(np.int64)
    end = start + (secs * US).astype(np.int64)
    day_us = 86400 * US
    first_day = start // day_us
    # Intervals are shorter than a day (longer ones are gaps), so two days cover each.
    for offset in (0, 1):
        day = first_day + offset
        # 1970-01-01 was a Thursday; Monday = 0
        weekday_ok = ((day + 3) % 7) < 5 if weekdays_only else np.ones(len(day), dtype=bool)
        for start_h, end_h in windows:
            lo = day * day_us + start_h * 3600 * US
            hi = day * day_us + end_h * 3600 * US
            overlap = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0, None)
            out += np.where(weekday_ok, overlap / US, 0.0)
    return out


def derived_accelerations(t, speed, heading, trip_of):
    """Longitudinal (dv/dt) and lateral (v·dθ/dt) acceleration at each fix from the fix before,
    where both are of the same trip, at most EVENT_SPACING_S apart and report speed (and heading
    for the lateral); NaN elsewhere."""
    n = len(t)
    lon_acc = np.full(n, np.nan)
    lat_acc = np.full(n, np.nan)
    if n < 2:
        return lon_acc, lat_acc
    secs = np.diff(t) / US
    ok = (trip_of[1:] == trip_of[:-1]) & (secs > 0) & (secs <= EVENT_SPACING_S)
    dv = np.diff(speed)
    lon_acc[1:] = np.where(ok, dv / np.where(ok, secs, 1.0), np.nan)
    turn = (np.diff(heading) + 180.0) % 360.0 - 180.0
    rate = np.radians(turn) / np.where(ok, secs, 1.0)
    lat_acc[1:] = np.where(ok, (speed[1:] + speed[:-1]) / 2 * rate, np.nan)
    return lon_acc, lat_acc
