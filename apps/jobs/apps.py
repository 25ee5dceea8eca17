from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"

    def ready(self) -> None:
        from apps.jobs import hooks, tasks

        hooks.run_queued.connect(tasks.run_job_enqueue)
