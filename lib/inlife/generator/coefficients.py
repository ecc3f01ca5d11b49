"""The subscriber-month's behavioural coefficients, in one table: ``COEFFICIENTS``, read by generator.state.

Each class is the coefficients of one step of the subscriber-month, its fields named for what they weigh.
Logit and log-rate weights are added to the expression unless their comment says *subtracted* (the sign
is then in the code, where the formula reads naturally). Counts capped in a logit (``*_cap``) and the
thresholds of a band are ints: they bound how far one cause can push the risk.

Changing a value changes every generated dataset and its planted truth, and the tests pin the data's
broad shape (e.g. monthly churn between 1% and 6%), so a change may need them revisited.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dissatisfaction:
    """dissatisfaction = grumpy * (persistent disposition) + mood * (this month's mood); mood is AR(1)."""
    grumpy: float = 0.6
    mood: float = 0.8
    mood_persistence: float = 0.6   # share of last month's mood carried into this one
    mood_shock: float = 0.8         # sd of the month's new shock to the mood


@dataclass(frozen=True)
class Usage:
    """A decline in usage for the dissatisfied; the usage level drifts back to normal (1) without one."""
    decline_slope: float = 1.3      # P(decline) = sigmoid(slope * dissatisfaction - threshold)
    decline_threshold: float = 2.6
    decline_min: float = 0.3        # size of a decline: min + span * uniform
    decline_span: float = 0.5
    level_loss: float = 0.6         # share of a decline lost from the usage level
    level_recovery: float = 0.3     # share of the gap to the normal level regained in a month without decline
    level_noise: float = 0.05       # sd of the level's multiplicative monthly noise


@dataclass(frozen=True)
class Contacts:
    """Monthly Poisson rates of customer-service contacts and survey replies."""
    complaint_rate: float = 0.035   # complaints a month at dissatisfaction 0
    complaint_slope: float = 1.1    # log-rate of complaints per unit of dissatisfaction
    resolved_share: float = 0.65    # of complaints (Poisson splitting: the two counts stay independent)
    unresolved_share: float = 0.35
    unsatisfied_max: float = 0.25   # unsatisfied replies: max * sigmoid(slope * dissatisfaction - offset)
    unsatisfied_slope: float = 1.6
    unsatisfied_offset: float = 1.2
    satisfied_max: float = 0.15     # satisfied replies: max * sigmoid(-dissatisfaction)
    neutral_rate: float = 0.06
    hotline_rate: float = 0.25      # calls to 10086
    consult_rate: float = 0.12


@dataclass(frozen=True)
class CompetitorCalls:
    """Calls to competitors' service numbers: a subscriber weighing a switch calls them."""
    intent_slope: float = 2.0       # intent to switch = sigmoid(slope * dissatisfaction - threshold)
    intent_threshold: float = 4.2
    base_rate: float = 0.02         # calls a month without intent
    intent_rate: float = 3.0        # calls a month added at full intent


@dataclass(frozen=True)
class Recharges:
    """Prepaid recharges a month: ARPU-driven, damped by a decline and by dissatisfaction."""
    arpu_per_recharge: float = 40.0  # yuan of monthly ARPU per recharge
    min_rate: float = 0.35           # bounds of the ARPU-driven rate, before the damping below
    max_rate: float = 4.0
    decline: float = -1.6            # log-rate per unit of decline
    dissatisfaction: float = -0.4    # log-rate per unit of (positive) dissatisfaction
    max_count: int = 60


@dataclass(frozen=True)
class Balance:
    """Balance level, log-normal around a share of the month's ARPU; low in a month without recharge."""
    arpu_share: float = 0.7         # the median balance is arpu * share + offset
    offset: float = 2.0             # yuan: a subscriber with no ARPU still keeps a little
    sd: float = 0.6                 # of the log balance
    no_recharge_factor: float = 0.25


@dataclass(frozen=True)
class Vas:
    """VAS holdings at first sight and monthly cancellations (orders follow the propensities)."""
    initial_shift: float = 2.0      # log-odds added to the monthly propensity for the holdings at first sight
    cancel_base: float = 0.015      # P(cancel) = base + dissatisfied * sigmoid(dissatisfaction - threshold)
    cancel_dissatisfied: float = 0.05
    cancel_threshold: float = 1.5


@dataclass(frozen=True)
class NewspaperLogit:
    intercept: float = -3.7
    older_from_age: int = 35
    older: float = 0.9
    business: float = 0.8           # business roamers and enterprise VPN members
    gotone: float = 0.5
    holds_mail139: float = 0.5


@dataclass(frozen=True)
class CrbtLogit:
    intercept: float = -3.4
    youth: float = 1.4              # the youth_data segment
    mzone: float = 0.6
    young_below_age: int = 30
    young: float = 0.5
    holds_fetion: float = 0.4
    low_use: float = 0.8            # subtracted


@dataclass(frozen=True)
class RingtoneChangeLogit:
    intercept: float = -4.4
    holds_crbt: float = 2.3         # a ringtone needs a CRBT to play on
    youth: float = 0.9


@dataclass(frozen=True)
class MobileInternetLogit:
    intercept: float = -3.6
    data: float = 1.3               # per log of the personal data multiplier
    youth: float = 1.4
    business: float = 0.6
    senior: float = 0.6             # subtracted


@dataclass(frozen=True)
class FetionLogit:
    intercept: float = -4.0
    youth: float = 1.0
    business: float = 0.5


@dataclass(frozen=True)
class Mail139Logit:
    intercept: float = -4.5
    business: float = 1.0


@dataclass(frozen=True)
class FamilyNetLogit:
    intercept: float = -4.6
    local_talker: float = 0.8
    senior: float = 0.6


@dataclass(frozen=True)
class Propensities:
    """True monthly log-odds of ordering each modelled VAS product."""
    newspaper: NewspaperLogit = field(default_factory=NewspaperLogit)
    crbt: CrbtLogit = field(default_factory=CrbtLogit)
    ringtone_change: RingtoneChangeLogit = field(default_factory=RingtoneChangeLogit)
    mobile_internet: MobileInternetLogit = field(default_factory=MobileInternetLogit)
    fetion: FetionLogit = field(default_factory=FetionLogit)
    mail139: Mail139Logit = field(default_factory=Mail139Logit)
    family_net: FamilyNetLogit = field(default_factory=FamilyNetLogit)


@dataclass(frozen=True)
class StickinessLogit:
    """True stickiness = 100 * sigmoid(this logit)."""
    intercept: float = -1.2
    log_tenure: float = 0.45        # per log(1 + tenure in months)
    vpn: float = 1.1
    family_net: float = 0.9
    per_product: float = 0.25       # per VAS product held
    on_net_circle: float = 0.12     # per on-net slot of the segment's call circle
    contract: float = 0.5           # a contract not ending soon
    postpaid: float = 0.4


@dataclass(frozen=True)
class ChurnLogit:
    """Next month's churn risk (log-odds) from this month's drivers."""
    intercept: float = -5.6
    new_below_months: int = 3       # tenure bands: new, then young until young_below_months
    young_below_months: int = 12
    new: float = 1.5
    young: float = 0.8
    resolved: float = 0.9           # per resolved complaint
    resolved_cap: int = 3
    unresolved: float = 1.6         # per unresolved complaint
    unresolved_cap: int = 3
    unsatisfied: float = 0.7        # per unsatisfied survey reply
    unsatisfied_cap: int = 2
    decline: float = 3.2            # per unit of usage decline
    low_balance_below: int = 5      # prepaid only
    low_balance: float = 1.3        # prepaid only
    no_recharge: float = 1.2        # prepaid only
    contract_ends: float = 1.8
    peers: float = 0.7              # per call-circle peer churning this month
    peers_cap: int = 3
    competitor_calls: float = 0.55  # per call to a competitor's service number
    competitor_calls_cap: int = 6
    competitor_rise: float = 0.3    # per call more than last month
    competitor_rise_cap: int = 4
    stickiness: float = 2.0         # subtracted, per unit of stickiness/100 above 0.5
    hidden_sd: float = 0.25         # sd of the noise no extract shows


@dataclass(frozen=True)
class PlanChange:
    down: float = 0.35              # P(step down a plan) in a month of decline
    up: float = 0.012               # P(step up a plan) in a month without


@dataclass(frozen=True)
class VipChange:
    change: float = 0.004           # P(a postpaid subscriber's VIP level changes) a month


@dataclass(frozen=True)
class Suspension:
    churner: float = 0.6            # P(a prepaid churner is suspended before leaving)
    churner_lead_min: int = 3       # days suspended before the churn day: min + floor(u * span)
    churner_lead_span: int = 8
    no_recharge: float = 0.25       # P(a staying prepaid subscriber without recharge is suspended for a while)
    no_recharge_days_max: int = 6   # such a suspension lasts 1..max days


@dataclass(frozen=True)
class Coefficients:
    """Every behavioural coefficient of the subscriber-month, grouped by the step that reads it."""
    dissatisfaction: Dissatisfaction = field(default_factory=Dissatisfaction)
    usage: Usage = field(default_factory=Usage)
    contacts: Contacts = field(default_factory=Contacts)
    competitor_calls: CompetitorCalls = field(default_factory=CompetitorCalls)
    recharges: Recharges = field(default_factory=Recharges)
    balance: Balance = field(default_factory=Balance)
    vas: Vas = field(default_factory=Vas)
    propensity: Propensities = field(default_factory=Propensities)
    stickiness: StickinessLogit = field(default_factory=StickinessLogit)
    churn: ChurnLogit = field(default_factory=ChurnLogit)
    plan_change: PlanChange = field(default_factory=PlanChange)
    vip_change: VipChange = field(default_factory=VipChange)
    suspension: Suspension = field(default_factory=Suspension)


COEFFICIENTS = Coefficients()
