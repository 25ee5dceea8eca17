"""Demo and synthetic data: the demo world (`seed_demo`, `demo_logins`), the apps' demo
extensions, the payments file generator (`make_payment_files`) and the trip simulator
(`simulate_trips`). No production app imports it."""
