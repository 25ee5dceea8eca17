"""Response examples the schema shows for more than one endpoint."""

SCORE_EXAMPLE = {
    "driver_id": 1042,
    "score_id": 88121,
    "safety_score": 81,
    "band": "low",
    "expected_claims_per_year": 0.052,
    "relative_risk": 0.71,
    "as_of": "2026-11-20",
    "model_version": "xgb-2026-11-20-a1b2",
    "scored_at": "2026-11-20T04:12:09+00:00",
}


def page(example: dict) -> dict:
    return {"count": 1, "next": None, "previous": None, "results": [example]}
