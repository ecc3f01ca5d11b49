"""The lake's tables as inlife.tables.catalogue declares them (no Spark session needed).

    inlife tables                  # name, partitioning, writer and meaning of every table
    inlife tables --write-docs     # rewrites docs/TABLES.md
"""
from __future__ import annotations

from pathlib import Path

from inlife.sources import load_sources
from inlife.tables.catalogue import DOC, markdown


def add_arguments(parser) -> None:
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite {DOC.name} in docs/")


def main(conf, write_docs: bool = False) -> int:
    text = markdown(load_sources(conf).order)
    if write_docs:
        doc = Path(conf.project_root) / DOC
        doc.write_text(text, encoding="utf-8")
        print(f"wrote {doc}")
    else:
        print(text, end="")
    return 0
