from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from apps.accounts.roles import sync_role_permissions

        # Permissions only exist after migrate has run; keep the role groups in step with them.
        post_migrate.connect(sync_role_permissions, dispatch_uid="accounts.sync_role_permissions")
