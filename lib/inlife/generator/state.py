"""The subscriber-month: every driver of behaviour for one month, the true churn probability and its draw.

One row per subscriber alive at some point of the month. The churn probability is a logistic function of
quantities that the extracts show *as they are* — the count of complaints (and how many unresolved),
unsatisfied survey replies, calls to competitors' service numbers (and their rise), prepaid recharges
(none = missed) and the balance level, a contract ending, short tenure, the month's ARPU decline, peers who
churned (peers in the call circle who leave during the month) — plus a small hidden noise. The event
generators then emit exactly those counts, so a model working on the extracts can recover most of the
oracle's ranking. The drivers of month M set the probability of churning in month M+1 (people leave after
a bad month, not during it), so the view of month M holds every cause the oracle uses for the label
"churned in the next month".

State carried from month to month (in the previous month's row): plan, VIP level, VAS holdings, the
usage level, the dissatisfaction process, last month's competitor calls and last month's churn risk.

The model's numbers (weights, rates, probabilities, caps) are in one table, generator/coefficients.py;
the numbers left here are structure: segment and brand indexes, days of the month, neutral levels.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from inlife.generator import reference as R
from inlife.generator.circle import ON_NET, slots
from inlife.generator.coefficients import COEFFICIENTS
from inlife.generator.params import Month, Params
from inlife.generator.population import add_attributes
from inlife.generator.rand import normal, pick, poisson, sigmoid, uniform

DAY = 86400
PRODUCTS = R.VAS_PRODUCTS
CARRY = (["plan_idx_end", "vip_end", "level_end", "dis_end", "n_comp", "risk_end"]
         + [f"held_end_{x}" for x in PRODUCTS])


def _population(spark: SparkSession, p: Params, month: Month) -> DataFrame:
    """Static attributes of every index activated by the end of ``month``."""
    n = p.subscribers + p.activations_per_month * (month.index + 1)
    base = spark.range(0, n, numPartitions=p.partitions(n)).withColumnRenamed("id", "idx")
    return add_attributes(p, base).filter(F.col("activation_date") <= F.lit(month.end))


def propensity_logits(a) -> dict[str, Column]:
    """True monthly propensity (log-odds) to order each modelled VAS product, from observable traits."""
    seg, age, brand = a["segment_idx"], a["age"], a["brand_idx"]
    youth = (seg == 3).cast("double")
    business = ((seg == 2) | (seg == 5)).cast("double")
    data = F.log(a["data_mult"])
    held = lambda x: a[f"held_{x}"].cast("double")  # noqa: E731
    c = COEFFICIENTS.propensity
    news, crbt, ring, net = c.newspaper, c.crbt, c.ringtone_change, c.mobile_internet
    return {
        "NEWSPAPER": F.lit(news.intercept) + news.older * (age >= news.older_from_age).cast("double")
        + news.business * business + news.gotone * (brand == 0).cast("double") + news.holds_mail139 * held("MAIL139"),
        "CRBT": F.lit(crbt.intercept) + crbt.youth * youth + crbt.mzone * (brand == 1).cast("double")
        + crbt.young * (age < crbt.young_below_age).cast("double")
        + crbt.holds_fetion * held("FETION") - crbt.low_use * (seg == 6).cast("double"),
        "RINGTONE_CHANGE": F.lit(ring.intercept) + ring.holds_crbt * held("CRBT") + ring.youth * youth,
        "MOBILE_INTERNET": F.lit(net.intercept) + net.data * data + net.youth * youth + net.business * business
        - net.senior * (seg == 4).cast("double"),
        "FETION": F.lit(c.fetion.intercept) + c.fetion.youth * youth + c.fetion.business * business,
        "MAIL139": F.lit(c.mail139.intercept) + c.mail139.business * business,
        "FAMILY_NET": F.lit(c.family_net.intercept) + c.family_net.local_talker * (seg == 0).cast("double")
        + c.family_net.senior * (seg == 4).cast("double"),
    }


def _churn_draw(seed: int, idx: Column, month_index: int) -> Column:
    """The subscriber-month's churn draw: one definition for the state and for the peers it is known to."""
    return uniform(seed, "churn", idx, F.lit(month_index))


@dataclass(frozen=True)
class _Month:
    """What every step of a subscriber-month draws with: the seed, the month, and its draws per subscriber."""
    seed: int
    month: Month

    def u(self, salt: str) -> Column:
        """A uniform draw of this subscriber-month."""
        return uniform(self.seed, salt, F.col("idx"), F.lit(self.month.index))

    def z(self, salt: str) -> Column:
        """A standard normal draw of this subscriber-month."""
        return normal(self.seed, salt, F.col("idx"), F.lit(self.month.index))


def month_state(spark: SparkSession, p: Params, month: Month, prev: DataFrame | None,
                churned_before: DataFrame | None, population: DataFrame | None = None) -> DataFrame:
    """All subscribers alive in ``month`` with the month's drivers, truth and churn draw.

    ``population``: the static attributes of everyone activated by the month end (computed if omitted).
    Each step adds its columns to the rows of the one before; the order matters (each reads the last).
    """
    pop = population if population is not None else _population(spark, p, month)
    if churned_before is not None:
        pop = pop.join(F.broadcast(churned_before.select("idx")), "idx", "left_anti")
    if prev is not None:
        pop = pop.join(prev.select("idx", *[F.col(c).alias(f"prev_{c}") for c in CARRY]), "idx", "left")
    else:
        for c in CARRY:
            pop = pop.withColumn(f"prev_{c}", F.lit(None))
    at = _Month(p.seed, month)
    return (_with_peers_churned(pop, p, prev, at)
            .transform(_with_mood_and_usage, at)
            .transform(_with_contact_counts, at)
            .transform(_with_holdings, at)
            .transform(_with_stickiness_and_churn, at)
            .transform(_with_month_events, at)
            .transform(_carried_over))


def _with_peers_churned(pop: DataFrame, p: Params, prev: DataFrame | None, at: _Month) -> DataFrame:
    """Peers (call-circle slots on-net) who churn during this month: they still call before they go, so the
    month's CDRs show them, and they raise the subscriber's risk for the next month. Who churns this month
    is already decided by last month's risk (the same draw as the churn step's), so it is known up front.
    The first month has no last month: its churned peers count from the second month on."""
    if prev is None:
        return pop.withColumn("peers_churned", F.lit(0))
    churning = (prev.where(~F.col("churned"))
                .where(_churn_draw(at.seed, F.col("idx"), at.month.index) < sigmoid(F.col("risk_end")))
                .select(F.col("idx").alias("peer_idx")))
    circle = slots(p, pop.select("idx", "segment_idx", "member", "block", "pos", "group_size", "home_prov_idx"))
    lost = (circle.filter(F.col("kind").isin(*ON_NET))
            .join(F.broadcast(churning), "peer_idx")
            .groupBy("idx").agg(F.count(F.lit(1)).alias("peers_churned")))
    # Nobody lost is 0, not null: least(null, 3) is 3 in Spark (null arguments are skipped).
    return pop.join(lost, "idx", "left").fillna(0, subset=["peers_churned"])


def _with_mood_and_usage(df: DataFrame, at: _Month) -> DataFrame:
    """Tenure, dissatisfaction (a persistent disposition plus an AR(1) monthly mood), a decline in usage
    for the dissatisfied, and the month's usage level and ARPU."""
    col, month, u, z = F.col, at.month, at.u, at.z
    d, use = COEFFICIENTS.dissatisfaction, COEFFICIENTS.usage
    new_this_month = col("activation_date") >= F.lit(month.start)
    act_day = F.when(new_this_month, F.dayofmonth("activation_date")).otherwise(1)
    tenure_m = F.months_between(F.lit(month.start), col("activation_date"))
    mood_prev = F.coalesce(col("prev_dis_end"), normal(at.seed, "mood0", col("idx")))
    mood = d.mood_persistence * mood_prev + d.mood_shock * z("mood")
    level_prev = F.coalesce(col("prev_level_end"), F.lit(1.0))
    df = df.select(
        "*",
        new_this_month.alias("new_this_month"), act_day.alias("act_day"), tenure_m.alias("tenure_months"),
        mood.alias("dis_end"), mood_prev.alias("mood_prev"), u("declining").alias("_u_decl"),
    )
    df = df.select("*", (d.grumpy * col("grumpy") + d.mood * col("dis_end")).alias("dissatisfaction"))
    declining = col("_u_decl") < sigmoid(use.decline_slope * col("dissatisfaction") - use.decline_threshold)
    df = df.select("*", F.when(declining, use.decline_min + use.decline_span * u("decline")).otherwise(0.0)
                   .alias("decline"))
    decline = col("decline")
    level = F.when(decline > 0, level_prev * (1 - use.level_loss * decline)) \
        .otherwise(level_prev + use.level_recovery * (1 - level_prev)) * (1 + use.level_noise * z("level"))
    df = df.select("*", level.alias("level"))
    return df.select("*", (col("arpu_base") * col("level")).alias("arpu_month"))


def _with_contact_counts(df: DataFrame, at: _Month) -> DataFrame:
    """The month's counts of customer-service contacts, survey replies, competitor calls and recharges
    (Poisson splitting keeps resolved and unresolved complaints independent)."""
    col, u, z = F.col, at.u, at.z
    c, comp, rech = COEFFICIENTS.contacts, COEFFICIENTS.competitor_calls, COEFFICIENTS.recharges
    d = COEFFICIENTS.dissatisfaction
    dis, decline, arpu_m = col("dissatisfaction"), col("decline"), col("arpu_month")
    lam_c = c.complaint_rate * F.exp(c.complaint_slope * dis)
    # Competitors' service numbers: a subscriber weighing a switch calls them. Last month's intent stands in
    # for last month's calls where none are carried (the first month, a new subscriber).
    intent = sigmoid(comp.intent_slope * dis - comp.intent_threshold)
    intent_prev = sigmoid(comp.intent_slope * (d.grumpy * col("grumpy") + d.mood * col("mood_prev"))
                          - comp.intent_threshold)
    rech_lam = F.least(F.greatest(arpu_m / rech.arpu_per_recharge, F.lit(rech.min_rate)), F.lit(rech.max_rate)) \
        * F.exp(rech.decline * decline) * F.exp(rech.dissatisfaction * F.greatest(dis, F.lit(0.0)))
    df = df.select("*", (lam_c * c.resolved_share).alias("_l_res"), (lam_c * c.unresolved_share).alias("_l_unres"),
                   (c.unsatisfied_max * sigmoid(c.unsatisfied_slope * dis - c.unsatisfied_offset)).alias("_l_unsat"),
                   (c.satisfied_max * sigmoid(-dis)).alias("_l_sat"),
                   (comp.base_rate + comp.intent_rate * intent).alias("_l_comp"),
                   (comp.base_rate + comp.intent_rate * intent_prev).alias("_l_comp_prev"),
                   rech_lam.alias("_l_rech"))
    return df.select(
        "*",
        poisson(col("_l_res"), u("n-res")).alias("n_complaint_resolved"),
        poisson(col("_l_unres"), u("n-unres")).alias("n_complaint_unresolved"),
        poisson(col("_l_unsat"), u("n-unsat")).alias("n_unsatisfied"),
        poisson(F.lit(c.neutral_rate), u("n-neutral")).alias("n_neutral"),
        poisson(col("_l_sat"), u("n-sat")).alias("n_satisfied"),
        poisson(F.lit(c.hotline_rate), u("n-10086")).alias("n_10086"),
        poisson(F.lit(c.consult_rate), u("n-consult")).alias("n_consult"),
        poisson(col("_l_comp"), u("n-comp"), z("n-comp-z")).alias("n_comp_month"),
        F.coalesce(col("prev_n_comp"), poisson(col("_l_comp_prev"), u("n-comp-prev"))).alias("n_comp_prev"),
        F.when(col("prepaid") == 1, F.least(poisson(col("_l_rech"), u("n-rech"), z("n-rech-z")), F.lit(rech.max_count)))
        .otherwise(0).alias("n_recharges"),
    ).drop("_u_decl", "_l_res", "_l_unres", "_l_unsat", "_l_sat", "_l_comp", "_l_comp_prev", "_l_rech", "mood_prev")


def _with_holdings(df: DataFrame, at: _Month) -> DataFrame:
    """Balance level, a contract ending soon, and the VAS products held at the start of the month: carried,
    or for the initial base and new subscribers drawn from the propensities shifted up."""
    col, month, z = F.col, at.month, at.z
    b, vas = COEFFICIENTS.balance, COEFFICIENTS.vas
    low_balance_level = F.exp(F.log(col("arpu_month") * b.arpu_share + b.offset) + b.sd * z("bal"))
    bal_level = F.when(col("n_recharges") == 0, low_balance_level * b.no_recharge_factor).otherwise(low_balance_level)
    ends_soon = col("has_contract") & (col("contract_end") >= F.lit(month.start)) & \
        (col("contract_end") <= F.add_months(F.lit(month.end), 1))
    held = {x: F.coalesce(col(f"prev_held_end_{x}"), F.when(col("new_this_month"), F.lit(False))) for x in PRODUCTS}
    df = df.select("*", bal_level.alias("balance_level"), ends_soon.alias("contract_ends_soon"),
                   *[h.alias(f"held_{x}") for x, h in held.items()])
    # In this order: a product's propensity may depend on the holdings drawn before it.
    for x in ["FETION", "MAIL139", "FAMILY_NET", "CRBT", "NEWSPAPER", "RINGTONE_CHANGE", "MOBILE_INTERNET"]:
        logit = propensity_logits({c: col(c) for c in df.columns})[x]
        first_seen = uniform(at.seed, "held0-" + x, col("idx")) < sigmoid(logit + vas.initial_shift)
        df = df.withColumn(f"held_{x}", F.coalesce(col(f"held_{x}"), first_seen))
    return df


def _with_stickiness_and_churn(df: DataFrame, at: _Month) -> DataFrame:
    """True stickiness, this month's drivers of churn (carried as next month's risk), the churn draw on last
    month's risk, and the true propensities.

    Leaving is decided on what the subscriber lived through the month before: this month's drivers set
    next month's risk (carried as risk_end), and this month's churn draw uses last month's. A model on the
    view of month M therefore sees every cause of churn in M+1, as in a real operator's data, and the
    oracle (the true probability) holds nothing the extracts could not show in time. The first month has
    no previous one and uses its own drivers; nobody churns in the month they were activated."""
    col, month, u, z = F.col, at.month, at.u, at.z
    st, ch = COEFFICIENTS.stickiness, COEFFICIENTS.churn
    logits = propensity_logits({c: col(c) for c in df.columns})
    n_held = sum((col(f"held_{x}").cast("int") for x in PRODUCTS), F.lit(0))
    onnet = pick([c[0] + c[1] + c[2] for c in R.CIRCLE], col("segment_idx"))
    stick_logit = (F.lit(st.intercept) + st.log_tenure * F.log1p(F.greatest(col("tenure_months"), F.lit(0.0)))
                   + st.vpn * col("vpn_flag") + st.family_net * col("held_FAMILY_NET").cast("double")
                   + st.per_product * n_held + st.on_net_circle * onnet
                   + st.contract * (col("has_contract") & ~col("contract_ends_soon")).cast("double")
                   + st.postpaid * (col("prepaid") == 0).cast("double"))
    stickiness = 100 * sigmoid(stick_logit)
    tenure, n_unres, n_comp = col("tenure_months"), col("n_complaint_unresolved"), col("n_comp_month")
    churn_logit = (F.lit(ch.intercept)
                   + ch.new * (tenure < ch.new_below_months).cast("double")
                   + ch.young * ((tenure >= ch.new_below_months) & (tenure < ch.young_below_months)).cast("double")
                   + ch.resolved * F.least(col("n_complaint_resolved"), F.lit(ch.resolved_cap))
                   + ch.unresolved * F.least(n_unres, F.lit(ch.unresolved_cap))
                   + ch.unsatisfied * F.least(col("n_unsatisfied"), F.lit(ch.unsatisfied_cap))
                   + ch.decline * col("decline")
                   + (col("prepaid") == 1).cast("double")
                   * (ch.low_balance * (col("balance_level") < ch.low_balance_below).cast("double")
                      + ch.no_recharge * (col("n_recharges") == 0).cast("double"))
                   + ch.contract_ends * col("contract_ends_soon").cast("double")
                   + ch.peers * F.least(col("peers_churned"), F.lit(ch.peers_cap))
                   + ch.competitor_calls * F.least(n_comp, F.lit(ch.competitor_calls_cap))
                   + ch.competitor_rise * F.least(F.greatest(n_comp - col("n_comp_prev"), F.lit(0)),
                                                  F.lit(ch.competitor_rise_cap))
                   - ch.stickiness * (stickiness / 100 - 0.5)
                   + ch.hidden_sd * z("hidden"))
    df = df.select("*", churn_logit.alias("risk_end"))
    risk = F.coalesce(col("prev_risk_end"), col("risk_end"))
    p_churn = F.when(col("new_this_month"), 0.0).otherwise(sigmoid(risk))
    churned = _churn_draw(at.seed, col("idx"), month.index) < p_churn
    churn_day = F.when(churned, F.lit(2) + F.floor(u("churn-day") * (month.days - 1)).cast("int"))
    return df.select("*", stickiness.alias("true_stickiness"), p_churn.alias("true_churn_prob"),
                     churned.alias("churned"), churn_day.alias("churn_day"),
                     *[sigmoid(logits[x]).alias(f"prop_{x}") for x in PRODUCTS])


def _with_month_events(df: DataFrame, at: _Month) -> DataFrame:
    """When things happen in the month: the usage window, VAS orders and cancellations, plan and VIP
    changes, suspensions, the order day."""
    col, month, u = F.col, at.month, at.u
    vas = COEFFICIENTS.vas
    # Window of usage: from activation to the start of the churn day (nothing on or after it);
    # events such as complaints and recharges may still happen on the churn day itself.
    ws = (col("act_day") - 1) * DAY
    we_use = F.when(col("churned"), (col("churn_day") - 1) * DAY).otherwise(F.lit(month.days * DAY))
    we_evt = F.when(col("churned"), col("churn_day") * DAY).otherwise(F.lit(month.days * DAY))
    # VAS: order if not held (the true propensity), cancel if held (more when dissatisfied).
    took = {x: ~col(f"held_{x}") & (u("took-" + x) < col(f"prop_{x}")) for x in PRODUCTS}
    p_cancel = vas.cancel_base + vas.cancel_dissatisfied * sigmoid(col("dissatisfaction") - vas.cancel_threshold)
    cancel = {x: col(f"held_{x}") & (u("cancel-" + x) < p_cancel) for x in PRODUCTS}
    plan = _plan_change(at)
    vip = _vip_change(at)
    susp_day, resume_day = _suspension(at)
    return df.select(
        "*", ws.alias("win_start"), we_use.alias("win_end_usage"), we_evt.alias("win_end_event"),
        *[took[x].alias(f"took_{x}") for x in PRODUCTS], *[cancel[x].alias(f"cancel_{x}") for x in PRODUCTS],
        *plan, *vip,
        susp_day.alias("suspend_day"), resume_day.alias("resume_day"),
        # any day of the month: the last one too (a daily batch without new orders fails its row count)
        (F.lit(1) + F.floor(u("order-day") * month.days).cast("int")).alias("order_day_raw"),
    )


def _plan_change(at: _Month) -> list[Column]:
    """A declining subscriber may step down a plan, a growing one up; changes happen on day 2..days."""
    col, month, u = F.col, at.month, at.u
    c = COEFFICIENTS.plan_change
    plan_prev = F.coalesce(col("prev_plan_idx_end"), col("plan_idx0"))
    brand_first = pick([R.PLAN_OFFSET[b] for b in R.BRANDS], col("brand_idx"))
    brand_last = brand_first + pick([R.PLAN_COUNT[b] - 1 for b in R.BRANDS], col("brand_idx"))
    down = (col("decline") > 0) & (plan_prev > brand_first) & (u("plan-down") < c.down)
    up = (col("decline") == 0) & (plan_prev < brand_last) & (u("plan-up") < c.up)
    change_day = F.lit(2) + F.floor(u("plan-day") * (month.days - 1)).cast("int")
    plan_change_day = F.when((down | up) & (~col("churned") | (change_day < col("churn_day")))
                             & (change_day > col("act_day")), change_day)
    new_plan = F.when(down, plan_prev - 1).when(up, plan_prev + 1).otherwise(plan_prev)
    return [plan_prev.alias("plan_idx_start"), plan_change_day.alias("plan_change_day"),
            F.when(plan_change_day.isNotNull(), new_plan).otherwise(plan_prev).alias("plan_idx_end_new")]


def _vip_change(at: _Month) -> list[Column]:
    """A rare VIP level change for postpaid subscribers: down when declining, else up."""
    col, month, u = F.col, at.month, at.u
    vip_prev = F.coalesce(col("prev_vip_end"), col("vip0"))
    vip_change = (col("prepaid") == 0) & (u("vip-change") < COEFFICIENTS.vip_change.change)
    vip_day = F.when(vip_change & ~col("churned") & (F.lit(2) + F.floor(u("vip-day") * (month.days - 1)) > col("act_day")),
                     F.lit(2) + F.floor(u("vip-day") * (month.days - 1)).cast("int"))
    vip_order = ["NONE", "SILVER", "GOLD", "DIAMOND"]
    vip_rank = F.array_position(F.array(*[F.lit(v) for v in vip_order]), vip_prev).cast("int") - 1
    vip_new_rank = F.when(col("decline") > 0, F.greatest(vip_rank - 1, F.lit(0))).otherwise(F.least(vip_rank + 1, F.lit(3)))
    return [vip_prev.alias("vip_start"), vip_day.alias("vip_change_day"),
            F.when(vip_day.isNotNull(), pick(vip_order, vip_new_rank)).otherwise(vip_prev).alias("vip_end_new")]


def _suspension(at: _Month) -> tuple[Column, Column]:
    """Suspension (停机): most prepaid churners stop a few days before leaving; some prepaid subscribers
    with no recharge are suspended for a few days and come back. (suspend day, resume day)."""
    col, month, u = F.col, at.month, at.u
    c = COEFFICIENTS.suspension
    gap = F.lit(c.churner_lead_min) + F.floor(u("susp-gap") * c.churner_lead_span).cast("int")
    susp_churner = col("churned") & (col("prepaid") == 1) & (u("susp") < c.churner) \
        & (col("churn_day") - gap > col("act_day")) & (col("churn_day") - gap >= 2)
    # The other suspensions start early enough to end within the month (and the month must be long enough).
    susp_other = ~col("churned") & (col("prepaid") == 1) & (col("n_recharges") == 0) & (u("susp") < c.no_recharge) \
        & (month.days >= 12)
    other_day = F.lit(2) + F.floor(u("susp-day") * (month.days - c.no_recharge_days_max - 3)).cast("int")
    susp_day = F.when(susp_churner, col("churn_day") - gap).when(susp_other & (other_day > col("act_day")), other_day)
    resume_day = F.when(susp_other & susp_day.isNotNull(), susp_day + 1 + F.floor(u("resume") * c.no_recharge_days_max).cast("int"))
    return susp_day, resume_day


def _carried_over(df: DataFrame) -> DataFrame:
    """The columns the next month carries over (CARRY), in place of last month's."""
    return df.drop(*[f"prev_{c}" for c in CARRY]).select(
        "*", F.col("plan_idx_end_new").alias("plan_idx_end"), F.col("vip_end_new").alias("vip_end"),
        F.col("level").alias("level_end"), F.col("n_comp_month").alias("n_comp"),
        *[((F.col(f"held_{x}") & ~F.col(f"cancel_{x}")) | F.col(f"took_{x}")).alias(f"held_end_{x}") for x in PRODUCTS],
    ).drop("plan_idx_end_new", "vip_end_new")
