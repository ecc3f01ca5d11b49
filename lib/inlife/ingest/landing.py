"""Landing folders: which files make a batch, what their first lines say, and reading their lines.

Landing layout (conf/sources.yaml): ``<landing.root>/<source>/<YYYY-MM-DD>/<files>``. Files are listed and
their heads read through Hadoop's FileSystem, so the same code reads object stores and HDFS; gzip is
decompressed by Hadoop's codec for ``*.gz``. A landing root on this machine's own disk is listed and read
with Python's file functions instead: a backfill checks thousands of files before its first commit, and
each call into the JVM costs more than the check. Both give the same files, paths and lines.
"""
from __future__ import annotations

import functools
import gzip
import io
import os
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.errors import InlifeError
from inlife.sources import Source

# A field separator that never occurs in text: each physical line is read as one string column.
NEVER = "\u0001"
REPLACEMENT = "\ufffd"
# A UTF-8 byte-order mark, which Windows tools (Excel among them) put before a file's first line
BOM = "\ufeff"


class LandingError(InlifeError):
    """A landing folder or file is missing, empty, or not in the contract's format."""


@dataclass(frozen=True)
class LandingFile:
    source: str
    batch_date: date
    path: str          # full URI, as Spark reports it in _metadata.file_path
    relative: str      # <source>/<YYYY-MM-DD>/<name>: what quarantine rows record
    size: int


def _jvm_fs(spark: SparkSession, path: str):
    jvm = spark._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return jvm, p, p.getFileSystem(spark._jsc.hadoopConfiguration())


def batch_folder(root: str, source: str, batch: date) -> str:
    return f"{root.rstrip('/')}/{source}/{batch.isoformat()}"


# Suffixes for which Hadoop's CompressionCodecFactory picks a codec other than gzip: such files are read
# through Hadoop even on a local disk.
OTHER_CODECS = (".bz2", ".deflate", ".lz4", ".snappy", ".zst")


@functools.lru_cache(maxsize=32)
def qualified(spark: SparkSession, path: str) -> str:
    """``path`` as Hadoop resolves it (scheme and absolute path): a path without a scheme is on the cluster's
    default file system, which is HDFS on some clusters."""
    _, p, fs = _jvm_fs(spark, path)
    return fs.makeQualified(p).toString()


def local_path(uri: str) -> str | None:
    """The path on this machine of a qualified ``file:`` URI (Hadoop writes ``file:/x``); None for any other
    file system."""
    if not uri.startswith("file:"):
        return None
    rest = uri[len("file:"):]
    return "/" + rest.lstrip("/") if rest.startswith("//") else rest


def batch_exists(spark: SparkSession, root: str, source: str, batch: date) -> bool:
    folder = batch_folder(qualified(spark, root), source, batch)
    local = local_path(folder)
    if local is not None:
        return os.path.exists(local)
    _, p, fs = _jvm_fs(spark, folder)
    return bool(fs.exists(p))


def list_batch_files(spark: SparkSession, root: str, source: str, batch: date) -> list[LandingFile]:
    """The data files of one batch (hidden ``.``/``_`` files skipped); errors for a missing or empty folder."""
    folder = batch_folder(qualified(spark, root), source, batch)
    local = local_path(folder)
    files = hadoop_listing(spark, folder, source, batch) if local is None else _local_listing(local, folder, source, batch)
    if not files:
        raise LandingError(f"{source}: landing folder {folder} holds no files (batch {batch})")
    return sorted(files, key=lambda f: f.relative)


def _data_file(name: str) -> bool:
    return not name.startswith((".", "_"))


def hadoop_listing(spark: SparkSession, folder: str, source: str, batch: date) -> list[LandingFile]:
    jvm, p, fs = _jvm_fs(spark, folder)
    if not fs.exists(p) or not fs.getFileStatus(p).isDirectory():
        raise LandingError(f"{source}: landing folder {folder} does not exist (batch {batch})")
    return [LandingFile(source, batch, fs.makeQualified(st.getPath()).toString(),
                        f"{source}/{batch.isoformat()}/{st.getPath().getName()}", int(st.getLen()))
            for st in fs.listStatus(p) if not st.isDirectory() and _data_file(st.getPath().getName())]


def _local_listing(local: str, folder: str, source: str, batch: date) -> list[LandingFile]:
    if not os.path.isdir(local):
        raise LandingError(f"{source}: landing folder {folder} does not exist (batch {batch})")
    with os.scandir(local) as entries:
        return [LandingFile(source, batch, f"{folder}/{e.name}", f"{source}/{batch.isoformat()}/{e.name}",
                            e.stat().st_size)
                for e in entries if not e.is_dir() and _data_file(e.name)]


def head_lines(spark: SparkSession, path: str, encoding: str, limit: int) -> list[str]:
    """Up to ``limit`` first lines of a file, decompressed and decoded (malformed bytes become U+FFFD)."""
    local = local_path(path)
    if local is not None and not local.endswith(OTHER_CODECS):
        try:
            return _local_head(local, encoding, limit)
        except (LookupError, OSError, EOFError):
            pass      # a charset only Java knows, or a damaged file: Hadoop's reader says what it says
    return hadoop_head(spark, path, encoding, limit)


def _local_head(path: str, encoding: str, limit: int) -> list[str]:
    # newline=None splits on \n, \r\n and \r, as Java's readLine does; errors="replace" puts U+FFFD for
    # malformed bytes, as Java's decoder does; neither drops a byte-order mark.
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as raw, \
            io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=None) as text:
        lines = []
        for line in text:
            if len(lines) == limit:
                break
            lines.append(line[:-1] if line.endswith("\n") else line)
        return lines


def hadoop_head(spark: SparkSession, path: str, encoding: str, limit: int) -> list[str]:
    jvm, p, fs = _jvm_fs(spark, path)
    stream = fs.open(p)
    try:
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
            spark._jsc.hadoopConfiguration()).getCodec(p)
        raw = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(raw, encoding))
        lines = []
        while len(lines) < limit:
            line = reader.readLine()
            if line is None:
                break
            lines.append(line)
        return lines
    finally:
        stream.close()


def _fields(line: str, delimiter: str) -> int:
    return len(line.split(delimiter))


def check_file(spark: SparkSession, f: LandingFile, source: Source, encoding: str, limit: int) -> bool:
    """Cheap checks on the head of a file before anything is read in bulk or committed; whether the file
    starts with a byte-order mark (which the bulk read drops: ``without_bom``)."""
    # A file of zero bytes is a failed transfer; a gzip member without lines or a header-only csv is a batch
    # without records (the generator writes those for quiet days) and passes.
    if f.size == 0:
        raise LandingError(f"{source.name}: file {f.path} is empty (0 bytes)")
    lines = head_lines(spark, f.path, encoding, limit)
    bom = bool(lines) and lines[0].startswith(BOM)
    if bom:
        lines[0] = lines[0][len(BOM):]
    if not lines or lines == [""]:
        if source.format == "csv":
            raise LandingError(f"{source.name}: file {f.path} is empty: no header line")
        _no_records(f, source)
        return bom
    bad = [i + 1 for i, line in enumerate(lines) if REPLACEMENT in line]
    if bad:
        raise LandingError(
            f"{source.name}: file {f.path} is not {encoding}: line(s) {bad[:5]} hold bytes that do not decode "
            f"(U+FFFD); set landing.encoding (e.g. GBK) or the source's encoding in sources.yaml")
    n = len(source.columns)
    if source.format == "csv":
        got = lines[0].split(source.delimiter)
        if got != source.column_names:
            expected = source.column_names
            if len(got) == 1 and len(expected) > 1:
                raise LandingError(
                    f"{source.name}: file {f.path}: the header does not split on {source.delimiter!r} "
                    f"(delimiter mismatch?): {lines[0][:120]!r}")
            diffs = [f"column {i + 1} is {g!r}, expected {e!r}"
                     for i, (g, e) in enumerate(zip(got, expected)) if g != e]
            missing = [c for c in expected if c not in got]
            extra = [c for c in got if c not in expected]
            parts = diffs[:5]
            if len(got) != len(expected):
                parts.append(f"{len(got)} columns, expected {len(expected)}")
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise LandingError(f"{source.name}: file {f.path}: header differs from the contract: "
                               + "; ".join(parts))
        lines = lines[1:]
        if not any(lines):
            _no_records(f, source)
    # A delimiter mismatch leaves every line whole (one field); a few planted wrong_field_count rows still
    # split, just into the wrong number of fields, and go to quarantine instead.
    if lines and all(_fields(line, source.delimiter) == 1 for line in lines) and n > 1:
        raise LandingError(_delimiter_message(source, f.path, lines))
    return bom


def _no_records(f: LandingFile, source: Source) -> None:
    """A file without records is a quiet day for a source that has them, else a failed extract."""
    if not source.may_be_empty:
        raise LandingError(f"{source.name}: file {f.path} holds no records (a failed extract?); sources.yaml "
                           f"may_be_empty: true makes such a file a day without records")


def unreadable(spark: SparkSession, files: list[LandingFile]) -> list[str]:
    """The compressed files that cannot be read to their end (a truncated or corrupt gzip), each with the
    reason. Read after a bulk read failed: Spark's error names no file."""
    jvm = spark._jvm
    bad = []
    for f in files:
        _, p, fs = _jvm_fs(spark, f.path)
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(spark._jsc.hadoopConfiguration()).getCodec(p)
        if codec is None:
            continue
        stream = fs.open(p)
        try:
            codec.createInputStream(stream).transferTo(jvm.java.io.OutputStream.nullOutputStream())
        except Exception as exc:     # py4j's error: the Java exception's first line says what broke
            bad.append(f"{f.path} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        finally:
            stream.close()
    return bad


def _delimiter_message(source: Source, path: str, lines: list[str]) -> str:
    n = len(source.columns)
    fits = [d for d in ("|", ",", "\t", ";", "^", "\u0001") if d != source.delimiter
            and sum(_fields(line, d) == n for line in lines) > len(lines) // 2]
    hint = f"; they do split on {fits[0]!r}" if fits else ""
    return (f"{source.name}: file {path}: delimiter mismatch: no line splits into {n} fields on "
            f"{source.delimiter!r}{hint}")


def without_bom(line: Column) -> Column:
    """The line without a leading byte-order mark (only a file's first line can hold one)."""
    return F.when(line.startswith(BOM), F.substring(line, len(BOM) + 1, 1 << 30)).otherwise(line)


def is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() == "utf8"


def read_lines(spark: SparkSession, files: list[LandingFile], encoding: str) -> DataFrame:
    """Every non-empty line of ``files`` as (line, source_file, batch_date), decoded with ``encoding``.

    UTF-8 (the default) is read by the text reader, and bytes that are not UTF-8 become U+FFFD, as a
    decoder would make them. Other charsets (GBK) go through Spark's csv reader with a separator that never
    occurs, which keeps each line whole and decodes; quoting and escaping are off because extracts are
    never quoted. The csv reader is the slower one: on a month of 200k subscribers' voice CDR its
    per-character parsing was a quarter of the whole classification pass.
    The batch date and file come from each row's path (``<source>/<YYYY-MM-DD>/<name>``), cut from the end
    with substring_index (cheaper than a regex split of every row's path): one read for all files
    (a union of per-folder reads would repeat, and compile, every later projection per folder).
    """
    paths = [f.path for f in files]
    if is_utf8(encoding):
        raw = spark.read.format("text").load(paths).select(F.col("value").alias("line"), "_metadata")
        # The csv reader skips empty lines. make_valid_utf8 returns a valid line as it is (one scan) and
        # repairs only the others.
        raw = raw.where(F.col("line") != F.lit("")).select(F.make_valid_utf8("line").alias("line"), "_metadata")
    else:
        # Spark 4 only accepts a short list of charsets unless the JVM's full list is allowed.
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
        raw = (spark.read.format("csv")
               .option("sep", NEVER).option("quote", "").option("escape", "").option("comment", "")
               .option("header", "false").option("encoding", encoding).option("mode", "PERMISSIVE")
               .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false")
               .schema("line string")
               .load(paths)
               .select("line", "_metadata"))
    path = F.col("_metadata.file_path")
    day = F.substring_index(F.substring_index(path, "/", -2), "/", 1)
    return raw.select(without_bom(F.col("line")).alias("line"), F.substring_index(path, "/", -3).alias("source_file"),
                      F.to_date(day).alias("batch_date"))
