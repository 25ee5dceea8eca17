"""The transactions file and its fraud labels, written chunk by chunk: merchants, times, amounts,
channels, fraud by hour, category and channel, errors, and the dirty rows at `dirty_share`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apps.demo.payments.profiles import (
    BAD_AMOUNTS,
    BAD_DATES,
    CITIES,
    DIRTY_KINDS,
    ERROR_COMBOS,
    FOREIGN,
    HOUR_FRAUD,
    HOUR_WEIGHTS,
    MCC_PROFILE,
    METHODS,
    UNKNOWN_MCCS,
)
from apps.demo.payments.render import _const, _digits, _render, _render_csv, _table, _zero_padded
from apps.transactions.ingest.layout import TRANSACTION_COLUMNS


class TransactionFiles:
    """The transactions and labels step of the PaymentFileGenerator."""

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
