"""Progress lines for long work: one line per stage with its row count and seconds.

    with stage("voice_monthly", conf) as st:
        result = tables.overwrite_partitions(...)
        st.rows = result.rows
prints ``[inlife] voice_monthly  rows=1,234,567  12.3s`` to stderr when ``run.progress`` is on.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Stage:
    name: str
    rows: int | None = None
    note: str = ""
    started: float = field(default_factory=time.time)
    seconds: float = 0.0


@contextmanager
def stage(name: str, conf=None, stream=None):
    st = Stage(name)
    enabled = True if conf is None else bool(conf.get("run.progress", True))
    try:
        yield st
    finally:
        st.seconds = time.time() - st.started
        if enabled:
            rows = f"  rows={st.rows:,}" if st.rows is not None else ""
            note = f"  {st.note}" if st.note else ""
            print(f"[inlife] {name:<28}{rows}  {st.seconds:.1f}s{note}", file=stream or sys.stderr, flush=True)
