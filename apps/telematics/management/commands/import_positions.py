from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.telematics.detection import trips_detect_pending
from apps.telematics.positions.csv_import import SPEED_UNITS, device_map_parse, positions_import
from apps.telematics.services import trip_features_compute_pending


class Command(BaseCommand):
    help = (
        "Imports a CSV of positions of any age (a Traccar or provider export: columns for the device, "
        "time, latitude, longitude and optionally speed, course, altitude, accuracy, battery), then cuts "
        "the trips and computes their features. Re-running it stores nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--device-map", default=None, help="export id -> device serial: `a=SERIAL,b=SERIAL` or a two-column CSV"
        )
        parser.add_argument("--tz", default="UTC", help="time zone of times written without an offset")
        parser.add_argument("--speed-unit", default="mps", choices=sorted(SPEED_UNITS))
        parser.add_argument("--no-detect", action="store_true", help="store the positions only")

    def handle(self, *args, file, device_map, tz, speed_unit, no_detect, **options):
        try:
            result = positions_import(path=file, device_map=device_map_parse(device_map), tz=tz, speed_unit=speed_unit)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{file}: {result.rows} rows, {result.stored} stored, {result.duplicates} duplicates, "
            f"dropped {result.dropped or 'none'}"
        )
        for identifier, reason in sorted(result.refused.items()):
            self.stdout.write(f"  device {identifier}: refused ({reason})")
        if no_detect:
            return
        devices = trips_detect_pending(now=timezone.now())
        computed = trip_features_compute_pending()
        self.stdout.write(f"trip detection: {devices} device(s); features computed for {computed} trip(s)")
