"""Months as the jobs name them (``YYYY-MM``) and the dates they span: the one place for month arithmetic,
below every layer."""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from inlife.errors import InlifeError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise InlifeError(f"month {month!r} is not of the form YYYY-MM")
    return month


def month_start(month: str) -> date:
    y, m = map(int, check_month(month).split("-"))
    return date(y, m, 1)


def month_end(month: str) -> date:
    start = month_start(month)
    return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def add_months(month: str, n: int) -> str:
    start = month_start(month)
    idx = start.year * 12 + start.month - 1 + n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    out, m = [], check_month(first)
    while m <= check_month(last):
        out.append(m)
        m = add_months(m, 1)
    return out


def batch_window(month: str, late_days: int) -> tuple[date, date]:
    """Batches that can hold events of ``month``: its days plus ``late_days`` after it (late arrivals)."""
    return month_start(month), month_end(month) + timedelta(days=late_days)
