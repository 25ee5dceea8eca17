"""The reference files of a delivery: users (clients), their cards, the merchant category codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from apps.demo.payments.profiles import CITIES, FILE_ONLY_MCC, MCC_PROFILE, STREETS
from apps.transactions.ingest.layout import CARD_COLUMNS, USER_COLUMNS


class ReferenceFiles:
    """The users, cards and MCC steps of the PaymentFileGenerator."""

    def _write_users(self) -> Path:
        rng, n = self.rng, self.n_users
        self.user_ids = np.sort(rng.choice(np.arange(n * 3), size=n, replace=False)).astype(np.int64)
        ages = np.clip(rng.normal(46, 17, n), 18, 99).astype(int)
        self.user_city = rng.integers(0, len(CITIES), n)
        self.user_cards = np.clip(rng.poisson(2.2, n) + 1, 1, 8)
        path, fh, raw = self._open("users_data.csv")
        with io.TextIOWrapper(fh, encoding="utf-8", newline="") as text:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(USER_COLUMNS)
            base_year = 2019
            for i in range(n):
                city = CITIES[self.user_city[i]]
                income = int(rng.lognormal(10.6, 0.45))
                lat, lon = _city_location(city[2], rng)
                writer.writerow([
                    int(self.user_ids[i]), int(ages[i]), int(rng.integers(60, 71)), base_year - int(ages[i]),
                    int(rng.integers(1, 13)), "Female" if rng.random() < 0.51 else "Male",
                    f"{int(rng.integers(1, 9999))} {STREETS[int(rng.integers(0, len(STREETS)))]}",
                    f"{lat:.2f}", f"{lon:.2f}", f"${income // 2}", f"${income}",
                    f"${int(max(0, rng.normal(income * 1.1, income * 0.8)))}",
                    int(np.clip(rng.normal(710, 65), 480, 850)), int(self.user_cards[i]),
                ])  # fmt: skip
        if raw:
            raw.close()
        return path

    def _write_cards(self) -> Path:
        rng = self.rng
        total = int(self.user_cards.sum())
        self.card_ids = np.sort(rng.choice(np.arange(total * 2), size=total, replace=False)).astype(np.int64)
        order = rng.permutation(total)  # card ids are not grouped by client in the real files
        self.card_ids = self.card_ids[order]
        self.card_client = np.repeat(np.arange(self.n_users), self.user_cards)  # user index of each card
        # Cards of user u: card_ids[offset[u] : offset[u] + user_cards[u]].
        self.card_offset = np.concatenate([[0], np.cumsum(self.user_cards)[:-1]])
        self.card_numbers = []
        path, fh, raw = self._open("cards_data.csv")
        brands = [("Mastercard", 0.52, "5", 16), ("Visa", 0.38, "4", 16), ("Amex", 0.07, "37", 15),
                  ("Discover", 0.03, "6011", 16)]  # fmt: skip
        brand_p = np.array([b[1] for b in brands])
        with io.TextIOWrapper(fh, encoding="utf-8", newline="") as text:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(CARD_COLUMNS)
            for i in range(total):
                name, _, prefix, length = brands[int(rng.choice(len(brands), p=brand_p))]
                if prefix == "5":
                    prefix += str(int(rng.integers(1, 6)))
                body = "".join(str(d) for d in rng.integers(0, 10, length - len(prefix) - 1))
                number = luhn_complete(prefix + body)
                self.card_numbers.append(number)
                opened = int(rng.integers(1995, 2020))
                card_type = rng.choice(["Debit", "Credit", "Debit (Prepaid)"], p=[0.6, 0.33, 0.07])
                limit = int(rng.lognormal(9.3, 0.6)) if card_type != "Debit (Prepaid)" else int(rng.integers(10, 120))
                writer.writerow([
                    int(self.card_ids[i]), int(self.user_ids[self.card_client[i]]), name, card_type, number,
                    f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(2020, 2026))}",
                    f"{int(rng.integers(0, 10000 if name == 'Amex' else 1000)):0{4 if name == 'Amex' else 3}d}",
                    "YES" if rng.random() < 0.9 else "NO", int(rng.integers(1, 4)), f"${limit}",
                    f"{int(rng.integers(1, 13)):02d}/{opened}", int(rng.integers(opened, 2021)), "No",
                ])  # fmt: skip
        if raw:
            raw.close()
        return path

    def _write_mcc(self) -> Path:
        import iso18245

        official = {m.mcc: m for m in iso18245.get_all_mccs()}
        codes = {}
        for code, *_ in MCC_PROFILE:
            if code in FILE_ONLY_MCC:
                codes[code] = FILE_ONLY_MCC[code]
            else:
                m = official[code]
                codes[code] = m.iso_description or m.visa_description or m.usda_description
        path, fh, raw = self._open("mcc_codes.json")
        fh.write(json.dumps(codes, indent=0).encode())
        fh.close()
        if raw:
            raw.close()
        return path


def luhn_complete(prefix: str) -> str:
    digits = [int(c) for c in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return prefix + str((10 - total % 10) % 10)


def _city_location(zip_code: int, rng) -> tuple[float, float]:
    # A plausible spot in the continental US keyed on the zip (not a geocode).
    lat = 25 + (zip_code % 2300) / 100 + rng.normal(0, 0.05)
    lon = -70 - (zip_code % 5000) / 100 + rng.normal(0, 0.05)
    return lat, lon
