"""Every table of the lake, declared once: its name, partitioning, write mode, suite, writer and meaning.

Jobs refer to tables through the constants below, never by a name written out; ``Tables`` and
``Publication`` take a declared table's partitioning from here. The raw and quarantine tables follow the
source contract (``conf/sources.yaml``): one of each per source, named by ``raw()`` and ``quarantine()``.

    inlife tables                 # lists them
    inlife tables --write-docs    # rewrites docs/TABLES.md from these declarations
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inlife.tables.base import APPEND, OVERWRITE, OVERWRITE_PARTITIONS

DOC = Path("docs") / "TABLES.md"     # in the project folder (Config.project_root)


@dataclass(frozen=True)
class Declared:
    name: str                        # layer.table
    description: str
    partition_by: tuple[str, ...]
    writer: str                      # the function that publishes it: module.function
    mode: str = OVERWRITE_PARTITIONS
    validated: bool = True           # whether a suite under expectations/<layer>/<table>.json checks it

    @property
    def layer(self) -> str:
        return self.name.split(".")[0]


CATALOGUE: dict[str, Declared] = {}


def declare(name: str, description: str, partition_by: tuple[str, ...], writer: str, **kw) -> str:
    if name in CATALOGUE:
        raise ValueError(f"table {name} is declared twice")
    CATALOGUE[name] = Declared(name, description, partition_by, writer, **kw)
    return name


def declared(name: str) -> Declared | None:
    """The declaration of ``name``, whether in the list above or one of the per-source tables."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    layer, _, table = name.partition(".")
    if layer in ("raw", "quarantine") and table:
        return _source_table(layer, table)
    return None


def in_layer(layer: str) -> list[str]:
    """The declared tables of ``layer``, in the order they are declared (the order they are built)."""
    return [name for name, d in CATALOGUE.items() if d.layer == layer]


# -- the interface layer: one raw and one quarantine table per source of conf/sources.yaml ---------------
RAW_PARTITION = ("batch_date",)


def raw(source: str) -> str:
    return f"raw.{source}"


def quarantine(source: str) -> str:
    return f"quarantine.{source}"


def _source_table(layer: str, source: str) -> Declared:
    if layer == "raw":
        return Declared(raw(source), f"the {source} extract as landed, typed, one partition per batch day",
                        RAW_PARTITION, "inlife.ingest.pipeline.Ingestion.run")
    return Declared(quarantine(source), f"the {source} rows refused by ingestion, with the reason",
                    RAW_PARTITION, "inlife.ingest.pipeline.Ingestion.run", validated=False)


SUBSCRIBERS = raw("subscribers")
VOICE_CDR = raw("voice_cdr")
BILLING = raw("billing")
RECHARGES = raw("recharges")
BALANCES = raw("balances")
SERVICE_CONTACTS = raw("service_contacts")
CAMPAIGN_RESPONSES = raw("campaign_responses")

# -- intermediate: one row per subscriber and month, one module per table ------------------------------
MONTH = ("month",)
_INTERMEDIATE = "inlife.intermediate.build.build_intermediate"
SUBSCRIBER_MONTHLY = declare("intermediate.subscriber_monthly", "each subscriber's state at the month's end",
                             MONTH, _INTERMEDIATE)
VOICE_MONTHLY = declare("intermediate.voice_monthly", "calls by type, direction, time of day and peer",
                        MONTH, _INTERMEDIATE)
SOCIAL_CIRCLE = declare("intermediate.social_circle", "the calling circle: its breadth, depth and spread",
                        MONTH, _INTERMEDIATE)
VAS_MONTHLY = declare("intermediate.vas_monthly", "value-added services: SMS, data, products held and used",
                      MONTH, _INTERMEDIATE)
BILLING_MONTHLY = declare("intermediate.billing_monthly", "the month's bill by item", MONTH, _INTERMEDIATE)
RECHARGE_MONTHLY = declare("intermediate.recharge_monthly", "prepaid recharges and balances", MONTH,
                           _INTERMEDIATE)
SERVICE_MONTHLY = declare("intermediate.service_monthly", "complaints, hotline and online-hall contacts",
                          MONTH, _INTERMEDIATE)

# -- unified: the customer view (docs/data_dictionary.md) and its labels ------------------------------
CUSTOMER_VIEW = declare("unified.customer_view", "one row per active subscriber and month: every factor",
                        MONTH, "inlife.unified.build.build_view")
OUTCOMES = declare("unified.outcomes", "what happened to each subscriber in the months after (labels)",
                   MONTH, "inlife.unified.build.build_outcomes")

# -- scores ---------------------------------------------------------------------------------------------
VALUE = declare("scores.value", "AHP value score, tier and criteria (conf/value_model.yaml)", MONTH,
                "inlife.scores.build.build_value")
GROUP_VALUE = declare("scores.group_value", "value of each group (enterprise) customer", MONTH,
                      "inlife.scores.build.build_value")
SEGMENTS = declare("scores.segments", "each subscriber's consumption segment (conf/segments.yaml)", MONTH,
                   "inlife.scores.build.build_segments")
SEGMENT_CENTROIDS = declare("scores.segment_centroids", "segment centres, kept to match segments across months",
                            MONTH, "inlife.scores.build.build_segments", validated=False)
SEGMENT_PROFILES = declare("scores.segment_profiles", "each segment's size and distinguishing factors", MONTH,
                           "inlife.scores.build.build_segments", validated=False)
MODEL_SCORES = declare("scores.model_scores", "every champion model's score, grade and reasons", MONTH,
                       "inlife.models.scoring.score_month")
TAGS = declare("scores.tags", "the month's screening tags from the rules (conf/rules/)", MONTH,
               "inlife.marketing.build.build_recommendations")
TAGS_DAILY = declare("scores.tags_daily", "the night's retention screening tags", ("day",),
                     "inlife.marketing.build.build_daily_tags")

# -- marketing ------------------------------------------------------------------------------------------
RULES = declare("marketing.rules", "every rule of the matrices as last compiled", (),
                "inlife.rules.compile.sync_rule_table", mode=OVERWRITE, validated=False)
RECOMMENDATIONS = declare("marketing.recommendations", "each subscriber's matching offers by family", MONTH,
                          "inlife.marketing.build.build_recommendations")
TARGETS = declare("marketing.targets", "who each campaign selects, holds out and contacts, by batch",
                  ("batch",), "inlife.marketing.targeting.run_batch")
CONTACT_HISTORY = declare("marketing.contact_history", "every contact made, for the contact limits",
                          ("batch",), "inlife.marketing.targeting.run_batch")
WORK_ORDER_EVENTS = declare("marketing.work_order_events", "every change of a work order's status, by the "
                            "batch that made it (conf/work_orders.yaml)", ("batch",),
                            "inlife.marketing.targeting.run_batch")
WORK_ORDERS = declare("marketing.work_orders", "every work order with its owner channel, due time and status now",
                      (), "inlife.marketing.targeting.run_batch", mode=OVERWRITE)

# -- evaluation -----------------------------------------------------------------------------------------
CAMPAIGN_RESULTS = declare("evaluation.campaign_results", "per campaign, channel and cell: response and uplift",
                           MONTH, "inlife.evaluation.build.build_evaluation")
UPLIFT_CURVE = declare("evaluation.uplift_curve", "uplift and Qini at the top k share by expected value",
                       MONTH, "inlife.evaluation.build.build_evaluation")
RULE_PRECISION = declare("evaluation.rule_precision", "each tag's next-month churn precision", MONTH,
                         "inlife.evaluation.build.build_evaluation")

# -- ops ------------------------------------------------------------------------------------------------
RUNS = declare("ops.runs", "every job run: parameters, start and end, status, the table versions it committed",
               (), "inlife.tables.runs.recorded", mode=APPEND, validated=False)

# -- smoke: the deployment check's own table ------------------------------------------------------------
SMOKE_EVENTS = declare("smoke.events", "rows the smoke job writes and reads back on a new cluster", MONTH,
                       "inlife_jobs.smoke.run", validated=False)


def markdown(sources: list[str]) -> str:
    """docs/TABLES.md: the declared tables, then the per-source ones of ``sources``."""
    lines = ["# Tables", "",
             "Generated from `lib/inlife/tables/catalogue.py` by `inlife tables --write-docs`; do not "
             "edit by hand. Each table lives at `<lake.root>/<layer>/<table>` (or `lake.locations`) and is "
             "registered in the session catalog under its name. Suites: `expectations/<layer>/<table>.json`.",
             "", "| table | partitioned by | written by | validated | what it holds |",
             "| --- | --- | --- | --- | --- |"]
    rows = list(CATALOGUE.values()) + [declared(f(s)) for f in (raw, quarantine) for s in sources]
    for d in rows:
        lines.append(f"| `{d.name}` | {', '.join(d.partition_by) or '-'} | `{d.writer}` | "
                     f"{'yes' if d.validated else 'no'} | {d.description} |")
    return "\n".join(lines) + "\n"

