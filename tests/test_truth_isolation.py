"""No pipeline code may read the generator's planted truth: only the generator writes it and only
benchmarks read it. This test greps lib/, jobs/ and notebooks/ for references to the truth location."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = [ROOT / "lib" / "inlife" / "generator", ROOT / "jobs" / "generate_sample_data.py", ROOT / "benchmarks"]
PATTERN = re.compile(r"truth\.root|[\"']truth[\"'/]|/truth\b|\btruth_root\b")


def _allowed(path: Path) -> bool:
    return any(path == a or a in path.parents for a in ALLOWED)


def test_no_pipeline_code_reads_the_truth():
    offenders = []
    for folder in ("lib", "jobs", "notebooks"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in {".py", ".ipynb", ".sql", ".yaml", ".yml"} or _allowed(path):
                continue
            if "__pycache__" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if PATTERN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "pipeline code references the generator's truth:\n" + "\n".join(offenders)


def test_the_pattern_catches_a_reference(tmp_path):
    assert PATTERN.search('root = conf.path("truth.root")')
    assert PATTERN.search("spark.read.parquet(base + '/truth/subscriber_month')")
    assert not PATTERN.search("ground = 'the truth is out there'")
