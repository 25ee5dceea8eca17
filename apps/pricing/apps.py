from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "apps.pricing"
    label = "pricing"

    def ready(self) -> None:
        from apps.pricing import hooks, services, tasks
        from apps.risk.hooks import scores_changed

        scores_changed.connect(services.driver_scores_changed)
        hooks.requote_wanted.connect(tasks.requote_drivers_enqueue)
