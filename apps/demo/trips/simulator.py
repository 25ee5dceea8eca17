"""A physics-based driving simulator: drivers with continuous latent traits drive planned
routes of urban, rural and highway segments at 1 Hz; claims follow as a Poisson process whose
rate rises with latent risk and kilometres driven.

Everything here is pure numpy (no database): `simulate()` returns the traits, the trips and
their samples; `apps.demo.trips.simulation` stores them (through the ingestion service, or on
the fast features-only path). The physics runs vectorised over a batch of trips, one second per
step, so thousands of trips advance together.

The model, per second:
- a segment has a length, a posted limit, a bend curvature and an end: none, a stop (traffic
  light or sign, with a wait) or a turn (90° at a junction radius);
- the driver's desired speed is the limit times a per-segment factor that grows with the
  speeding trait (and drops in rush-hour traffic); they accelerate towards it with a
  trait-scaled limit (a(1 - (v/v_des)^4)), and brake for the next lower speed (a stop, a turn,
  a bend, a lower limit) as late as their comfortable deceleration allows, so aggressive
  drivers brake later and harder;
- turns and bends are taken at the speed the driver's lateral tolerance allows (v = √(a·R));
- surprises (a car pulling out) force a hard brake, more often when the phone is in use;
- measured values add accelerometer noise and an autocorrelated GPS error."""

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from apps.telematics.ingest import US, SampleArrays

M_PER_DEG_LAT = 111_195.0
KMH = 1 / 3.6

# Segment end kinds.
END_NONE, END_STOP, END_TURN, END_FINAL = 0, 1, 2, 3


@dataclass
class DriverTraits:
    """Latent, continuous traits of each driver (arrays of one value per driver)."""

    aggressiveness: np.ndarray  # 0..1: acceleration, braking and cornering intensity
    speeding: np.ndarray  # 0..1: how far over the limit they like to drive
    night: np.ndarray  # 0..1: propensity to drive at night
    phone: np.ndarray  # 0..1: phone handling while driving
    annual_km: np.ndarray
    frailty: np.ndarray  # unobserved risk (not visible in any telematics feature)

    def __len__(self) -> int:
        return len(self.annual_km)

    def subset(self, index) -> "DriverTraits":
        return DriverTraits(
            aggressiveness=self.aggressiveness[index],
            speeding=self.speeding[index],
            night=self.night[index],
            phone=self.phone[index],
            annual_km=self.annual_km[index],
            frailty=self.frailty[index],
        )

    def log_relative_risk(self) -> np.ndarray:
        """Log of the claim-rate multiplier: the traits standardised, plus unobserved frailty."""

        def z(x, a, b):  # standardise a Beta(a, b) draw
            mean = a / (a + b)
            sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
            return (x - mean) / sd

        return (
            0.40 * z(self.aggressiveness, 2, 5)
            + 0.25 * z(self.speeding, 2, 6)
            + 0.20 * z(self.night, 1.2, 10)
            + 0.25 * z(self.phone, 1.1, 9)
            + self.frailty
        )

    def as_rows(self) -> list[dict]:
        risk = self.log_relative_risk()
        return [
            {
                "aggressiveness": float(self.aggressiveness[i]),
                "speeding": float(self.speeding[i]),
                "night": float(self.night[i]),
                "phone": float(self.phone[i]),
                "annual_km": float(self.annual_km[i]),
                "relative_risk": float(np.exp(risk[i])),
            }
            for i in range(len(self))
        ]


def draw_traits(rng: np.random.Generator, n: int) -> DriverTraits:
    aggressiveness = rng.beta(2, 5, n)
    # Speeding is correlated with aggressiveness, but not the same thing.
    speeding = np.clip(0.6 * rng.beta(2, 6, n) + 0.4 * aggressiveness * rng.uniform(0.3, 1.2, n), 0, 1)
    return DriverTraits(
        aggressiveness=aggressiveness,
        speeding=speeding,
        night=rng.beta(1.2, 10, n),
        phone=rng.beta(1.1, 9, n),
        annual_km=np.clip(rng.lognormal(math.log(12_000) - 0.125, 0.5, n), 2_000, 60_000),
        frailty=rng.normal(0, 0.3, n),
    )


@dataclass
class TripPlan:
    driver: np.ndarray  # driver index per trip
    start_us: np.ndarray  # epoch µs
    rush: np.ndarray  # bool: starts in rush hour
    segments: list  # per trip: array [S, 6] (length m, limit m/s, curvature 1/m, end kind, wait s, turn sign)
    length_m: np.ndarray


def _start_hours(rng, n, night_trait, weekend):
    """Local start hours: commute peaks on weekdays, a night share that grows with the trait."""
    night = rng.random(n) < (0.01 + 0.35 * night_trait)
    kind = rng.random(n)
    hours = np.where(
        weekend,
        rng.uniform(8, 23, n),
        np.where(
            kind < 0.35, rng.normal(7.8, 0.6, n), np.where(kind < 0.7, rng.normal(17.3, 0.9, n), rng.uniform(9, 22, n))
        ),
    )
    hours = np.where(night, rng.uniform(0, 4, n), hours)
    return np.clip(hours, 0, 23.99)


def _segments_for(rng, length_m: float) -> np.ndarray:
    """Urban at both ends, rural and highway in between for longer trips."""
    parts = []
    if length_m < 5_000:
        plan = [("urban", length_m)]
    elif length_m < 20_000:
        plan = [("urban", 1_200), ("rural", length_m - 2_200), ("urban", 1_000)]
    else:
        plan = [("urban", 1_500), ("rural", 3_000), ("highway", length_m - 6_000), ("rural", 1_000), ("urban", 500)]
    for kind, total in plan:
        done = 0.0
        while done < total - 1:
            if kind == "urban":
                seg = min(rng.uniform(150, 600), total - done)
                limit = 30 * KMH if rng.random() < 0.15 else 50 * KMH
                curvature = 0.0
                end = rng.choice([END_STOP, END_TURN, END_NONE], p=[0.35, 0.3, 0.35])
                wait = rng.uniform(3, 45) if end == END_STOP else 0.0
            elif kind == "rural":
                seg = min(rng.uniform(800, 3_500), total - done)
                limit = rng.choice([70, 80, 100]) * KMH
                curvature = rng.choice([0.0, 1.0]) / rng.uniform(120, 600) * rng.choice([-1, 1])
                end = END_TURN if rng.random() < 0.08 else END_NONE
                wait = 0.0
            else:
                seg = min(rng.uniform(3_000, 10_000), total - done)
                limit = rng.choice([100, 120, 130]) * KMH
                curvature = (rng.random() < 0.3) / rng.uniform(700, 2_000) * rng.choice([-1, 1])
                end, wait = END_NONE, 0.0
            if parts and seg < 50 and total - done - seg < 1:
                # Fold a short remainder into the previous segment instead of a 10 m stub.
                prev = parts[-1]
                parts[-1] = (prev[0] + seg, *prev[1:])
            else:
                parts.append((seg, limit, curvature, end, wait, rng.choice([-1.0, 1.0])))
            done += seg
    parts[-1] = (*parts[-1][:3], END_FINAL, 0.0, parts[-1][5])
    return np.array(parts, dtype=np.float64)


def plan_trips(rng: np.random.Generator, traits: DriverTraits, *, first_day: dt.date, days: int, zone: str) -> TripPlan:
    tz = ZoneInfo(zone)
    drivers, starts, rush, segments, lengths = [], [], [], [], []
    for day_index in range(days):
        day = first_day + dt.timedelta(days=day_index)
        weekend = day.weekday() >= 5
        daily_km = traits.annual_km / 365 * (0.8 if weekend else 1.08) * rng.gamma(4, 0.25, len(traits))
        n_trips = rng.poisson(np.maximum(daily_km, 0.1) / 11.0)
        for driver in np.flatnonzero(n_trips):
            k = int(n_trips[driver])
            trip_km = np.clip(rng.lognormal(math.log(daily_km[driver] / k), 0.6, k), 1.0, 150.0)
            hours = np.sort(_start_hours(rng, k, traits.night[driver], weekend))
            # One driver drives one trip at a time: a trip starts after the previous one's
            # rough end (40 km/h average plus a short stop), never in the same second.
            for j in range(1, k):
                hours[j] = max(hours[j], hours[j - 1] + trip_km[j - 1] / 40.0 + 0.05)
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()
            for j in range(k):
                drivers.append(driver)
                starts.append(int((midnight + hours[j] * 3600) * US))
                rush.append(not weekend and (7 <= hours[j] < 9 or 16 <= hours[j] < 19))
                segments.append(_segments_for(rng, trip_km[j] * 1000))
                lengths.append(trip_km[j] * 1000)
    return TripPlan(
        driver=np.array(drivers, dtype=np.int64),
        start_us=np.array(starts, dtype=np.int64),
        rush=np.array(rush, dtype=bool),
        segments=segments,
        length_m=np.array(lengths),
    )


def _drive_batch(rng, traits: DriverTraits, plan: TripPlan, idx: np.ndarray, origin: np.ndarray) -> tuple:
    """Runs the physics for the trips `idx` together; returns (samples, lengths) in idx order."""
    b = len(idx)
    seg_counts = np.array([len(plan.segments[i]) for i in idx])
    s_max = int(seg_counts.max()) + 1
    table = np.zeros((b, s_max, 6))
    table[:, :, 3] = END_FINAL
    for row, i in enumerate(idx):
        table[row, : seg_counts[row]] = plan.segments[i]
    seg_len, seg_limit, seg_curv, seg_end, seg_wait, seg_sign = (table[:, :, c] for c in range(6))
    drv = plan.driver[idx]
    aggr = traits.aggressiveness[drv]
    speeding = traits.speeding[drv]
    phone_trait = traits.phone[drv]
    a_max = 1.5 + 3.3 * aggr * rng.uniform(0.8, 1.3, b)
    b_comf = 1.6 + 3.0 * aggr * rng.uniform(0.8, 1.25, b)
    a_lat_pref = 1.8 + 3.4 * aggr * rng.uniform(0.8, 1.2, b)
    # Desired speed factor per segment: occasional larger excursions for speeders.
    excess = speeding[:, None] * rng.exponential(0.22, (b, s_max)) + rng.normal(0, 0.03, (b, s_max))
    congestion = np.where(plan.rush[idx], rng.uniform(0.55, 0.9, b), 1.0)[:, None]
    urban = seg_limit <= 50 * KMH + 1e-9
    v_des_seg = seg_limit * (1 + excess) * np.where(urban, congestion, 1.0)
    # Bends limit speed to what the driver accepts laterally.
    with np.errstate(divide="ignore"):
        bend_cap = np.where(seg_curv != 0, np.sqrt(a_lat_pref[:, None] * 1.1 / np.abs(seg_curv)), np.inf)
    v_des_seg = np.minimum(v_des_seg, bend_cap)
    turn_radius = rng.uniform(9, 16, b)
    v_turn = np.sqrt(a_lat_pref * turn_radius)

    rows = np.arange(b)
    seg = np.zeros(b, dtype=np.int64)
    pos = np.zeros(b)
    v = np.zeros(b)
    heading = rng.uniform(0, 2 * np.pi, b)
    north = origin[idx, 0].copy()  # metres from the driver's home point
    east = origin[idx, 1].copy()
    wait = np.zeros(b)
    served = np.zeros(b, dtype=bool)
    turn_left = np.zeros(b)
    turn_rate = np.zeros(b)
    surprise_left = np.zeros(b)
    surprise_decel = np.zeros(b)
    phone_on = np.zeros(b, dtype=bool)
    done = np.zeros(b, dtype=bool)
    gps_err = rng.normal(0, 3.0, (b, 2))

    max_steps = int(np.max(plan.length_m[idx]) / 3.0) + 600
    cols = {
        name: [] for name in ("active", "north", "east", "speed", "acc_lon", "acc_lat", "heading", "limit", "phone")
    }
    step = 0
    while not done.all() and step < max_steps:
        length = seg_len[rows, seg]
        end = seg_end[rows, seg]
        v_des = v_des_seg[rows, seg]
        nxt = np.minimum(seg + 1, s_max - 1)
        v_next = v_des_seg[rows, nxt]
        v_end = np.where(
            (end == END_STOP) | (end == END_FINAL), 0.0, np.where(end == END_TURN, v_turn, np.minimum(v_des, v_next))
        )
        # Look one segment further: a short segment ending in a stop or turn is braked for early.
        end_next = seg_end[rows, nxt]
        v_end_next = np.where(
            (end_next == END_STOP) | (end_next == END_FINAL),
            0.0,
            np.where(end_next == END_TURN, v_turn, np.minimum(v_next, v_des_seg[rows, np.minimum(nxt + 1, s_max - 1)])),
        )
        reachable = np.sqrt(v_end_next**2 + 2 * b_comf * seg_len[rows, nxt])
        v_end = np.where((end == END_STOP) | (end == END_FINAL), v_end, np.minimum(v_end, reachable))
        turning = turn_left > 0
        v_des = np.where(turning, np.minimum(v_des, v_turn), v_des)
        remaining = np.maximum(length - pos, 0.05)
        need = (v**2 - v_end**2) / (2 * remaining)
        # Look one second ahead: start braking now if waiting another second would need more
        # than the driver's comfortable deceleration (at 1 Hz the need jumps between steps).
        ahead = remaining - v
        need_ahead = (v**2 - v_end**2) / (2 * np.maximum(ahead, 0.05))
        braking = (v > v_end) & ((ahead <= 0) | (need_ahead >= b_comf * 0.9))
        free = np.clip(a_max * (1 - (v / np.maximum(v_des, 0.1)) ** 4), -1.2, a_max)
        a = np.where(braking, -np.minimum(need, 9.0), free)  # tyre grip caps braking near 1 g
        # Surprises: rate per second rises with aggressiveness and phone use.
        p_surprise = np.where(urban[rows, seg], 0.0009, 0.0003) * (0.4 + 2.0 * aggr) * np.where(phone_on, 4.0, 1.0)
        start_surprise = (surprise_left <= 0) & (v > 6) & (rng.random(b) < p_surprise)
        surprise_left = np.where(start_surprise, rng.integers(1, 4, b), surprise_left)
        surprise_decel = np.where(start_surprise, 2.2 + 4.0 * aggr * rng.uniform(0.6, 1.4, b), surprise_decel)
        in_surprise = surprise_left > 0
        a = np.where(in_surprise & (v > 2), np.minimum(a, -surprise_decel), a)
        surprise_left = np.maximum(surprise_left - 1, 0)
        waiting = wait > 0
        a = np.where(waiting | done, 0.0, a)
        v_new = np.maximum(v + a, 0.0)
        stop_here = ((end == END_STOP) | (end == END_FINAL)) & (remaining < 1.0) & (v_new < 2.0)
        v_new = np.where(stop_here, 0.0, v_new)
        a_eff = v_new - v
        moved = np.where(waiting | done, 0.0, (v + v_new) / 2)
        pos = pos + moved
        # Lateral dynamics: junction turn or road bend.
        curv = seg_curv[rows, seg]
        yaw = np.where(turning, turn_rate, v_new * curv)
        lateral = v_new * yaw
        heading = heading + yaw
        turn_left = np.maximum(turn_left - 1, 0)
        north = north + moved * np.cos(heading)
        east = east + moved * np.sin(heading)

        # Segment ends: a stop is served once (wait, then go on), a turn starts at the corner.
        crossed = (pos >= length) & ~done
        finish = ((stop_here | crossed) & (end == END_FINAL)) & ~done
        arrival = stop_here & (end == END_STOP) & ~served & ~done
        wait = np.where(arrival, seg_wait[rows, seg], np.maximum(wait - 1, 0))
        served = served | arrival
        leave = (end == END_STOP) & served & (wait <= 0) & ~arrival
        ran_through = crossed & (end == END_STOP) & ~served  # came in too fast: no wait
        advance = ((crossed & ((end == END_NONE) | (end == END_TURN))) | leave | ran_through) & ~finish & ~done
        new_turn = advance & (end == END_TURN)
        duration = np.maximum(np.ceil((np.pi / 2) * turn_radius / np.maximum(v_turn, 1.0)), 2)
        turn_left = np.where(new_turn, duration, turn_left)
        turn_rate = np.where(new_turn, seg_sign[rows, seg] * (np.pi / 2) / duration, turn_rate)
        pos = np.where(advance, np.maximum(pos - length, 0.0), pos)
        seg = np.where(advance, np.minimum(seg + 1, s_max - 1), seg)
        served = served & ~advance

        # Phone sessions (a two-state Markov chain while moving).
        start_phone = ~phone_on & (v_new > 1) & (rng.random(b) < phone_trait * 0.006)
        stop_phone = phone_on & (rng.random(b) < 1 / 18)
        phone_on = (phone_on | start_phone) & ~stop_phone

        gps_err = 0.98 * gps_err + rng.normal(0, 3.0 * math.sqrt(1 - 0.98**2), (b, 2))
        active = ~done
        cols["active"].append(active)
        cols["north"].append(north + gps_err[:, 0])
        cols["east"].append(east + gps_err[:, 1])
        cols["speed"].append(np.maximum(v_new + rng.normal(0, 0.15, b), 0) * (v_new > 0))
        cols["acc_lon"].append(a_eff + rng.normal(0, 0.22, b))
        cols["acc_lat"].append(lateral + rng.normal(0, 0.22, b))
        cols["heading"].append(np.degrees(heading) % 360)
        cols["limit"].append(seg_limit[rows, seg])
        cols["phone"].append(phone_on)
        v = v_new
        done = done | finish
        step += 1

    active = np.array(cols.pop("active")).T  # [b, steps]
    lengths = active.sum(axis=1)
    data = {name: np.array(values, dtype=np.float64).T[active] for name, values in cols.items()}
    step_of = np.broadcast_to(np.arange(active.shape[1]), active.shape)[active]
    trip_row = np.repeat(np.arange(b), lengths)
    return data, step_of, trip_row, lengths


@dataclass
class SimulatedTrips:
    traits: DriverTraits
    plan: TripPlan
    samples: SampleArrays  # all trips, concatenated in trip order
    bounds: np.ndarray  # len(trips) + 1


def simulate(
    *, drivers: int, days: int, seed: int, end_day: dt.date, zone: str = "Europe/Berlin", batch: int = 1024
) -> SimulatedTrips:
    """Deterministic for a seed: the same arguments give the same traits, trips and samples."""
    traits = draw_traits(np.random.default_rng(seed), drivers)
    return simulate_drivers(
        traits=traits, days=days, rng=np.random.default_rng([seed, 1]), end_day=end_day, zone=zone, batch=batch
    )


def simulate_drivers(
    *,
    traits: DriverTraits,
    days: int,
    rng: np.random.Generator,
    end_day: dt.date,
    zone: str = "Europe/Berlin",
    batch: int = 1024,
) -> SimulatedTrips:
    """Trips of these drivers over the `days` days ending with `end_day`, with their samples."""
    drivers = len(traits)
    first_day = end_day - dt.timedelta(days=days - 1)
    plan = plan_trips(rng, traits, first_day=first_day, days=days, zone=zone)
    n_trips = len(plan.driver)
    # Each driver lives somewhere around the city centre; trips start near home.
    home = rng.normal(0, 6_000, (drivers, 2))
    origin = home[plan.driver] + rng.normal(0, 1_500, (n_trips, 2))
    order = np.argsort(plan.length_m, kind="stable")  # similar lengths share a batch
    per_trip_len = np.zeros(n_trips, dtype=np.int64)
    chunks = []
    for start in range(0, n_trips, batch):
        idx = order[start : start + batch]
        data, step_of, trip_row, lengths = _drive_batch(rng, traits, plan, idx, origin)
        per_trip_len[idx] = lengths
        chunks.append((idx, data, step_of, trip_row))
    # Reassemble in trip order.
    bounds = np.concatenate([[0], np.cumsum(per_trip_len)])
    total = int(bounds[-1])
    out = {
        name: np.empty(total) for name in ("north", "east", "speed", "acc_lon", "acc_lat", "heading", "limit", "phone")
    }
    t = np.empty(total, dtype=np.int64)
    for idx, data, step_of, trip_row in chunks:
        trips = idx[trip_row]
        within = step_of  # steps are consecutive from 0 within each trip
        target = bounds[trips] + within
        for name in out:
            out[name][target] = data[name]
        t[target] = plan.start_us[trips] + within.astype(np.int64) * US
    lat0, lon0 = 52.52, 13.405
    lat = lat0 + out["north"] / M_PER_DEG_LAT
    lon = lon0 + out["east"] / (M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    samples = SampleArrays(
        t=t,
        lat=lat,
        lon=lon,
        speed=out["speed"],
        acc_lon=out["acc_lon"],
        acc_lat=out["acc_lat"],
        heading=out["heading"],
        speed_limit=out["limit"],
        phone=out["phone"].astype(np.int8),
    )
    return SimulatedTrips(traits=traits, plan=plan, samples=samples, bounds=bounds)


# --- claims -----------------------------------------------------------------------------------

CLAIM_KINDS = ("collision", "liability", "glass", "theft", "other")
CLAIM_KIND_P = (0.55, 0.2, 0.12, 0.03, 0.1)


@dataclass
class SimulatedClaim:
    driver: int  # driver index
    trip: int | None  # trip index, for claims that happen while driving
    occurred_us: int
    kind: str
    amount: float


def claim_rate(traits: DriverTraits, km: np.ndarray, frequency: float) -> np.ndarray:
    """Each driver's expected claims: `frequency` per year at 12,000 km and average latent risk,
    scaled by the kilometres driven and exp(latent log risk)."""
    return frequency / 12_000 * km * np.exp(traits.log_relative_risk())


def simulate_claims(
    rng: np.random.Generator,
    traits: DriverTraits,
    *,
    trip_driver: np.ndarray,
    trip_km: np.ndarray,
    trip_start_us: np.ndarray,
    trip_end_us: np.ndarray,
    window: tuple[int, int],
    frequency: float = 0.12,
) -> list[SimulatedClaim]:
    """Claims as a Poisson process: driver rate = frequency per year at 12,000 km and average
    latent risk, scaled by the kilometres actually driven and exp(latent log risk). Driving
    claims fall on a trip chosen in proportion to its length; severities are heavy-tailed
    (lognormal bodies, a Pareto tail for large liability losses)."""
    km = np.bincount(trip_driver, weights=trip_km, minlength=len(traits))
    counts = rng.poisson(claim_rate(traits, km, frequency))
    claims = []
    trips_of = {}
    order = np.argsort(trip_driver, kind="stable")
    sorted_drivers = trip_driver[order]
    for driver in np.flatnonzero(counts):
        if driver not in trips_of:
            lo, hi = np.searchsorted(sorted_drivers, [driver, driver + 1])
            trips_of[driver] = order[lo:hi]
        trips = trips_of[driver]
        for _ in range(int(counts[driver])):
            kind = str(rng.choice(CLAIM_KINDS, p=CLAIM_KIND_P))
            if kind in ("glass", "theft") or not len(trips):
                trip = None
                occurred = int(rng.integers(window[0], window[1]))
            else:
                weights = trip_km[trips] / trip_km[trips].sum()
                trip = int(rng.choice(trips, p=weights))
                occurred = int(rng.integers(trip_start_us[trip], max(trip_end_us[trip], trip_start_us[trip] + 1)))
            if kind == "collision":
                amount = rng.lognormal(math.log(3_000), 0.9)
            elif kind == "liability":
                amount = 25_000 * (1 + rng.pareto(1.7)) if rng.random() < 0.06 else rng.lognormal(math.log(4_500), 1.1)
            elif kind == "glass":
                amount = rng.lognormal(math.log(550), 0.35)
            elif kind == "theft":
                amount = rng.lognormal(math.log(14_000), 0.6)
            else:
                amount = rng.lognormal(math.log(1_200), 0.8)
            claims.append(SimulatedClaim(int(driver), trip, occurred, kind, float(min(amount, 5_000_000))))
    return claims
