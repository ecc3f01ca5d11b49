"""Ingest landing extracts into raw.<source> Delta tables; bad rows go to quarantine.<source>.

    inlife ingest --source all --batch-date 2024-03-31
    inlife ingest --source voice_cdr --from 2024-03-01 --to 2024-03-31
"""
from __future__ import annotations

import json
from datetime import date

from inlife.errors import JobError


def add_arguments(parser) -> None:
    parser.add_argument("--source", default="all", help="a source of conf/sources.yaml, or all (default)")
    parser.add_argument("--batch-date", type=_date, default=None, help="one batch, YYYY-MM-DD")
    parser.add_argument("--from", dest="date_from", type=_date, default=None, help="first batch of a range")
    parser.add_argument("--to", dest="date_to", type=_date, default=None, help="last batch of a range")
    parser.add_argument("--report", default=None, help="also write the per-batch report as JSON to this file")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise JobError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def run(spark, conf, source="all", batch_date=None, date_from=None, date_to=None, report=None):
    from inlife.ingest.pipeline import Ingestion, date_range

    if batch_date and (date_from or date_to):
        raise JobError("give --batch-date or --from/--to, not both")
    if batch_date:
        dates = [batch_date]
    elif date_from and date_to:
        dates = date_range(date_from, date_to)
    else:
        raise JobError("give --batch-date YYYY-MM-DD, or --from YYYY-MM-DD --to YYYY-MM-DD")
    reports = Ingestion(spark, conf).run(source, dates)
    for r in reports:
        t = r.totals()
        q = ", ".join(f"{k}={v:,}" for k, v in t["quarantined"].items()) or "none"
        print(f"{t['source']:<17} batches={t['batches']:<3} read={t['rows_read']:>12,} written={t['rows_written']:>12,}"
              f"  late={t['late']:,}  quarantined: {q}  build={t['build_seconds']}s validation={t['validation_seconds']}s")
    if report:
        with open(report, "w", encoding="utf-8") as fh:
            json.dump([r.as_dict() for r in reports], fh, indent=2, default=str)
    return 0
