-- Rental fraud: rule features and robust z-scores for every customer with rentals in the window
-- [%(since)s, %(until)s), in one statement. Returns only customers that break a rule or stand out.
WITH win AS MATERIALIZED (
    SELECT r.id, r.customer_id, r.payment_card_id, r.pickup_store_id, r.return_store_id, r.rented_at,
           COALESCE(r.returned_at, GREATEST(r.due_at, %(until)s::timestamptz)) AS ends_at,
           r.total_amount
    FROM transactions_rental r
    WHERE r.rented_at >= %(since)s AND r.rented_at < %(until)s AND r.status <> 'cancelled'
),
per_customer AS (
    SELECT customer_id, count(*) AS rentals, avg(total_amount) AS avg_amount, sum(total_amount) AS total_spend,
           avg(extract(epoch FROM (ends_at - rented_at)) / 86400) AS avg_days
    FROM win GROUP BY customer_id
),
cards AS (  -- most distinct cards used within any CARDS_WINDOW_DAYS ending at one of the rentals
    SELECT customer_id, max(cards) AS max_cards
    FROM (
        SELECT a.customer_id, a.id, count(DISTINCT b.payment_card_id) AS cards
        FROM win a
        JOIN win b ON b.customer_id = a.customer_id
                  AND b.rented_at BETWEEN a.rented_at - make_interval(days => %(cards_window_days)s) AND a.rented_at
        GROUP BY a.customer_id, a.id
    ) c
    GROUP BY customer_id
),
overlap_pairs AS (  -- pairs of one customer's rentals on the road at the same time
    SELECT a.customer_id, count(*) AS overlapping_pairs
    FROM win a
    JOIN win b ON b.customer_id = a.customer_id AND a.id < b.id
              AND a.rented_at < b.ends_at AND b.rented_at < a.ends_at
    GROUP BY a.customer_id
),
far AS (  -- returns to another region than the customer's home, far from home
    SELECT w.customer_id, count(*) AS far_returns, max(d.km) AS farthest_km
    FROM win w
    JOIN customers_customer c ON c.id = w.customer_id
    JOIN regions_store home ON home.id = COALESCE(c.home_store_id, w.pickup_store_id)
    JOIN regions_store ret ON ret.id = w.return_store_id
    CROSS JOIN LATERAL (
        SELECT 2 * 6371 * asin(sqrt(
            power(sin(radians(ret.latitude - COALESCE(c.latitude, home.latitude)) / 2), 2)
            + cos(radians(COALESCE(c.latitude, home.latitude))) * cos(radians(ret.latitude))
              * power(sin(radians(ret.longitude - COALESCE(c.longitude, home.longitude)) / 2), 2)
        )) AS km
    ) d
    WHERE ret.region_id <> home.region_id AND d.km > %(far_return_km)s
    GROUP BY w.customer_id
),
rfm AS (
    {rfm}
),
features AS (
    SELECT p.customer_id, COALESCE(s.segment, 'new') AS segment,
           p.rentals, p.avg_amount, p.total_spend, p.avg_days,
           COALESCE(cd.max_cards, 0) AS max_cards,
           COALESCE(o.overlapping_pairs, 0) AS overlapping_pairs,
           COALESCE(f.far_returns, 0) AS far_returns, f.farthest_km
    FROM per_customer p
    LEFT JOIN rfm s ON s.customer_id = p.customer_id
    LEFT JOIN cards cd ON cd.customer_id = p.customer_id
    LEFT JOIN overlap_pairs o ON o.customer_id = p.customer_id
    LEFT JOIN far f ON f.customer_id = p.customer_id
),
long AS (
    SELECT f.customer_id, f.segment, v.name, v.value
    FROM features f
    CROSS JOIN LATERAL (VALUES
        ('rentals', f.rentals::float8),
        ('avg_amount', f.avg_amount::float8),
        ('total_spend', f.total_spend::float8),
        ('max_cards', f.max_cards::float8),
        ('avg_days', f.avg_days::float8)
    ) v(name, value)
),
segment_median AS (
    SELECT segment, name, count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median
    FROM long GROUP BY segment, name
),
segment_stats AS (
    SELECT l.segment, l.name, m.n, m.median,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(l.value - m.median)) AS mad,
           avg(abs(l.value - m.median)) AS mean_ad
    FROM long l JOIN segment_median m ON m.segment = l.segment AND m.name = l.name
    GROUP BY l.segment, l.name, m.n, m.median
),
all_median AS (
    SELECT name, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median FROM long GROUP BY name
),
all_stats AS (
    SELECT l.name, m.median,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(l.value - m.median)) AS mad,
           avg(abs(l.value - m.median)) AS mean_ad
    FROM long l JOIN all_median m ON m.name = l.name
    GROUP BY l.name, m.median
),
z AS (  -- a small segment is compared with all customers instead
    SELECT l.customer_id, l.name, l.value, ref.reference, ref.median,
           (l.value - ref.median) / GREATEST(
               1.4826 * ref.mad, 1.2533 * ref.mean_ad,
               CASE WHEN l.name IN ('avg_amount', 'total_spend') THEN GREATEST(0.1 * abs(ref.median), 1.0)
                    ELSE 1.0 END
           ) AS z
    FROM long l
    JOIN segment_stats s ON s.segment = l.segment AND s.name = l.name
    JOIN all_stats a ON a.name = l.name
    CROSS JOIN LATERAL (
        SELECT CASE WHEN s.n >= %(min_segment_size)s THEN l.segment ELSE 'all customers' END AS reference,
               CASE WHEN s.n >= %(min_segment_size)s THEN s.median ELSE a.median END AS median,
               CASE WHEN s.n >= %(min_segment_size)s THEN s.mad ELSE a.mad END AS mad,
               CASE WHEN s.n >= %(min_segment_size)s THEN s.mean_ad ELSE a.mean_ad END AS mean_ad
    ) ref
),
z_per_customer AS (
    SELECT customer_id, max(z) AS max_z, min(reference) AS reference,
           jsonb_object_agg(name, jsonb_build_object(
               'value', round(value::numeric, 2), 'median', round(median::numeric, 2), 'z', round(z::numeric, 2)
           )) AS z_scores
    FROM z GROUP BY customer_id
)
SELECT f.customer_id, f.segment, zc.reference, f.rentals, round(f.avg_amount, 2) AS avg_amount,
       round(f.total_spend, 2) AS total_spend, round(f.avg_days::numeric, 1) AS avg_days, f.max_cards,
       f.overlapping_pairs, f.far_returns, round(f.farthest_km::numeric, 0) AS farthest_km,
       f.rentals > %(max_rentals)s AS many_rentals,
       f.avg_amount > %(max_avg_amount)s AS high_average_amount,
       f.max_cards >= %(max_cards)s AS many_cards,
       f.overlapping_pairs >= 1 AS overlapping_rentals,
       f.far_returns >= %(min_far_returns)s AS far_returns_elsewhere,
       zc.max_z, zc.z_scores
FROM features f
JOIN z_per_customer zc ON zc.customer_id = f.customer_id
WHERE f.rentals > %(max_rentals)s OR f.avg_amount > %(max_avg_amount)s OR f.max_cards >= %(max_cards)s
   OR f.overlapping_pairs >= 1 OR f.far_returns >= %(min_far_returns)s OR zc.max_z >= %(reason_z)s
ORDER BY f.customer_id
