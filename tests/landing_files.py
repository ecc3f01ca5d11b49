"""Hand-written landing files for ingestion tests (the generator's layout, tiny and explicit)."""
from __future__ import annotations

import gzip
from pathlib import Path

from inlife.sources import load_sources


def write_batch(conf, source: str, batch: str, lines: list[str], name: str | None = None,
                encoding: str | None = None, header: bool | None = None, raw: bytes | None = None) -> Path:
    """Write ``lines`` as one landing file of ``source`` for ``batch`` in the contract's format."""
    src = load_sources(conf)[source]
    folder = Path(conf.path("landing.root")) / source / batch
    folder.mkdir(parents=True, exist_ok=True)
    enc = encoding or conf.get("landing.encoding") or src.encoding
    if src.format == "csv":
        path = folder / (name or "part-00000.csv")
        body = ([src.header] if header is not False else []) + lines
        data = raw if raw is not None else "".join(line + "\n" for line in body).encode(enc)
        path.write_bytes(data)
    else:
        path = folder / (name or "part-00000.gz")
        data = raw if raw is not None else "".join(line + "\n" for line in lines).encode(enc)
        path.write_bytes(gzip.compress(data, mtime=0))
    return path


def subscriber(sid: int, snapshot: str = "2024-01-01", status: str = "ACTIVE", vip: str = "GOLD",
               region: str = "杭州") -> str:
    return (f"{sid},1380000{sid:04d},{snapshot},2020-05-06,{status},2020-05-06,GOTONE,GT88,全球通88套餐,0,"
            f"{region},西湖区,G01,1985-03-04,M,{vip}")


def voice(sid: int, peer: str, start: str, duration: str = "60", charge: str = "0.5", operator: str = "CMCC",
          direction: str = "MO", call_type: str = "LOCAL", province: str = "安徽", cell: str = "C1") -> str:
    return "|".join([str(sid), peer, operator, province, direction, call_type, start, duration, charge, cell])
