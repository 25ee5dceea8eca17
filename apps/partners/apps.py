from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "apps.partners"
    label = "partners"

    def ready(self):
        from apps.partners import receivers

        # The domain apps below say what happened through their hooks; partners turns it into
        # webhooks and fresh caches (see apps.common.hooks).
        receivers.connect()
