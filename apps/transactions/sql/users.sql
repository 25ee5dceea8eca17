-- Transform of one users file into customers_customer, upserted by the processor's client id.
-- The reader never stages the street address (see the README's masking policy); birth month
-- and current age are staged but not kept: the birth year is enough.

-- @statement parse
CREATE UNLOGGED TABLE {parsed} AS
SELECT q.*,
       CASE
           WHEN q.external_id IS NULL THEN 'bad_value'
           WHEN q.first_line IS NOT NULL THEN 'duplicate_in_file'
           WHEN q.detail_text <> '' THEN 'bad_value'
       END AS reason
FROM (
    SELECT v.*,
           CASE WHEN v.external_id IS NULL THEN 'id ' || coalesce(v.raw_id, '(empty)') || ' is not a number'
                WHEN v.first_line IS NOT NULL THEN 'client id ' || v.raw_id || ' already appears on line ' || v.first_line
                ELSE concat_ws('; ',
                    CASE WHEN v.birth_year IS NULL AND v.raw_birth_year IS NOT NULL THEN 'birth_year ' || v.raw_birth_year || ' is not a year between 1900 and 2100' END,
                    CASE WHEN v.credit_score IS NULL AND v.raw_credit_score IS NOT NULL THEN 'credit_score ' || v.raw_credit_score || ' is not between 300 and 850' END,
                    CASE WHEN v.yearly_income IS NULL AND v.raw_yearly_income IS NOT NULL THEN 'yearly_income ' || v.raw_yearly_income || ' is not an amount' END,
                    CASE WHEN v.total_debt IS NULL AND v.raw_total_debt IS NOT NULL THEN 'total_debt ' || v.raw_total_debt || ' is not an amount' END,
                    CASE WHEN v.latitude IS NULL AND v.raw_latitude IS NOT NULL THEN 'latitude ' || v.raw_latitude || ' is not a latitude' END,
                    CASE WHEN v.longitude IS NULL AND v.raw_longitude IS NOT NULL THEN 'longitude ' || v.raw_longitude || ' is not a longitude' END
                ) END AS detail_text
    FROM (
        SELECT t.*,
               CASE WHEN t.external_id IS NOT NULL AND t.line_no > min(t.line_no) OVER (PARTITION BY t.external_id)
                    THEN min(t.line_no) OVER (PARTITION BY t.external_id) END AS first_line
        FROM (
            SELECT s.line_no,
                   s.raw_line,
                   s.id AS raw_id, s.birth_year AS raw_birth_year, s.credit_score AS raw_credit_score,
                   s.yearly_income AS raw_yearly_income, s.total_debt AS raw_total_debt,
                   s.latitude AS raw_latitude, s.longitude AS raw_longitude,
                   CASE WHEN s.id ~ '^[0-9]{{1,18}}$' THEN s.id::bigint END AS external_id,
                   CASE WHEN s.birth_year ~ '^[0-9]{{4}}$' AND s.birth_year::int BETWEEN 1900 AND 2100
                        THEN s.birth_year::smallint END AS birth_year,
                   CASE lower(coalesce(s.gender, ''))
                       WHEN 'female' THEN 'female' WHEN 'f' THEN 'female'
                       WHEN 'male' THEN 'male' WHEN 'm' THEN 'male'
                       WHEN '' THEN 'unknown'
                       ELSE 'other'
                   END AS gender,
                   CASE WHEN s.latitude ~ '^-?[0-9]{{1,2}}(\.[0-9]+)?$' AND abs(s.latitude::numeric) <= 90
                        THEN round(s.latitude::numeric, 2) END AS latitude,
                   CASE WHEN s.longitude ~ '^-?[0-9]{{1,3}}(\.[0-9]+)?$' AND abs(s.longitude::numeric) <= 180
                        THEN round(s.longitude::numeric, 2) END AS longitude,
                   CASE WHEN s.yearly_income ~ '^\$?[0-9]{{1,10}}(\.[0-9]{{1,2}})?$'
                        THEN replace(s.yearly_income, '$', '')::numeric(12, 2) END AS yearly_income,
                   CASE WHEN s.total_debt ~ '^\$?[0-9]{{1,10}}(\.[0-9]{{1,2}})?$'
                        THEN replace(s.total_debt, '$', '')::numeric(12, 2) END AS total_debt,
                   CASE WHEN s.credit_score ~ '^[0-9]{{3}}$' AND s.credit_score::int BETWEEN 300 AND 850
                        THEN s.credit_score::smallint END AS credit_score
            FROM {staging} s
        ) t
    ) v
) q;

-- @statement upsert
INSERT INTO customers_customer AS c (
    created_at, updated_at, external_id, first_name, last_name, email, phone, gender, birth_year,
    city, postal_area, latitude, longitude, yearly_income, total_debt, credit_score
)
SELECT now(), now(), external_id, '', '', '', '', gender, birth_year, '', '', latitude, longitude,
       yearly_income, total_debt, credit_score
FROM {parsed}
WHERE reason IS NULL
ON CONFLICT (external_id) DO UPDATE
SET gender = EXCLUDED.gender, birth_year = EXCLUDED.birth_year, latitude = EXCLUDED.latitude,
    longitude = EXCLUDED.longitude, yearly_income = EXCLUDED.yearly_income, total_debt = EXCLUDED.total_debt,
    credit_score = EXCLUDED.credit_score, updated_at = now()
WHERE (c.gender, c.birth_year, c.latitude, c.longitude, c.yearly_income, c.total_debt, c.credit_score)
      IS DISTINCT FROM
      (EXCLUDED.gender, EXCLUDED.birth_year, EXCLUDED.latitude, EXCLUDED.longitude, EXCLUDED.yearly_income,
       EXCLUDED.total_debt, EXCLUDED.credit_score);

-- @statement reject
INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, raw_line)
SELECT %(run_id)s, %(file_name)s, line_no, reason, transactions_mask_pan(detail_text), raw_line
FROM {parsed}
WHERE reason IS NOT NULL;
