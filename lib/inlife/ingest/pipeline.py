"""Ingestion of landing batches into raw.<source> and quarantine.<source>: the orchestration.

For each source (in sources.yaml ``order``, subscribers first) the requested batches are processed in as
few passes as ``ingest.max_bytes_per_pass`` allows (one, up to a month of 1M subscribers): check the head of
every file (before anything is committed), then per pass read the lines, classify them (``transform``),
cache the compact result, count it per batch/file/reason, stop on encoding or delimiter mismatch or a
bad-row rate above ``ingest.max_bad_row_rate``, stage raw and quarantine, and validate the staged raw rows
with the table's Great Expectations suite. Then commit every pass's raw files as one version and its
quarantine files as one, or abort them all.

Sources after subscribers can run ``ingest.parallel_sources`` at a time (threads on one Spark session), for
clusters where a small source's time is mostly driver-side (planning, Great Expectations, the Delta
commit) while executors idle; locally it is 1 (on 2 cores side by side was slower). Subscribers go first, alone: every other source checks its
subscriber ids against raw.subscribers. Validations take turns (one Great Expectations context). When a
source fails, the sources not yet started are not started, and the first error is raised once the running
ones have ended.
"""
from __future__ import annotations

import calendar
import math
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.config import Config
from inlife.errors import InlifeError
from inlife.ingest import landing, transform
from inlife.ingest.suites import RATIO_COLUMN
from inlife.progress import stage
from inlife.session import CACHE, release_shuffle_files
from inlife.sources import Source, SourceContract, load_sources
from inlife.tables import OVERWRITE_PARTITIONS, Tables
from inlife.tables.catalogue import RAW_PARTITION, SUBSCRIBERS, quarantine, raw

PARTITION = list(RAW_PARTITION)
# How far before a run its row-count comparison first looks for the previous batch: a monthly source's
# previous batch (a month end), or a snapshot source's (the first of a month), is at most 31 days earlier.
RECENT_BATCH_DAYS = 62


class IngestError(InlifeError):
    """A batch cannot be ingested (too many bad rows, nothing to ingest, subscribers missing)."""


@dataclass
class BatchReport:
    source: str
    batch_date: str
    rows_read: int = 0
    rows_written: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    late: int = 0
    previous_rows: int | None = None
    files_with_bom: int = 0      # files that began with a UTF-8 byte-order mark (read without it)

    @property
    def bad_rate(self) -> float:
        return sum(self.quarantined.values()) / self.rows_read if self.rows_read else 0.0


@dataclass
class SourceReport:
    source: str
    batches: list[BatchReport]
    build_seconds: float = 0.0
    validation_seconds: float = 0.0
    raw_version: int | None = None
    quarantine_version: int | None = None
    skipped_expectations: list[str] = field(default_factory=list)

    def totals(self) -> dict:
        q: dict[str, int] = defaultdict(int)
        for b in self.batches:
            for k, v in b.quarantined.items():
                q[k] += v
        return {"source": self.source, "batches": len(self.batches),
                "rows_read": sum(b.rows_read for b in self.batches),
                "rows_written": sum(b.rows_written for b in self.batches),
                "quarantined": dict(sorted(q.items())), "late": sum(b.late for b in self.batches),
                "files_with_bom": sum(b.files_with_bom for b in self.batches),
                "build_seconds": round(self.build_seconds, 2),
                "validation_seconds": round(self.validation_seconds, 2)}

    def as_dict(self) -> dict:
        return {**self.totals(), "batch_reports": [asdict(b) for b in self.batches],
                "raw_version": self.raw_version, "quarantine_version": self.quarantine_version,
                "skipped_expectations": self.skipped_expectations}


# -- planning ---------------------------------------------------------------------------------------------
def is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def plan(contract: SourceContract, source: str, dates: list[date]) -> list[tuple[Source, list[date]]]:
    """(source, its batch dates) in ingestion order. ``source`` is a name or ``all``; monthly sources take
    only month ends (asked for one monthly source and no month end: an error)."""
    names = contract.order if source == "all" else [contract[source].name]
    out = []
    for name in names:
        src = contract[name]
        batches = [d for d in dates if src.cadence == "daily" or is_month_end(d)]
        if not batches:
            if source != "all":
                raise IngestError(f"{name} is monthly: its batches are dated the last day of a month, "
                                  f"and {dates[0]}..{dates[-1]} holds none")
            continue
        out.append((src, batches))
    return out


def date_range(first: date, last: date) -> list[date]:
    if last < first:
        raise IngestError(f"--from {first} is after --to {last}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def pass_groups(batches: list[date], files: list[landing.LandingFile], max_bytes: int
                ) -> list[tuple[list[date], list[landing.LandingFile]]]:
    """Consecutive batch dates in groups of at most ``max_bytes`` landing bytes (a batch larger than that
    is a group alone), each with its files. One pass holds a group's classified rows in the cache and its
    shuffle on local disk: a month of 10M subscribers' voice CDR in one pass (303.6M lines, 6.4 GB of gzip)
    filled the ~34 GB of local disk left here and failed."""
    size: dict[date, int] = defaultdict(int)
    by_date: dict[date, list[landing.LandingFile]] = defaultdict(list)
    for f in files:
        size[f.batch_date] += f.size
        by_date[f.batch_date].append(f)
    groups: list[list[date]] = []
    held = 0
    for d in batches:
        if groups and groups[-1] and held + size[d] <= max_bytes:
            groups[-1].append(d)
            held += size[d]
        else:
            groups.append([d])
            held = size[d]
    return [(g, [f for d in g for f in by_date[d]]) for g in groups]


# -- the run ----------------------------------------------------------------------------------------------
class Ingestion:
    def __init__(self, spark: SparkSession, conf: Config, tables: Tables | None = None, validator=None):
        self.spark, self.conf = spark, conf
        self.contract = load_sources(conf)
        self.tables = tables or Tables(spark, conf)
        self.root = conf.path("landing.root")
        if validator is None and conf.get("quality.enabled"):
            from inlife.quality import Validator
            validator = Validator.shared(conf)
        self.validator = validator
        self._known: tuple[int, DataFrame, int] | None = None
        self._bom: set[str] = set()      # landing files (relative paths) that start with a byte-order mark
        self._known_lock = threading.Lock()

    def encoding(self, src: Source) -> str:
        return self.conf.get("landing.encoding") or src.encoding

    def run(self, source: str, dates: list[date]) -> list[SourceReport]:
        try:
            return self._run(source, dates)
        finally:
            self.release()
            release_shuffle_files(self.spark)

    def release(self):
        """Unpersist the cached known-subscriber ids (a session that ingests and then builds the view needs
        the memory back)."""
        with self._known_lock:
            if self._known is not None:
                self._known[1].unpersist()
                self._known = None

    def _run(self, source: str, dates: list[date]) -> list[SourceReport]:
        work = plan(self.contract, source, dates)
        files = {}
        with stage("ingest preflight", self.conf) as st:
            # Every folder and file head is checked before the first commit, so a missing folder, an
            # empty file or a wrong header stops the run with nothing written.
            limit = int(self.conf.get("ingest.preflight_lines"))
            present = []
            for src, batches in work:
                if src.optional:    # e.g. campaign responses: no folder, no responses that day
                    batches = [d for d in batches if landing.batch_exists(self.spark, self.root, src.name, d)]
                    if not batches:
                        continue
                present.append((src, batches))
                files[src.name] = [f for d in batches for f in landing.list_batch_files(self.spark, self.root, src.name, d)]
                for f in files[src.name]:
                    if landing.check_file(self.spark, f, src, self.encoding(src), limit):
                        self._bom.add(f.relative)
            st.rows = sum(len(v) for v in files.values())
            st.note = "files"
        # subscribers (and whatever sources.yaml orders before it) one by one, the rest side by side
        cut = next((k + 1 for k, (src, _) in enumerate(present) if src.name == "subscribers"), 0)
        reports = [self.ingest_source(src, batches, files[src.name]) for src, batches in present[:cut]]
        rest = present[cut:]
        workers = max(1, int(self.conf.get("ingest.parallel_sources")))
        if workers == 1 or len(rest) < 2:
            return reports + [self.ingest_source(src, batches, files[src.name]) for src, batches in rest]
        if any(src.subscriber_key for src, _ in rest):
            self.known_subscribers()          # cached once, before the threads share it
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        futures = [pool.submit(self.ingest_source, src, batches, files[src.name]) for src, batches in rest]
        try:
            for f in futures:
                reports.append(f.result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return reports

    # -- one source ---------------------------------------------------------------------------------------
    def known_subscribers(self) -> tuple[DataFrame, int]:
        """raw.subscribers' distinct ids (cached while the table's version stays) and how many there are."""
        with self._known_lock:
            return self._known_subscribers()

    def _known_subscribers(self) -> tuple[DataFrame, int]:
        name = SUBSCRIBERS
        if not self.tables.exists(name):
            raise IngestError(f"{name} does not exist: ingest subscribers first (sources.yaml order)")
        version = self.tables.version(name)
        if self._known is None or self._known[0] != version:
            if self._known is not None:
                self._known[1].unpersist()
            df = self.tables.read(name).select("subscriber_id").distinct().persist(CACHE)
            self._known = (version, df, df.count())
        return self._known[1], self._known[2]

    def classified(self, src: Source, files: list[landing.LandingFile]) -> DataFrame:
        lines = transform.without_headers(landing.read_lines(self.spark, files, self.encoding(src)), src)
        df = transform.classify(lines, src, self.contract)
        if src.subscriber_key:
            known, n = self.known_subscribers()
            df = transform.with_known_subscribers(df, src, known,
                                                  broadcast=n <= int(self.conf.get("ingest.broadcast_known_max")))
        df = transform.with_duplicates(df, src, self.partitions(files))
        return transform.compact(df)

    def partitions(self, files: list[landing.LandingFile]) -> int | None:
        """Partitions for the classified rows when the landing bytes call for more than the session's
        shuffle partitions, else None. Each partition becomes one cached block: three months of 1M
        subscribers' voice CDR read at once (90M rows in 8 partitions, ~11M rows a block) ran out of a 4 GB
        heap while a block was read back from disk."""
        per = int(self.conf.get("ingest.bytes_per_partition"))
        if per <= 0:
            raise IngestError(f"ingest.bytes_per_partition must be a positive number of bytes, not {per}")
        wanted = math.ceil(sum(f.size for f in files) / per)
        return wanted if wanted > int(self.spark.conf.get("spark.sql.shuffle.partitions")) else None

    def pass_groups(self, batches: list[date], files: list[landing.LandingFile]
                    ) -> list[tuple[list[date], list[landing.LandingFile]]]:
        """The passes one source's batches take (see ``pass_groups``): one when the engine writes at commit,
        where splitting would only repeat the work."""
        if not self.tables.writes_at_stage:
            return [(batches, files)]
        limit = int(self.conf.get("ingest.max_bytes_per_pass"))
        if limit <= 0:
            raise IngestError(f"ingest.max_bytes_per_pass must be a positive number of bytes, not {limit}")
        return pass_groups(batches, files, limit)

    def ingest_source(self, src: Source, batches: list[date], files: list[landing.LandingFile]) -> SourceReport:
        """Every batch of one source, in passes of at most ``ingest.max_bytes_per_pass`` landing bytes; each
        pass is classified, checked, staged and validated, and all of them commit together (one new version
        of raw.<source> and of quarantine.<source>) or not at all."""
        started = time.time()
        report = SourceReport(src.name, [])
        groups = self.pass_groups(batches, files)
        counts = self._table_counts(raw(src.name), set(batches))
        raw_parts: list = []
        q_parts: list = []
        try:
            for k, (group, group_files) in enumerate(groups, 1):
                self._ingest_pass(src, group, group_files, report, counts, raw_parts, q_parts,
                                  f" (pass {k} of {len(groups)})" if len(groups) > 1 else "")
                if len(groups) > 1:
                    release_shuffle_files(self.spark)
            raw_parts, q_parts = [self.tables.combine(raw_parts)], [self.tables.combine(q_parts)]
            # raw and quarantine change together
            raw_commit, q_commit = self.tables.commit([raw_parts[0], q_parts[0]])
            report.raw_version, report.quarantine_version = raw_commit.version, q_commit.version
        finally:
            for s in raw_parts + q_parts:
                s.abort()          # a no-op for what was committed or combined
        report.build_seconds = time.time() - started - report.validation_seconds
        return report

    def _ingest_pass(self, src: Source, batches: list[date], files: list[landing.LandingFile], report: SourceReport,
                     counts: dict[date, int], raw_parts: list, q_parts: list, of: str) -> None:
        label = f"{batches[0]}" if len(batches) == 1 else f"{batches[0]}..{batches[-1]}"
        raw_name, q_name = raw(src.name), quarantine(src.name)
        cached = self.classified(src, files).persist(CACHE)
        staged_q = None
        try:
            with stage(f"ingest {src.name} {label}{of}", self.conf) as st:
                stats = self._stats(src, cached, files)
                checked = self._check(src, files, stats)
                report.batches += checked
                st.rows = sum(b.rows_written for b in checked)
                bom = sum(b.files_with_bom for b in checked)
                st.note = (f"read={sum(b.rows_read for b in checked):,} "
                           f"quarantined={sum(sum(b.quarantined.values()) for b in checked):,}"
                           + (f" files with a byte-order mark={bom}" if bom else ""))
                ratios = self._ratios(src, checked, counts)
                counts.update({date.fromisoformat(b.batch_date): b.rows_written for b in checked})
                raw_df = transform.raw_rows(cached, src)
                raw_parts.append(self.tables.stage(raw_name, raw_df, OVERWRITE_PARTITIONS, PARTITION))
                q_parts.append(self.tables.stage(q_name, transform.quarantine_rows(cached), OVERWRITE_PARTITIONS,
                                                 PARTITION))
                staged_q = q_parts[-1]
            if self.validator is not None:
                with stage(f"validate {raw_name} {label}{of}", self.conf) as st:
                    frame = raw_df.join(F.broadcast(ratios), "batch_date", "left")
                    outcome = self.validator.validate(raw_name, frame, parameters={
                        "row_count_min_ratio": float(self.conf.get("ingest.row_count_min_ratio")),
                        "row_count_max_ratio": float(self.conf.get("ingest.row_count_max_ratio"))}, batch=label)
                    report.skipped_expectations = sorted(set(report.skipped_expectations) | set(outcome.skipped))
                    st.note = "passed" if outcome.success else "FAILED"
                report.validation_seconds += outcome.seconds   # GX set-up included, waiting for its turn not
                if not outcome.success:
                    from inlife.quality import QualityError
                    raise QualityError(f"batch {label} not committed: {outcome.message()}"
                                       + self._ratio_culprits(ratios, outcome))
        finally:
            if staged_q is None:
                cached.unpersist()
            else:      # raw commits before quarantine (ingest_source): the cache lives until the latter is done
                self.tables.release_after(staged_q, cached.unpersist)

    def _stats(self, src: Source, cached: DataFrame, files: list[landing.LandingFile]) -> list:
        """The pass's counts (reading every file); a file that cannot be read to its end is named."""
        try:
            return transform.batch_stats(cached).collect()
        except Exception:
            bad = landing.unreadable(self.spark, files)
            if not bad:
                raise
            raise landing.LandingError(f"{src.name}: {len(bad)} file(s) cannot be read to the end: "
                                       f"{'; '.join(bad[:5])}; nothing committed") from None

    # -- checks on the counts -----------------------------------------------------------------------------
    def _check(self, src: Source, files: list[landing.LandingFile], stats) -> list[BatchReport]:
        per_file: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        by_batch: dict[str, BatchReport] = {f.batch_date.isoformat(): BatchReport(src.name, f.batch_date.isoformat())
                                            for f in files}
        for r in stats:
            pf = per_file[r["source_file"]]
            pf["rows"] += r["rows"]
            pf["undecodable"] += r["undecodable"]
            pf["unsplit"] += r["unsplit"]
            b = by_batch.setdefault(r["batch_date"].isoformat(), BatchReport(src.name, r["batch_date"].isoformat()))
            b.rows_read += r["rows"]
            b.late += r["late"]
            if r["reason"] is None:
                b.rows_written += r["rows"]
            else:
                b.quarantined[r["reason"]] = b.quarantined.get(r["reason"], 0) + r["rows"]
        for f in files:
            if f.relative in self._bom:
                by_batch[f.batch_date.isoformat()].files_with_bom += 1
        paths = {f.relative: f.path for f in files}
        encoding = self.encoding(src)
        for rel, pf in sorted(per_file.items()):
            if pf["undecodable"]:
                raise landing.LandingError(
                    f"{src.name}: file {paths.get(rel, rel)} is not {encoding}: {pf['undecodable']:,} line(s) hold "
                    f"bytes that do not decode (U+FFFD); set landing.encoding (e.g. GBK) or the source's "
                    f"encoding in sources.yaml; nothing committed")
            if pf["rows"] and pf["unsplit"] == pf["rows"]:
                raise landing.LandingError(
                    f"{src.name}: file {paths.get(rel, rel)}: delimiter mismatch: none of its {pf['rows']:,} lines "
                    f"splits on {src.delimiter!r} (expected {len(src.columns)} fields); nothing committed")
        limit = float(self.conf.get("ingest.max_bad_row_rate"))
        for b in by_batch.values():
            b.quarantined = dict(sorted(b.quarantined.items()))
            # A small batch can exceed the rate by chance (2 bad rows of 37 is 5.4 %): it fails only when its
            # bad rows are also 3 standard deviations (binomial, at the allowed rate) above the allowed count.
            bad = sum(b.quarantined.values())
            chance = 3 * math.sqrt(b.rows_read * limit * (1 - limit))
            if b.bad_rate > limit and bad > limit * b.rows_read + chance:
                raise IngestError(
                    f"{raw(src.name)} batch {b.batch_date}: {sum(b.quarantined.values()):,} of {b.rows_read:,} rows "
                    f"are bad ({b.bad_rate:.1%} > ingest.max_bad_row_rate {limit:.1%}: {b.quarantined}); "
                    f"nothing committed")
        return [by_batch[k] for k in sorted(by_batch)]

    def _ratio_culprits(self, ratios: DataFrame, outcome) -> str:
        """The batches whose row count broke the bounds, when that is what failed (the suite sees ratios,
        not dates)."""
        if not any(f.column == RATIO_COLUMN for f in outcome.failures):
            return ""
        low = float(self.conf.get("ingest.row_count_min_ratio"))
        high = float(self.conf.get("ingest.row_count_max_ratio"))
        bad = [f"{r['batch_date']} ({r[RATIO_COLUMN]:.2f}x the previous batch)"
               for r in ratios.orderBy("batch_date").collect()
               if r[RATIO_COLUMN] is not None and not low <= r[RATIO_COLUMN] <= high]
        return f"; row counts outside {low:g}-{high:g}x: {', '.join(bad)}" if bad else ""

    def _table_counts(self, raw_name: str, run_dates: set[date]) -> dict[date, int]:
        """Rows per batch already in the table, for the batches this run does not replace, up to its last
        date. A row count compares with the latest earlier batch only, so the recent batches are counted
        (a night counts a few partitions, not the table's history); the whole table only when none of them
        precedes the run."""
        if not self.tables.exists(raw_name):
            return {}
        first, last = min(run_dates), max(run_dates)
        counts = self._counts(raw_name, first - timedelta(days=RECENT_BATCH_DAYS), last, run_dates)
        if not any(d < first for d in counts):
            counts.update(self._counts(raw_name, None, last, run_dates))
        return counts

    def _counts(self, raw_name: str, first: date | None, last: date, skip: set[date]) -> dict[date, int]:
        df = self.tables.read(raw_name).where(F.col("batch_date") <= F.lit(last))
        if first is not None:
            df = df.where(F.col("batch_date") >= F.lit(first))
        return {r["batch_date"]: r["count"] for r in df.groupBy("batch_date").count().collect()
                if r["batch_date"] not in skip}

    def _ratios(self, src: Source, batches: list[BatchReport], counts: dict[date, int]) -> DataFrame:
        """Per batch of this pass: its kept rows / the kept rows of the previous comparable batch (the latest
        earlier one, of this pass, an earlier pass or already in the table: ``counts``), or null when there
        is none worth comparing."""
        counts = {**counts, **{date.fromisoformat(b.batch_date): b.rows_written for b in batches}}
        snapshot_only = src.name in (self.conf.get("ingest.row_count_snapshot_sources") or [])
        floor = int(self.conf.get("ingest.row_count_min_previous"))
        rows = []
        for b in batches:
            d = date.fromisoformat(b.batch_date)
            ratio = None
            if not snapshot_only or d.day == 1:
                earlier = [x for x in counts if x < d and (not snapshot_only or x.day == 1)]
                if earlier:
                    prev = counts[max(earlier)]
                    b.previous_rows = prev
                    if prev >= floor:
                        ratio = b.rows_written / prev
            rows.append((d, ratio))
        return self.spark.createDataFrame(rows, f"batch_date date, {RATIO_COLUMN} double")
