"""The partner models moved from accounts to partners with their tables (partners 0001, pricing 0005,
accounts 0003). A database built by the old migrations keeps its partners, tokens, webhooks and
idempotency keys, readable through the new models; the content types move, so the permissions and
role groups on them still apply; and the move can be undone."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from apps.common.keys import hash_key, new_secret_key
from apps.jobs.models import JobRun
from apps.partners.models import ApiToken, IdempotencyKey, Partner, WebhookDelivery, WebhookEndpoint
from apps.partners.services import api_token_authenticate
from apps.partners.webhooks import webhook_endpoint_secret, webhook_events_enqueue
from apps.pricing.models import PartnerJob
from tests.db_roles import database_owner

# The state just before the move: partners does not exist, accounts and pricing as they were.
BEFORE = [("accounts", "0002_role_groups"), ("pricing", "0004_quote_immutable_trigger"), ("partners", None)]
MOVED = ["partner", "apitoken", "webhookendpoint", "webhookdelivery", "idempotencykey"]


def _migrate(targets):
    """Migrates to targets (None: the latest) and answers the models as the database now has them."""
    with database_owner():  # as a deployment migrates, then hands the new tables over
        executor = MigrationExecutor(connection)
        executor.migrate(targets or executor.loader.graph.leaf_nodes())
        call_command("db_app_role", verbosity=0)
    ContentType.objects.clear_cache()
    loader = MigrationLoader(connection)
    return loader.project_state(list(loader.applied_migrations)).apps


def _constraints(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_partner_data():
    old = _migrate(BEFORE)
    try:
        content_types = old.get_model("contenttypes", "ContentType")
        assert set(content_types.objects.filter(app_label="accounts").values_list("model", flat=True)) >= set(MOVED)
        assert not content_types.objects.filter(app_label="partners").exists()
        assert "accounts_apitoken_scopes_known" in _constraints("accounts_apitoken")
        partner_type = content_types.objects.get(app_label="accounts", model="partner")
        group = Group.objects.create(name="partner-desk")
        group.permissions.add(Permission.objects.get(content_type_id=partner_type.pk, codename="change_partner"))

        user = old.get_model("accounts", "User").objects.create(username="issuer")
        partner = old.get_model("accounts", "Partner").objects.create(name="Old Insurer", slug="old-insurer")
        raw_key, prefix = new_secret_key("fo")
        token = old.get_model("accounts", "ApiToken").objects.create(
            partner=partner,
            name="from before",
            prefix=prefix,
            key_hash=hash_key(raw_key),
            scopes=["drivers:read", "quotes:write"],
            created_by=user,
        )
        endpoint = old.get_model("accounts", "WebhookEndpoint").objects.create(
            partner=partner, url="https://hooks.old.example/in", secret="whsec_old", events=["score.changed"]
        )
        delivery = old.get_model("accounts", "WebhookDelivery").objects.create(
            endpoint=endpoint,
            event_type="score.changed",
            event_id="8c4f3c1e-0d0a-4c55-9a43-1f0b6f5d2a10",
            payload={"driver_id": 7},
        )
        key = old.get_model("accounts", "IdempotencyKey").objects.create(
            partner=partner, key="retry-1", method="POST", path="/api/v1/quotes/", request_hash="0" * 64
        )
        run = old.get_model("jobs", "JobRun").objects.create(kind="risk.score_drivers", parameters_hash="0" * 64)
        old.get_model("pricing", "PartnerJob").objects.create(partner=partner, job=run)

        _migrate(None)

        moved = Partner.objects.get(pk=partner.pk)
        assert (moved.name, moved.slug, moved.requests_per_minute) == ("Old Insurer", "old-insurer", 6000)
        authenticated = api_token_authenticate(raw_key=raw_key)
        assert authenticated.pk == token.pk and authenticated.partner == moved
        assert ApiToken.objects.get(pk=token.pk).created_by.username == "issuer"
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).partner == moved
        # The clear secret of before is encrypted in place (partners 0003) and still signs.
        stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
        assert "whsec_old" not in stored.secret_encrypted
        assert webhook_endpoint_secret(endpoint=stored) == "whsec_old"
        assert WebhookDelivery.objects.get(pk=delivery.pk).endpoint_id == endpoint.pk
        assert IdempotencyKey.objects.get(pk=key.pk).partner == moved
        assert PartnerJob.objects.get(job=JobRun.objects.get(pk=run.pk)).partner == moved
        # The moved tables take new rows through the new models: a delivery for the old endpoint.
        assert len(webhook_events_enqueue(event_type="score.changed", events=[(moved.pk, {"driver_id": 7})])) == 1

        # The same content type row, relabelled: permissions and groups on it still apply.
        assert ContentType.objects.get_for_model(Partner).pk == partner_type.pk
        assert not ContentType.objects.filter(app_label="accounts", model__in=MOVED).exists()
        assert set(ContentType.objects.filter(app_label="partners").values_list("model", flat=True)) == set(MOVED)
        assert list(group.permissions.values_list("content_type__app_label", "codename")) == [
            ("partners", "change_partner")
        ]
        # The constraints carry the new label, the tables keep their names.
        constraints = _constraints("accounts_apitoken")
        assert {"partners_apitoken_scopes_known", "partners_apitoken_key_hash_sha256"} <= constraints
        assert "accounts_apitoken_scopes_known" not in constraints

        # And back: the reverse migration gives accounts its labels and constraint names again.
        old = _migrate(BEFORE)
        content_types = old.get_model("contenttypes", "ContentType")
        assert content_types.objects.get(pk=partner_type.pk).app_label == "accounts"
        assert "accounts_apitoken_scopes_known" in _constraints("accounts_apitoken")
        assert old.get_model("accounts", "ApiToken").objects.get(pk=token.pk).partner_id == partner.pk
        assert old.get_model("accounts", "WebhookEndpoint").objects.get(pk=endpoint.pk).secret == "whsec_old"
    finally:
        _migrate(None)
