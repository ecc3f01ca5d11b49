"""Reference data of the generated operator: a Zhejiang province mobile operator around 2010.

Cities and counties, brands and plans, bundles, VAS products, provinces of migrant workers' home towns,
number ranges of the other operators. Chinese names are the ones real extracts carry.
"""
from __future__ import annotations

PROVINCE = "浙江"

# (city, code, weight ~ subscriber share, counties)
REGIONS = [
    ("杭州", "HZ", 0.20, ["上城区", "下城区", "西湖区", "拱墅区", "江干区", "滨江区", "萧山区", "余杭区", "富阳市", "临安市", "桐庐县", "建德市", "淳安县"]),
    ("宁波", "NB", 0.15, ["海曙区", "江东区", "江北区", "北仑区", "镇海区", "鄞州区", "余姚市", "慈溪市", "奉化市", "宁海县", "象山县"]),
    ("温州", "WZ", 0.15, ["鹿城区", "龙湾区", "瓯海区", "瑞安市", "乐清市", "永嘉县", "平阳县", "苍南县", "文成县", "泰顺县"]),
    ("绍兴", "SX", 0.09, ["越城区", "绍兴县", "上虞市", "诸暨市", "嵊州市", "新昌县"]),
    ("湖州", "HU", 0.05, ["吴兴区", "南浔区", "德清县", "长兴县", "安吉县"]),
    ("嘉兴", "JX", 0.08, ["南湖区", "秀洲区", "海宁市", "平湖市", "桐乡市", "嘉善县", "海盐县"]),
    ("金华", "JH", 0.10, ["婺城区", "金东区", "义乌市", "东阳市", "永康市", "兰溪市", "武义县", "浦江县", "磐安县"]),
    ("衢州", "QZ", 0.04, ["柯城区", "衢江区", "江山市", "常山县", "开化县", "龙游县"]),
    ("舟山", "ZS", 0.02, ["定海区", "普陀区", "岱山县", "嵊泗县"]),
    ("台州", "TZ", 0.09, ["椒江区", "黄岩区", "路桥区", "临海市", "温岭市", "玉环县", "天台县", "仙居县", "三门县"]),
    ("丽水", "LS", 0.03, ["莲都区", "龙泉市", "青田县", "缙云县", "遂昌县", "松阳县", "云和县", "庆元县", "景宁县"]),
]

# Home provinces of migrant workers in Zhejiang, by weight.
MIGRANT_PROVINCES = ["安徽", "河南", "四川", "江西", "贵州", "湖南", "湖北", "江苏", "重庆", "云南"]
MIGRANT_WEIGHTS = [0.24, 0.15, 0.12, 0.12, 0.09, 0.08, 0.07, 0.05, 0.05, 0.03]
# Provinces business travellers call or roam to.
BUSINESS_PROVINCES = ["上海", "北京", "江苏", "广东", "福建", "山东", "安徽", "江西", "天津", "湖北"]
BUSINESS_WEIGHTS = [0.28, 0.14, 0.16, 0.12, 0.08, 0.06, 0.05, 0.04, 0.04, 0.03]
ABROAD = "境外"

# Segments: the consumption-behaviour groups of conf/segments.yaml.
SEGMENTS = ["local_talker", "migrant", "business_roamer", "youth_data", "senior", "enterprise_vpn", "low_use"]
# Drawn shares of everyone not in a VPN group (enterprise_vpn comes from group membership instead).
SEGMENT_WEIGHTS = [0.32, 0.12, 0.06, 0.17, 0.12, 0.0, 0.21]

BRANDS = ["GOTONE", "MZONE", "EASYOWN"]
# P(brand) per segment, in SEGMENTS order.
BRAND_BY_SEGMENT = [
    [0.30, 0.10, 0.60],   # local_talker
    [0.05, 0.05, 0.90],   # migrant
    [0.90, 0.00, 0.10],   # business_roamer
    [0.05, 0.85, 0.10],   # youth_data
    [0.25, 0.00, 0.75],   # senior
    [0.65, 0.05, 0.30],   # enterprise_vpn
    [0.08, 0.07, 0.85],   # low_use
]
# Share of postpaid within each brand: GoTone is the high-end postpaid brand.
POSTPAID_BY_BRAND = [0.90, 0.15, 0.0]

# Plans per brand, ordered by monthly fee: (code, Chinese name, monthly fee).
PLANS = {
    "GOTONE": [("GT58", "全球通58套餐", 58.0), ("GT88", "全球通88套餐", 88.0), ("GT128", "全球通128套餐", 128.0),
               ("GT188", "全球通188套餐", 188.0), ("GT288", "全球通288套餐", 288.0)],
    "MZONE": [("MZ18", "动感地带18元套餐", 18.0), ("MZ28", "动感地带28元套餐", 28.0), ("MZ38", "动感地带38元套餐", 38.0)],
    "EASYOWN": [("EO10", "神州行10元卡", 10.0), ("EO19", "神州行畅听19元卡", 19.0), ("EO29", "神州行大众29元卡", 29.0)],
}
# Flat list; brand b's plans are ALL_PLANS[PLAN_OFFSET[b] : PLAN_OFFSET[b] + len(PLANS[b])].
ALL_PLANS = [p for b in BRANDS for p in PLANS[b]]
PLAN_OFFSET = {"GOTONE": 0, "MZONE": 5, "EASYOWN": 8}
PLAN_COUNT = {b: len(PLANS[b]) for b in BRANDS}

# Log-normal ARPU (yuan/month) per segment: (mu, sigma). Medians e.g. exp(4.3) ~ 74 for roamers.
ARPU_BY_SEGMENT = [(3.7, 0.55), (3.2, 0.50), (5.0, 0.55), (3.5, 0.50), (3.1, 0.50), (4.4, 0.50), (2.6, 0.55)]
# Calls per active day (before the heavy-tailed personal multiplier), per segment.
CALLS_PER_DAY = [1.6, 1.1, 2.6, 0.9, 0.8, 1.9, 0.25]
# Mean call duration (seconds) per segment: seniors talk long, business calls are short.
DURATION_MU = [4.0, 4.6, 3.8, 3.6, 4.6, 3.7, 3.9]
# SMS per day, data sessions per day, data KB per session (log-normal mu) per segment.
SMS_PER_DAY = [0.11, 0.07, 0.14, 0.28, 0.03, 0.11, 0.03]
DATA_SESSIONS_PER_DAY = [0.15, 0.06, 0.3, 0.85, 0.01, 0.18, 0.02]
DATA_KB_MU = [6.0, 5.5, 6.5, 7.2, 5.0, 6.2, 5.0]
# Age range (years) per segment.
AGE_RANGE = [(25, 55), (20, 45), (30, 55), (15, 26), (60, 82), (24, 55), (20, 70)]
# Roaming share of days per segment, and weekday profile (0 general, 1 business, 2 youth).
ROAM_DAY_SHARE = [0.02, 0.05, 0.35, 0.03, 0.005, 0.08, 0.01]
WEEK_PROFILE = [0, 0, 1, 2, 0, 1, 0]
# Circle: (family, work, friend on-net, off-net local, long distance) slots per segment.
CIRCLE = [
    (3, 1, 5, 3, 0),     # local_talker
    (1, 1, 2, 1, 4),     # migrant: few local ties, long-distance home circle
    (2, 3, 4, 3, 3),     # business_roamer
    (2, 0, 7, 3, 0),     # youth_data
    (3, 0, 2, 1, 0),     # senior
    (2, 5, 3, 2, 1),     # enterprise_vpn
    (1, 0, 1, 1, 0),     # low_use
]
MAX_SLOTS = 16

# Weekday weights Monday..Sunday for the three week profiles.
WEEKDAY_WEIGHTS = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.85, 0.75],
    [1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.35],
    [0.9, 0.9, 0.9, 0.9, 1.0, 1.0, 0.95],
]
HOUR_WEIGHTS = [0.08, 0.04, 0.02, 0.02, 0.02, 0.05, 0.15, 0.40, 0.75, 0.95, 1.0, 1.0,
                0.85, 0.80, 0.90, 0.95, 0.95, 0.90, 0.85, 0.90, 0.95, 0.85, 0.60, 0.25]

# Mobile number ranges: own network, and the two competitors.
CMCC_PREFIXES = ["135", "136", "137", "138", "139"]
CT_PREFIXES = ["133", "153", "180", "189"]
CU_PREFIXES = ["130", "131", "132", "155", "156", "186"]

# Per-minute prices (yuan) by call type for outgoing calls; incoming is free except when roaming.
CALL_TYPES = ["LOCAL", "LD_INTRA", "LD_INTER", "LD_INTL", "ROAM_INTRA", "ROAM_INTER", "ROAM_INTL", "VPN", "VPN_ROAM"]
MO_PRICE = [0.15, 0.30, 0.60, 3.00, 0.40, 0.60, 2.99, 0.05, 0.40]
MT_PRICE = [0.00, 0.00, 0.00, 0.00, 0.40, 0.40, 2.99, 0.00, 0.40]

VAS_PRODUCTS = ["NEWSPAPER", "CRBT", "RINGTONE_CHANGE", "MOBILE_INTERNET", "FETION", "MAIL139", "FAMILY_NET"]
VAS_NAMES = ["手机报", "彩铃", "换铃", "手机上网", "飞信", "139邮箱", "家庭网"]
VAS_FEES = [3.0, 5.0, 2.0, 10.0, 0.0, 0.0, 10.0]
# The four products with modelled propensities (the needs models of conf/models).
PROPENSITY_PRODUCTS = ["NEWSPAPER", "CRBT", "RINGTONE_CHANGE", "MOBILE_INTERNET"]

BUNDLES = [
    ("PREPAY100_260", "预存100元送260元话费", "PREPAY_CREDIT", 12, 8.0),
    ("PREPAY200_500", "预存200元送500元话费", "PREPAY_CREDIT", 12, 16.0),
    ("HANDSET_24M", "购机赠费24个月合约", "HANDSET", 24, 128.0),
    ("HANDSET_12M", "购机赠费12个月合约", "HANDSET", 12, 88.0),
    ("MONTHLY_FEE_PREPAY", "月费预存优惠", "ZERO_ONE", 12, 58.0),
    ("REBUNDLE", "老客户续约优惠", "ZERO_ONE", 12, 38.0),
    ("CAMPUS", "校园套餐", "ZERO_ONE", 12, 18.0),
    ("FRIEND", "亲情好友推荐", "ZERO_ONE", 6, 10.0),
]

INDUSTRIES = ["MANUFACTURING", "GOVERNMENT", "EDUCATION", "FINANCE", "RETAIL", "LOGISTICS", "IT"]
INDUSTRY_WEIGHTS = [0.34, 0.10, 0.10, 0.08, 0.18, 0.10, 0.10]
INDUSTRY_WORDS = ["机械制造有限公司", "区人民政府办公室", "职业技术学校", "农村合作银行", "商贸有限公司", "物流有限公司", "软件科技有限公司"]
COMPANY_PREFIXES = ["华鑫", "永兴", "恒远", "天成", "金鼎", "宏达", "新世纪", "东方", "富春", "海天", "正泰", "民生", "兴业", "瑞丰", "明珠", "长城"]

SURVEY_REPLIES = ["满意", "一般", "不满意"]
SURVEY_CODES = ["SATISFIED", "NEUTRAL", "UNSATISFIED"]
