"""Demo trackers: a few demo cars report where they are over the OsmAnd protocol, one position
every few seconds, as the Traccar Client app or a hardware tracker does, and the server cuts
their trips out of the stream. This is what moves the ops console's live map and a driver's
trip in progress after `make run`.

The drives come from the trip simulator (the same physics as the demo's stored trips), replayed
in real time: each car drives a trip, stands still for longer than the detector's stop time,
then drives its next trip from where it stopped. The replay talks HTTP to the running web
server only, so it exercises the real protocol, device authentication, the consent check,
storage and trip detection. Like the Traccar Client with offline buffering, a car keeps what it
could not send (server down) and sends it, oldest first, when the server answers again."""

import datetime as dt
import http.client
import math
import urllib.parse
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from apps.demo.trips.simulator import simulate

KNOTS_PER_MPS = 3600 / 1852
BACKLOG_LIMIT = 2_000  # positions kept per car while the server does not answer


@dataclass
class Drive:
    """One simulated trip at 1 Hz: where the car is each second, its speed (m/s) and heading (°)."""

    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray
    heading: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)

    def moved_to(self, lat: float, lon: float) -> "Drive":
        """The same drive starting at (lat, lon), so a car's next trip begins where it stopped."""
        return Drive(self.lat - self.lat[0] + lat, self.lon - self.lon[0] + lon, self.speed, self.heading)


def drives_for(cars: int, *, seed: int, today: dt.date, per_car: int = 6) -> list[list[Drive]]:
    """`per_car` simulated drives for each of `cars` cars (fewer if the simulated drivers made
    fewer trips; a car without any borrows another car's)."""
    sim = simulate(drivers=cars, days=4, seed=seed, end_day=today)
    s = sim.samples
    per: list[list[Drive]] = [[] for _ in range(cars)]
    for i in range(len(sim.bounds) - 1):
        a, b = int(sim.bounds[i]), int(sim.bounds[i + 1])
        car = int(sim.plan.driver[i])
        if b - a >= 60 and len(per[car]) < per_car:
            per[car].append(Drive(s.lat[a:b], s.lon[a:b], s.speed[a:b], s.heading[a:b]))
    pool = [d for drives in per for d in drives]
    return [drives or pool[i % len(pool) : i % len(pool) + 1] for i, drives in enumerate(per)]


@dataclass
class Car:
    """One tracker's state: which drive it is on and where in it, or how long it still stands."""

    serial: str
    token: str
    drives: list[Drive]
    stop_s: int
    drive: int = 0
    second: int = 0  # into the current drive
    standing_s: int = 0  # left to stand still; 0 while driving
    lat: float = math.nan
    lon: float = math.nan
    backlog: deque = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    last_status: int | None = None
    current: Drive | None = None  # the drive under way, moved to where it started

    def __post_init__(self):
        first = self.drives[0]
        self.lat, self.lon = float(first.lat[0]), float(first.lon[0])

    def advance(self, seconds: int, at: dt.datetime) -> dict:
        """Moves the car on by `seconds` and returns the position it reports at `at`."""
        if self.standing_s > 0:
            self.standing_s = max(0, self.standing_s - seconds)
            if self.standing_s == 0:  # the next drive starts where the car stands
                self.drive = (self.drive + 1) % len(self.drives)
                self.second = 0
            return self._report(at, self.lat, self.lon, 0.0, math.nan)
        if self.second == 0 or self.current is None:
            self.current = self.drives[self.drive].moved_to(self.lat, self.lon)
        current = self.current
        self.second += seconds
        if self.second >= len(current):  # arrived: stand still longer than the detector waits
            self.lat, self.lon = float(current.lat[-1]), float(current.lon[-1])
            self.standing_s = self.stop_s
            return self._report(at, self.lat, self.lon, 0.0, float(current.heading[-1]))
        i = self.second
        lat, lon = float(current.lat[i]), float(current.lon[i])
        return self._report(at, lat, lon, float(current.speed[i]), float(current.heading[i]))

    def _report(self, at: dt.datetime, lat: float, lon: float, speed: float, heading: float) -> dict:
        params = {
            "id": self.serial,
            "timestamp": int(at.timestamp()),
            "lat": f"{lat:.6f}",
            "lon": f"{lon:.6f}",
            "speed": f"{speed * KNOTS_PER_MPS:.1f}",
            "accuracy": "5",
        }
        if not math.isnan(heading):
            params["bearing"] = f"{heading % 360:.0f}"
        return params


class Sender:
    """One keep-alive HTTP connection to the web server, reconnecting when it drops."""

    def __init__(self, url: str, timeout: float = 5.0):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.netloc = parts.netloc
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self.conn = None

    def get(self, path: str, params: dict | None = None) -> int:
        """The answer's status code; raises OSError when the server cannot be reached."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
            if self.conn is None:
                cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self.conn = cls(self.netloc, timeout=self.timeout)
            try:
                self.conn.request("GET", f"{self.base}{path}{query}")
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException) as exc:
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise OSError(f"no answer from {self.netloc}") from exc
        raise AssertionError("unreachable")


def report(sender: Sender, car: Car, params: dict) -> int | None:
    """Sends the car's backlog and then this position, oldest first; returns the last status, or
    None when the server did not answer (the positions stay in the backlog)."""
    car.backlog.append({**params, "key": car.token})
    status = None
    while car.backlog:
        try:
            status = sender.get("/api/v1/telematics/osmand", car.backlog[0])
        except OSError:
            return None
        car.backlog.popleft()  # stored, or refused for a reason a retry would not change
    return status
