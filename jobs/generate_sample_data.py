"""Generate sample landing extracts (every source of conf/sources.yaml) and their planted truth.

    inlife generate_sample_data --subscribers 10000 --months 2 --start-month 2024-01 --seed 42

Writes <landing.root>/<source>/<YYYY-MM-DD>/ files, <landing.root>/_manifest.json and
<truth.root>/subscriber_month/ (Parquet). The logic lives in inlife.generator.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--subscribers", type=int, default=10_000, help="subscribers at the start (default 10000)")
    parser.add_argument("--months", type=int, default=1, help="number of months (default 1)")
    parser.add_argument("--start-month", default="2024-01", help="first month, YYYY-MM (default 2024-01)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--bad-row-rate", type=float, default=None,
                        help="share of records made bad (default generator.bad_row_rate, 0.01)")
    parser.add_argument("--encoding", default=None, choices=["UTF-8", "GBK"],
                        help="file encoding (default: generator.encoding / UTF-8)")


def run(spark, conf, subscribers: int = 10_000, months: int = 1, start_month: str = "2024-01", seed: int = 42,
        bad_row_rate: float | None = None, encoding: str | None = None) -> int:
    from inlife.generator import Params, generate

    generate(spark, conf, Params.from_conf(conf, subscribers, months, start_month, seed, bad_row_rate, encoding))
    return 0
