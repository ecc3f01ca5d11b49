"""Channel exports: one folder per channel and batch, a data file and a manifest (rows, SHA-256, columns).

    <exports.root>/outbound_call/<batch>/call_list.csv       contact, number, priority, offer, script, window
    <exports.root>/sms/<batch>/sms_batch.csv                 contact, number, text, window - nothing more
    <exports.root>/front_desk/<batch>/lookup.jsonl           per subscriber: areas in priority order, offers,
                                                             the last 3 months of contacts (the clerk's screen)
    <exports.root>/customer_manager/<batch>/work_orders.csv  high-value at-risk work orders with their reasons
    each folder also holds _manifest.json

Each channel gets the columns it needs and no more: an outbound call centre (often outsourced) gets the
number, offer and script, not the model's factors nor the subscriber id; the manager's work order names
the customer by number. Folders and files are the owner's only (0700 / 0600), or also a configured group's
(``campaigns.exports_group``), whatever the process's umask.

Only contacted rows are exported (never holdouts). A folder is written under a temporary name and renamed
into place when complete, so a channel never picks up half a batch. Files are written by Spark as one
part and moved; checksums are computed from the final file. The exports root is a local or mounted path.
"""
from __future__ import annotations

import csv
import grp
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from inlife.errors import ConfigError
from inlife.marketing.reasons import readable

FILES = {"outbound_call": ("call_list.csv", "csv"), "sms": ("sms_batch.csv", "csv"),
         "front_desk": ("lookup.jsonl", "json"), "customer_manager": ("work_orders.csv", "csv")}


def call_list(t: DataFrame) -> DataFrame:
    return (t.orderBy("campaign_id", "rank")
            .select("contact_id", "msisdn", F.col("rank").alias("priority"), F.col("policy_name").alias("offer"),
                    "script", "contact_window"))


def sms_batch(t: DataFrame) -> DataFrame:
    # the SMS gateway needs the number and the text; the contact id links the reply back
    return t.select("contact_id", "msisdn", F.col("script").alias("text"), "contact_window").orderBy("contact_id")


def work_orders(t: DataFrame, reason_texts: dict[str, str] | None = None) -> DataFrame:
    """The manager's orders: the reasons as text (``inlife.marketing.reasons``), not as codes."""
    reasons = F.array_join(readable(F.col("reasons"), reason_texts or {}), "; ")
    return (t.select(F.col("contact_id").alias("order_id"), "msisdn", "campaign_id", "value_tier",
                     "churn_grade", F.round("expected_value", 4).alias("expected_value"), "policy_id", "policy_name",
                     "policy_group", reasons.alias("reasons"), "script",
                     F.col("contact_date").alias("due_date"))
            .orderBy(F.desc("expected_value"), "msisdn"))


def front_desk_lookup(t: DataFrame, history: DataFrame | None, contact_date: date, lookback_days: int = 92) -> DataFrame:
    offers = (t.groupBy("subscriber_id", "msisdn", "priority_order")
              .agg(F.sort_array(F.collect_list(F.struct(
                  F.col("campaign_id"), F.col("policy_id"), F.col("policy_name"), F.col("policy_group"),
                  F.col("script")))).alias("offers")))
    if history is not None:
        d = F.lit(contact_date.isoformat()).cast("date")
        recent = (history.where((F.col("contact_date") < d) & (F.col("contact_date") >= F.date_sub(d, lookback_days)))
                  .groupBy("subscriber_id")
                  .agg(F.sort_array(F.collect_list(F.struct(F.col("contact_date").cast("string").alias("contact_date"),
                                                            "campaign_id", "channel", "policy_id")), asc=False)
                       .alias("recent_contacts")))
        offers = offers.join(recent, "subscriber_id", "left")
    else:
        offers = offers.withColumn("recent_contacts", F.lit(None))
    return (offers.select("subscriber_id", "msisdn", F.col("priority_order").alias("areas"), "offers",
                          F.coalesce(F.col("recent_contacts"), F.array()).alias("recent_contacts"))
            .orderBy("subscriber_id"))


@dataclass(frozen=True)
class Destination:
    """Where channel files go and who may read them: the owner only, or also ``group``."""
    root: Path
    group: str | None = None

    @staticmethod
    def from_conf(conf) -> Destination:
        group = conf.get("campaigns.exports_group")
        if group:
            try:
                grp.getgrnam(group)
            except KeyError:
                raise ConfigError(f"campaigns.exports_group: no group {group!r} on this machine") from None
        return Destination(Path(conf.path("campaigns.exports_root")), group or None)

    def protect(self, path: Path, recursive: bool = True) -> None:
        """Folders 0700 and files 0600, or 0750 / 0640 and the group's."""
        gid = grp.getgrnam(self.group).gr_gid if self.group else -1
        for p in [path, *(path.rglob("*") if recursive else [])]:
            if gid != -1:
                os.chown(p, -1, gid)
            os.chmod(p, (0o750 if self.group else 0o700) if p.is_dir() else (0o640 if self.group else 0o600))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such text goes out
# behind an apostrophe, which spreadsheets show as text and strip.
FORMULA_START = "^[=+\\-@\t\r]"


def neutralized(text: Column) -> Column:
    return F.when(text.rlike(FORMULA_START), F.concat(F.lit("'"), text)).otherwise(text)


def spreadsheet_safe(df: DataFrame) -> DataFrame:
    """Every text column of ``df`` with formula starts neutralized (numbers stay numbers)."""
    return df.select(*[neutralized(F.col(f.name)).alias(f.name) if isinstance(f.dataType, T.StringType)
                       else F.col(f.name) for f in df.schema.fields])


def _write_one(df: DataFrame, fmt: str, target: Path) -> int:
    """Write ``df`` as exactly one file at ``target`` (CSV as RFC 4180: CRLF, fields holding a comma, quote
    or line break quoted, quotes doubled); returns its rows, counted from the frame (a quoted field may
    hold a line break, so lines are not rows)."""
    tmp = target.parent / f"_spark_{uuid.uuid4().hex}"
    if fmt == "csv":
        df = spreadsheet_safe(df)
    df = df.coalesce(1).cache()
    try:
        rows = df.count()
        writer = df.write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", True).option("encoding", "UTF-8").option("emptyValue", "") \
                .option("quote", '"').option("escape", '"').option("lineSep", "\r\n").csv(str(tmp))
        else:
            writer.option("ignoreNullFields", False).json(str(tmp))
    finally:
        df.unpersist()
    parts = sorted(p for p in tmp.iterdir() if p.name.startswith("part-"))
    if parts:
        shutil.move(str(parts[0]), target)
    else:  # Spark writes no part for an empty frame: an empty file (with the header for CSV)
        target.write_bytes((",".join(df.columns) + "\r\n").encode() if fmt == "csv" else b"")
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def count_rows(path: Path, fmt: str) -> int:
    """Data rows of an export file as its reader sees them (CSV records, not lines)."""
    with path.open(encoding="utf-8", newline="") as f:
        if fmt == "csv":
            return sum(1 for _ in csv.reader(f)) - 1
        return sum(1 for _ in f)


def write_channel(frame: DataFrame, dest: Destination, channel: str, batch: str, meta: dict) -> dict:
    """Write one channel's file and manifest atomically (temporary folder, then rename), readable by the
    destination's owner (and group) only."""
    name, fmt = FILES[channel]
    root = dest.root
    final = root / channel / batch
    work = root / channel / f".{batch}.{uuid.uuid4().hex[:8]}.tmp"
    work.mkdir(parents=True, exist_ok=True)
    dest.protect(root / channel, recursive=False)
    dest.protect(work)           # before anything is written into it
    try:
        rows = _write_one(frame, fmt, work / name)
        manifest = {"channel": channel, "batch": batch, "file": name, "format": fmt, "rows": rows,
                    "sha256": _sha256(work / name), "bytes": (work / name).stat().st_size,
                    "columns": frame.columns, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    **meta}
        (work / "_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        dest.protect(work)
        if final.exists():
            old = root / channel / f".{batch}.{uuid.uuid4().hex[:8]}.old"
            final.rename(old)
            work.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {**manifest, "path": str(final)}


def export_batch(targets: DataFrame, history: DataFrame | None, dest: Destination, batch: str, channels: list[str],
                 contact_date: date, meta: dict | None = None, lookback_days: int = 92,
                 reason_texts: dict[str, str] | None = None) -> list[dict]:
    """Every channel used in the batch gets its folder (an empty file when nobody was contacted on it)."""
    contacted = targets.where(F.col("contacted")).cache()
    out = []
    try:
        for ch in channels:
            t = contacted.where(F.col("channel") == ch)
            if ch == "outbound_call":
                frame = call_list(t)
            elif ch == "sms":
                frame = sms_batch(t)
            elif ch == "customer_manager":
                frame = work_orders(t, reason_texts)
            elif ch == "front_desk":
                frame = front_desk_lookup(t, history, contact_date, lookback_days)
            else:
                continue
            out.append(write_channel(frame, dest, ch, batch, dict(meta or {})))
    finally:
        contacted.unpersist()
    return out


def verify(folder: Path) -> dict:
    """Check a batch folder against its manifest: the file's rows and checksum. Returns the manifest;
    raises ValueError naming the folder on any mismatch."""
    manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    path = folder / manifest["file"]
    if _sha256(path) != manifest["sha256"]:
        raise ValueError(f"{path}: checksum differs from {folder / '_manifest.json'}")
    rows = count_rows(path, manifest["format"])
    if rows != manifest["rows"]:
        raise ValueError(f"{path}: {rows} rows, the manifest says {manifest['rows']}")
    return manifest
