import django.contrib.postgres.fields
from django.db import migrations, models

# Scores keep the features they were computed from as a float array in the order of their
# model's feature_names instead of a JSON object keyed by name. Existing snapshots are carried
# over in that order (a name missing from an old snapshot becomes NULL); going back rebuilds the
# objects from the arrays.
FORWARD = """
UPDATE risk_riskscore s
SET feature_values = ARRAY(
    SELECT (s.features ->> t.name)::float8
    FROM jsonb_array_elements_text(m.feature_names) WITH ORDINALITY AS t(name, position)
    ORDER BY t.position
)
FROM risk_riskmodel m
WHERE m.id = s.model_id AND s.features <> '{}'::jsonb
"""
BACKWARD = """
UPDATE risk_riskscore s
SET features = COALESCE((
    SELECT jsonb_object_agg(t.name, s.feature_values[t.position])
    FROM jsonb_array_elements_text(m.feature_names) WITH ORDINALITY AS t(name, position)
    WHERE t.position <= cardinality(s.feature_values)
), '{}'::jsonb)
FROM risk_riskmodel m
WHERE m.id = s.model_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0003_riskscore_model_index_unused"),
    ]

    operations = [
        migrations.AddField(
            model_name="riskscore",
            name="feature_values",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.FloatField(),
                blank=True,
                default=list,
                help_text="Feature values the score was computed from, in the order of the model's feature names.",
                size=None,
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD, elidable=False),
        migrations.RemoveField(model_name="riskscore", name="features"),
    ]
