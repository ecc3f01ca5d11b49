"""The arguments of one generator run and the calendar they imply."""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field


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

    @property
    def month_list(self) -> list[Month]:
        y, m = (int(x) for x in self.start_month.split("-"))
        out = []
        for i in range(self.months):
            yy, mm = y + (m - 1 + i) // 12, (m - 1 + i) % 12 + 1
            out.append(Month(i, dt.date(yy, mm, 1), calendar.monthrange(yy, mm)[1]))
        return out

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
