"""Files through Hadoop's FileSystem in the JVM (the file system the executors write with), and the
partition values in Hive-style folder names."""
from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import unquote

from pyspark.sql import SparkSession

from inlife.errors import TableError

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def local_uri(path: str) -> str:
    """Location as deltalake wants it: plain local paths, s3:// for s3a://."""
    if path.startswith("file:"):
        return path[len("file:"):].replace("///", "/", 1) if path.startswith("file:///") else path[5:]
    if path.startswith("s3a://"):
        return "s3://" + path[len("s3a://"):]
    return path


def is_local(path: str) -> bool:
    return path.startswith("/") or path.startswith("file:")


class HadoopFiles:
    """Hadoop FileSystem through the JVM: the same file system the executors wrote with."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self.jvm = spark._jvm
        self.hconf = spark._jsc.hadoopConfiguration()

    def _p(self, path: str):
        return self.jvm.org.apache.hadoop.fs.Path(path)

    def fs(self, path: str):
        return self._p(path).getFileSystem(self.hconf)

    def list_files(self, root: str) -> list[tuple[str, int, int]]:
        """(path relative to root, size, modification ms) of every file under root."""
        if is_local(root):
            local = local_uri(root)
            out = []
            for d, _, names in os.walk(local):
                for n in names:
                    full = os.path.join(d, n)
                    st = os.stat(full)
                    out.append((os.path.relpath(full, local).replace(os.sep, "/"), st.st_size,
                                int(st.st_mtime * 1000)))
            return out
        p = self._p(root)
        fs = p.getFileSystem(self.hconf)
        if not fs.exists(p):
            return []
        base_uri = fs.makeQualified(p).toUri().getPath().rstrip("/") + "/"
        out = []
        it = fs.listFiles(p, True)
        while it.hasNext():
            st = it.next()
            full = st.getPath().toUri().getPath()
            rel = full[len(base_uri):] if full.startswith(base_uri) else full
            out.append((rel, st.getLen(), st.getModificationTime()))
        return out

    def rename(self, src: str, dst: str) -> None:
        if is_local(src) and is_local(dst):
            # Plain rename: moves the data file alone (Hadoop's local FS would drag its .crc along).
            os.makedirs(os.path.dirname(local_uri(dst)), exist_ok=True)
            os.rename(local_uri(src), local_uri(dst))
            return
        fs = self.fs(dst)
        dst_p = self._p(dst)
        fs.mkdirs(dst_p.getParent())
        if not fs.rename(self._p(src), dst_p):
            raise TableError(f"could not move data file {src} to {dst}")

    def delete(self, path: str, recursive: bool = True) -> None:
        self.fs(path).delete(self._p(path), recursive)

    def read_text(self, path: str) -> str:
        if is_local(path):
            with open(local_uri(path), encoding="utf-8") as f:
                return f.read()
        stream = self.fs(path).open(self._p(path))
        try:
            return self.jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """Replace ``path``'s content as a whole: written beside it, then renamed over it, so a reader (or a
        process killed half-way) never sees half a file."""
        tmp = f"{path}.tmp-{os.getpid()}"
        if is_local(path):
            os.makedirs(os.path.dirname(local_uri(path)), exist_ok=True)
            with open(local_uri(tmp), "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(local_uri(tmp), local_uri(path))
            return
        fs = self.fs(path)
        out = fs.create(self._p(tmp), True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()
        fs.delete(self._p(path), False)
        if not fs.rename(self._p(tmp), self._p(path)):
            raise TableError(f"could not write {path}")

    def list_names(self, path: str, suffix: str) -> list[str]:
        """The names of the files directly in folder ``path`` that end in ``suffix``, sorted."""
        if is_local(path):
            local = local_uri(path)
            return sorted(n for n in os.listdir(local) if n.endswith(suffix)) if os.path.isdir(local) else []
        p = self._p(path)
        fs = p.getFileSystem(self.hconf)
        if not fs.exists(p):
            return []
        return sorted(st.getPath().getName() for st in fs.listStatus(p)
                      if st.isFile() and st.getPath().getName().endswith(suffix))

    def remove(self, path: str) -> None:
        """Delete one file; gone already is fine."""
        if is_local(path):
            try:
                os.remove(local_uri(path))
            except FileNotFoundError:
                pass
            return
        self.fs(path).delete(self._p(path), False)

    def list_dirs(self, path: str) -> list[tuple[str, int]]:
        p = self._p(path)
        fs = p.getFileSystem(self.hconf)
        if not fs.exists(p):
            return []
        return [(st.getPath().toString(), st.getModificationTime()) for st in fs.listStatus(p) if st.isDirectory()]


def partition_values(rel: str, partition_by: Sequence[str]) -> dict[str, str | None]:
    """``month=2024-01/region=a%20b/part-0.parquet`` -> {"month": "2024-01", "region": "a b"}."""
    values: dict[str, str | None] = {}
    for seg in rel.split("/")[:-1]:
        if "=" in seg:
            k, v = seg.split("=", 1)
            v = unquote(v)
            values[unquote(k)] = None if v == HIVE_NULL else v
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise TableError(f"data file {rel} has no folder for partition column(s) {missing}")
    return {c: values[c] for c in partition_by}
