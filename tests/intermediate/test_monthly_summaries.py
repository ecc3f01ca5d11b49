"""subscriber, billing, recharge, service and VAS summaries on hand-built raw rows, worked out by hand."""
from __future__ import annotations

from datetime import date

from pyspark.testing import assertDataFrameEqual

from inlife.intermediate.billing import BILLING_COLUMNS, billing_monthly
from inlife.intermediate.recharge import RECHARGE_COLUMNS, recharge_monthly
from inlife.intermediate.service import SERVICE_COLUMNS, service_monthly
from inlife.intermediate.subscriber import SUBSCRIBER_COLUMNS, subscriber_monthly
from inlife.intermediate.vas import vas_columns, vas_monthly
from tests.intermediate.rawframes import raw_frame

M = "2024-03"


def frame_of(spark, got, rows):
    return spark.createDataFrame(rows, got.schema)


def test_subscriber_monthly_takes_the_latest_state_and_month_end_snapshots(spark):
    base = dict(msisdn="13800000001", activation_date="2023-01-15", status="ACTIVE", status_date="2023-01-15",
                brand="GOTONE", plan_code="GT88", plan_name="全球通88套餐", prepaid_flag=0, region="杭州",
                county="西湖区", grid="g1", birth_date="1980-06-30", gender="M", vip_level="GOLD")
    subs = raw_frame(spark, "subscribers", [
        dict(base, subscriber_id=1, snapshot_date="2024-03-01", batch_date="2024-03-01"),
        # plan change on the 10th, then churn on the 25th: the latest row wins
        dict(base, subscriber_id=1, snapshot_date="2024-03-10", batch_date="2024-03-10", plan_code="GT128"),
        dict(base, subscriber_id=1, snapshot_date="2024-03-25", batch_date="2024-03-25", plan_code="GT128",
             status="CHURNED", status_date="2024-03-25"),
        # new prepaid subscriber activated on the 5th, no VIP
        dict(base, subscriber_id=2, msisdn="13800000002", snapshot_date="2024-03-05", batch_date="2024-03-05",
             activation_date="2024-03-05", status_date="2024-03-05", brand="EASYOWN", plan_code="EO19",
             prepaid_flag=1, birth_date="2000-03-31", vip_level="NONE", gender="F"),
    ])
    contracts = raw_frame(spark, "contracts", [
        dict(contract_id=7, subscriber_id=1, snapshot_date="2024-03-31", bundle_code="PREPAY100_260",
             bundle_name="预存100元送260元话费", bundle_class="PREPAY_CREDIT", start_date="2023-06-01",
             end_date="2024-05-31", monthly_commitment=30.0, batch_date="2024-03-31"),
        dict(contract_id=8, subscriber_id=1, snapshot_date="2024-03-31", bundle_code="HANDSET_12M",
             bundle_name="购机12个月", bundle_class="HANDSET", start_date="2023-01-01", end_date="2024-02-29",
             monthly_commitment=50.0, batch_date="2024-03-31")])  # ended in February: not running
    members = raw_frame(spark, "group_members", [
        dict(group_id=100, subscriber_id=2, snapshot_date="2024-03-31", member_role="KEY_PERSON", vpn_flag=1,
             join_date="2024-03-06", batch_date="2024-03-31")])
    echannel = raw_frame(spark, "echannel_events", [
        dict(subscriber_id=2, event_time="2024-03-06 10:00:00", channel="ONLINE_HALL", action="LOGIN"),
        dict(subscriber_id=2, event_time="2024-03-06 11:00:00", channel="ONLINE_HALL", action="PAY"),
        dict(subscriber_id=2, event_time="2024-03-09 11:00:00", channel="SMS_HALL", action="QUERY"),
        dict(subscriber_id=2, event_time="2024-04-01 11:00:00", channel="SMS_HALL", action="QUERY")])
    got = subscriber_monthly(subs, contracts, members, echannel, M)
    assert got.columns == ["subscriber_id", "month", *SUBSCRIBER_COLUMNS]
    rows = [
        # tenure: 2023-01-15 -> 2024-03-31 is 14.5 months -> 14; age 43 (born 1980-06-30); bundle ends
        # 2024-05-31, two months after 2024-03-31
        (1, M, "13800000001", "CHURNED", date(2024, 3, 25), 1, date(2023, 1, 15), 14, 0, "GOTONE", "GT128", 0,
         "杭州", "西湖区", 43, "M", "GOLD", 2, 1, "PREPAY100_260", "PREPAY_CREDIT", date(2024, 5, 31), 2.0, 30.0,
         None, 0, 0, 0, 0, 0),
        # activated in the month: tenure 0, new; age 24 on 2024-03-31; key person of group 100 in its VPN;
        # three e-channel events in March on two days
        (2, M, "13800000002", "ACTIVE", date(2024, 3, 5), 0, date(2024, 3, 5), 0, 1, "EASYOWN", "EO19", 1,
         "杭州", "西湖区", 24, "F", "NONE", 0, 0, None, None, None, None, None, 100, 1, 1, 1, 3, 2),
    ]
    assertDataFrameEqual(got, frame_of(spark, got, rows))


def test_billing_monthly_return_rate(spark):
    bills = raw_frame(spark, "billing", [
        dict(subscriber_id=1, bill_month=M, bill_date="2024-03-31", total_charge=100.0, rental_charge=58.0,
             voice_charge=20.0, sms_charge=2.0, data_charge=15.0, vas_charge=5.0, discount=10.0, arrears=0.0),
        dict(subscriber_id=2, bill_month=M, bill_date="2024-03-31", total_charge=0.0, rental_charge=0.0,
             voice_charge=0.0, sms_charge=0.0, data_charge=0.0, vas_charge=0.0, discount=0.0, arrears=12.5),
        dict(subscriber_id=3, bill_month="2024-02", bill_date="2024-02-29", total_charge=50.0, rental_charge=0.0,
             voice_charge=0.0, sms_charge=0.0, data_charge=0.0, vas_charge=0.0, discount=0.0, arrears=0.0)])
    got = billing_monthly(bills, M)
    assert got.columns == ["subscriber_id", "month", *BILLING_COLUMNS]
    assertDataFrameEqual(got, frame_of(spark, got, [
        (1, M, 100.0, 58.0, 20.0, 2.0, 15.0, 5.0, 10.0, 0.0, 90.0, 90.0, 0),   # keeps 90 of 100: 90 %
        (2, M, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.5, 0.0, None, 1),        # no revenue: rate unknown
    ]))


def test_recharge_monthly_carries_the_last_recharge_forward(spark):
    recharges = raw_frame(spark, "recharges", [
        dict(recharge_id=1, subscriber_id=1, recharge_time="2024-03-03 10:00:00", amount=50.0, channel="CARD"),
        dict(recharge_id=2, subscriber_id=1, recharge_time="2024-03-21 18:00:00", amount=30.0, channel="WEB"),
        dict(recharge_id=3, subscriber_id=2, recharge_time="2024-04-02 09:00:00", amount=99.0, channel="WEB")])
    balances = raw_frame(spark, "balances", [
        dict(subscriber_id=1, balance_date="2024-03-30", balance=4.0),
        dict(subscriber_id=1, balance_date="2024-03-31", balance=12.0),
        dict(subscriber_id=2, balance_date="2024-03-31", balance=1.5)])
    previous = spark.createDataFrame([(2, date(2024, 2, 20)), (3, date(2024, 1, 31))],
                                     "subscriber_id long, last_recharge_date date")
    got = recharge_monthly(recharges, balances, M, 5.0, previous)
    assert got.columns == ["subscriber_id", "month", *RECHARGE_COLUMNS]
    assertDataFrameEqual(got, frame_of(spark, got, [
        (1, M, 2, 80.0, date(2024, 3, 21), 10, 12.0, 4.0, 8.0, 1),       # 21st -> 31st: 10 days; one day < 5
        (2, M, 0, 0.0, date(2024, 2, 20), 40, 1.5, 1.5, 1.5, 1),         # carried from February
        (3, M, 0, 0.0, date(2024, 1, 31), 60, None, None, None, 0),      # no March rows at all
    ]))


def test_service_monthly_counts(spark):
    def contact(cid, sub, t, kind, cat="OTHER", resolved="", sat=""):
        return dict(contact_id=cid, subscriber_id=sub, contact_time=t, contact_type=kind, category=cat,
                    resolved=resolved, reply_text="", satisfaction=sat)
    contacts = raw_frame(spark, "service_contacts", [
        contact(1, 1, "2024-03-02 10:00:00", "COMPLAINT", "BILLING", "N"),
        contact(2, 1, "2024-03-05 10:00:00", "COMPLAINT", "NETWORK", "Y"),
        contact(3, 1, "2024-03-06 10:00:00", "CALL_10086"),
        contact(4, 1, "2024-03-07 10:00:00", "SMS_SURVEY", sat="UNSATISFIED"),
        contact(5, 2, "2024-03-07 10:00:00", "CONSULT"),
        contact(6, 2, "2024-03-08 10:00:00", "SMS_SURVEY", sat="SATISFIED"),
        contact(7, 2, "2024-02-08 10:00:00", "COMPLAINT", "BILLING", "N")])   # February
    got = service_monthly(contacts, M)
    assert got.columns == ["subscriber_id", "month", *SERVICE_COLUMNS]
    assertDataFrameEqual(got, frame_of(spark, got, [
        (1, M, 4, 1, 2, 1, 1, 1, 0, 1, 1, 0),
        (2, M, 2, 0, 0, 0, 0, 0, 1, 1, 0, 1),
    ]))


def test_vas_monthly_subscription_silence_and_fluctuation(spark):
    products = ["CRBT", "MOBILE_INTERNET"]
    orders = raw_frame(spark, "service_orders", [
        # 1 orders CRBT on the 3rd, cancels on the 20th, orders again on the 28th: subscribed at month end
        dict(order_id=1, subscriber_id=1, product_code="CRBT", product_name="彩铃", action="ORDER",
             channel="SMS", order_time="2024-03-03 10:00:00"),
        dict(order_id=2, subscriber_id=1, product_code="CRBT", product_name="彩铃", action="CANCEL",
             channel="SMS", order_time="2024-03-20 10:00:00"),
        dict(order_id=3, subscriber_id=1, product_code="CRBT", product_name="彩铃", action="ORDER",
             channel="SMS", order_time="2024-03-28 10:00:00"),
        # 2 cancels mobile internet it had since February
        dict(order_id=4, subscriber_id=2, product_code="MOBILE_INTERNET", product_name="手机上网",
             action="CANCEL", channel="HALL", order_time="2024-03-15 10:00:00")])
    usage = raw_frame(spark, "vas_usage", [
        dict(subscriber_id=1, product_code="CRBT", event_type="DOWNLOAD", event_time="2024-03-04 10:00:00",
             volume_kb=100.0, charge=2.0),
        dict(subscriber_id=3, product_code="MOBILE_INTERNET", event_type="BROWSE",
             event_time="2024-03-04 10:00:00", volume_kb=50.0, charge=0.0),
        dict(subscriber_id=3, product_code="MOBILE_INTERNET", event_type="BROWSE",
             event_time="2024-03-05 10:00:00", volume_kb=30.0, charge=0.0)])
    messaging = raw_frame(spark, "sms_data", [
        dict(subscriber_id=1, record_type="SMS_MO", peer_number="13800000002", start_time="2024-03-04 10:00:00",
             volume_kb=0.0, item_count=3, charge=0.3),
        dict(subscriber_id=1, record_type="DATA", peer_number="", start_time="2024-03-04 11:00:00",
             volume_kb=2048.0, item_count=1, charge=1.0),
        dict(subscriber_id=1, record_type="DATA", peer_number="", start_time="2024-03-06 11:00:00",
             volume_kb=1024.0, item_count=1, charge=0.5)])
    previous = spark.createDataFrame(
        [(1, 0, 0), (2, 0, 1), (4, 1, 0)],
        "subscriber_id long, vas_crbt_subscribed int, vas_mobile_internet_subscribed int")
    history = spark.createDataFrame(
        [(3, "2024-02", 0, 4, 1.0), (3, "2024-01", 0, 0, 2.0), (1, "2024-02", 2, 0, 2.0)],
        "subscriber_id long, month string, vas_crbt_events long, vas_mobile_internet_events long, "
        "data_volume_mb double")
    got = vas_monthly(usage, orders, messaging, M, products, previous, history)
    assert got.columns == ["subscriber_id", "month", *vas_columns(products)]
    # per product: subscribed, ordered, cancelled, events, volume, silent, fluctuation; then messaging
    rows = [
        (1, M, 1, 1, 1, 1, 100.0, 0, -0.5, 0, 0, 0, 0, 0.0, 0, None,          # CRBT 1 event vs 2 before
         3, 0, 0, 0, 0.3, 3.0, 2, 2, 1.5, 0.5),                             # 3 MB data vs 2 MB before
        (2, M, 0, 0, 0, 0, 0.0, 0, None, 0, 0, 1, 0, 0.0, 0, None,             # cancelled mobile internet
         0, 0, 0, 0, 0.0, 0.0, 0, 0, 0.0, None),
        (3, M, 0, 0, 0, 0, 0.0, 0, None, 0, 0, 0, 2, 80.0, 0, 0.0,             # 2 events vs avg(4, 0) = 2
         0, 0, 0, 0, 0.0, 0.0, 0, 0, 0.0, -1.0),                            # no data vs avg(1, 2) = 1.5
        (4, M, 1, 0, 0, 0, 0.0, 1, None, 0, 0, 0, 0, 0.0, 0, None,             # CRBT carried over, unused: silent
         0, 0, 0, 0, 0.0, 0.0, 0, 0, 0.0, None),
    ]
    assertDataFrameEqual(got, frame_of(spark, got, rows))


def test_money_sums_do_not_depend_on_the_order_of_rows(spark):
    """Doubles summed in another order differ in their last bits ((0.1 + 0.2) + 0.3 is 0.6000000000000001,
    0.1 + (0.2 + 0.3) is 0.6): amounts are summed in whole fen, so a rerun that reads its rows in another order
    (another file layout) gives the same bits."""
    from pyspark.sql import functions as F

    from inlife.intermediate.common import money_avg, money_sum

    rows = [(1, 0.1), (1, 0.2), (1, 0.3)]
    expected = spark.createDataFrame([(1, 0.6, 0.2)], "id long, total double, mean double")
    for order in (rows, rows[::-1]):
        got = (spark.createDataFrame(order, "id long, amount double").coalesce(1).groupBy("id")
               .agg(money_sum("amount").alias("total"), money_avg("amount").alias("mean")))
        assertDataFrameEqual(got, expected, rtol=0, atol=0)
    assert sum(x for _, x in rows) != sum(x for _, x in rows[::-1])   # the trap is real
    assert spark.range(1).select(money_avg(F.lit(None).cast("double")).alias("m")).first().m is None
