-- The hot read of the partner API in one statement: is the driver visible to the partner, and its
-- latest score of the active model. Static SQL with bound parameters (the ORM spent about 1.5 ms
-- of CPU compiling the equivalent query; this runs in about 0.2 ms). The table names are filled in
-- as identifiers by apps.partners.selectors.

-- @statement driver_score
SELECT EXISTS (SELECT 1 FROM {policy} p WHERE p.partner_id = %(partner)s AND p.driver_id = %(driver)s),
       s.id, s.safety_score, s.band, s.expected_claims_per_year, s.relative_risk, s.as_of, s.created_at, s.version
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT rs.id, rs.safety_score, rs.band, rs.expected_claims_per_year, rs.relative_risk, rs.as_of, rs.created_at,
           m.version
    FROM {risk_score} rs
    JOIN {risk_model} m ON m.id = rs.model_id AND m.is_active
    WHERE rs.driver_id = %(driver)s
    ORDER BY rs.as_of DESC, rs.created_at DESC
    LIMIT 1
) AS s ON true
