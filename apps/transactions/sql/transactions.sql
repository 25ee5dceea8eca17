-- Transform of one transactions file: staged text -> typed, checked rows -> Payment, with every
-- refused row in RejectedRow. The "checked" view is created first (committed, so the load
-- workers see it); each worker then loads and rejects the rows of its range of lines in a
-- transaction of its own, into unattached tables of the staging schema; the main connection
-- makes all of it visible in the file's one transaction. The reader has already checked the
-- format of the id, date, amount, client, card and merchant columns (bad lines arrive as
-- placeholder rows marked in use_chip), so the casts here cannot fail; what is left is what
-- only the database can judge: references, the payment method and duplicates.

-- @statement checked
-- Every staged row typed, with the reason it is refused (NULL = good). A view, not a table: the
-- load reads the typed columns of the good rows, the rejection reads the text of the others.
CREATE VIEW {checked} AS
SELECT s.line_no,
       s.id::bigint AS id,
       s."date"::timestamp AT TIME ZONE {tz} AS paid_at,
       c.id AS customer_id,
       k.id AS card_id,
       replace(s.amount, '$', '')::numeric(12, 2) AS amount,
       CASE s.use_chip
           WHEN 'Swipe Transaction' THEN 'swipe'
           WHEN 'Chip Transaction' THEN 'chip'
           WHEN 'Online Transaction' THEN 'online'
       END AS method,
       s.merchant_id::bigint AS merchant_id,
       -- octet_length is free and the columns are short; left() counts characters, so only when needed.
       CASE WHEN octet_length(s.merchant_city) <= 100 THEN s.merchant_city
            ELSE left(coalesce(s.merchant_city, ''), 100) END AS merchant_city,
       CASE WHEN octet_length(s.merchant_state) <= 100 THEN s.merchant_state
            ELSE left(coalesce(s.merchant_state, ''), 100) END AS merchant_state,
       CASE WHEN s.zip IS NULL THEN ''
            WHEN length(s.zip) = 7 AND substr(s.zip, 6) = '.0' THEN left(s.zip, 5)  -- the float-like 58523.0
            ELSE left(lpad(split_part(s.zip, '.', 1), 5, '0'), 10) END AS merchant_zip,
       m.code AS mcc,
       CASE WHEN s.errors IS NULL THEN ARRAY[]::varchar(40)[]
            ELSE string_to_array(s.errors, ',')::varchar(40)[] END AS errors,
       CASE
           WHEN s.use_chip = {marker} THEN 'pre'
           WHEN d.line_no IS NOT NULL THEN 'duplicate_in_file'
           WHEN c.id IS NULL THEN 'unknown_client'
           WHEN k.id IS NULL THEN 'unknown_card'
           WHEN k.customer_id <> c.id THEN 'card_client_mismatch'
           WHEN m.code IS NULL THEN 'unknown_mcc'
           WHEN s.use_chip NOT IN ('Swipe Transaction', 'Chip Transaction', 'Online Transaction') THEN 'bad_value'
       END AS reason,
       d.first_line,
       s.id AS raw_id, s.client_id AS raw_client_id, s.card_id AS raw_card_id, s.mcc AS raw_mcc,
       s.use_chip AS raw_use_chip,
       concat_ws(',', coalesce(s.id, ''), coalesce(s."date", ''), coalesce(s.client_id, ''),
                 coalesce(s.card_id, ''), coalesce(s.amount, ''), coalesce(s.use_chip, ''),
                 coalesce(s.merchant_id, ''), coalesce(s.merchant_city, ''), coalesce(s.merchant_state, ''),
                 coalesce(s.zip, ''), coalesce(s.mcc, ''),
                 CASE WHEN strpos(s.errors, ',') > 0 THEN '"' || s.errors || '"' ELSE coalesce(s.errors, '') END
       ) AS raw_line
FROM {staging} s
LEFT JOIN customers_customer c ON c.external_id = s.client_id::bigint
LEFT JOIN customers_paymentcard k ON k.external_id = s.card_id::bigint
LEFT JOIN transactions_merchantcategory m ON m.code = s.mcc
LEFT JOIN {dupes} d ON d.line_no = s.line_no;

-- @statement load
-- A worker's range of lines into its loader: a partitioned twin of transactions_payment whose
-- partitions are fresh month tables (indexes, foreign keys and the bound check come after the
-- load, in one piece each); rows of other months fall into the loader's default partition and
-- are moved by the main connection. Labels join here, so a labelled payment is written once,
-- with its label. The row count of the INSERT is the number of rows loaded.
INSERT INTO {loader} (id, paid_at, customer_id, card_id, amount, method, merchant_id, merchant_city,
                      merchant_state, merchant_zip, mcc, errors, is_fraud, fraud_score, ingest_run_id)
SELECT v.id, v.paid_at, v.customer_id, v.card_id, v.amount, v.method, v.merchant_id, v.merchant_city,
       v.merchant_state, v.merchant_zip, v.mcc, v.errors, l.is_fraud, NULL, %(run_id)s
FROM {checked} v
LEFT JOIN {labels} l ON l.id = v.id
WHERE v.line_no BETWEEN %(first_line)s AND %(last_line)s
  AND v.reason IS NULL
  -- NOT EXISTS (a payment with this id), left out when no payment has an id in the file's range
  AND {not_loaded};

-- @statement hits
-- The ids of the payments the load labelled, so applying the labels afterwards only has to look
-- for the others. Read back from the worker's own fresh tables: measured alone on 2.5 M rows, the
-- scan took 0.55 s where collecting the ids with RETURNING during the load took about 2 s.
CREATE UNLOGGED TABLE {hits} AS
SELECT id FROM {loader} WHERE is_fraud IS NOT NULL;

-- @statement reject
-- A worker's refused rows, with their reasons, kept in the staging schema until the main
-- connection copies them into RejectedRow in the file's transaction.
CREATE UNLOGGED TABLE {rejects} AS
SELECT v.line_no, v.reason,
       transactions_mask_pan(CASE v.reason
           WHEN 'duplicate_in_file' THEN 'transaction id ' || v.raw_id || ' already appears on line ' || v.first_line
           WHEN 'unknown_client' THEN 'client_id ' || coalesce(v.raw_client_id, '(empty)') || ' is not a known customer'
           WHEN 'unknown_card' THEN 'card_id ' || coalesce(v.raw_card_id, '(empty)') || ' is not a known card'
           WHEN 'card_client_mismatch' THEN 'card_id ' || v.raw_card_id || ' belongs to another client than ' || v.raw_client_id
           WHEN 'unknown_mcc' THEN 'mcc ' || coalesce(v.raw_mcc, '(empty)') || ' is neither an ISO 18245 code nor in the delivery''s MCC file'
           ELSE 'use_chip ' || coalesce(v.raw_use_chip, '(empty)') || ' is not a Swipe, Chip or Online Transaction'
       END) AS detail,
       transactions_mask_pan(v.raw_line) AS raw_line
FROM {checked} v
WHERE v.line_no BETWEEN %(first_line)s AND %(last_line)s
  AND v.reason IS NOT NULL AND v.reason <> 'pre';

-- @statement no_rejects
-- A worker's range without a refused row: the same table, empty.
CREATE UNLOGGED TABLE {rejects} (line_no bigint, reason text, detail text, raw_line text);

-- @statement collect_rejects
INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line)
SELECT %(run_id)s, %(file_name)s, line_no, reason, detail, raw_line FROM {rejects};

-- @statement unforeseen_months
SELECT DISTINCT date_trunc('month', paid_at AT TIME ZONE 'UTC')::date FROM {rest};

-- @statement load_existing_months
INSERT INTO transactions_payment (id, paid_at, customer_id, card_id, amount, method, merchant_id, merchant_city,
                                  merchant_state, merchant_zip, mcc, errors, is_fraud, fraud_score, ingest_run_id)
SELECT id, paid_at, customer_id, card_id, amount, method, merchant_id, merchant_city, merchant_state,
       merchant_zip, mcc, errors, is_fraud, fraud_score, ingest_run_id
FROM {rest};

-- @statement home_area
-- Customers without a city get the city and postal area (first three zip digits) where they
-- most often pay in person; on a large file a sample of the rows is plenty for that.
UPDATE customers_customer c
SET city = h.city, postal_area = h.postal_area, updated_at = now()
FROM (
    SELECT DISTINCT ON (client_id) client_id, city, postal_area
    FROM (
        SELECT s.client_id::bigint AS client_id, left(s.merchant_city, 100) AS city,
               left(lpad(split_part(s.zip, '.', 1), 5, '0'), 3) AS postal_area, count(*) AS payments
        FROM {staging} s TABLESAMPLE SYSTEM (%(sample_percent)s) REPEATABLE (1)
        WHERE s.use_chip IN ('Swipe Transaction', 'Chip Transaction')
          AND s.zip IS NOT NULL AND s.merchant_city IS NOT NULL
        GROUP BY 1, 2, 3
    ) by_place
    ORDER BY client_id, payments DESC, city
) h
WHERE c.external_id = h.client_id AND c.city = '';
