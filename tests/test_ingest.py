"""Ingestion: typing, every bad-row kind, idempotent reruns, validation and error paths (real Spark, Delta, GX)."""
from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date

import pytest
from landing_files import subscriber, voice, write_batch
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from inlife.ingest.landing import LandingError
from inlife.ingest.pipeline import IngestError, Ingestion
from inlife.ingest.transform import QUARANTINE_SCHEMA, raw_schema
from inlife.quality import QualityError
from inlife.sources import load_sources
from inlife.tables.catalogue import BILLING, SUBSCRIBERS, VOICE_CDR, quarantine, raw

D1 = date(2024, 1, 1)
D2 = date(2024, 1, 2)


def _typed(spark, rows, source, conf):
    """Expected frame from strings, typed by Spark (timestamps in the session time zone, as ingestion)."""
    schema = raw_schema(load_sources(conf)[source])
    df = spark.createDataFrame(rows, ", ".join(f"{f.name} string" for f in schema.fields))
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _ingest(spark, conf, source, *dates, **overrides):
    conf = conf.with_overrides(overrides) if overrides else conf
    return Ingestion(spark, conf).run(source, list(dates))


def _subscribers(conf, batch="2024-01-01", ids=(1, 2, 3)):
    write_batch(conf, "subscribers", batch, [subscriber(i, snapshot=batch) for i in ids])


def _seed_subscribers(spark, conf, ids=(1, 2)):
    """raw.subscribers for tests about other sources (validated elsewhere: skip GX here to save time)."""
    _subscribers(conf, ids=ids)
    _ingest(spark, conf, "subscribers", D1, **{"quality.enabled": False})




def test_types_subscribers_and_voice(spark, conf, tables):
    _subscribers(conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [
        voice(1, "13900000001", "20240101083005", duration="61", charge="0.25"),
        voice(2, "", "20231231235959", duration="0", charge="0", operator="CU", direction="MT",
              call_type="LD_INTER", province="", cell=""),
    ])
    _ingest(spark, conf, "subscribers", D1)
    [rep] = _ingest(spark, conf, "voice_cdr", D1)
    assert (rep.batches[0].rows_read, rep.batches[0].rows_written, rep.batches[0].late) == (2, 2, 1)

    expected_subs = _typed(spark, [
        (str(i), f"1380000{i:04d}", "2024-01-01", "2020-05-06", "ACTIVE", "2020-05-06", "GOTONE", "GT88",
         "全球通88套餐", "0", "杭州", "西湖区", "G01", "1985-03-04", "M", "GOLD", "2024-01-01") for i in (1, 2)],
        "subscribers", conf)
    assertDataFrameEqual(tables.read(SUBSCRIBERS), expected_subs, checkRowOrder=False)
    assert tables.read(SUBSCRIBERS).schema == raw_schema(load_sources(conf)["subscribers"])

    expected_voice = _typed(spark, [
        ("1", "13900000001", "CMCC", "安徽", "MO", "LOCAL", "2024-01-01 08:30:05", "61", "0.25", "C1", "2024-01-01"),
        ("2", "", "CU", "", "MT", "LD_INTER", "2023-12-31 23:59:59", "0", "0.0", "", "2024-01-01"),
    ], "voice_cdr", conf)
    assertDataFrameEqual(tables.read(VOICE_CDR), expected_voice, checkRowOrder=False)


def test_every_bad_row_kind_lands_in_quarantine(spark, conf, tables):
    _seed_subscribers(spark, conf, ids=(1, 2))
    good = voice(1, "13900000001", "20240101083000", charge="0.5")
    lines = [
        good,
        voice(2, "13900000002", "20231231235900", operator="CU"),                      # late, kept
        "1|13900000003|CMCC|安徽|MO|LOCAL|20240101083000|60|0.5",                        # 9 fields
        voice(1, "13900000004", "20240132083000", operator="XX"),                      # bad day (and bad code)
        voice(1, "13900000005", "20240101090000", duration="-5"),                       # below min
        voice(1, "13900000006", "20240101091000", charge="abc"),                        # not a number
        voice(1, "13900000007", "20240101092000", operator="XX"),                       # unknown code
        voice(999, "13900000008", "20240102000000"),                                    # future (and unknown sub)
        voice(999, "13900000009", "20240101093000"),                                    # unknown subscriber
        voice(1, "13900000001", "20240101083000", charge="0.7"),                        # duplicate of `good`
    ]
    write_batch(conf, "voice_cdr", "2024-01-01", lines)
    [rep] = _ingest(spark, conf, "voice_cdr", D1, **{"ingest.max_bad_row_rate": 1.0})
    b = rep.batches[0]
    assert (b.rows_read, b.rows_written, b.late) == (10, 2, 1)
    assert b.quarantined == {"bad_timestamp": 1, "bad_value": 2, "duplicate": 1, "future_timestamp": 1,
                             "unknown_code": 1, "unknown_subscriber": 1, "wrong_field_count": 1}
    f = "voice_cdr/2024-01-01/part-00000.gz"
    expected = spark.createDataFrame([
        ("wrong_field_count", "fields=9, expected 10", f, lines[2], D1),
        ("bad_timestamp", "start_time=20240132083000 does not parse as timestamp (yyyyMMddHHmmss)", f, lines[3], D1),
        ("bad_value", "duration_sec=-5 below min 0", f, lines[4], D1),
        ("bad_value", "charge=abc does not parse as double", f, lines[5], D1),
        ("unknown_code", "peer_operator=XX not in code table operator", f, lines[6], D1),
        ("future_timestamp", "start_time=20240102000000 is after the batch day (2024-01-01)", f, lines[7], D1),
        ("unknown_subscriber", "subscriber_id=999 not in raw.subscribers", f, lines[8], D1),
        ("duplicate", "natural key repeated: subscriber_id=1, start_time=2024-01-01 08:30:00, "
                      "peer_number=13900000001, direction=MO", f, lines[9], D1),
    ], QUARANTINE_SCHEMA)
    assertDataFrameEqual(tables.read(quarantine("voice_cdr")), expected, checkRowOrder=False)
    kept = tables.read(VOICE_CDR).select("subscriber_id", "peer_number", "charge")
    assertDataFrameEqual(kept, [(1, "13900000001", 0.5), (2, "13900000002", 0.5)], checkRowOrder=False)


def test_a_local_landing_is_listed_and_read_as_hadoop_reads_it(spark, tmp_path):
    """A landing root on the local disk is listed and its file heads read by Python; Hadoop's FileSystem
    (object stores, HDFS) finds the same files under the same paths and the same first lines: a space in a
    name, hidden files and a folder skipped, \\r\\n and \\r line ends, an empty line, a byte-order mark,
    gzip, bytes that do not decode, GBK."""
    import gzip

    from inlife.ingest import landing

    folder = tmp_path / "land ing" / "voice_cdr" / "2024-01-01"
    (folder / "sub").mkdir(parents=True)
    (folder / "a b.csv").write_bytes("\ufeffh1,h2\r\n1,2\r3,4\n\n5,6".encode())
    (folder / "c.csv.gz").write_bytes(gzip.compress(b"x|y\n\xff\xfe|z\n"))
    (folder / "d.csv").write_bytes("号码|金额\n".encode("gbk"))
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".d.csv.crc").write_bytes(b"crc")

    files = landing.list_batch_files(spark, str(tmp_path / "land ing"), "voice_cdr", D1)
    uri = landing.qualified(spark, str(folder))
    assert files == sorted(landing.hadoop_listing(spark, uri, "voice_cdr", D1), key=lambda f: f.relative)
    assert [(f.relative, f.size) for f in files] == [("voice_cdr/2024-01-01/a b.csv", 22),
                                                     ("voice_cdr/2024-01-01/c.csv.gz", 29),
                                                     ("voice_cdr/2024-01-01/d.csv", 10)]
    heads = {f.relative.rsplit("/", 1)[1]: (landing.head_lines(spark, f.path, enc, 10),
                                            landing.hadoop_head(spark, f.path, enc, 10))
             for f, enc in zip(files, ("UTF-8", "UTF-8", "GBK"))}
    assert heads == {"a b.csv": (["\ufeffh1,h2", "1,2", "3,4", "", "5,6"],) * 2,
                     "c.csv.gz": (["x|y", "\ufffd\ufffd|z"],) * 2,
                     "d.csv": (["号码|金额"],) * 2}
    assert landing.head_lines(spark, files[0].path, "UTF-8", 2) == ["\ufeffh1,h2", "1,2"]


def test_unknown_subscriber_check_broadcasts_up_to_the_configured_size(spark, conf, tables):
    """Up to ingest.broadcast_known_max known subscribers the check ships them to the tasks (no shuffle of the
    records), above it a shuffle join; both classify alike. Spark's own broadcast is off here, so the plan
    shows the setting's choice."""
    from inlife.ingest import landing

    _seed_subscribers(spark, conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "13900000001", "20240101083000"),
                                                   voice(999, "13900000002", "20240101083000")])
    old = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        for limit, broadcast in ((2, True), (1, False)):
            ing = Ingestion(spark, conf.with_overrides({"ingest.broadcast_known_max": limit}))
            src = ing.contract["voice_cdr"]
            df = ing.classified(src, landing.list_batch_files(spark, conf.path("landing.root"), "voice_cdr", D1))
            plan = df._jdf.queryExecution().executedPlan().toString()
            assert ("BroadcastHashJoin" in plan) is broadcast, plan
            assert sorted((r.subscriber_id, r.reason) for r in df.collect()) == [(1, None), (999, "unknown_subscriber")]
            ing.release()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", old)


def test_classified_rows_are_partitioned_by_landing_bytes_and_natural_key(spark, conf, tables):
    """Many landing bytes: more partitions than the session's shuffle partitions (each is one cached block),
    with the same rows. The rows are hash-partitioned by the natural-key columns that the raw suite's
    uniqueness check groups by, so the check needs no shuffle of its own."""
    from inlife.ingest import landing, transform
    from inlife.ingest.suites import raw_suite
    from inlife.quality.onepass import repeated_values
    from inlife.session import CACHE

    _seed_subscribers(spark, conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, f"139000000{i:02d}", "20240101083000") for i in range(30)]
                + [voice(1, "13900000001", "20240101083000", charge="0.7")])
    files = landing.list_batch_files(spark, conf.path("landing.root"), "voice_cdr", D1)
    results = {}
    for per_partition in (10**9, -(-sum(f.size for f in files) // 20)):
        ing = Ingestion(spark, conf.with_overrides({"ingest.bytes_per_partition": per_partition}))
        src = ing.contract["voice_cdr"]
        df = ing.classified(src, files)
        results[per_partition] = (df.rdd.getNumPartitions(), ing.partitions(files),
                                  sorted((r.peer_number, r.charge, r.reason or "") for r in df.collect()))
        [unique] = [e for e in raw_suite(src, ing.contract)["expectations"]
                    if e["type"] == "expect_compound_columns_to_be_unique"]
        # the suite's check as onepass computes it, on the frame the pipeline validates (raw rows of the
        # cached frame with the batch-size ratios joined)
        cached = df.persist(CACHE)
        try:
            ratios = ing._ratios(src, ing._check(src, files, transform.batch_stats(cached).collect()), {})
            frame = transform.raw_rows(cached, src).join(F.broadcast(ratios), "batch_date", "left")
            check = repeated_values(frame, F.lit(True), unique["kwargs"]["column_list"])
            assert check.collect() == []
            above, below = check._jdf.queryExecution().executedPlan().toString().split("InMemoryRelation", 1)
            # above the cache: no shuffle for the check; in the cached plan: the duplicate check's, only
            assert "InMemoryTableScan" in above and "Exchange hashpartitioning" not in above, above
            # (the plan prints both its final and initial forms, and the known ids' cached distinct)
            keys = re.findall(r"Exchange hashpartitioning\(([^)]*)\)", below)
            columns = {tuple(c.strip().split("#")[0] for c in k.split(",")[:-1]) for k in keys}
            assert columns <= {("subscriber_id",), ("_known_id",), tuple(unique["kwargs"]["column_list"])}, keys
            assert tuple(unique["kwargs"]["column_list"]) in columns, below
        finally:
            cached.unpersist()
            ing.release()
    (n_default, wanted_default, rows_default), (n_many, wanted_many, rows_many) = results.values()
    shuffle_partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    assert wanted_default is None and n_default <= shuffle_partitions
    assert wanted_many > shuffle_partitions and n_many == wanted_many
    assert rows_many == rows_default
    assert [r for r in rows_default if r[2]] == [("13900000001", 0.7, "duplicate")]


def test_ingestion_leaves_nothing_cached(spark, conf, tables):
    """The classified rows and the known subscriber ids are released, and Great Expectations keeps no copy of
    the frames it validated (by default it persists each one and never lets go)."""
    _subscribers(conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "139", "20240101080000")])
    _ingest(spark, conf, "subscribers", D1)
    _ingest(spark, conf, "voice_cdr", D1)
    assert spark._jsparkSession.sharedState().cacheManager().isEmpty()
    assert _persisted_rdds(spark) == []


def _persisted_rdds(spark) -> list[str]:
    """Names of the RDDs persisted in the session, less Delta Lake's own cache of table snapshots (the state
    of each table's log, which delta-spark keeps while the table is in use; small, and Delta's to release)."""
    rdds = spark.sparkContext._jsc.getPersistentRDDs()
    names = [str(rdds.get(k).name()) for k in rdds.keySet().toArray()]
    return [n for n in names if not n.startswith("Delta Table State")]


def _forget_delta_snapshots(spark, tables) -> None:
    """Drop delta-spark's cached table snapshots (their state was built with a shuffle of the log's actions,
    whose files stay while a snapshot is cached); what is left is the run's own."""
    if tables.engine.name == "delta-spark":
        spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


def test_line_endings_and_empty_lines(spark, conf, tables):
    """UTF-8 files go through the text reader: CRLF line ends are not part of the last field, empty lines
    are not records, and a line that is not UTF-8 is still caught by the full read."""
    _seed_subscribers(spark, conf, ids=(1, 2))
    lines = [voice(1, "139", "20240101080000", cell="C7"), voice(2, "138", "20240101090000", cell="C8")]
    write_batch(conf, "voice_cdr", "2024-01-01", [],
                raw=("\r\n".join([lines[0], "", lines[1]]) + "\r\n\r\n").encode())
    [rep] = _ingest(spark, conf, "voice_cdr", D1)
    assert (rep.batches[0].rows_read, rep.batches[0].rows_written) == (2, 2)
    assert sorted(r.cell_id for r in tables.read(VOICE_CDR).collect()) == ["C7", "C8"]
    body = "".join(voice(1, f"13{i}", "20240102080000") + "\n" for i in range(5)).encode()
    gbk_line = voice(2, "137", "20240102080000", province="温州").encode("gbk")
    path = write_batch(conf, "voice_cdr", "2024-01-02", [], raw=body + gbk_line)
    with pytest.raises(LandingError, match=rf"file .*{path.name} is not UTF-8: 1 line\(s\) hold"):
        _ingest(spark, conf, "voice_cdr", D2, **{"ingest.preflight_lines": 3})


def test_csv_source_codes_dates_and_duplicates(spark, conf, tables):
    _seed_subscribers(spark, conf, ids=(1,))
    header_ok = ["101,1,PREPAY100_260,预存100元送260元话费,ZERO_ONE,2023-02-01,2025-01-31,100.0"]
    rows = [f"{i},1,2024-01-31,{r.split(',', 2)[2]}" for i, r in [(101, header_ok[0])]]
    rows += ["102,1,2024-01-31,CAMPUS,校园套餐,ZERO_ONE,2023-02-30,2025-01-31,10",    # bad date
             "103,1,2024-01-31,CAMPUS,校园套餐,WRONG,2023-02-01,2025-01-31,10",       # unknown code
             "101,1,2024-01-31,CAMPUS,校园套餐,ZERO_ONE,2023-02-01,2025-01-31,10"]    # duplicate key
    write_batch(conf, "contracts", "2024-01-31", rows)
    [rep] = _ingest(spark, conf, "contracts", date(2024, 1, 31), **{"ingest.max_bad_row_rate": 1.0})
    assert rep.batches[0].quarantined == {"bad_timestamp": 1, "duplicate": 1, "unknown_code": 1}
    reasons = tables.read(quarantine("contracts")).select("reason", "line")
    # of two rows with one key, the first by (file, line) is kept: the same one on every run
    assertDataFrameEqual(reasons, [("bad_timestamp", rows[1]), ("unknown_code", rows[2]), ("duplicate", rows[0])],
                         checkRowOrder=False)
    assert [r.bundle_name for r in tables.read(raw("contracts")).collect()] == ["校园套餐"]


def test_a_byte_order_mark_is_read_past_and_counted(spark, conf, tables):
    """Extracts saved by Windows tools start with a UTF-8 byte-order mark: a csv's header and a delimited
    file's first record are read without it, the same rows as without one, and the report counts the files."""
    from inlife.ingest.landing import BOM

    _seed_subscribers(spark, conf, ids=(1,))
    rows = ["101,1,2024-01-31,CAMPUS,校园套餐,ZERO_ONE,2023-02-01,2025-01-31,10"]
    src = load_sources(conf)["contracts"]
    write_batch(conf, "contracts", "2024-01-31", rows, raw=(BOM + src.header + "\n" + rows[0] + "\n").encode())
    write_batch(conf, "voice_cdr", "2024-01-01", [], raw=(BOM + voice(1, "13900000001", "20240101083005") + "\n"
                                                          + voice(1, "13900000002", "20240101093005") + "\n").encode())
    reports = {r.source: r.totals() for r in
               [*_ingest(spark, conf, "contracts", date(2024, 1, 31)), *_ingest(spark, conf, "voice_cdr", D1)]}
    assert {s: (t["rows_read"], t["rows_written"], t["quarantined"], t["files_with_bom"])
            for s, t in reports.items()} == {"contracts": (1, 1, {}, 1), "voice_cdr": (2, 2, {}, 1)}
    assert [(r.contract_id, r.bundle_name) for r in tables.read(raw("contracts")).collect()] == [(101, "校园套餐")]
    assert sorted(r.peer_number for r in tables.read(VOICE_CDR).collect()) == ["13900000001", "13900000002"]


def test_rerun_replaces_only_its_batch(spark, conf, tables):
    import deltalake

    _seed_subscribers(spark, conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "139", "20240101080000"), voice(2, "138", "20240101090000")])
    write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, "139", "20240102080000"), voice(1, "139", "20240102080000")])
    _ingest(spark, conf, "voice_cdr", D1, D2, **{"ingest.max_bad_row_rate": 0.5})
    raw_before = tables.read(VOICE_CDR).collect()
    q_before = tables.read(quarantine("voice_cdr")).collect()
    def files():
        return sorted(f for f in deltalake.DeltaTable(tables.location(VOICE_CDR)).file_uris()
                      if "batch_date=2024-01-02" in f)
    d2_files = files()
    version = tables.version(VOICE_CDR)
    [rep] = _ingest(spark, conf, "voice_cdr", D1, **{"ingest.max_bad_row_rate": 0.5})
    assert tables.version(VOICE_CDR) == version + 1
    assertDataFrameEqual(tables.read(VOICE_CDR), raw_before, checkRowOrder=False)
    assertDataFrameEqual(tables.read(quarantine("voice_cdr")), q_before, checkRowOrder=False)
    assert files() == d2_files          # the other batch's files were not rewritten
    assert [b.batch_date for b in rep.batches] == ["2024-01-01"]


def test_pass_groups_bound_landing_bytes_and_keep_dates_in_order():
    from inlife.ingest.landing import LandingFile
    from inlife.ingest.pipeline import pass_groups

    days = [date(2024, 1, d) for d in range(1, 6)]
    sizes = {1: [40, 50], 2: [80], 3: [10], 4: [200], 5: [30]}   # day 4 alone exceeds the bound
    files = [LandingFile("voice_cdr", d, f"file:/l/{d}/{i}", f"voice_cdr/{d}/{i}", n)
             for d in days for i, n in enumerate(sizes[d.day])]
    groups = pass_groups(days, files, 100)
    assert [[d.day for d in g] for g, _ in groups] == [[1], [2, 3], [4], [5]]
    assert [[f.relative for f in fs] for _, fs in groups] == [
        ["voice_cdr/2024-01-01/0", "voice_cdr/2024-01-01/1"], ["voice_cdr/2024-01-02/0", "voice_cdr/2024-01-03/0"],
        ["voice_cdr/2024-01-04/0"], ["voice_cdr/2024-01-05/0"]]
    assert [[d.day for d in g] for g, _ in pass_groups(days, files, 10**9)] == [[1, 2, 3, 4, 5]]


def _shuffle_files_left(spark, first_id, wait=20.0, collect=False):
    """Shuffle data files numbered first_id or later in the session's local dirs, once there are none or Spark's
    cleaner (which works in the background) has had ``wait`` seconds. ``collect``: ask for a driver GC every
    few seconds meanwhile (System.gc() is a hint; on a loaded machine one request can miss plans that py4j
    let go of just after it, and the test must not then wait for Spark's 30-minute periodic GC)."""
    import time
    from pathlib import Path

    from inlife.session import release_shuffle_files

    dirs = [Path(d.getPath()) for d in spark.sparkContext._jsc.sc().env().blockManager().diskBlockManager().localDirs()]
    deadline, asked = time.time() + wait, time.time()
    while True:
        left = sorted(p.name for d in dirs for p in d.rglob("shuffle_*.data") if int(p.name.split("_")[1]) >= first_id)
        if not left or time.time() > deadline:
            return left
        time.sleep(0.5)
        if collect and time.time() - asked >= 3.0:
            release_shuffle_files(spark)
            asked = time.time()


def _staging_left(tables, name):
    from pathlib import Path
    return sorted(p.name for p in Path(tables.location(name), "_staging").glob("*"))


def test_a_backfill_in_passes_commits_once_and_equals_one_pass(spark, conf, tables):
    """Three batches in three passes (one a batch): one new version of each table, the same rows as one pass,
    the duplicate within a batch found, and no staging folder left behind."""
    D3 = date(2024, 1, 3)
    _seed_subscribers(spark, conf, ids=(1, 2))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "139", "20240101080000"), voice(2, "138", "20240101090000")])
    write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, "139", "20240102080000"), voice(1, "139", "20240102080000"),
                                                  voice(2, "137", "20240102100000")])
    write_batch(conf, "voice_cdr", "2024-01-03", [voice(2, "136", "20240103080000"), voice(1, "135", "2024")])
    bad = {"ingest.max_bad_row_rate": 0.6}
    [rep] = _ingest(spark, conf, "voice_cdr", D1, D2, D3, **bad, **{"ingest.max_bytes_per_pass": 1})
    assert [(b.batch_date, b.rows_read, b.rows_written, b.quarantined) for b in rep.batches] == [
        ("2024-01-01", 2, 2, {}), ("2024-01-02", 3, 2, {"duplicate": 1}), ("2024-01-03", 2, 1, {"bad_timestamp": 1})]
    assert (rep.raw_version, rep.quarantine_version) == (0, 0)          # created by one commit each
    assert [len(tables.history(n)) for n in (VOICE_CDR, quarantine("voice_cdr"))] == [1, 1]
    assert _staging_left(tables, VOICE_CDR) == [] and _staging_left(tables, quarantine("voice_cdr")) == []
    got = sorted((r.batch_date.day, r.subscriber_id, r.peer_number) for r in tables.read(VOICE_CDR).collect())
    assert got == [(1, 1, "139"), (1, 2, "138"), (2, 1, "139"), (2, 2, "137"), (3, 2, "136")]
    raw, q = tables.read(VOICE_CDR).collect(), tables.read(quarantine("voice_cdr")).collect()
    # the same batches in one pass replace them with the same rows, again as one version
    [one] = _ingest(spark, conf, "voice_cdr", D1, D2, D3, **bad)
    assert (one.raw_version, one.quarantine_version) == (1, 1)
    assert [asdict(b) for b in one.batches] == [asdict(b) for b in rep.batches]
    assertDataFrameEqual(tables.read(VOICE_CDR), raw, checkRowOrder=False)
    assertDataFrameEqual(tables.read(quarantine("voice_cdr")), q, checkRowOrder=False)


def test_an_ingestion_lets_go_of_its_shuffle_files(spark, conf, tables):
    """Once a run in passes has ended, Spark has deleted the shuffle files it wrote (without a driver GC they
    stay until Spark's periodic one, every 30 minutes: at 10M subscribers each voice CDR pass left ~8.5 GB).
    Great Expectations is off here: it holds the plan of the last frame it validated until the next one."""
    _seed_subscribers(spark, conf, ids=(1, 2))
    for day in (1, 2, 3):
        write_batch(conf, "voice_cdr", f"2024-01-0{day}", [voice(1, str(p), f"2024010{day}080000") for p in range(3)])
    first_shuffle = spark.sparkContext._jsc.sc().newShuffleId()
    _ingest(spark, conf, "voice_cdr", D1, D2, date(2024, 1, 3),
            **{"ingest.max_bytes_per_pass": 1, "quality.enabled": False})
    # Nothing of the run may still hold its plans: a frame cached or kept in the report would keep its files.
    _forget_delta_snapshots(spark, tables)
    assert _shuffle_files_left(spark, first_shuffle, collect=True) == []


@pytest.mark.parametrize("engine,failing", [("delta-rs", "batch 2024-01-03"),
                                            ("delta-spark", "batch 2024-01-01..2024-01-03")])
def test_a_failure_in_a_later_pass_commits_no_pass(spark, conf, engine, failing):
    """The third pass's batch is a quarter of the second's (staged by an earlier pass): the row-count check
    sees it, and neither table gets any batch; the staged files of the passes before are removed.
    delta-spark, which writes at commit, reads the three batches in one pass and fails it whole."""
    from inlife.tables import Tables

    conf = conf.with_overrides({"lake.engine": engine})
    tables = Tables(spark, conf)
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, str(p), "20240101080000") for p in range(4)])
    write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, str(p), "20240102080000") for p in range(4)])
    write_batch(conf, "voice_cdr", "2024-01-03", [voice(1, "1", "20240103080000")])
    with pytest.raises(QualityError) as err:
        _ingest(spark, conf, "voice_cdr", D1, D2, date(2024, 1, 3),
                **{"ingest.max_bytes_per_pass": 1, "ingest.row_count_min_previous": 1})
    msg = str(err.value)
    assert msg.startswith(f"{failing} not committed") and "2024-01-03 (0.25x the previous batch)" in msg, msg
    assert not tables.exists(VOICE_CDR) and not tables.exists(quarantine("voice_cdr"))
    assert _staging_left(tables, VOICE_CDR) == [] and _staging_left(tables, quarantine("voice_cdr")) == []


def test_failed_expectation_commits_nothing(spark, conf, tables):
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, str(p), "20240101080000") for p in range(4)])
    write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, "1", "20240102080000")])
    _ingest(spark, conf, "voice_cdr", D1)
    version = tables.version(VOICE_CDR)
    q_version = tables.version(quarantine("voice_cdr"))
    with pytest.raises(QualityError) as err:
        _ingest(spark, conf, "voice_cdr", D2, **{"ingest.row_count_min_previous": 1})
    msg = str(err.value)
    assert VOICE_CDR in msg and "expect_column_values_to_be_between(batch_rows_vs_previous)" in msg
    assert "1 of 11 expectations failed" in msg
    assert "1 unexpected value(s), e.g. [0.25]" in msg                  # GX's own detail (rerun with SUMMARY)
    assert msg.split(" (Data Docs")[-1].endswith("row counts outside 0.5-2x: 2024-01-02 (0.25x the previous batch)")
    assert tables.version(VOICE_CDR) == version and tables.version(quarantine("voice_cdr")) == q_version
    assert (conf.path("quality.data_docs_dir") + "/index.html") in msg
    from pathlib import Path
    assert Path(conf.path("quality.data_docs_dir"), "index.html").exists()


def test_a_batch_after_a_long_gap_compares_with_the_last_batch_before_it(spark, conf, tables):
    """The previous batch is five months back, beyond the recent batches a run counts first: the whole
    table is counted, and the quarter-size batch is still caught."""
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, str(p), "20240101080000") for p in range(4)])
    write_batch(conf, "voice_cdr", "2024-06-01", [voice(1, "1", "20240601080000")])
    _ingest(spark, conf, "voice_cdr", D1)
    with pytest.raises(QualityError) as err:
        _ingest(spark, conf, "voice_cdr", date(2024, 6, 1), **{"ingest.row_count_min_previous": 1})
    assert str(err.value).endswith("row counts outside 0.5-2x: 2024-06-01 (0.25x the previous batch)"), str(err.value)


def test_bad_row_rate_above_threshold_commits_nothing(spark, conf, tables):
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "1", "20240101080000"), voice(1, "2", "2024"),
                                                  voice(1, "3", "2024"), voice(1, "4", "2024")])
    # 3 of 4 is above 5 % by far more than chance allows (5 % of 4 plus 3 binomial standard deviations = 1.3)
    with pytest.raises(IngestError, match=r"raw.voice_cdr batch 2024-01-01: 3 of 4 rows are bad .*bad_timestamp"):
        _ingest(spark, conf, "voice_cdr", D1)
    assert not tables.exists(VOICE_CDR) and not tables.exists(quarantine("voice_cdr"))
    [rep] = _ingest(spark, conf, "voice_cdr", D1, **{"ingest.max_bad_row_rate": 0.8})
    assert rep.batches[0].quarantined == {"bad_timestamp": 3}


def test_a_small_batch_is_not_failed_by_chance(spark, conf, tables):
    # 1 bad row of 2 is 50 %, but at a 5 % rate one bad row in a tiny batch is within chance
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "voice_cdr", "2024-01-01", [voice(1, "1", "20240101080000"), voice(1, "2", "2024")])
    [rep] = _ingest(spark, conf, "voice_cdr", D1)
    assert rep.batches[0].quarantined == {"bad_timestamp": 1}


def test_gbk_landing_file(spark, conf, tables):
    gbk = conf.with_overrides({"landing.encoding": "GBK"})
    path = write_batch(gbk, "subscribers", "2024-01-01", [subscriber(7, region="温州")])
    assert "温州".encode("gbk") in path.read_bytes()
    _ingest(spark, gbk, "subscribers", D1)
    row = tables.read(SUBSCRIBERS).collect()[0]
    assert (row.region, row.county, row.plan_name) == ("温州", "西湖区", "全球通88套餐")


@pytest.mark.parametrize("case", ["encoding", "delimiter", "missing", "empty", "header", "no_records",
                                  "no_records_gzip", "truncated_gzip"])
def test_landing_errors_name_the_file_and_commit_nothing(spark, conf, tables, case):
    _seed_subscribers(spark, conf, ids=(1,))
    version = tables.version(SUBSCRIBERS)
    if case == "encoding":
        path = write_batch(conf, "subscribers", "2024-01-02", [subscriber(2, "2024-01-02")], encoding="GBK")
        expected = rf"file .*{path.name} is not UTF-8.*U\+FFFD"
    elif case == "delimiter":
        path = write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, "1", "20240102080000").replace("|", ",")])
        expected = rf"voice_cdr: file .*{path.name}: delimiter mismatch: no line splits into 10 fields on '\|'; they do split on ','"
    elif case == "missing":
        expected = r"subscribers: landing folder .*/subscribers/2024-01-02 does not exist"
        path = None
    elif case == "empty":
        path = write_batch(conf, "subscribers", "2024-01-02", [], raw=b"")
        expected = rf"subscribers: file .*{path.name} is empty"
    elif case == "no_records":     # a header-only extract of a source that always has records
        path = write_batch(conf, "balances", "2024-01-02", [])
        expected = rf"balances: file .*{path.name} holds no records \(a failed extract\?\); sources.yaml may_be_empty"
    elif case == "no_records_gzip":
        path = write_batch(conf, "voice_cdr", "2024-01-02", [])
        expected = rf"voice_cdr: file .*{path.name} holds no records"
    elif case == "truncated_gzip":   # the head reads, the end is missing: Spark's own error names no file
        path = write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, str(p), "20240102080000") for p in range(2000)])
        path.write_bytes(path.read_bytes()[:-200])
        write_batch(conf, "voice_cdr", "2024-01-02", [voice(1, "x", "20240102090000")], name="part-00001.gz")
        expected = rf"voice_cdr: 1 file\(s\) cannot be read to the end: .*{path.name} \(.*\); nothing committed"
    else:
        path = write_batch(conf, "subscribers", "2024-01-02", [subscriber(2, "2024-01-02")], header=False,
                           raw=("subscriber_id,msisdn,snapshot_dt,activation_date,status,status_date,brand,plan_code,"
                                "plan_name,prepaid_flag,region,county,grid,birth_date,gender,vip\n"
                                + subscriber(2, "2024-01-02") + "\n").encode())
        expected = (r"file .*part-00000.csv: header differs from the contract: column 3 is 'snapshot_dt', expected "
                    r"'snapshot_date'; column 16 is 'vip', expected 'vip_level'; missing \['snapshot_date', "
                    r"'vip_level'\]; unexpected \['snapshot_dt', 'vip'\]")
    source = {"delimiter": "voice_cdr", "no_records_gzip": "voice_cdr", "truncated_gzip": "voice_cdr",
              "no_records": "balances"}.get(case, "subscribers")
    with pytest.raises(LandingError, match=expected):
        _ingest(spark, conf, source, D2)
    assert tables.version(SUBSCRIBERS) == version
    assert not tables.exists(VOICE_CDR)


def test_a_quiet_day_of_a_source_that_may_be_empty_commits_no_rows(spark, conf, tables):
    """recharges (sources.yaml may_be_empty: true): a header-only file is a day without top-ups."""
    _seed_subscribers(spark, conf, ids=(1,))
    write_batch(conf, "recharges", "2024-01-01", [])
    [rep] = _ingest(spark, conf, "recharges", D1)
    assert (rep.totals()["rows_read"], rep.totals()["rows_written"]) == (0, 0)


def test_encoding_mismatch_past_the_head_is_caught_in_the_full_read(spark, conf, tables):
    lines = [subscriber(i) for i in range(1, 6)] + [subscriber(9, region="温州")]
    data = ("\n".join([load_sources(conf)["subscribers"].header] + lines[:-1]) + "\n").encode() + \
        (lines[-1] + "\n").encode("gbk")
    path = write_batch(conf, "subscribers", "2024-01-01", [], raw=data)
    with pytest.raises(LandingError, match=rf"file .*{path.name} is not UTF-8: 1 line\(s\) hold"):
        _ingest(spark, conf, "subscribers", D1, **{"ingest.preflight_lines": 3})
    assert not tables.exists(SUBSCRIBERS)


def test_job_range_with_monthly_source(spark, conf, tables):
    from inlife_jobs import ingest as job

    for d in ("2024-01-30", "2024-01-31"):
        write_batch(conf, "subscribers", d, [subscriber(1, d)])
    write_batch(conf, "billing", "2024-01-31", ["1,2024-01,2024-01-31,88,88,0,0,0,0,0,0"])
    conf = conf.with_overrides({"quality.enabled": False})
    assert job.run(spark, conf, source="subscribers", date_from=date(2024, 1, 30), date_to=date(2024, 1, 31)) == 0
    assert job.run(spark, conf, source="billing", date_from=date(2024, 1, 30), date_to=date(2024, 1, 31)) == 0
    assert sorted(r.batch_date.isoformat() for r in tables.read(SUBSCRIBERS).collect()) == \
        ["2024-01-30", "2024-01-31"]
    assert tables.read(BILLING).collect()[0].bill_month == "2024-01"
    with pytest.raises(IngestError, match="billing is monthly"):
        job.run(spark, conf, source="billing", batch_date=date(2024, 1, 30))


def test_committed_suites_match_the_contract(conf):
    import json
    from pathlib import Path

    from inlife.ingest.suites import raw_suite

    contract = load_sources(conf)
    for name in contract.order:
        path = Path(conf.path("quality.expectations_dir")) / "raw" / f"{name}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == raw_suite(contract[name], contract), \
            f"{path} is stale: run .venv/bin/python -m inlife.ingest.suites"
