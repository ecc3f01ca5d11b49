"""Lint the tags, matrices and policy catalogue (dry run: nothing is written to the lake).

    inlife lint_rules                   # rule files only
    inlife lint_rules --month 2024-03   # also counts over the month's subscriber state
Prints the findings and counts; writes CSV files and an HTML heatmap under rules.lint_dir (or --out).
Exits 1 when a rule is malformed.
"""
from __future__ import annotations

from inlife.rules.lint import lint, render_table, write_outputs


def add_arguments(parser) -> None:
    parser.add_argument("--month", default=None, help="YYYY-MM: also lint against this month's state")
    parser.add_argument("--out", default=None, help="folder for the CSV and HTML outputs (default rules.lint_dir)")


def run(spark, conf, month: str | None = None, out: str | None = None) -> int:
    state = None
    if month:
        from inlife.marketing.build import build_state
        from inlife.tables import Tables
        state = build_state(spark, Tables(spark, conf), month)
    report = lint(conf, spark if state is not None else None, state, month)
    files = write_outputs(report, out or conf.path("rules.lint_dir"), f"lint_{month}" if month else "lint")
    print(render_table(report))
    print("written: " + ", ".join(files))
    return 1 if report.of("malformed") else 0
