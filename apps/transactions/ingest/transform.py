"""The set-based SQL transforms of staged files, one transaction per file on the main
connection under the transform lock: reference files (MCC, users, cards) upserted, labels
prepared and applied after the last transactions file, transactions loaded (see
`partition_load`); every refused row becomes a RejectedRow with its reason, and each file's
counts must balance: read = loaded + rejected + duplicates."""

from __future__ import annotations

import time

from psycopg import sql

from apps.common.exceptions import ApplicationError
from apps.transactions.ingest import columnar_engine, partition_load
from apps.transactions.ingest.context import LOCK_NAMESPACE, IngestContext, load_statements
from apps.transactions.ingest.layout import SourceFile


class Transforms:
    def __init__(self, ctx: IngestContext):
        self.ctx = ctx
        self.label_hits: list[sql.Identifier] = []  # tables of the ids of payments the load labelled

    def columnar(self, f: SourceFile) -> bool:
        """Whether the columnar engine reads this file itself (it is not staged as text)."""
        return f.kind == "transactions" and self.ctx.engine == "columnar"

    def file(self, f: SourceFile, labels: SourceFile | None) -> None:
        """Transforms a staged file in one transaction on the main connection, under the transform
        lock; a labels file is prepared here and applied after the last transactions file."""
        self.ctx.set_phase(f"transforming {f.name}")
        with self.ctx.progress.lock:
            self.ctx.progress.file(f.index).status = "transforming"
        started = time.monotonic()
        if f.kind == "transactions" and not self.columnar(f):
            # Staging objects the load workers read: committed before they start.
            self._prepare_transactions(f, labels)
        with self.ctx.main.transaction():
            self.ctx.main.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
            self.ctx.main.execute("SET LOCAL work_mem = '256MB'")
            self.ctx.main.execute("SET LOCAL synchronous_commit = off")
            pre = 0
            if not self.columnar(f):
                pre = self.ctx.main.execute(
                    sql.SQL(
                        "INSERT INTO transactions_rejectedrow (run_id, file_name, line_number, reason, detail, "
                        "raw_line) SELECT %s, %s, line_no, reason, detail, raw_line FROM {}"
                    ).format(self.ctx.staged(f, "rejects")),
                    [self.ctx.run.pk, f.name],
                ).rowcount
            counts = getattr(self, f"_transform_{f.kind}")(f, labels)
            read = self.ctx.stage_results[f.index]["rows"]
            counts["rejected"] += pre
            if f.kind != "labels":
                counts["duplicate"] = read - counts["loaded"] - counts["rejected"]
                if counts["duplicate"] < 0 or (
                    "valid" in counts and counts["valid"] != counts["loaded"] + counts["duplicate"]
                ):
                    raise ApplicationError(f"{f.name}: counts do not balance ({counts}, read {read}).")
        seconds = time.monotonic() - started
        self.ctx.progress.add_timing(f"transform:{f.kind}", seconds)
        with self.ctx.progress.lock:
            p = self.ctx.progress.file(f.index)
            p.seconds["transform"] = round(seconds, 3)
            if f.kind == "labels":
                p.status = "prepared"
                p.rejected = counts["rejected"]  # the rest is counted when the labels are applied
            else:
                p.status = "done"
                p.loaded, p.rejected, p.duplicate = counts["loaded"], counts["rejected"], counts["duplicate"]

    def _dupes(self, f: SourceFile, statements_name: str) -> sql.Composable:
        """The in-file duplicate lines (line_no, first_line): a table built only when the reader
        saw ids out of order, else an empty relation the planner drops from the joins."""
        if not self.ctx.stage_results[f.index]["candidates"]:
            return sql.SQL("(SELECT NULL::bigint AS line_no, NULL::bigint AS first_line WHERE false)")
        dupes = self.ctx.staged(f, "dupes")
        self.ctx.run_statement(
            statements_name, load_statements("duplicates.sql"), "duplicates",
            {"dupes": dupes, "staging": self.ctx.staged(f, "stage"),
             "candidates": self.ctx.staged(f, "candidates")},
            {},
        )  # fmt: skip
        self.ctx.main.execute(sql.SQL("ANALYZE {}").format(dupes))
        return dupes

    def _transform_mcc(self, f: SourceFile, labels) -> dict:
        statements = load_statements("mcc.sql")
        tables = {"staging": self.ctx.staged(f, "stage"), "parsed": self.ctx.staged(f, "parsed")}
        params = self.ctx.params(f)
        self.ctx.run_statement("mcc", statements, "parse", tables, params)
        loaded = self.ctx.run_statement("mcc", statements, "upsert", tables, params).rowcount
        rejected = self.ctx.run_statement("mcc", statements, "reject", tables, params).rowcount
        return {"loaded": loaded, "rejected": rejected}

    def _transform_users(self, f: SourceFile, labels) -> dict:
        return self._transform_small("users", f)

    def _transform_cards(self, f: SourceFile, labels) -> dict:
        return self._transform_small("cards", f)

    def _transform_small(self, kind: str, f: SourceFile) -> dict:
        statements = load_statements(f"{kind}.sql")
        tables = {"staging": self.ctx.staged(f, "stage"), "parsed": self.ctx.staged(f, "parsed")}
        params = self.ctx.params(f)
        self.ctx.run_statement(kind, statements, "parse", tables, params)
        loaded = self.ctx.run_statement(kind, statements, "upsert", tables, params).rowcount
        rejected = self.ctx.run_statement(kind, statements, "reject", tables, params).rowcount
        return {"loaded": loaded, "rejected": rejected}

    def _transform_labels(self, f: SourceFile, labels) -> dict:
        statements = load_statements("labels.sql")
        tables = {
            "staging": self.ctx.staged(f, "stage"),
            "parsed": self.ctx.staged(f, "parsed"),
            "dupes": self._dupes(f, "labels"),
        }
        self.ctx.run_statement("labels", statements, "prepare", tables, self.ctx.params(f))
        self.ctx.main.execute(sql.SQL("ANALYZE {}").format(tables["parsed"]))
        return {"loaded": 0, "rejected": 0}

    def apply_labels(self, f: SourceFile) -> None:
        self.ctx.set_phase(f"applying {f.name}")
        statements = load_statements("labels.sql")
        if self.label_hits:
            hits = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT id FROM {}").format(t) for t in self.label_hits)
        else:
            hits = sql.SQL("SELECT NULL::bigint AS id WHERE false")
        tables = {
            "parsed": self.ctx.staged(f, "parsed"),
            "matched": self.ctx.staged(f, "matched"),
            "unhit": self.ctx.staged(f, "unhit"),
            "hits": sql.SQL("({})").format(hits),
        }
        params = self.ctx.params(f)
        started = time.monotonic()
        with self.ctx.main.transaction():
            self.ctx.main.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
            self.ctx.main.execute("SET LOCAL work_mem = '256MB'")
            self.ctx.run_statement("labels", statements, "unhit", tables, params)
            # The planner must know how few labels are left: then it probes the payments' keys
            # instead of reading every payment.
            self.ctx.main.execute(sql.SQL("ANALYZE {}").format(tables["unhit"]))
            self.ctx.run_statement("labels", statements, "match", tables, params)
            self.ctx.main.execute(sql.SQL("ANALYZE {}").format(tables["matched"]))
            self.ctx.run_statement("labels", statements, "apply", tables, params)
            loaded, duplicate = self.ctx.run_statement("labels", statements, "counts", tables, params).fetchone()
            rejected = self.ctx.run_statement("labels", statements, "reject", tables, params).rowcount
            with self.ctx.progress.lock:
                p = self.ctx.progress.file(f.index)
                rejected += p.rejected
                read = self.ctx.stage_results[f.index]["rows"]
                if read != loaded + rejected + duplicate:
                    raise ApplicationError(
                        f"{f.name}: counts do not balance (read {read}, loaded {loaded}, rejected {rejected}, "
                        f"duplicate {duplicate})."
                    )
                p.loaded, p.rejected, p.duplicate, p.status = loaded, rejected, duplicate, "done"
        self.ctx.progress.add_timing("transform:labels_apply", time.monotonic() - started)

    def _transactions_tables(self, f: SourceFile, labels: SourceFile | None) -> dict:
        if labels is not None:
            labels_relation = sql.SQL("(SELECT id, is_fraud FROM {} WHERE reason IS NULL)").format(
                self.ctx.staged(labels, "parsed")
            )
        else:
            labels_relation = sql.SQL("(SELECT NULL::bigint AS id, NULL::boolean AS is_fraud WHERE false)")
        return {
            "staging": self.ctx.staged(f, "stage"),
            "checked": self.ctx.staged(f, "checked"),
            "labels": labels_relation,
            # A view cannot take bind parameters: these two are quoted literals.
            "tz": sql.Literal(self.ctx.run.source_tz),
            "marker": sql.Literal(self.ctx.marker),
        }

    def _prepare_transactions(self, f: SourceFile, labels: SourceFile | None) -> None:
        tables = self._transactions_tables(f, labels)
        tables["dupes"] = self._dupes(f, "transactions")
        self.ctx.run_statement("transactions", load_statements("transactions.sql"), "checked", tables, {})

    def _transform_transactions(self, f: SourceFile, labels: SourceFile | None) -> dict:
        if self.columnar(f):
            return columnar_engine.transform_transactions(self.ctx, f, labels, self.label_hits)
        statements = load_statements("transactions.sql")
        tables = self._transactions_tables(f, labels)
        params = self.ctx.params(f)
        parts = partition_load.load_plan(self.ctx, f)
        tables["not_loaded"] = partition_load.not_loaded_check(self.ctx, f)
        results = partition_load.run_load_workers(self.ctx, f, tables, parts)
        loaded = sum(r["loaded"] for r in results)
        self.label_hits += [r["hits"] for r in results]
        started = time.monotonic()
        rejected = 0
        for result in results:
            rejected += self.ctx.run_statement(
                "transactions", statements, "collect_rejects", {"rejects": result["rejects"]}, params
            ).rowcount
        for result in results:
            rest = {"rest": result["rest"]}
            unforeseen = [
                r[0] for r in self.ctx.run_statement("transactions", statements, "unforeseen_months", rest, {})
            ]
            if unforeseen:
                partition_load.create_partitions(self.ctx.main, unforeseen)
            self.ctx.run_statement("transactions", statements, "load_existing_months", rest, params)
        self.ctx.progress.add_timing("transactions:main", time.monotonic() - started)
        if loaded:
            sample = max(1.0, min(100.0, 100.0 * 200_000 / loaded))
            self.ctx.run_statement("transactions", statements, "home_area", tables, params | {"sample_percent": sample})
        self.ctx.reached("transactions_loaded")
        # Last, right before the commit: attaching takes locks on transactions_payment and the
        # tables its foreign keys reference until the commit.
        partition_load.attach(self.ctx, [table for result in results for table in result["tables"]])
        return {"loaded": loaded, "rejected": rejected}
