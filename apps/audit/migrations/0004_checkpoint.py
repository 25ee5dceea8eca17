# The chain's signed head lives in a table of its own, append-only like the entries (same trigger
# function, which now names the table it guards).

import django.utils.timezone
from django.db import migrations, models


SQL = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('fleetops.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_checkpoint_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate
    BEFORE TRUNCATE ON audit_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only();
"""

REVERSE = """
DROP TRIGGER audit_checkpoint_no_truncate ON audit_auditcheckpoint;
DROP TRIGGER audit_checkpoint_no_update_delete ON audit_auditcheckpoint;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_truncate_switch_for_test_flush'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entries', models.BigIntegerField()),
                ('last_entry_id', models.BigIntegerField()),
                ('last_hash', models.CharField(max_length=64)),
                ('signature', models.CharField(max_length=64)),
            ],
            options={
                'ordering': ['-id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('entries__gte', 1)), name='audit_auditcheckpoint_entries_positive')],
            },
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
