"""Fleet intelligence benchmark: the time of each nightly job on two worlds.

    .venv/bin/python bench/intelligence.py                  # medium, then large
    .venv/bin/python bench/intelligence.py --world large    # one world
    .venv/bin/python bench/intelligence.py --rebuild        # drop and rebuild the worlds first

- medium: FOUNDATION's demo world (`seed_demo --size medium`: 26 stores, 1,800 vehicles, 5,000
  customers, 100,000 rentals over a year) in the database fleetops_bench_intel_medium.
- large: 1,000,000 rentals, 2,000 vehicles, 50,000 customers, 40 stores, 4.5 years, service
  books and telematics trips, generated here with numpy and written with COPY, in
  fleetops_bench_intel_large.

Each job runs the way the scheduler runs it (a JobRun executed in this process). Target: every
nightly job under 60 s on the large world. Each world lives in its own database and is built once
(reused on later runs unless --rebuild), so other benchmarks are untouched.
"""

import argparse
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import admin_connection, peak_rss_mb, report

DATABASES = {"medium": "fleetops_bench_intel_medium", "large": "fleetops_bench_intel_large"}
NIGHTLY = [
    ("intelligence.kpis", {}),
    ("intelligence.rental_fraud", {}),
    ("intelligence.revenue", {}),
    ("intelligence.maintenance", {}),
    ("intelligence.demand_forecast", {}),
]
TARGET_S = 60.0

LARGE = {"rentals": 1_000_000, "vehicles": 2_000, "customers": 50_000, "stores": 40, "regions": 8, "days": 1650}


def drop_database(name: str) -> None:
    admin = admin_connection()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


# --- the large world ---------------------------------------------------------------------------


def copy_model(model, frame) -> int:
    """COPY a DataFrame into a model's table; columns the frame lacks get the field's default."""
    import pandas as pd
    from django.db import connection

    frame = frame.copy()
    for field in model._meta.concrete_fields:
        if field.column in frame.columns or (field.primary_key and field.column not in frame.columns):
            continue
        default = field.get_default()
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            from django.utils import timezone

            default = timezone.now()
        if isinstance(default, dict | list):
            default = json.dumps(default)
        frame[field.column] = default
    for column in frame.columns:
        if frame[column].dtype == bool:
            frame[column] = frame[column].map({True: "t", False: "f"})
        elif isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d %H:%M:%S+00")
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N")
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy,
    ):
        copy.write(buffer.getvalue())
    return len(frame)


def build_large_world(stdout=print) -> dict:
    import hashlib

    import numpy as np
    import pandas as pd
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.customers.models import Customer, PaymentCard
    from apps.fleet.models import MaintenanceRecord, Vehicle, VehicleCategory
    from apps.regions.models import Region, Store
    from apps.telematics.models import Device, Trip
    from apps.transactions.models import Rental

    rng = np.random.default_rng(2026)
    now = timezone.now().replace(microsecond=0)
    start = now - dt.timedelta(days=LARGE["days"])
    counts = {}
    with transaction.atomic():
        regions = Region.objects.bulk_create(
            [Region(code=f"R{i}", name=f"Region {i}", timezone="Europe/Berlin") for i in range(LARGE["regions"])]
        )
        stores = []
        for i in range(LARGE["stores"]):
            region = regions[i % LARGE["regions"]]
            lat = 47.5 + 6.5 * (i % LARGE["regions"]) / LARGE["regions"] + rng.uniform(-0.3, 0.3)
            lon = 6.5 + 8.0 * ((i * 3) % LARGE["regions"]) / LARGE["regions"] + rng.uniform(-0.3, 0.3)
            stores.append(
                Store(
                    region=region,
                    code=f"ST{i:03d}",
                    name=f"Store {i}",
                    city=f"City {i}",
                    latitude=round(lat, 5),
                    longitude=round(lon, 5),
                    capacity=80,
                )
            )
        stores = Store.objects.bulk_create(stores)
        store_ids = np.array([s.pk for s in stores])
        store_region = np.array([s.region_id for s in stores])
        store_lat = np.array([float(s.latitude) for s in stores])
        store_lon = np.array([float(s.longitude) for s in stores])
        categories = VehicleCategory.objects.bulk_create(
            [
                VehicleCategory(code=c, name=c, base_price_per_day=p)
                for c, p in (("MINI", 35), ("COMPACT", 45), ("MIDSIZE", 60), ("SUV", 80), ("VAN", 95))
            ]
        )
        category_price = np.array([float(c.base_price_per_day) for c in categories])

        n_vehicles = LARGE["vehicles"]
        vehicle_cat = rng.integers(0, len(categories), n_vehicles)
        vehicle_home = rng.integers(0, len(store_ids), n_vehicles)
        price = np.round(category_price[vehicle_cat] * rng.lognormal(0, 0.1, n_vehicles), 2)
        acquired_days = np.where(rng.random(n_vehicles) < 0.85, 0, rng.integers(30, LARGE["days"] - 200, n_vehicles))

        # Each vehicle's rentals back to back: a gap shortened by demand (weekly and yearly), then
        # a rental of 1-7 days; stepped for all vehicles at once.
        weekday_demand = np.array([0.9, 0.9, 0.95, 1.0, 1.3, 1.25, 0.8])
        durations = np.array([1, 2, 3, 5, 7])
        duration_p = np.array([0.6, 0.2, 0.12, 0.05, 0.03])
        # Some cars are wanted more than others (model, colour, where they stand), and some are
        # booked above or below their list price: work for the revenue job.
        popularity = rng.lognormal(0, 0.6, n_vehicles)
        premium = rng.normal(0, 0.1, n_vehicles)
        t = acquired_days.astype(float) + rng.uniform(0, 2, n_vehicles)
        starts, lengths, owners = [], [], []
        while True:
            alive = t < LARGE["days"]
            if not alive.any():
                break
            day = start + pd.to_timedelta(t, unit="D")
            doy = np.asarray(day.day_of_year)
            demand = (1 + 0.3 * np.sin(2 * np.pi * (doy - 100) / 365)) * weekday_demand[np.asarray(day.day_of_week)]
            ready = t + 2 / 24  # cleaned and ready two hours after the last return
            t = ready + rng.exponential(0.6 / (demand * popularity))
            t = np.floor(t) + rng.uniform(8, 18, n_vehicles) / 24  # picked up during opening hours
            t = np.where(t < ready, t + 1, t)
            length = rng.choice(durations, n_vehicles, p=duration_p) + rng.uniform(-0.1, 0.1, n_vehicles)
            keep = alive & (t < LARGE["days"])
            starts.append(t[keep])
            lengths.append(length[keep])
            owners.append(np.nonzero(keep)[0])
            t = t + length
        rent_t = np.concatenate(starts)
        rent_len = np.concatenate(lengths)
        rent_vehicle = np.concatenate(owners)
        if len(rent_t) > LARGE["rentals"]:
            keep = np.sort(rng.choice(len(rent_t), LARGE["rentals"], replace=False))
            rent_t, rent_len, rent_vehicle = rent_t[keep], rent_len[keep], rent_vehicle[keep]
        n = len(rent_t)
        order = np.lexsort((rent_t, rent_vehicle))
        rent_t, rent_len, rent_vehicle = rent_t[order], rent_len[order], rent_vehicle[order]

        days_charged = np.ceil(rent_len - 0.15).clip(1)
        km = np.maximum(5, days_charged * 110 * rng.lognormal(0, 0.5, n)).astype(np.int64)
        cum_km = np.zeros(n, dtype=np.int64)
        vehicle_start_odo = rng.integers(2_000, 40_000, n_vehicles)
        for_vehicle = pd.Series(km).groupby(rent_vehicle).cumsum().to_numpy()
        cum_km = vehicle_start_odo[rent_vehicle] + for_vehicle - km
        odometer_out, odometer_in = cum_km, cum_km + km
        final_odo = vehicle_start_odo + np.bincount(rent_vehicle, weights=km, minlength=n_vehicles).astype(np.int64)

        vins = [
            hashlib.sha256(f"v{i}".encode()).hexdigest().upper().translate(str.maketrans("IOQ", "123"))[:17]
            for i in range(n_vehicles)
        ]
        vehicle_status = np.where(rng.random(n_vehicles) < 0.03, "maintenance", "available")
        counts["vehicles"] = copy_model(
            Vehicle,
            pd.DataFrame(
                {
                    "vin": vins,
                    "plate": [f"L-{i:06d}" for i in range(n_vehicles)],
                    "make": "Volkswagen",
                    "model": "Golf",
                    "model_year": 2022,
                    "fuel": "petrol",
                    "category_id": [categories[c].pk for c in vehicle_cat],
                    "home_store_id": store_ids[vehicle_home],
                    "current_store_id": store_ids[vehicle_home],
                    "price_per_day": price,
                    "status": vehicle_status,
                    "odometer_km": final_odo,
                    "acquired_on": [(start + dt.timedelta(days=int(d))).date() for d in acquired_days],
                }
            ),
        )
        vehicle_ids = np.array(Vehicle.objects.order_by("id").values_list("id", flat=True))

        n_customers = LARGE["customers"]
        customer_home = rng.integers(0, len(store_ids), n_customers)
        counts["customers"] = copy_model(
            Customer,
            pd.DataFrame(
                {
                    "first_name": "Driver",
                    "last_name": [f"N{i}" for i in range(n_customers)],
                    "email": [f"d{i}@example.com" for i in range(n_customers)],
                    "birth_year": rng.integers(1950, 2004, n_customers),
                    "city": "City",
                    "home_store_id": store_ids[customer_home],
                    "latitude": np.round(store_lat[customer_home] + rng.normal(0, 0.1, n_customers), 2),
                    "longitude": np.round(store_lon[customer_home] + rng.normal(0, 0.1, n_customers), 2),
                }
            ),
        )
        customer_ids = np.array(Customer.objects.order_by("id").values_list("id", flat=True))
        second = rng.random(n_customers) < 0.1
        card_owner = np.concatenate([np.arange(n_customers), np.nonzero(second)[0]])
        counts["cards"] = copy_model(
            PaymentCard,
            pd.DataFrame(
                {
                    "customer_id": customer_ids[card_owner],
                    "brand": "visa",
                    "card_type": "debit",
                    "last4": [f"{i % 10000:04d}" for i in range(len(card_owner))],
                    "expires_on": dt.date(2030, 12, 31),
                    "number_hmac": [hashlib.sha256(f"c{i}".encode()).hexdigest() for i in range(len(card_owner))],
                    "has_chip": True,
                    "cards_issued": 1,
                    "on_dark_web": False,
                }
            ),
        )
        first_card = dict(
            PaymentCard.objects.order_by("customer_id", "id").distinct("customer_id").values_list("customer_id", "id")
        )

        weights = rng.lognormal(0, 1.0, n_customers)
        rent_customer_idx = rng.choice(n_customers, n, p=weights / weights.sum())
        home_store_idx = vehicle_home[rent_vehicle]
        same_region = [np.nonzero(store_region == store_region[s])[0] for s in range(len(store_ids))]
        pickup_idx = np.where(
            rng.random(n) < 0.85,
            home_store_idx,
            [same_region[s][rng.integers(len(same_region[s]))] for s in home_store_idx],
        )
        roll = rng.random(n)
        return_idx = np.where(
            roll < 0.9, pickup_idx, np.where(roll < 0.98, home_store_idx, rng.integers(0, len(store_ids), n))
        )
        rented_at = start + pd.to_timedelta(rent_t, unit="D")
        due_at = rented_at + pd.to_timedelta(days_charged, unit="D")
        returned_at = rented_at + pd.to_timedelta(rent_len, unit="D")
        status = np.where(returned_at > now, "active", np.where(rng.random(n) < 0.03, "cancelled", "completed"))
        rate = np.round(price[rent_vehicle] * np.exp(premium[rent_vehicle]) * rng.lognormal(0, 0.05, n), 2)
        rental_amount = np.round(rate * days_charged, 2)
        insurance = np.where(rng.random(n) < 0.5, 12.0 * days_charged, 0.0)
        discount = np.where(rng.random(n) < 0.2, np.round(rental_amount * 0.1, 2), 0.0)
        active_or_cancelled = status != "completed"
        counts["rentals"] = copy_model(
            Rental,
            pd.DataFrame(
                {
                    "customer_id": customer_ids[rent_customer_idx],
                    "vehicle_id": vehicle_ids[rent_vehicle],
                    "pickup_store_id": store_ids[pickup_idx],
                    "return_store_id": store_ids[return_idx],
                    "payment_card_id": [first_card[c] for c in customer_ids[rent_customer_idx]],
                    "status": status,
                    "rented_at": rented_at,
                    "due_at": due_at,
                    "returned_at": pd.Series(returned_at).where(~active_or_cancelled, pd.NaT),
                    "daily_rate": rate,
                    "rental_amount": rental_amount,
                    "insurance_amount": insurance,
                    "discount_amount": discount,
                    "total_amount": np.round(rental_amount + insurance - discount, 2),
                    "odometer_out_km": np.where(status == "cancelled", None, odometer_out),
                    "odometer_in_km": np.where(status == "completed", odometer_in, None),
                }
            ),
        )

        # Service books: a service whenever a rental's odometer passes a 15,000 km mark (one in
        # ten skipped, so some vehicles run overdue).
        mark = odometer_in // 15_000
        passed = np.r_[False, (mark[1:] > mark[:-1]) & (rent_vehicle[1:] == rent_vehicle[:-1])]
        passed &= (status == "completed") & (rng.random(n) < 0.9)
        performed = pd.Series(returned_at[passed]).dt.date.to_numpy()
        counts["maintenance_records"] = copy_model(
            MaintenanceRecord,
            pd.DataFrame(
                {
                    "vehicle_id": vehicle_ids[rent_vehicle[passed]],
                    "kind": "service",
                    "performed_on": performed,
                    "odometer_km": odometer_in[passed],
                    "cost": 250.0,
                    "next_due_on": [d + dt.timedelta(days=365) for d in performed],
                    "next_due_km": odometer_in[passed] + 15_000,
                }
            ),
        )

        # Telematics: half the fleet has a unit; one trip per rental of the last 90 days.
        equipped = np.nonzero(rng.random(n_vehicles) < 0.5)[0]
        counts["devices"] = copy_model(
            Device,
            pd.DataFrame(
                {
                    "serial": [f"LRG-{i}" for i in equipped],
                    "kind": "obd",
                    "vehicle_id": vehicle_ids[equipped],
                    "token_prefix": [f"lg{i:06d}" for i in equipped],
                    "token_hash": [hashlib.sha256(f"t{i}".encode()).hexdigest() for i in equipped],
                    "is_active": True,
                }
            ),
        )
        device_of = dict(Device.objects.values_list("vehicle_id", "id"))
        recent = (rent_t > LARGE["days"] - 90) & (status != "cancelled") & np.isin(rent_vehicle, equipped)
        trip_km = np.minimum(km[recent], 900).astype(float)
        trip_start = rented_at[recent] + pd.Timedelta(hours=1)
        trip_vehicle_ids = vehicle_ids[rent_vehicle[recent]]
        harsh_rate = rng.gamma(2.0, 0.5, n_vehicles)[rent_vehicle[recent]]  # per 100 km, per vehicle
        counts["trips"] = copy_model(
            Trip,
            pd.DataFrame(
                {
                    "device_id": [device_of[v] for v in trip_vehicle_ids],
                    "external_id": [f"r{i}" for i in range(recent.sum())],
                    "driver_id": customer_ids[rent_customer_idx[recent]],
                    "vehicle_id": trip_vehicle_ids,
                    "started_at": trip_start,
                    "ended_at": trip_start + pd.to_timedelta(trip_km / 60, unit="h"),
                    "distance_km": trip_km,
                    "duration_s": trip_km * 60,
                    "feature_status": "done",
                    "harsh_brake_count": rng.poisson(harsh_rate * trip_km / 100 * 0.5),
                    "harsh_accel_count": rng.poisson(harsh_rate * trip_km / 100 * 0.3),
                    "harsh_corner_count": rng.poisson(harsh_rate * trip_km / 100 * 0.2),
                }
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('transactions_rental', 'id'), max(id)) FROM transactions_rental"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts


# --- one world in this process -----------------------------------------------------------------


def run_world(world: str) -> dict:
    os.environ["FLEETOPS_BENCH_DB"] = DATABASES[world]
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # alerts mail ops: not here
    from _common import setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from apps.jobs.models import JobRun
    from apps.jobs.services import job_execute, job_start
    from apps.transactions.models import Rental

    build_s = None
    if not Rental.objects.exists():
        started = time.perf_counter()
        if world == "medium":
            call_command("seed_demo", size="medium", stdout=io.StringIO())
        else:
            print("building the large world with COPY …", flush=True)
            print(build_large_world())
        build_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM transactions_rental), (SELECT count(*) FROM fleet_vehicle),"
            " (SELECT count(*) FROM customers_customer), (SELECT count(*) FROM regions_store),"
            " (SELECT count(*) FROM telematics_trip), (SELECT min(rented_at)::date FROM transactions_rental)"
        )
        rentals, vehicles, customers, stores, trips, first_day = cursor.fetchone()
    rows = [
        (
            "world",
            f"{rentals:,} rentals, {vehicles:,} vehicles, {customers:,} customers, {stores} stores, "
            f"{trips:,} trips, since {first_day}",
        ),
    ]
    if build_s is not None:
        rows.append(("build", f"{build_s:.1f} s"))
    timings, summaries = {}, {}
    for kind, params in NIGHTLY:
        JobRun.objects.filter(kind=kind, status__in=JobRun.LIVE).update(status="cancelled")  # a killed earlier run
        run = job_start(kind=kind, parameters=params, trigger="cli", enqueue=False)
        started = time.perf_counter()
        run = job_execute(run_id=run.pk)
        timings[kind] = time.perf_counter() - started
        if run.status != "succeeded":
            summaries[kind] = f"{run.status}: {run.error.splitlines()[0] if run.error else ''}"
        else:
            summaries[kind] = summarise(kind, run.result)
        verdict = "ok" if timings[kind] < TARGET_S else "MISSES 60 s"
        rows.append((kind, f"{timings[kind]:7.2f} s  {verdict}  {summaries[kind]}"))
    # Not nightly: the one-off backfill of a year of store KPIs (the forecast reads rentals directly).
    started = time.perf_counter()
    from apps.intelligence.kpis import store_daily_metrics_refresh

    backfill = store_daily_metrics_refresh(days=365)
    rows.append(("kpis backfill 365 days", f"{time.perf_counter() - started:7.2f} s  {backfill['rows']:,} rows"))
    rows.append(("peak RSS", f"{peak_rss_mb():.0f} MB"))
    report(f"fleet intelligence: {world} world ({DATABASES[world]})", rows)
    return {"world": world, "timings": timings, "summaries": summaries}


def summarise(kind: str, result: dict) -> str:
    if kind == "intelligence.kpis":
        return f"{result['rows']:,} store-days upserted"
    if kind == "intelligence.rental_fraud":
        return f"{result['customers_flagged']:,} customers flagged, events {result['events']}"
    if kind == "intelligence.revenue":
        return (
            f"{result['under_priced']} under-, {result['over_priced']} over-priced, "
            f"30-day effect {float(result['total_effect_30d']):,.0f}, events {result['events']}"
        )
    if kind == "intelligence.maintenance":
        return f"{result['by_urgency']}, events {result['events']}"
    if kind == "intelligence.demand_forecast":
        overall = result["backtest"]["overall"]
        model, naive = overall["model"] or {}, overall["naive"] or {}
        return (
            f"{len(result['forecasts'])} stores; backtest {overall['weeks']} wk: model MAPE {model.get('mape')}% "
            f"WAPE {model.get('wape')}% bias {model.get('bias')}% | seasonal-naive MAPE {naive.get('mape')}% "
            f"WAPE {naive.get('wape')}% bias {naive.get('bias')}%; events {result['events']}"
        )
    return ""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", choices=["medium", "large", "both"], default="both")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)  # smoke runs of the generator
    args, _unknown = parser.parse_known_args()  # make bench passes its own flags to every script
    if args.scale != 1.0:
        for key in ("rentals", "vehicles", "customers"):
            LARGE[key] = int(LARGE[key] * args.scale)
        DATABASES["large"] += "_smoke"
    if args.child:
        run_world(args.world)
        return 0
    worlds = ["medium", "large"] if args.world == "both" else [args.world]
    failed = 0
    for world in worlds:
        if args.rebuild:
            drop_database(DATABASES[world])
        failed |= subprocess.call([sys.executable, __file__, "--world", world, "--child", "--scale", str(args.scale)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
