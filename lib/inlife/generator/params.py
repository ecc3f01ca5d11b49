"""The arguments of one generator run and the calendar they imply."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from inlife.errors import InlifeError
from inlife.months import MONTH_RE, add_months, month_end, month_start


@dataclass(frozen=True)
class Month:
    index: int                 # 0 = the start month
    start: dt.date
    days: int

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def day(self, d: int) -> dt.date:
        return self.start + dt.timedelta(days=d - 1)


@dataclass(frozen=True)
class Params:
    subscribers: int           # the base at the start (activations during the run come on top)
    months: int
    start_month: str           # YYYY-MM
    seed: int
    bad_row_rate: float = 0.01
    encoding: str = "UTF-8"
    activation_rate: float = 0.025   # new subscribers per month, as a share of the initial base
    late_rate: float = 0.004         # good records delivered 1-3 days after their event day
    rows_per_partition: int = 200_000
    extra: dict = field(default_factory=dict)
    # Only these sources (empty: every one). Their folders are replaced and the manifest lists them alone;
    # the population, states and truth are the same as in a whole run, so are the lines of each source.
    only: tuple = ()

    @classmethod
    def from_conf(cls, conf, subscribers: int, months: int, start_month: str, seed: int,
                  bad_row_rate: float | None = None, encoding: str | None = None) -> Params:
        """The run's arguments over the ``generator`` section's defaults; errors name the argument."""
        if subscribers < 1 or months < 1:
            raise InlifeError("--subscribers and --months must be at least 1")
        if not MONTH_RE.match(start_month or ""):
            raise InlifeError(f"--start-month {start_month!r}: expected YYYY-MM")
        g = conf.get("generator")
        rate = g["bad_row_rate"] if bad_row_rate is None else bad_row_rate
        if not 0 <= rate < 0.5:
            raise InlifeError(f"--bad-row-rate {rate}: expected a share between 0 and 0.5")
        return cls(subscribers=subscribers, months=months, start_month=start_month, seed=seed,
                   bad_row_rate=rate, encoding=encoding or g["encoding"], activation_rate=g["activation_rate"],
                   late_rate=g["late_rate"], rows_per_partition=g["rows_per_partition"])

    @property
    def month_list(self) -> list[Month]:
        labels = [add_months(self.start_month, i) for i in range(self.months)]
        return [Month(i, month_start(m), month_end(m).day) for i, m in enumerate(labels)]

    @property
    def start_date(self) -> dt.date:
        return self.month_list[0].start

    @property
    def end_date(self) -> dt.date:
        return self.month_list[-1].end

    @property
    def activations_per_month(self) -> int:
        return max(1, round(self.subscribers * self.activation_rate))

    @property
    def total_ids(self) -> int:
        """Subscriber indexes 0..total_ids-1: the initial base, then each month's activations in turn."""
        return self.subscribers + self.activations_per_month * self.months

    def partitions(self, rows: int) -> int:
        return max(2, -(-rows // self.rows_per_partition))
