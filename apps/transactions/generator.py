"""Synthetic card-payment deliveries in the layout of the public "Financial Transactions Dataset"
(users_data.csv, cards_data.csv, transactions_data.csv, mcc_codes.json, train_fraud_labels.json).

The real data set cannot be downloaded here, so this writes files with the same columns and
value formats and with realistic shapes: clients with several cards, spending by hour of day
and merchant category, refunds, an online share, error lists and a fraud rate near 0.15 %
concentrated at night and in a few categories. At `dirty_share` it also writes each kind of bad
row the pipeline must reject.

Transactions and labels are generated in numpy chunks and rendered without a per-row Python
loop: each field becomes a fixed-width block of bytes (0 = padding), the blocks are placed side
by side with the separators, and dropping the padding bytes leaves the CSV text.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TRANSACTION_COLUMNS = [
    "id", "date", "client_id", "card_id", "amount", "use_chip",
    "merchant_id", "merchant_city", "merchant_state", "zip", "mcc", "errors",
]  # fmt: skip
USER_COLUMNS = [
    "id", "current_age", "retirement_age", "birth_year", "birth_month", "gender", "address",
    "latitude", "longitude", "per_capita_income", "yearly_income", "total_debt", "credit_score",
    "num_credit_cards",
]  # fmt: skip
CARD_COLUMNS = [
    "id", "client_id", "card_brand", "card_type", "card_number", "expires", "cvv", "has_chip",
    "num_cards_issued", "credit_limit", "acct_open_date", "year_pin_last_changed", "card_on_dark_web",
]  # fmt: skip

# The kinds of bad transaction rows (and labels) the generator can write.
DIRTY_KINDS = (
    "bad_amount",
    "bad_date",
    "unknown_client",
    "unknown_card",
    "card_client_mismatch",
    "unknown_mcc",
    "column_count",
    "bad_quoting",
    "bad_encoding",
    "duplicate_in_file",
    "unknown_transaction",
)

# (code, share of spending rows, mean amount $, fraud weight, online-capable)
MCC_PROFILE = [
    ("5411", 0.120, 45, 0.6, False),  # grocery stores
    ("5499", 0.110, 25, 0.5, False),  # misc food stores
    ("5541", 0.100, 40, 0.6, False),  # service stations
    ("5812", 0.080, 38, 0.5, False),  # restaurants
    ("5814", 0.070, 12, 0.4, False),  # fast food
    ("5912", 0.050, 30, 0.7, False),  # drug stores
    ("4829", 0.045, 120, 3.5, True),  # money transfer
    ("5300", 0.040, 70, 1.0, True),  # wholesale clubs
    ("5311", 0.040, 65, 1.2, True),  # department stores
    ("4121", 0.035, 28, 0.8, True),  # taxicabs
    ("4784", 0.030, 9, 0.4, False),  # tolls
    ("4900", 0.030, 110, 0.3, True),  # utilities
    ("5310", 0.025, 55, 1.5, True),  # discount stores
    ("5732", 0.020, 240, 4.0, True),  # electronics
    ("5815", 0.020, 15, 1.8, True),  # digital media
    ("7538", 0.020, 180, 0.8, False),  # auto service
    ("5942", 0.015, 25, 1.2, True),  # book stores
    ("5651", 0.015, 60, 1.5, True),  # family clothing
    ("5661", 0.010, 75, 1.5, True),  # shoe stores
    ("5719", 0.010, 55, 1.2, True),  # home furnishings
    ("7011", 0.012, 210, 2.0, True),  # hotels
    ("4511", 0.010, 380, 3.0, True),  # airlines
    ("3000", 0.004, 450, 5.0, True),  # United Airlines
    ("5211", 0.015, 95, 0.6, False),  # building materials
    ("8011", 0.015, 140, 0.3, False),  # doctors
    ("8021", 0.008, 160, 0.3, False),  # dentists
    ("8099", 0.008, 120, 0.4, False),  # medical services
    ("7349", 0.010, 85, 0.5, False),  # cleaning services
    ("7230", 0.010, 35, 0.4, False),  # beauty shops
    ("7832", 0.010, 22, 0.6, False),  # cinemas
    ("7995", 0.006, 60, 6.0, True),  # gambling
    ("5932", 0.005, 150, 4.5, True),  # antique shops
    ("5094", 0.004, 420, 8.0, True),  # precious stones and metals
    ("5045", 0.006, 300, 3.0, True),  # computers
    ("5098", 0.004, 130, 1.0, False),  # processor-specific code, not in ISO 18245 (from mcc_codes.json)
    ("9402", 0.006, 8, 0.2, False),  # postal services
]
FILE_ONLY_MCC = {"5098": "Medical and Dental Supplies Wholesale (processor code)"}
UNKNOWN_MCCS = ["9990", "0000", "9998"]

HOUR_WEIGHTS = np.array(
    [0.6, 0.4, 0.3, 0.25, 0.3, 0.6, 1.6, 3.2, 4.8, 5.6, 6.2, 7.0, 7.6, 7.4, 7.0, 6.6, 6.8, 7.2, 7.0, 6.2, 4.8, 3.6,
     2.4, 1.3]
)  # fmt: skip
# Fraud leans to the night: relative risk per hour of day.
HOUR_FRAUD = np.array(
    [4.0, 5.0, 5.5, 5.5, 4.5, 3.0, 1.5, 1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.8, 0.9, 1.0, 1.2, 1.6,
     2.2, 3.0]
)  # fmt: skip

CITIES = [
    ("Beulah", "ND", 58523), ("La Verne", "CA", 91750), ("Monterey Park", "CA", 91754), ("Houston", "TX", 77002),
    ("Dallas", "TX", 75201), ("Austin", "TX", 78701), ("Chicago", "IL", 60601), ("Naperville", "IL", 60540),
    ("New York", "NY", 10001), ("Brooklyn", "NY", 11201), ("Buffalo", "NY", 14201), ("Miami", "FL", 33101),
    ("Orlando", "FL", 32801), ("Tampa", "FL", 33602), ("Atlanta", "GA", 30303), ("Savannah", "GA", 31401),
    ("Charlotte", "NC", 28202), ("Raleigh", "NC", 27601), ("Columbus", "OH", 43215), ("Cleveland", "OH", 44113),
    ("Detroit", "MI", 48226), ("Grand Rapids", "MI", 49503), ("Phoenix", "AZ", 85004), ("Tucson", "AZ", 85701),
    ("Seattle", "WA", 98101), ("Spokane", "WA", 99201), ("Portland", "OR", 97204), ("Denver", "CO", 80202),
    ("Boston", "MA", 2108), ("Worcester", "MA", 1608), ("Newark", "NJ", 7102), ("Jersey City", "NJ", 7302),
    ("Philadelphia", "PA", 19103), ("Pittsburgh", "PA", 15222), ("Nashville", "TN", 37203), ("Memphis", "TN", 38103),
    ("Minneapolis", "MN", 55401), ("Saint Paul", "MN", 55101), ("Kansas City", "MO", 64105), ("St. Louis", "MO", 63101),
    ("Las Vegas", "NV", 89101), ("Reno", "NV", 89501), ("Salt Lake City", "UT", 84101), ("Albuquerque", "NM", 87102),
    ("Omaha", "NE", 68102), ("Milwaukee", "WI", 53202), ("Indianapolis", "IN", 46204), ("Louisville", "KY", 40202),
    ("New Orleans", "LA", 70112), ("Birmingham", "AL", 35203), ("Little Rock", "AR", 72201), ("Boise", "ID", 83702),
    ("Honolulu", "HI", 96813), ("Anchorage", "AK", 99501), ("Richmond", "VA", 23219), ("Baltimore", "MD", 21201),
    ("Hartford", "CT", 6103), ("Providence", "RI", 2903), ("Burlington", "VT", 5401), ("Portland", "ME", 4101),
]  # fmt: skip
FOREIGN = [("Rome", "Italy"), ("Mexico City", "Mexico"), ("Toronto", "Canada"), ("London", "United Kingdom"),
           ("Paris", "France"), ("Tokyo", "Japan"), ("Berlin", "Germany"), ("Cancun", "Mexico")]  # fmt: skip
STREETS = ["Rose Lane", "Oak Street", "Maple Avenue", "Cedar Drive", "Pine Street", "Elm Street", "Lake Road",
           "Hill Street", "Sunset Boulevard", "Park Avenue", "River Road", "Main Street", "Washington Street",
           "Lincoln Avenue", "Valley Drive", "Forest Lane"]  # fmt: skip
ERRORS = ["Bad PIN", "Insufficient Balance", "Technical Glitch", "Bad Card Number", "Bad CVV", "Bad Expiration",
          "Bad Zipcode"]  # fmt: skip
ERROR_COMBOS = [
    ("Insufficient Balance", 0.40), ("Bad PIN", 0.22), ("Technical Glitch", 0.18), ("Bad Card Number", 0.05),
    ("Bad Expiration", 0.04), ("Bad CVV", 0.04), ("Bad Zipcode", 0.02), ("Bad PIN,Insufficient Balance", 0.015),
    ("Insufficient Balance,Technical Glitch", 0.012), ("Bad Card Number,Bad CVV", 0.008),
    ("Bad Expiration,Bad CVV", 0.006), ("Bad PIN,Technical Glitch", 0.005), ("Bad Card Number,Bad Expiration", 0.004),
]  # fmt: skip
METHODS = ["Swipe Transaction", "Chip Transaction", "Online Transaction"]
BAD_AMOUNTS = ["$12.3x", "N/A", "$--5.00", "12 USD", "$", "$1.2.3"]
BAD_DATES = ["2010-13-01 10:00:00", "2011-02-30 08:15:00", "31/12/2015 10:00", "not a date", "2012-04-31 25:61:00"]


@dataclass
class GeneratedFiles:
    directory: Path
    paths: dict[str, Path]
    transactions: int
    users: int
    cards: int
    labels: int
    dirty: dict[str, int] = field(default_factory=dict)
    fraud: int = 0
    fraud_labelled: int = 0


# --- fixed-width rendering ------------------------------------------------------------------


def _table(strings: list[str]) -> np.ndarray:
    """A vocabulary as a (k, width) uint8 matrix, 0-padded on the right."""
    encoded = [s.encode() for s in strings]
    width = max(1, max(len(s) for s in encoded))
    out = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, s in enumerate(encoded):
        out[i, : len(s)] = np.frombuffer(s, dtype=np.uint8)
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as ASCII digits in `width` bytes, leading zeros as padding."""
    values = values.astype(np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    out = ((values[:, None] // powers) % 10 + 48).astype(np.uint8)
    count = np.maximum((values[:, None] >= powers).sum(axis=1), 1)
    out[np.arange(width)[None, :] < (width - count)[:, None]] = 0
    return out


def _zero_padded(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + 48).astype(np.uint8)


def _const(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def _render(blocks: list[np.ndarray]) -> bytes:
    matrix = np.concatenate(blocks, axis=1)
    return matrix[matrix != 0].tobytes()


def _render_csv(fields: list[np.ndarray]) -> bytes:
    n = fields[0].shape[0]
    comma, newline = _const(",", n), _const("\n", n)
    blocks = []
    for i, block in enumerate(fields):
        blocks.append(block)
        blocks.append(newline if i == len(fields) - 1 else comma)
    return _render(blocks)


def luhn_complete(prefix: str) -> str:
    digits = [int(c) for c in prefix]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return prefix + str((10 - total % 10) % 10)


# --- the generator --------------------------------------------------------------------------


class PaymentFileGenerator:
    CHUNK = 200_000

    def __init__(
        self,
        *,
        transactions: int,
        out: Path,
        dirty_share: float = 0.001,
        seed: int = 42,
        gzip_output: bool = False,
        start: dt.date = dt.date(2010, 1, 1),
        years: float = 10.0,
        users: int | None = None,
        label_share: float = 0.67,
    ):
        if transactions < 1:
            raise ValueError("transactions must be at least 1")
        if not 0 <= dirty_share <= 0.05:
            raise ValueError("dirty_share must be between 0 and 0.05 (the share of rows per dirty kind)")
        self.n = transactions
        self.out = Path(out)
        self.dirty_share = dirty_share
        self.rng = np.random.default_rng(seed)
        self.gzip = gzip_output
        self.start = np.datetime64(start.isoformat(), "m")
        self.minutes = int(years * 365.25 * 24 * 60)
        self.n_users = users or int(np.clip(transactions // 2000, 20, 200_000))
        self.label_share = label_share
        self.dirty_counts = dict.fromkeys(DIRTY_KINDS, 0)
        self.fraud = 0
        self.fraud_labelled = 0
        self.labels_written = 0

    # ---- files ----

    def _open(self, name: str):
        path = self.out / (name + (".gz" if self.gzip else ""))
        raw = open(path, "wb")  # noqa: SIM115 - closed by the caller
        if self.gzip:
            return path, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1), raw
        return path, raw, None

    def generate(self) -> GeneratedFiles:
        self.out.mkdir(parents=True, exist_ok=True)
        paths = {}
        paths["users"] = self._write_users()
        paths["cards"] = self._write_cards()
        paths["mcc"] = self._write_mcc()
        paths["transactions"], paths["labels"] = self._write_transactions_and_labels()
        return GeneratedFiles(
            directory=self.out,
            paths=paths,
            transactions=self.n,
            users=self.n_users,
            cards=int(self.card_client.size),
            labels=self.labels_written,
            dirty={k: v for k, v in self.dirty_counts.items() if v},
            fraud=self.fraud,
            fraud_labelled=self.fraud_labelled,
        )

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

    def _merchants(self):
        rng = self.rng
        m = int(np.clip(self.n // 250, 200, 100_000))
        mcc_p = np.array([p[1] for p in MCC_PROFILE])
        mcc_p /= mcc_p.sum()
        self.m_mcc = rng.choice(len(MCC_PROFILE), size=m, p=mcc_p)
        online_capable = np.array([p[4] for p in MCC_PROFILE])
        kind = rng.random(m)
        self.m_online = online_capable[self.m_mcc] & (kind < 0.35)
        self.m_foreign = ~self.m_online & (kind > 0.985)
        self.m_city = rng.integers(0, len(CITIES), m)
        self.m_foreign_city = rng.integers(0, len(FOREIGN), m)
        self.m_zip = np.array([c[2] for c in CITIES])[self.m_city] + rng.integers(0, 40, m)
        self.m_ids = np.sort(rng.choice(np.arange(10_000, 10_000 + m * 10), size=m, replace=False))
        # Vocabularies for rendering.
        city_names = [c[0] for c in CITIES] + [f[0] for f in FOREIGN] + ["ONLINE"]
        state_names = [c[1] for c in CITIES] + [f[1] for f in FOREIGN] + [""]
        self.v_city = _table(city_names)
        self.v_state = _table(state_names)
        city_index = np.where(self.m_foreign, len(CITIES) + self.m_foreign_city, self.m_city)
        self.m_city_index = np.where(self.m_online, len(city_names) - 1, city_index)
        # Merchants a client frequents: clients mostly shop in their own city.
        by_city = {c: np.flatnonzero((self.m_city == c) & ~self.m_online & ~self.m_foreign) for c in range(len(CITIES))}
        self.merchants_by_city = by_city
        self.online_merchants = np.flatnonzero(self.m_online)
        self.foreign_merchants = np.flatnonzero(self.m_foreign)
        self.all_local = np.flatnonzero(~self.m_online & ~self.m_foreign)

    def _write_transactions_and_labels(self) -> tuple[Path, Path]:
        rng = self.rng
        self._merchants()
        self.v_method = _table(METHODS)
        self.v_errors = _table([""] + [f'"{e}"' if "," in e else e for e, _ in ERROR_COMBOS])
        self.v_mcc = _table([p[0] for p in MCC_PROFILE] + UNKNOWN_MCCS)
        self.v_bad_amount = _table(BAD_AMOUNTS)
        self.v_bad_date = _table(BAD_DATES)
        self.v_label = _table(['"No"', '"Yes"'])
        self.activity = rng.lognormal(0, 0.8, self.n_users)
        self.activity /= self.activity.sum()
        mcc_weight = np.array([p[3] for p in MCC_PROFILE])
        hour_p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
        method_fraud = np.array([0.6, 0.5, 3.0])
        # Expected relative risk, so the base rate lands the overall fraud share near 0.15 %.
        merchant_risk = mcc_weight[self.m_mcc] * np.where(self.m_online, method_fraud[2], 0.55)
        expected = (hour_p * HOUR_FRAUD).sum() * merchant_risk.mean()
        self.fraud_base = 0.0015 / expected
        self.mcc_weight = mcc_weight
        self.method_fraud = method_fraud
        self.hour_p = hour_p
        self.next_id = 7_475_327
        tx_path, tx_fh, tx_raw = self._open("transactions_data.csv")
        lb_path, lb_fh, lb_raw = self._open("train_fraud_labels.json")
        tx_fh.write((",".join(TRANSACTION_COLUMNS) + "\n").encode())
        lb_fh.write(b'{"target": {')
        first_label = True
        done = 0
        while done < self.n:
            size = min(self.CHUNK, self.n - done)
            tx_bytes, label_bytes = self._chunk(done, size)
            tx_fh.write(tx_bytes)
            if label_bytes:
                lb_fh.write(label_bytes[2:] if first_label else label_bytes)
                first_label = False
            done += size
        self._write_unknown_labels(lb_fh, first_label)
        lb_fh.write(b"}}\n")
        tx_fh.close()
        lb_fh.close()
        for raw in (tx_raw, lb_raw):
            if raw:
                raw.close()
        return tx_path, lb_path

    def _chunk(self, done: int, size: int) -> tuple[bytes, bytes]:
        rng = self.rng
        # Time: this chunk covers its share of the period, sorted, hours by the daily shape.
        lo = self.minutes * done // self.n
        hi = self.minutes * (done + size) // self.n
        days = rng.integers(lo // 1440, max(hi // 1440, lo // 1440 + 1), size)
        hours = rng.choice(24, size=size, p=self.hour_p)
        minutes = np.sort(days * 1440 + hours * 60 + rng.integers(0, 60, size))
        hours = (minutes // 60) % 24
        stamps = self.start + minutes.astype("timedelta64[m]")
        ids = self.next_id + np.cumsum(rng.integers(1, 4, size))
        self.next_id = int(ids[-1])
        client = rng.choice(self.n_users, size=size, p=self.activity)
        card_index = self.card_offset[client] + (rng.random(size) * self.user_cards[client]).astype(np.int64)
        card = self.card_ids[card_index]
        # Merchant: local shops in the client's city, sometimes anywhere, online or abroad.
        kind = rng.random(size)
        merchant = self.all_local[rng.integers(0, self.all_local.size, size)]
        home = self.user_city[client]
        local_pick = kind < 0.7
        for c in np.unique(home[local_pick]):
            pool = self.merchants_by_city.get(int(c))
            if pool is not None and pool.size:
                rows = np.flatnonzero(local_pick & (home == c))
                merchant[rows] = pool[rng.integers(0, pool.size, rows.size)]
        # Chip cards took over during the period; online share fixed.
        year_share = (minutes / self.minutes).clip(0, 1)
        online = (kind > 0.88) & (self.online_merchants.size > 0)
        if self.online_merchants.size:
            merchant[online] = self.online_merchants[rng.integers(0, self.online_merchants.size, online.sum())]
        abroad = (kind > 0.875) & (kind <= 0.88) & (self.foreign_merchants.size > 0)
        if self.foreign_merchants.size:
            merchant[abroad] = self.foreign_merchants[rng.integers(0, self.foreign_merchants.size, abroad.sum())]
        m_online = self.m_online[merchant]
        chip = rng.random(size) < np.clip((year_share - 0.5) * 2.2, 0, 0.85)
        method = np.where(m_online, 2, np.where(chip, 1, 0))
        mcc = self.m_mcc[merchant]
        mean = np.array([p[2] for p in MCC_PROFILE], dtype=float)[mcc]
        cents = np.round(rng.lognormal(np.log(mean) - 0.5, 0.9) * 100).astype(np.int64) + 1
        refund = rng.random(size) < 0.05
        cents[refund] = -np.minimum(cents[refund], 50_000)
        # Fraud by hour, category and channel.
        p = (
            self.fraud_base
            * HOUR_FRAUD[hours]
            * self.mcc_weight[mcc]
            * np.where(m_online, self.method_fraud[2], np.where(chip, 0.5, 0.6))
        )
        fraud = rng.random(size) < np.clip(p, 0, 0.5)
        # Errors: 1.6 % of rows, more often on fraud.
        err_p = np.array([e[1] for e in ERROR_COMBOS])
        has_error = rng.random(size) < np.where(fraud, 0.12, 0.016)
        errors = np.where(has_error, rng.choice(len(ERROR_COMBOS), size=size, p=err_p / err_p.sum()) + 1, 0)
        fraud_err = fraud & has_error & (rng.random(size) < 0.5)
        errors[fraud_err] = 1 + rng.choice([3, 4, 9], size=fraud_err.sum())  # card number / CVV problems

        # Dirty rows: disjoint picks per kind.
        n_dirty = rng.binomial(size, self.dirty_share, len(DIRTY_KINDS) - 1) if self.dirty_share else None
        dirty = {}
        if n_dirty is not None and n_dirty.sum():
            picks = rng.choice(np.arange(1, size), size=min(int(n_dirty.sum()), size - 1), replace=False)
            start = 0
            for k, kind_name in enumerate(DIRTY_KINDS[:-1]):
                dirty[kind_name] = np.sort(picks[start : start + n_dirty[k]])
                start += n_dirty[k]
        mcc_index = mcc.copy()
        client_ids = self.user_ids[client]
        if dirty:
            d = dirty
            client_ids[d["unknown_client"]] = (
                self.user_ids.max() + 1 + rng.integers(1, 10_000, d["unknown_client"].size)
            )
            card[d["unknown_card"]] = self.card_ids.max() + 1 + rng.integers(1, 10_000, d["unknown_card"].size)
            other = (client[d["card_client_mismatch"]] + 1) % self.n_users
            card[d["card_client_mismatch"]] = self.card_ids[self.card_offset[other]]
            if self.n_users < 2:
                card[d["card_client_mismatch"]] = self.card_ids.max() + 20_000  # no other client: unknown card
            mcc_index[d["unknown_mcc"]] = len(MCC_PROFILE) + rng.integers(0, len(UNKNOWN_MCCS), d["unknown_mcc"].size)
            # The row before must be clean, or the "first" occurrence would itself be rejected.
            d["duplicate_in_file"] = d["duplicate_in_file"][~np.isin(d["duplicate_in_file"] - 1, picks)]
            ids[d["duplicate_in_file"]] = ids[d["duplicate_in_file"] - 1]
        zip_digits = _digits(self.m_zip[merchant], 5)
        local = ~m_online & ~self.m_foreign[merchant]
        zip_field = np.concatenate([zip_digits, _const(".0", size)], axis=1) * local[:, None].astype(np.uint8)
        dollars = np.abs(cents) // 100
        amount_field = np.concatenate(
            [_const("$", size), np.where(cents < 0, 45, 0).astype(np.uint8)[:, None], _digits(dollars, 7),
             _const(".", size), _zero_padded(np.abs(cents) % 100, 2)],
            axis=1,
        )  # fmt: skip
        date_field = np.datetime_as_string(stamps, unit="m").astype("S16").view(np.uint8).reshape(size, 16).copy()
        date_field[:, 10] = 32  # 'T' -> ' '
        date_field = np.concatenate([date_field, _const(":00", size), np.zeros((size, 1), np.uint8)], axis=1)
        if dirty:
            width = amount_field.shape[1]
            bad = self.v_bad_amount[rng.integers(0, len(BAD_AMOUNTS), dirty["bad_amount"].size)]
            amount_field[dirty["bad_amount"]] = 0
            amount_field[dirty["bad_amount"], : bad.shape[1]] = bad[:, :width]
            bad = self.v_bad_date[rng.integers(0, len(BAD_DATES), dirty["bad_date"].size)]
            date_field[dirty["bad_date"]] = 0
            date_field[dirty["bad_date"], : bad.shape[1]] = bad
        fields = [
            _digits(ids, 12),
            date_field,
            _digits(client_ids, 9),
            _digits(card, 9),
            amount_field,
            self.v_method[method],
            _digits(self.m_ids[merchant], 9),
            self.v_city[self.m_city_index[merchant]],
            self.v_state[np.where(m_online, len(CITIES) + len(FOREIGN), np.where(
                self.m_foreign[merchant], len(CITIES) + self.m_foreign_city[merchant], self.m_city[merchant]))],
            zip_field,
            self.v_mcc[mcc_index],
            self.v_errors[errors],
        ]  # fmt: skip
        text = _render_csv(fields)
        if dirty:
            text = self._byte_level_dirt(text, dirty)
        clean = np.ones(size, dtype=bool)
        for rows in dirty.values():
            clean[rows] = False
        for kind_name, rows in dirty.items():
            self.dirty_counts[kind_name] += int(rows.size)
        self.fraud += int((fraud & clean).sum())
        # Labels: a random share of the clean rows (the "train" split).
        labelled = clean & (rng.random(size) < self.label_share)
        self.labels_written += int(labelled.sum())
        self.fraud_labelled += int((fraud & labelled).sum())
        n_lab = int(labelled.sum())
        label_bytes = b""
        if n_lab:
            label_bytes = _render(
                [_const(', "', n_lab), _digits(ids[labelled], 12), _const('": ', n_lab),
                 self.v_label[fraud[labelled].astype(np.int64)]]
            )  # fmt: skip
        return text, label_bytes

    def _byte_level_dirt(self, text: bytes, dirty: dict[str, np.ndarray]) -> bytes:
        rng = self.rng
        kinds = {k: dirty[k] for k in ("column_count", "bad_quoting", "bad_encoding") if dirty[k].size}
        if not kinds:
            return text
        ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
        starts = np.concatenate([[0], ends[:-1] + 1])
        replace = {}
        for kind_name, rows in kinds.items():
            for row in rows.tolist():
                line = text[starts[row] : ends[row]]
                parts = line.split(b",")
                if kind_name == "column_count":
                    if rng.random() < 0.5:
                        number = self.card_numbers[int(rng.integers(0, len(self.card_numbers)))]
                        line = line + f",{number},{int(rng.integers(100, 1000))}".encode()  # a leaked card
                    else:
                        line = b",".join(parts[:-2])
                elif kind_name == "bad_quoting":
                    parts[7] = b'"' + parts[7]
                    line = b",".join(parts)
                else:
                    parts[7] = parts[7][:2] + b"\xfc\xff" + parts[7][2:]
                    line = b",".join(parts)
                replace[row] = line
        out = []
        position = 0
        for row in sorted(replace):
            out.append(text[position : starts[row]])
            out.append(replace[row])
            position = ends[row]
        out.append(text[position:])
        return b"".join(out)

    def _write_unknown_labels(self, fh, first: bool) -> None:
        rng = self.rng
        count = rng.binomial(self.n, self.dirty_share) if self.dirty_share else 0
        if not count:
            return
        # Ids beyond the last transaction: never delivered.
        ids = self.next_id + 1 + np.sort(rng.choice(np.arange(1, count * 10 + 10), size=count, replace=False))
        body = ", ".join(f'"{int(i)}": "{"Yes" if rng.random() < 0.5 else "No"}"' for i in ids)
        fh.write((body if first else ", " + body).encode())
        self.dirty_counts["unknown_transaction"] += count
        self.labels_written += count


def _city_location(zip_code: int, rng) -> tuple[float, float]:
    # A plausible spot in the continental US keyed on the zip (not a geocode).
    lat = 25 + (zip_code % 2300) / 100 + rng.normal(0, 0.05)
    lon = -70 - (zip_code % 5000) / 100 + rng.normal(0, 0.05)
    return lat, lon


def payment_files_generate(
    *,
    transactions: int,
    out: Path,
    dirty_share: float = 0.001,
    seed: int = 42,
    gzip_output: bool = False,
    users: int | None = None,
    years: float = 10.0,
) -> GeneratedFiles:
    """Writes the five files of a delivery into `out` (see the module docstring)."""
    return PaymentFileGenerator(
        transactions=transactions,
        out=out,
        dirty_share=dirty_share,
        seed=seed,
        gzip_output=gzip_output,
        users=users,
        years=years,
    ).generate()
