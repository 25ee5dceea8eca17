-- Payment fraud's statements (apps.intelligence.payment_fraud).

-- @statement features
-- Model features of card payments paid in [%(since)s, %(until)s): the payment itself, its card and
-- client, and the card's recent history (velocity over 24 hours, amount against the card's mean
-- of the previous 30 days, time since its previous payment, a change of merchant state). History
-- windows look back 30 days before %(since)s, so the first payments of a range are not starved.
-- %(labelled_only)s keeps labelled payments, %(unscored_only)s unscored ones, and negatives are
-- kept at %(keep_per_mille)s per mille (a deterministic sample by id; fraud is always kept).
WITH base AS (
    SELECT p.id, p.paid_at, p.customer_id, p.card_id, p.amount, p.method, p.mcc, p.errors,
           p.merchant_state, p.is_fraud, p.fraud_score,
           count(*) OVER day_before AS card_tx_24h,
           sum(abs(p.amount)) OVER day_before AS card_amount_24h,
           avg(abs(p.amount)) OVER month_before AS card_mean_30d,
           extract(epoch FROM (p.paid_at - lag(p.paid_at) OVER card_order)) AS secs_since_prev,
           lag(p.merchant_state) OVER card_order AS previous_state
    FROM transactions_payment p
    WHERE p.paid_at >= %(since)s::timestamptz - interval '30 days' AND p.paid_at < %(until)s
    WINDOW card_order AS (PARTITION BY p.card_id ORDER BY p.paid_at, p.id),
           day_before AS (PARTITION BY p.card_id ORDER BY p.paid_at
                          RANGE BETWEEN interval '24 hours' PRECEDING AND CURRENT ROW),
           month_before AS (PARTITION BY p.card_id ORDER BY p.paid_at
                            RANGE BETWEEN interval '30 days' PRECEDING AND interval '1 second' PRECEDING)
)
SELECT b.id, b.paid_at, b.customer_id, b.is_fraud,
       b.amount::float8 AS amount,
       abs(b.amount)::float8 AS abs_amount,
       (b.amount < 0)::int AS is_refund,
       (b.method = 'online')::int AS is_online,
       (b.method = 'swipe')::int AS is_swipe,
       b.mcc,
       extract(hour FROM b.paid_at AT TIME ZONE 'UTC')::int AS hour,
       extract(isodow FROM b.paid_at AT TIME ZONE 'UTC')::int AS weekday,
       cardinality(b.errors) AS error_count,
       ('Bad CVV' = ANY(b.errors))::int AS err_cvv,
       ('Bad Card Number' = ANY(b.errors))::int AS err_card_number,
       ('Bad Expiration' = ANY(b.errors))::int AS err_expiration,
       ('Bad PIN' = ANY(b.errors))::int AS err_pin,
       ('Insufficient Balance' = ANY(b.errors))::int AS err_balance,
       (c.card_type = 'credit')::int AS is_credit,
       (c.card_type = 'prepaid')::int AS is_prepaid,
       c.has_chip::int AS has_chip,
       c.on_dark_web::int AS on_dark_web,
       c.cards_issued,
       c.credit_limit::float8 AS credit_limit,
       CASE WHEN c.credit_limit > 0 THEN abs(b.amount)::float8 / c.credit_limit::float8 END AS amount_of_limit,
       (b.paid_at::date - c.opened_on) AS card_age_days,
       extract(year FROM b.paid_at)::int - cu.birth_year AS client_age,
       cu.credit_score,
       cu.yearly_income::float8 AS yearly_income,
       CASE WHEN cu.yearly_income > 0 THEN cu.total_debt::float8 / cu.yearly_income::float8 END AS debt_to_income,
       b.card_tx_24h,
       b.card_amount_24h::float8 AS card_amount_24h,
       CASE WHEN b.card_mean_30d > 0 THEN abs(b.amount)::float8 / b.card_mean_30d::float8 END AS amount_vs_card_mean,
       b.secs_since_prev::float8 AS secs_since_prev,
       (b.previous_state IS NOT NULL AND b.merchant_state <> b.previous_state)::int AS state_changed
FROM base b
JOIN customers_paymentcard c ON c.id = b.card_id
JOIN customers_customer cu ON cu.id = b.customer_id
WHERE b.paid_at >= %(since)s
  AND (NOT %(labelled_only)s OR b.is_fraud IS NOT NULL)
  AND (NOT %(unscored_only)s OR b.fraud_score IS NULL)
  AND (b.is_fraud IS TRUE OR %(keep_per_mille)s >= 1000 OR mod(b.id, 1000) < %(keep_per_mille)s)
ORDER BY b.paid_at, b.id;

-- @statement scores_write
-- The scores of a chunk of payments, from arrays (one statement).
UPDATE transactions_payment p SET fraud_score = s.score
FROM unnest(%(ids)s::bigint[], %(paid)s::timestamptz[], %(scores)s::float8[])
    AS s(id, paid_at, score)
WHERE p.id = s.id AND p.paid_at = s.paid_at;

-- @statement flagged_customers
-- The clients with the largest expected fraud loss (score x amount) among their flagged payments
-- in (since, until].
SELECT customer_id, count(*) AS flagged, max(fraud_score) AS max_score,
       sum(abs(amount)) AS flagged_amount, sum(fraud_score * abs(amount)) AS expected_loss
FROM transactions_payment
WHERE paid_at > %(since)s AND paid_at <= %(until)s AND fraud_score >= %(threshold)s
GROUP BY customer_id
ORDER BY expected_loss DESC, customer_id
LIMIT %(limit)s;
