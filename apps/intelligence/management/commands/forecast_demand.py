"""Run the 7-day demand forecast now (stored on a JobRun like a scheduled run) and print its
backtest: MAPE, WAPE and bias of the model and of the seasonal-naive baseline."""

from django.core.management.base import BaseCommand

from apps.jobs.cli import job_run_from_command


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}%"


class Command(BaseCommand):
    help = "Forecast rentals per store for the next 7 days and print the 8-week backtest."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", default="", help="first forecast day (YYYY-MM-DD), default today")

    def handle(self, *args, as_of="", **options):
        params = {"as_of": as_of} if as_of else {}
        run = job_run_from_command(kind="intelligence.demand_forecast", parameters=params)
        backtest = run.result["backtest"]
        overall = backtest["overall"]
        self.stdout.write(
            f"run #{run.pk}: {len(run.result['forecasts'])} stores forecast, events {run.result['events']}"
        )
        self.stdout.write(f"backtest over {overall['weeks']} weeks, {overall['store_days']} store-days")
        self.stdout.write(f"{'':12}{'MAPE':>9}{'WAPE':>9}{'bias':>9}")
        for name in ("model", "naive"):
            errors = overall[name] or {}
            self.stdout.write(
                f"{name:12}{_fmt(errors.get('mape')):>9}{_fmt(errors.get('wape')):>9}{_fmt(errors.get('bias')):>9}"
            )
        verdict = "beats" if overall.get("model_beats_naive_wape") else "does NOT beat"
        self.stdout.write(f"the model {verdict} seasonal-naive on WAPE")
