from django.db import migrations

# A quote is a price given to someone: policies, premium histories and partners refer to it, so
# it never changes after it is written (a new price is a new quote). The code and the admin never
# update one; this trigger makes the database refuse it too, whoever asks. Deleting an unbound
# quote stays possible (a bound one is protected by the policies' foreign keys).
FORWARD = """
CREATE FUNCTION pricing_quote_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'quote % is immutable: a new price is a new quote', OLD.id
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER pricing_quote_immutable BEFORE UPDATE ON pricing_quote
    FOR EACH ROW EXECUTE FUNCTION pricing_quote_immutable();
"""
BACKWARD = """
DROP TRIGGER pricing_quote_immutable ON pricing_quote;
DROP FUNCTION pricing_quote_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("pricing", "0003_rateplan_curve_premium_history_partner_job"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD, elidable=False)]
