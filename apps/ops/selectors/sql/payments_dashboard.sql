-- The payments fraud dashboard for every period and channel at once, in two scans of
-- enriched_transactions (optionally of one merchant category). Each row belongs to the shortest
-- period that holds it ("age": 30, 90 or 365 days before the newest payment, or 0 for older; the
-- selector passes the three cut-offs), so a period's figures are the sum of its own and the
-- shorter periods' rows; the selector sums the channels for "any channel". Each grouping set of
-- the first statement is one chart, named by `part`; the sets with `mcc` (by_category) are the
-- same charts per merchant category, so one precompute has every category's dashboard too (the
-- category chart's own set serves both).

-- @statement breakdowns
WITH rows AS (
    SELECT CASE WHEN e.paid_at >= %(since_30)s THEN 30
                WHEN e.paid_at >= %(since_90)s THEN 90
                WHEN e.paid_at >= %(since_365)s THEN 365
                ELSE 0 END AS age,
           e.method, e.hour_of_day, e.mcc, e.mcc_description, e.merchant_state,
           date_trunc('month', e.paid_at AT TIME ZONE %(tz)s)::date AS month,
           e.is_fraud, e.amount
    FROM enriched_transactions e
    WHERE %(mcc)s = '' OR e.mcc = %(mcc)s
)
SELECT CASE WHEN GROUPING(hour_of_day) = 0 THEN 'hour'
            WHEN GROUPING(mcc_description) = 0 THEN 'category'
            WHEN GROUPING(merchant_state) = 0 THEN 'state'
            ELSE 'month' END AS part,
       GROUPING(mcc) = 0 AND GROUPING(mcc_description) = 1 AS by_category,
       age, method, hour_of_day, mcc, mcc_description, merchant_state, month,
       count(*) AS payments,
       count(*) FILTER (WHERE is_fraud IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE is_fraud) AS frauds,
       sum(amount) FILTER (WHERE is_fraud AND amount > 0) AS loss
FROM rows
GROUP BY GROUPING SETS (
    (age, method, hour_of_day),
    (age, method, mcc, mcc_description),
    (age, method, merchant_state),
    (age, method, month),
    (age, method, mcc, hour_of_day),
    (age, method, mcc, merchant_state),
    (age, method, mcc, month)
)

-- @statement errors
SELECT CASE WHEN e.paid_at >= %(since_30)s THEN 30
            WHEN e.paid_at >= %(since_90)s THEN 90
            WHEN e.paid_at >= %(since_365)s THEN 365
            ELSE 0 END AS age,
       e.method, e.mcc,
       coalesce(t.error, 'none') AS error,
       count(*) AS payments,
       count(*) FILTER (WHERE e.is_fraud IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE e.is_fraud) AS frauds,
       sum(e.amount) FILTER (WHERE e.is_fraud AND e.amount > 0) AS loss
FROM enriched_transactions e
LEFT JOIN LATERAL unnest(e.errors) AS t(error) ON true
WHERE %(mcc)s = '' OR e.mcc = %(mcc)s
GROUP BY 1, 2, 3, 4
