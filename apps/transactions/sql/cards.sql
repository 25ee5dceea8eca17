-- Transform of one cards file into customers_paymentcard, upserted by the processor's card id.
-- The reader has already replaced the card number by its HMAC and last four digits and dropped
-- the CVV: neither ever reaches the database.

-- @statement parse
CREATE UNLOGGED TABLE {parsed} AS
SELECT q.*,
       CASE
           WHEN q.external_id IS NULL THEN 'bad_value'
           WHEN q.first_line IS NOT NULL THEN 'duplicate_in_file'
           WHEN q.customer_id IS NULL THEN 'unknown_client'
           WHEN q.current_customer_id IS NOT NULL AND q.current_customer_id <> q.customer_id THEN 'card_client_mismatch'
           WHEN q.detail_text <> '' THEN 'bad_value'
       END AS reason
FROM (
    SELECT v.*,
           CASE WHEN v.external_id IS NULL THEN 'id ' || coalesce(v.raw_id, '(empty)') || ' is not a number'
                WHEN v.first_line IS NOT NULL THEN 'card id ' || v.raw_id || ' already appears on line ' || v.first_line
                WHEN v.customer_id IS NULL THEN 'client_id ' || coalesce(v.raw_client_id, '(empty)') || ' is not a known customer'
                WHEN v.current_customer_id IS NOT NULL AND v.current_customer_id <> v.customer_id
                    THEN 'card ' || v.raw_id || ' is already held by another client'
                ELSE concat_ws('; ',
                    v.number_problem,
                    CASE WHEN v.brand IS NULL THEN 'card_brand ' || coalesce(v.raw_brand, '(empty)') || ' is not Visa, Mastercard, Amex or Discover' END,
                    CASE WHEN v.card_type IS NULL THEN 'card_type ' || coalesce(v.raw_card_type, '(empty)') || ' is not Credit, Debit or Debit (Prepaid)' END,
                    CASE WHEN v.expires_on IS NULL THEN 'expires ' || coalesce(v.raw_expires, '(empty)') || ' is not MM/YYYY' END,
                    CASE WHEN v.opened_on IS NULL AND v.raw_opened IS NOT NULL THEN 'acct_open_date ' || v.raw_opened || ' is not MM/YYYY' END,
                    CASE WHEN v.credit_limit IS NULL AND v.raw_credit_limit IS NOT NULL THEN 'credit_limit ' || v.raw_credit_limit || ' is not an amount' END,
                    CASE WHEN v.cards_issued IS NULL THEN 'num_cards_issued ' || coalesce(v.raw_cards_issued, '(empty)') || ' is not a small number' END,
                    CASE WHEN v.pin_changed_year IS NULL AND v.raw_pin_year IS NOT NULL THEN 'year_pin_last_changed ' || v.raw_pin_year || ' is not a year' END
                ) END AS detail_text
    FROM (
        SELECT t.*,
               c.id AS customer_id,
               existing.customer_id AS current_customer_id,
               CASE WHEN t.external_id IS NOT NULL AND t.line_no > min(t.line_no) OVER (PARTITION BY t.external_id)
                    THEN min(t.line_no) OVER (PARTITION BY t.external_id) END AS first_line
        FROM (
            SELECT s.line_no, s.raw_line, s.number_hmac, s.last4, NULLIF(s.number_problem, '') AS number_problem,
                   s.id AS raw_id, s.client_id AS raw_client_id, s.card_brand AS raw_brand,
                   s.card_type AS raw_card_type, s.expires AS raw_expires, s.acct_open_date AS raw_opened,
                   s.credit_limit AS raw_credit_limit, s.num_cards_issued AS raw_cards_issued,
                   s.year_pin_last_changed AS raw_pin_year,
                   CASE WHEN s.id ~ '^[0-9]{{1,18}}$' THEN s.id::bigint END AS external_id,
                   CASE WHEN s.client_id ~ '^[0-9]{{1,18}}$' THEN s.client_id::bigint END AS client_external_id,
                   CASE lower(coalesce(s.card_brand, ''))
                       WHEN 'visa' THEN 'visa' WHEN 'mastercard' THEN 'mastercard' WHEN 'amex' THEN 'amex'
                       WHEN 'american express' THEN 'amex' WHEN 'discover' THEN 'discover'
                   END AS brand,
                   CASE lower(coalesce(s.card_type, ''))
                       WHEN 'credit' THEN 'credit' WHEN 'debit' THEN 'debit' WHEN 'debit (prepaid)' THEN 'prepaid'
                       WHEN 'prepaid' THEN 'prepaid'
                   END AS card_type,
                   CASE WHEN s.expires ~ '^(0[1-9]|1[0-2])/(19|20)[0-9]{{2}}$'
                        THEN (make_date(split_part(s.expires, '/', 2)::int, split_part(s.expires, '/', 1)::int, 1)
                              + interval '1 month - 1 day')::date END AS expires_on,
                   CASE WHEN s.acct_open_date ~ '^(0[1-9]|1[0-2])/(19|20)[0-9]{{2}}$'
                        THEN make_date(split_part(s.acct_open_date, '/', 2)::int, split_part(s.acct_open_date, '/', 1)::int, 1)
                   END AS opened_on,
                   CASE WHEN s.credit_limit ~ '^\$?[0-9]{{1,10}}(\.[0-9]{{1,2}})?$'
                        THEN replace(s.credit_limit, '$', '')::numeric(12, 2) END AS credit_limit,
                   CASE WHEN s.num_cards_issued ~ '^[0-9]{{1,4}}$' THEN s.num_cards_issued::smallint END AS cards_issued,
                   CASE WHEN s.year_pin_last_changed ~ '^(19|20)[0-9]{{2}}$' THEN s.year_pin_last_changed::smallint END
                       AS pin_changed_year,
                   upper(coalesce(s.has_chip, '')) IN ('YES', 'Y', 'TRUE', '1') AS has_chip,
                   upper(coalesce(s.card_on_dark_web, '')) IN ('YES', 'Y', 'TRUE', '1') AS on_dark_web
            FROM {staging} s
        ) t
        LEFT JOIN customers_customer c ON c.external_id = t.client_external_id
        LEFT JOIN customers_paymentcard existing ON existing.external_id = t.external_id
    ) v
) q;

-- @statement upsert
INSERT INTO customers_paymentcard AS k (
    created_at, updated_at, customer_id, external_id, brand, card_type, last4, expires_on, number_hmac,
    has_chip, cards_issued, credit_limit, opened_on, pin_changed_year, on_dark_web
)
SELECT now(), now(), customer_id, external_id, brand, card_type, last4, expires_on, number_hmac, has_chip,
       cards_issued, credit_limit, opened_on, pin_changed_year, on_dark_web
FROM {parsed}
WHERE reason IS NULL
ON CONFLICT (external_id) DO UPDATE
SET brand = EXCLUDED.brand, card_type = EXCLUDED.card_type, last4 = EXCLUDED.last4,
    expires_on = EXCLUDED.expires_on, number_hmac = EXCLUDED.number_hmac, has_chip = EXCLUDED.has_chip,
    cards_issued = EXCLUDED.cards_issued, credit_limit = EXCLUDED.credit_limit, opened_on = EXCLUDED.opened_on,
    pin_changed_year = EXCLUDED.pin_changed_year, on_dark_web = EXCLUDED.on_dark_web, updated_at = now()
WHERE (k.brand, k.card_type, k.last4, k.expires_on, k.number_hmac, k.has_chip, k.cards_issued, k.credit_limit,
       k.opened_on, k.pin_changed_year, k.on_dark_web)
      IS DISTINCT FROM
      (EXCLUDED.brand, EXCLUDED.card_type, EXCLUDED.last4, EXCLUDED.expires_on, EXCLUDED.number_hmac,
       EXCLUDED.has_chip, EXCLUDED.cards_issued, EXCLUDED.credit_limit, EXCLUDED.opened_on,
       EXCLUDED.pin_changed_year, EXCLUDED.on_dark_web);

-- @statement reject
INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line)
SELECT %(run_id)s, %(file_name)s, line_no, reason, transactions_mask_pan(detail_text), raw_line
FROM {parsed}
WHERE reason IS NOT NULL;
