-- The masking rule for rejected-row text, the same as apps.transactions.ingest.readers.mask_line:
-- any run of 13-19 digits keeps only its last four; a 3-4 digit field right after it (a CVV) is
-- replaced too.
CREATE OR REPLACE FUNCTION transactions_mask_pan(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        regexp_replace(
            t,
            '(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])(\s*[,;|]\s*)[0-9]{3,4}(?![0-9])',
            '************\1\2***', 'g'),
        '(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])',
        '************\1', 'g')
$$;

-- Staging tables of ingest runs live apart from the application's tables.
CREATE SCHEMA IF NOT EXISTS ingest_staging;
