"""Cleaning an upload's samples: sorted by time, duplicates and impossible fixes dropped."""

import numpy as np

from apps.telematics.ingest.samples import DROP_REASONS, US, CleanResult, SampleArrays, cfg

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _same_value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    eq = a == b
    if a.dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return eq


def clean_samples(samples: SampleArrays) -> CleanResult:
    """Sorts by time, drops exact duplicates, conflicting fixes at the same instant, and
    impossible fixes; returns the kept samples and the drop counts by reason."""
    received = len(samples)
    dropped = dict.fromkeys(DROP_REASONS, 0)
    steps = np.diff(samples.t)
    reordered = int(np.count_nonzero(steps < 0))
    if received > 1 and (steps > 0).all():
        # Strictly increasing times, the usual upload: already sorted, and no two fixes share
        # an instant, so there is nothing to sort and no duplicate to look for.
        s = samples
    else:
        # Sort by time, then by every other column so exact duplicates sit side by side (lexsort
        # is stable: of identical fixes the first received comes first and is the one kept).
        keys = [np.nan_to_num(getattr(samples, c), nan=np.inf) for c in reversed(SampleArrays.COLUMNS[1:])]
        order = np.lexsort([*keys, samples.t])
        by_value = samples.take(order)
        exact = np.zeros(received, dtype=bool)
        exact[1:] = by_value.t[1:] == by_value.t[:-1]
        for name in SampleArrays.COLUMNS[1:]:
            col = getattr(by_value, name)
            exact[1:] &= _same_value(col[1:], col[:-1])
        dropped["duplicate"] = int(exact.sum())
        # Of conflicting fixes at one instant the first received wins: back to the order of
        # arrival, then a stable sort by time keeps that order within an instant.
        kept = np.sort(order[~exact])
        s = samples.take(kept[np.argsort(samples.t[kept], kind="stable")])
        same_time = np.zeros(len(s), dtype=bool)
        same_time[1:] = s.t[1:] == s.t[:-1]
        dropped["duplicate_time"] = int(same_time.sum())
        s = s.take(~same_time)

    bad_coord = ~((np.abs(s.lat) <= 90) & (np.abs(s.lon) <= 180))
    # A missing speed (NaN: streamed positions may have none; uploads always do) is not bad.
    bad_speed = ~bad_coord & ~(np.isnan(s.speed) | ((s.speed >= 0) & (s.speed <= cfg("MAX_SPEED_MPS"))))
    bad_acc = ~bad_coord & ~bad_speed & (np.hypot(s.acc_lon, s.acc_lat) > cfg("MAX_ABS_ACCEL_MPS2"))
    dropped["coordinates_out_of_range"] = int(bad_coord.sum())
    dropped["speed_out_of_range"] = int(bad_speed.sum())
    dropped["acceleration_out_of_range"] = int(bad_acc.sum())
    s = s.take(~(bad_coord | bad_speed | bad_acc))

    keep = _jump_filter(s.t, s.lat, s.lon, cfg("MAX_JUMP_SPEED_MPS"))
    dropped["implausible_jump"] = int((~keep).sum())
    s = s.take(keep)
    return CleanResult(
        samples=s, received=received, dropped={k: v for k, v in dropped.items() if v}, reordered=reordered
    )


def _jump_filter(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, limit: float) -> np.ndarray:
    """Keeps fixes reachable from the last kept fix at <= limit m/s.

    Vectorised on the common path: only the samples whose implied speed from their predecessor
    is too high are examined one by one, against the last fix that was kept."""
    n = len(t)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    secs = np.diff(t) / US
    implied = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) / secs
    suspects = np.flatnonzero(implied > limit) + 1  # sample indexes
    if not len(suspects):
        return keep

    def too_fast(a: int, b: int) -> bool:
        d = haversine_m(lat[a], lon[a], lat[b], lon[b])
        return d / ((t[b] - t[a]) / US) > limit

    # A first fix that is itself the outlier: everything after would look like a jump.
    if suspects[0] == 1 and n > 2 and implied[1] <= limit:
        keep[0] = False
        suspects = suspects[1:]
        last_kept = 1
    else:
        last_kept = 0
    pos = 0
    while pos < len(suspects):
        i = int(suspects[pos])
        if i <= last_kept:
            pos += 1
            continue
        if keep[i - 1] and i - 1 > last_kept:
            last_kept = i - 1  # the samples between two suspects were all fine
        # Walk forward while fixes stay unreachable from the last kept one.
        while i < n and too_fast(last_kept, i):
            keep[i] = False
            i += 1
        if i < n:
            last_kept = i
        pos = int(np.searchsorted(suspects, i, side="right"))
    return keep
