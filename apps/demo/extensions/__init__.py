"""The demo world's extensions, run by `manage.py seed_demo` after the core world.

EXTENSIONS: dotted paths of callables `seed(*, size: str, rng: random.Random, stdout) -> None`,
run in order after the core world (regions, stores, staff, fleet, customers, rentals) exists.
Each must be deterministic for the seeded rng and bulk-insert."""

EXTENSIONS: list[str] = [
    "apps.demo.extensions.telematics.seed",  # simulated demo drivers and their claims
    "apps.demo.extensions.risk.seed",  # train on the demo drivers if they carry enough claims, activate, score
    "apps.demo.extensions.pricing.seed",  # partners, API tokens (printed once), quotes and policies
    "apps.demo.extensions.first_night.seed",  # a year of payments, then every nightly job once
]

# seed_demo records each extension it ran in the audit log under its dotted path; databases seeded
# before the demo app existed hold these older paths, which count as done (the log is append-only).
FORMER_PATHS: dict[str, str] = {
    "apps.demo.extensions.telematics.seed": "apps.telematics.demo.seed",
    "apps.demo.extensions.risk.seed": "apps.risk.demo.seed",
    "apps.demo.extensions.pricing.seed": "apps.pricing.demo.seed",
}
