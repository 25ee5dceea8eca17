-- Risk's reads of telematics_driverfeatures (apps.risk.selectors). The feature columns come from
-- the FEATURE_NAMES allow-list and are filled in as identifiers.

-- @statement training_frame
-- One row per driver with features as of a day (drivers who drove nothing left out) and the
-- claims that occurred in the following period (rejected claims are not claims).
SELECT f.driver_id, {columns}, COALESCE(c.claims, 0) AS claims
FROM telematics_driverfeatures f
LEFT JOIN (
    SELECT driver_id, count(*) AS claims FROM risk_claim
    WHERE occurred_at >= %(start)s AND occurred_at < %(end)s AND status <> 'rejected'
    GROUP BY driver_id
) c ON c.driver_id = f.driver_id
WHERE f.as_of = %(as_of)s AND f.window_days = %(window)s AND f.km > 0
ORDER BY f.driver_id;

-- @statement drivers_to_score
-- Drivers with features as of a day that the model has not scored for that day (optionally only
-- the given ids).
SELECT f.driver_id FROM telematics_driverfeatures f
WHERE f.as_of = %(as_of)s AND f.window_days = %(window)s
{only_ids}
AND NOT EXISTS (SELECT 1 FROM risk_riskscore s
                WHERE s.driver_id = f.driver_id AND s.model_id = %(model)s AND s.as_of = %(as_of)s)
ORDER BY f.driver_id;

-- @statement features_chunk
-- The features of a chunk of drivers as one binary COPY (COPY takes no bind parameters: the
-- values are quoted literals).
COPY (SELECT f.driver_id::bigint, {columns}
      FROM telematics_driverfeatures f
      WHERE f.driver_id = ANY({ids}::bigint[]) AND f.as_of = {as_of} AND f.window_days = {window}
      ORDER BY f.driver_id) TO STDOUT (FORMAT binary);

-- @statement features_all
-- Every driver's features as of a day, in the model's feature order (the nightly drift check).
SELECT {columns} FROM telematics_driverfeatures f
WHERE f.as_of = %(as_of)s AND f.window_days = %(window)s;
