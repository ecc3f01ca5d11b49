"""``lint``: a dry run over the rule files (and, given a month's state, over the data). Writes nothing to the lake.

Findings:
- ``malformed``: anything the loaders or the condition checker reject (every one, not just the first);
- ``never_fires``: contradictory ranges or values in a rule's condition (``arpu < 30 and arpu > 50``), or a
  policy not offered in the month;
- ``overlap``: two rules of a single-winner matrix with equal precedence that can match the same subscriber
  (the tie goes to the one first in the file - deterministic, but say which you mean);
- ``never_fired``: with data, a rule that matched no subscriber of the month.
Counts (with data): per rule, per matrix cell (value tier x churn grade x stickiness grade) and subscribers
matched by no matrix rule. Printed as a table; written as CSV files and a self-contained HTML heatmap.
"""
from __future__ import annotations

import csv
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inlife.rules.catalogue import Catalogue
from inlife.rules.syntax import NUM, STR, Node
from inlife.rules.loading import Collector
from inlife.rules.model import MULTI, Rule, RuleSet

HEAT_DIMS = ("value_tier", "churn_grade", "stickiness_grade")


@dataclass
class Finding:
    kind: str
    source: str
    rule: str
    message: str


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    rule_counts: list[dict] = field(default_factory=list)     # matrix, rule_id, precedence, subscribers
    cells: list[dict] = field(default_factory=list)           # value_tier, churn_grade, stickiness_grade, counts
    subscribers: int | None = None
    unmatched: int | None = None
    files: list[str] = field(default_factory=list)
    min_count: int = 1          # counts from 1 up to this minus one are shown as "< min_count"

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def shown(self, n: int | None) -> int | str | None:
        """A count as lint shows it: below ``min_count`` (rules.lint_min_count) only "< k", so that a
        narrow condition cannot tell a planner about the one or two people it matches."""
        return f"< {self.min_count}" if n and n < self.min_count else n


# -- interval analysis of conjunctions ------------------------------------------------------------------------
class Domain:
    """What a conjunction allows for one column: an interval (numbers, or strings such as ISO dates) and/or a
    set of allowed values. Bounds of types that do not compare (a number and a string) say nothing."""

    def __init__(self):
        self.lo: Any = None                 # None: unbounded
        self.hi: Any = None
        self.lo_open = self.hi_open = False
        self.mixed = False                  # bounds of types that do not compare: no interval analysis
        self.allowed: set | None = None
        self.excluded: set = set()

    def restrict(self, op: str, v: Any) -> None:
        if op in ("=", "=="):
            self.allowed = {v} if self.allowed is None else self.allowed & {v}
        elif op in ("!=", "<>"):
            self.excluded.add(v)
        elif op in ("<", "<="):
            self._bound("hi", v, op == "<")
        elif op in (">", ">="):
            self._bound("lo", v, op == ">")

    def _bound(self, side: str, v: Any, is_open: bool) -> None:
        current = getattr(self, side)
        if current is not None and not comparable(current, v):
            self.mixed = True
        elif current is None or (v < current if side == "hi" else v > current) or (v == current and is_open):
            setattr(self, side, v)
            setattr(self, f"{side}_open", is_open)

    def allow(self, values: set) -> None:
        self.allowed = set(values) if self.allowed is None else self.allowed & set(values)

    def empty(self) -> bool:
        lo, hi = self.lo, self.hi
        if not self.mixed and lo is not None and hi is not None and comparable(lo, hi) \
                and (lo > hi or (lo == hi and (self.lo_open or self.hi_open))):
            return True
        if self.allowed is not None:
            return not {v for v in self.allowed if v not in self.excluded and self._in_range(v)}
        return False

    def _in_range(self, v: Any) -> bool:
        """Whether ``v`` may lie within the bounds (True when it cannot be compared with them)."""
        if self.mixed:
            return True
        lo, hi = self.lo, self.hi
        below = lo is not None and comparable(lo, v) and (v < lo or (v == lo and self.lo_open))
        above = hi is not None and comparable(hi, v) and (v > hi or (v == hi and self.hi_open))
        return not (below or above)


def comparable(a: Any, b: Any) -> bool:
    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)
    return (number(a) and number(b)) or (isinstance(a, str) and isinstance(b, str))


FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "==", "!=": "!=", "<>": "<>"}


def conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if node.kind == "and":
        return conjuncts(node.args[0]) + conjuncts(node.args[1])
    return [node]


def domains(nodes: list[Node]) -> dict[str, Domain]:
    """Per column, the restriction of the top-level AND-ed simple comparisons with literals."""
    out: dict[str, Domain] = {}
    for n in nodes:
        if n.kind == "cmp":
            a, b = n.args
            if a.kind == "col" and b.kind == "lit" and b.type in (NUM, STR):
                out.setdefault(a.value, Domain()).restrict(n.value, b.value)
            elif b.kind == "col" and a.kind == "lit" and a.type in (NUM, STR):
                out.setdefault(b.value, Domain()).restrict(FLIP[n.value], a.value)
        elif n.kind == "between" and not n.negated and n.args[0].kind == "col" \
                and all(x.kind == "lit" and x.type == NUM for x in n.args[1:]):
            d = out.setdefault(n.args[0].value, Domain())
            d.restrict(">=", n.args[1].value)
            d.restrict("<=", n.args[2].value)
        elif n.kind == "in" and not n.negated and n.args[0].kind == "col":
            out.setdefault(n.args[0].value, Domain()).allow({x.value for x in n.args[1:]})
    return out


def contradiction(nodes: list[Node]) -> str | None:
    for col, d in domains(nodes).items():
        if d.empty():
            return col
    return None


def _when_overlap(a: Rule, b: Rule) -> bool:
    return all(set(a.when[d]) & set(b.when[d]) for d in set(a.when) & set(b.when))


# -- static lint ---------------------------------------------------------------------------------------------
def lint_rules(ruleset: RuleSet, nodes: dict[str, Node | None], collector: Collector,
               catalogue: Catalogue | None = None, month: str | None = None) -> list[Finding]:
    findings = [Finding("malformed", e.where or "", e.rule or "", e.reason + (f" (at {e.part!r})" if e.part else ""))
                for e in collector.errors]
    for r in ruleset.rules:
        if r.rule_id not in nodes:
            continue  # malformed, already reported
        col = contradiction(conjuncts(nodes[r.rule_id]))
        if col:
            findings.append(Finding("never_fires", r.source, r.rule_id,
                                    f"contradictory conditions on {col}: no subscriber can match"))
        if catalogue is not None and month is not None:
            for key in ("policy",):
                p = r.outputs.get(key)
                if p and p in catalogue.policies and not catalogue.policies[p].valid_in(month):
                    findings.append(Finding("never_fires", r.source, r.rule_id, f"policy {p} is not offered in {month}"))
    for rules in ruleset.by_matrix().values():
        family = rules[0].family if rules else ""
        if family in MULTI:
            continue
        for i, a in enumerate(rules):
            for b in rules[i + 1:]:
                if a.precedence != b.precedence or a.rule_id not in nodes or b.rule_id not in nodes:
                    continue
                if not _when_overlap(a, b):
                    continue
                if contradiction(conjuncts(nodes[a.rule_id]) + conjuncts(nodes[b.rule_id])):
                    continue
                findings.append(Finding("overlap", a.source, f"{a.rule_id} / {b.rule_id}",
                                        f"equal precedence {a.precedence} and both can match one subscriber; "
                                        f"the tie goes to {a.rule_id} (first in the file)"))
    return findings


# -- data lint -----------------------------------------------------------------------------------------------
def lint_data(spark, state, ruleset: RuleSet, plans: dict, report: LintReport) -> None:
    from pyspark.sql import functions as F

    from inlife.rules.evaluate import evaluate_state

    evaluated = evaluate_state(spark, state, ruleset, plans, all_matches=True)
    matrices = [m for m in plans if m != "tags"]
    heat = [d for d in HEAT_DIMS if d in evaluated.columns]
    any_match = F.lit(False)
    for m in matrices:
        any_match = any_match | (F.size(F.col(plans[m].match_col)) > 0)
    ev = evaluated.select(*[F.coalesce(F.col(d).cast("string"), F.lit("(null)")).alias(d) for d in heat],
                          *[F.col(p.match_col) for p in plans.values()], any_match.alias("_any")).cache()
    try:
        counts: dict[tuple[str, int], int] = {}
        for m, p in plans.items():
            for r in ev.select(F.explode(F.col(p.match_col)).alias("i")).groupBy("i").count().collect():
                counts[(m, r["i"])] = r["count"]
        for m, p in plans.items():
            for i, rule in enumerate(p.rules):
                n = counts.get((m, i), 0)
                report.rule_counts.append({"matrix": m, "rule_id": rule.rule_id, "precedence": rule.precedence,
                                           "subscribers": n})
                if n == 0:
                    report.findings.append(Finding("never_fired", rule.source, rule.rule_id,
                                                   "matched no subscriber of the month"))
        aggs = [F.count(F.lit(1)).alias("subscribers"), F.sum((~F.col("_any")).cast("int")).alias("unmatched")]
        aggs += [F.sum((F.size(F.col(plans[m].match_col)) > 0).cast("int")).alias(f"matched_{m}") for m in matrices]
        for r in ev.groupBy(*heat).agg(*aggs).orderBy(*heat).collect():
            report.cells.append(r.asDict())
        report.subscribers = sum(c["subscribers"] for c in report.cells)
        report.unmatched = sum(c["unmatched"] or 0 for c in report.cells)
    finally:
        ev.unpersist()


# -- output --------------------------------------------------------------------------------------------------
def render_table(report: LintReport) -> str:
    lines = [f"{'kind':<12} {'rule':<48} message", "-" * 110]
    for f in report.findings:
        lines.append(f"{f.kind:<12} {f.rule:<48} {f.message}  [{Path(f.source).name if f.source else ''}]")
    if report.rule_counts:
        lines += ["", f"{'matrix':<14} {'rule':<48} {'prec':>5} {'subscribers':>12}", "-" * 82]
        for c in report.rule_counts:
            n = report.shown(c["subscribers"])
            lines.append(f"{c['matrix']:<14} {c['rule_id']:<48} {c['precedence']:>5} "
                         f"{n if isinstance(n, str) else format(n, ','):>12}")
    if report.subscribers is not None:
        unmatched = report.shown(report.unmatched)
        lines += ["", f"subscribers: {report.subscribers:,}  matched by no matrix rule: "
                      f"{unmatched if isinstance(unmatched, str) else format(unmatched, ',')}"]
    if not report.findings:
        lines.insert(2, "(no findings)")
    return "\n".join(lines)


def write_outputs(report: LintReport, out_dir: str | Path, stem: str = "lint") -> list[str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    p = out / f"{stem}_findings.csv"
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", "source", "rule", "message"])
        for f in report.findings:
            w.writerow([f.kind, f.source, f.rule, f.message])
    files.append(str(p))
    if report.rule_counts:
        p = out / f"{stem}_rule_counts.csv"
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["matrix", "rule_id", "precedence", "subscribers"])
            w.writeheader()
            w.writerows({**c, "subscribers": report.shown(c["subscribers"])} for c in report.rule_counts)
        files.append(str(p))
    if report.cells:
        p = out / f"{stem}_cells.csv"
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(report.cells[0]))
            w.writeheader()
            w.writerows(shown_cell(report, c) for c in report.cells)
        files.append(str(p))
        p = out / f"{stem}_heatmap.html"
        p.write_text(heatmap_html(report), encoding="utf-8")
        files.append(str(p))
    report.files = files
    return files


def shown_cell(report: LintReport, cell: dict) -> dict:
    """A heat-map cell with its counts as lint shows them (``LintReport.shown``)."""
    return {k: report.shown(v) if k in ("subscribers", "unmatched") or k.startswith("matched_") else v
            for k, v in cell.items()}


def heatmap_html(report: LintReport) -> str:
    """value tier (rows) x churn grade x stickiness grade (columns); colour = share matched by a matrix rule."""
    tiers = ["high", "mid_high", "mid", "low", "(null)"]
    churn = ["abnormal", "normal", "(null)"]
    stick = ["high", "mid", "none", "(null)"]
    by = {(c.get("value_tier"), c.get("churn_grade"), c.get("stickiness_grade")): c for c in report.cells}
    tiers = [t for t in tiers if any(k[0] == t for k in by)] or tiers[:4]
    cols = [(c, s) for c in churn for s in stick if any(k[1] == c and k[2] == s for k in by)]
    head = "".join(f"<th>{html.escape(c)}<br>{html.escape(s)}</th>" for c, s in cols)
    body = []
    for t in tiers:
        cells = []
        for c, s in cols:
            cell = by.get((t, c, s))
            if not cell:
                cells.append("<td class='empty'>-</td>")
                continue
            n, un = cell["subscribers"], cell["unmatched"] or 0
            if report.shown(n) != n:      # too few to show, or to colour by (a share of 1 or 2 people)
                cells.append(f"<td class='empty'>{html.escape(str(report.shown(n)))}</td>")
                continue
            share = (n - un) / n if n else 0
            colour = f"hsl({int(120 * share)}, 70%, {90 - int(35 * share)}%)"
            detail = ", ".join(f"{k[8:]} {report.shown(v)}" for k, v in cell.items() if k.startswith("matched_"))
            cells.append(f"<td style='background:{colour}' title='{html.escape(detail)}'>"
                         f"<b>{n:,}</b><br>{share:.0%} matched</td>")
        body.append(f"<tr><th>{html.escape(t)}</th>{''.join(cells)}</tr>")
    findings = "".join(f"<tr><td>{html.escape(f.kind)}</td><td>{html.escape(f.rule)}</td>"
                       f"<td>{html.escape(f.message)}</td></tr>" for f in report.findings)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>inlife rules lint</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:4px 8px;text-align:center}} td.empty{{color:#bbb}}</style></head><body>
<h1>Matrix coverage: value tier &times; churn grade &times; stickiness grade</h1>
<p>Subscribers: {report.subscribers or 0:,}; matched by no matrix rule: {report.unmatched or 0:,}.
Cell colour: share of the cell's subscribers matched by at least one matrix rule (red 0 % .. green 100 %).
Hover a cell for the per-matrix counts.</p>
<table><tr><th>value tier \\ churn, stickiness</th>{head}</tr>{''.join(body)}</table>
<h2>Findings</h2><table><tr><th>kind</th><th>rule</th><th>message</th></tr>{findings}</table>
</body></html>"""


def lint(conf, spark=None, state=None, month: str | None = None, paths=None) -> LintReport:
    """Static lint of the rule files; with ``spark`` and ``state`` (a month's state) also the data lint."""
    from inlife.rules.columns import kinds_of, static_kinds
    from inlife.rules.compile import Paths, check, load_ruleset
    from inlife.rules.evaluate import plan

    collector = Collector(collect=True)
    ruleset, catalogue = load_ruleset(paths or Paths.from_conf(conf), conf.get("rules.params"), collector)
    kinds = kinds_of(state.schema) if state is not None else static_kinds(conf)
    nodes = check(ruleset, kinds, collector)
    report = LintReport(lint_rules(ruleset, nodes, collector, catalogue, month),
                        min_count=int(conf.get("rules.lint_min_count")))
    if spark is not None and state is not None:
        from inlife.rules.derived import add_derived

        state = add_derived(state, month)
        ok = RuleSet([r for r in ruleset.rules if r.rule_id in nodes], ruleset.dimensions, ruleset.matrices)
        plans = plan(ok, nodes, catalogue, month, max_cells=int(conf.get("rules.max_cells")))
        lint_data(spark, state, ok, plans, report)
    return report
