"""The demo world built by `manage.py seed_demo`.

Other apps add to the world through EXTENSIONS: dotted paths of callables
`seed(*, size: str, rng: random.Random, stdout) -> None`, run in order after the core world
(regions, stores, staff, fleet, customers, rentals) exists. Each must be deterministic for the
seeded rng and bulk-insert."""

EXTENSIONS: list[str] = [
    "apps.telematics.demo.seed",  # telematics: simulated demo drivers and their claims
    "apps.risk.demo.seed",  # risk: train on the demo drivers if they carry enough claims, activate, score
    "apps.pricing.demo.seed",  # pricing: partners, API tokens (printed once), quotes and policies
]
