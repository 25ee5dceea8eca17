-- StoreDailyMetrics for every active store and every local day in [%(first_day)s, %(last_day)s],
-- in one statement. Days are local to the store's region. Rentals that started (active or
-- completed) count for their pickup store on their first day; a rental's total amount is spread
-- evenly over its days on rent (so the days of a month add up to what was charged);
-- utilisation is the share of the store's home fleet on rent that day.
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') d
),
stores AS (
    SELECT s.id AS store_id, g.timezone AS tz
    FROM regions_store s JOIN regions_region g ON g.id = s.region_id
    WHERE s.is_active
),
rentals AS (  -- a generous UTC pre-filter; local days are cut below
    SELECT r.id, r.vehicle_id, r.pickup_store_id, r.daily_rate, r.total_amount, st.tz,
           (r.rented_at AT TIME ZONE st.tz)::date AS first_day,
           (COALESCE(r.returned_at, GREATEST(r.due_at, now())) AT TIME ZONE st.tz)::date AS end_day
    FROM transactions_rental r
    JOIN stores st ON st.store_id = r.pickup_store_id
    WHERE r.status IN ('active', 'completed')
      AND r.rented_at < (%(last_day)s::date + 2)::timestamptz
      AND COALESCE(r.returned_at, GREATEST(r.due_at, now())) >= (%(first_day)s::date - 1)::timestamptz
),
starts AS (
    SELECT pickup_store_id AS store_id, first_day AS day, count(*) AS rentals, avg(daily_rate) AS average_rate
    FROM rentals
    WHERE first_day BETWEEN %(first_day)s::date AND %(last_day)s::date
    GROUP BY 1, 2
),
rent_days AS (  -- one row per rental and local day on rent: [first_day, end_day), at least one day
    SELECT r.vehicle_id, r.pickup_store_id, d::date AS day,
           r.total_amount / GREATEST(r.end_day - r.first_day, 1) AS revenue
    FROM rentals r
    CROSS JOIN LATERAL generate_series(
        GREATEST(r.first_day, %(first_day)s::date),
        LEAST(GREATEST(r.end_day - 1, r.first_day), %(last_day)s::date),
        interval '1 day') d
),
revenue AS (
    SELECT pickup_store_id AS store_id, day, sum(revenue) AS revenue FROM rent_days GROUP BY 1, 2
),
on_rent AS (
    SELECT v.home_store_id AS store_id, rd.day, count(DISTINCT rd.vehicle_id) AS vehicles
    FROM rent_days rd JOIN fleet_vehicle v ON v.id = rd.vehicle_id
    GROUP BY 1, 2
),
fleet AS (
    SELECT v.home_store_id AS store_id, d.day, count(*) AS vehicles
    FROM fleet_vehicle v JOIN days d ON v.acquired_on IS NULL OR v.acquired_on <= d.day
    WHERE v.status <> 'retired'
    GROUP BY 1, 2
)
INSERT INTO regions_storedailymetrics
    (store_id, date, revenue, rentals, active_rentals, fleet_size, utilisation, average_daily_rate, computed_at)
SELECT st.store_id, d.day,
       round(COALESCE(rv.revenue, 0), 2),
       COALESCE(s.rentals, 0),
       COALESCE(o.vehicles, 0),
       COALESCE(f.vehicles, 0),
       CASE WHEN COALESCE(f.vehicles, 0) = 0 THEN 0
            ELSE round(LEAST(1.0, COALESCE(o.vehicles, 0)::numeric / f.vehicles), 4) END,
       round(COALESCE(s.average_rate, 0), 2),
       now()
FROM stores st
CROSS JOIN days d
LEFT JOIN starts s ON s.store_id = st.store_id AND s.day = d.day
LEFT JOIN revenue rv ON rv.store_id = st.store_id AND rv.day = d.day
LEFT JOIN on_rent o ON o.store_id = st.store_id AND o.day = d.day
LEFT JOIN fleet f ON f.store_id = st.store_id AND f.day = d.day
ON CONFLICT (store_id, date) DO UPDATE SET
    revenue = EXCLUDED.revenue,
    rentals = EXCLUDED.rentals,
    active_rentals = EXCLUDED.active_rentals,
    fleet_size = EXCLUDED.fleet_size,
    utilisation = EXCLUDED.utilisation,
    average_daily_rate = EXCLUDED.average_daily_rate,
    computed_at = EXCLUDED.computed_at
