"""Every behavioural rate of the simulation, in one place, with its reasoning.

Rates are per person per simulated day unless said otherwise.  Where a figure comes
from public benchmarks the source is named; where it is a modelling choice the
reasoning is given.  docs/generator.md repeats the table in prose.

Journey stage indices (see STAGES) are used as array indices throughout.
"""
from __future__ import annotations

# ---------------------------------------------------------------------------
# Journey stages.  UNAWARE is internal: such people emit nothing and have no row
# in truth/journey_stages.csv.
# ---------------------------------------------------------------------------
UNAWARE, AWARENESS, CONSIDERATION, PURCHASE, RETENTION, ADVOCACY, AT_RISK, CHURNED = range(8)
STAGES = ("unaware", "awareness", "consideration", "purchase", "retention", "advocacy", "at_risk", "churned")

# ---------------------------------------------------------------------------
# Population mix.
# ---------------------------------------------------------------------------
# Share of the population holding a CRM account before the window starts.
CRM_EXISTING_SHARE = 0.70
# Share that signs up during the window (prospect until their sign-up day).
CRM_NEW_SHARE = 0.10
# Remaining ~20% are prospects beyond the CRM (web/app/social only); among them:
PROSPECT_CONTACT_SHARE = 0.40      # leave an email/phone at a guest checkout or ticket
PROSPECT_NEVER_ID_SHARE = 0.30     # never identifiable: cookies only, never log in or leave contact
# Korean vs English names: the brand is Korean; ~10% expatriate / English-named customers.
ENGLISH_NAME_SHARE = 0.10
# ~10% of people use a second email address (work / old address) somewhere.
SECOND_EMAIL_SHARE = 0.10
# Share with a social account that may mention the brand (Korean SNS penetration is
# high, but only a minority ever talks about a fashion brand publicly).
SOCIAL_HANDLE_SHARE = 0.30
# Of those, share who linked the handle in the CRM profile (social login / profile field).
SOCIAL_LINKED_IN_CRM_SHARE = 0.40
# App installed (Korean fashion shoppers are app-heavy: Musinsa/29CM report >50% app sales).
APP_USER_SHARE = 0.45
# Loyalty membership among CRM customers at the start; others may enrol in the window.
LOYALTY_MEMBER_SHARE = 0.45
LOYALTY_ENROLL_PER_STORE_VISIT = 0.15   # non-members asked at the till, a few say yes
# Browser cookies per web user: most people keep one, some have 2-3 (phone + PC, cleared cookies).
COOKIES_PER_PERSON_WEIGHTS = (0.62, 0.26, 0.09, 0.03)      # 1, 2, 3, 4 cookies
APP_INSTANCES_PER_USER_WEIGHTS = (0.85, 0.15)              # 1 or 2 installs (new phone)

# ---------------------------------------------------------------------------
# Initial stage distribution (day 0) by kind.  Existing CRM accounts are mostly past
# buyers; 25-30% of an apparel CRM is typically dormant (at_risk/churned).
# ---------------------------------------------------------------------------
INITIAL_STAGE_CRM = {CONSIDERATION: 0.15, PURCHASE: 0.20, RETENTION: 0.25, ADVOCACY: 0.08, AT_RISK: 0.14, CHURNED: 0.18}
INITIAL_STAGE_PROSPECT = {UNAWARE: 0.40, AWARENESS: 0.35, CONSIDERATION: 0.25}

# ---------------------------------------------------------------------------
# Daily stage drift (no purchase involved).  Probabilities per day.
# ---------------------------------------------------------------------------
P_BECOME_AWARE = 0.02          # ads/social/word of mouth reach ~45% of the unaware in a month
P_AWARE_TO_CONSIDER = 0.04     # a quarter of the aware start comparing products within a week or so
P_CONSIDER_TO_AWARE = 0.01     # interest fades without a purchase
P_PURCHASE_TO_AT_RISK = 0.004  # one-time buyers go quiet (~30% within 90 days)
P_RETENTION_TO_ADVOCACY = 0.005
P_ADVOCACY_TO_RETENTION = 0.01
P_RETENTION_TO_AT_RISK = 0.004
P_ADVOCACY_TO_AT_RISK = 0.002
P_AT_RISK_TO_CHURNED = 0.01    # ~25% of at-risk churn within a month without a win-back
P_AT_RISK_TO_RETENTION = 0.005  # re-engage without buying (opens, visits)
P_NEGATIVE_TO_AT_RISK = 0.30   # after a detractor NPS, a bad CSAT or a negative review
P_POSITIVE_TO_ADVOCACY = 0.30  # after a promoter NPS or a 5-star review (if a buyer)

# ---------------------------------------------------------------------------
# Activity by stage (index = stage): expected sessions per day and conversion.
# Calibrated so that the blended web conversion is ~2-3% of sessions (Korean and
# global fashion e-commerce benchmarks: 1.5-3%) and a first-time buyer repeats
# with ~0.35%/day, i.e. ~27% within 90 days (apparel repeat-rate benchmarks 25-30%).
# ---------------------------------------------------------------------------
#                 unaware awar  consid purch  reten  advoc  at_risk churned
WEB_SESSIONS   = (0.0,   0.05, 0.20,  0.08,  0.12,  0.15,  0.03,   0.008)
APP_SESSIONS   = (0.0,   0.02, 0.10,  0.08,  0.15,  0.20,  0.02,   0.005)   # app users only
CONVERSION     = (0.0,   0.004, 0.02, 0.02,  0.035, 0.045, 0.01,   0.01)    # per session
# Offline still outsells online for Korean apparel brands with a store network.
STORE_PURCHASE = (0.0,   0.001, 0.004, 0.0015, 0.006, 0.008, 0.001, 0.0004)  # per day
# A logged-in session: web users rarely log in before checkout; app users stay logged in.
WEB_LOGIN_SHARE = 0.30
APP_LOGIN_SHARE = 0.75
LOGIN_AT_CHECKOUT_SHARE = 0.80   # account holders who log in to pay (others check out as guest)
# GA4 funnel step shares of sessions (fashion benchmarks: ~60% view a product,
# 8-12% add to cart, 4-5% reach checkout).
P_VIEW_ITEM = 0.60
P_ADD_TO_CART = 0.12
P_BEGIN_CHECKOUT = 0.05
PAGES_PER_SESSION_MEAN = 4.0     # GA4 fashion average 3-5 page/screen views

# ---------------------------------------------------------------------------
# Orders.
# ---------------------------------------------------------------------------
ITEMS_PER_ORDER_WEIGHTS = (0.68, 0.24, 0.08)   # 1, 2, 3 distinct items (AOV ~80-100k KRW)
P_QUANTITY_TWO = 0.08
P_DISCOUNT_CODE = 0.30                          # coupon use in Korean fashion e-commerce ~30%
FREE_SHIPPING_THRESHOLD_KRW = 50_000
SHIPPING_FEE_KRW = 3_000
P_PENDING_PAYMENT = 0.08      # virtual account / bank transfer: paid the next day
P_PENDING_NEVER_PAID = 0.15   # of pending: voided after 3 days
P_CANCEL = 0.03               # cancelled within 1-2 days (customer mostly)
P_RETURN = 0.07               # online apparel returns ~5-10% in KR (far less than US/EU)
P_PARTIAL_RETURN = 0.40       # of returns with several lines
# Store receipts.
P_LOYALTY_CARD_PRESENTED = 0.65   # members forget / don't bother with the card
P_STORE_RETURN = 0.04
STORE_PAYMENT_WEIGHTS = {"card": 0.70, "mobile_pay": 0.20, "cash": 0.07, "gift_card": 0.03}

# ---------------------------------------------------------------------------
# Email (ESP).  Mailchimp/Campaign Monitor retail benchmarks: delivery 98-99%,
# open ~20% of delivered (Apple MPP inflates it; we model "real" opens), click
# 2-3% of delivered, unsubscribe ~0.2%, spam complaint ~0.02%.
# ---------------------------------------------------------------------------
EMAIL_CAMPAIGN_WEEKDAYS = (1, 3, 5)     # Tue, Thu, Sat (Mon=0)
EMAIL_AUDIENCE_SHARE = 0.70             # segment of the consenting list per campaign
EMAIL_BOUNCE = 0.015
EMAIL_HARD_BOUNCE_SHARE = 0.40
EMAIL_OPEN = 0.20                        # of delivered (scaled by stage engagement below)
EMAIL_CLICK = 0.025                      # of delivered (only openers click)
EMAIL_UNSUBSCRIBE = 0.002                # of delivered
EMAIL_SPAM_COMPLAINT = 0.0002            # of delivered
EMAIL_CLICK_TO_SESSION = 0.60            # a click lands on the site as a tracked session
#                    unaware awar consid purch reten advoc at_risk churned
EMAIL_ENGAGEMENT = (0.0,  0.8, 1.0,   1.1,  1.2,  1.4,  0.6,    0.3)
CONSENT_EMAIL = 0.65       # Korean opt-in marketing consent rates 50-70%
CONSENT_SMS = 0.45
CONSENT_PUSH = 0.55

# ---------------------------------------------------------------------------
# Support.  Zendesk benchmark: CSAT ~80% good; first reply chat minutes, email hours.
# Volume peaks in business hours 09-18 KST on weekdays.
# ---------------------------------------------------------------------------
P_TICKET_AFTER_ORDER = 0.08    # "where is my order", size exchange ...
#                    unaware awar consid purch reten advoc at_risk churned
TICKET_BASELINE = (0.0, 0.0002, 0.0005, 0.001, 0.001, 0.0008, 0.002, 0.0005)
TICKET_CHANNEL_WEIGHTS = {"chat": 0.35, "phone": 0.25, "email": 0.15, "web": 0.10, "chatbot": 0.10, "social": 0.05}
TICKET_PRIORITY_WEIGHTS = {"low": 0.20, "normal": 0.60, "high": 0.15, "urgent": 0.05}
TICKET_BUSINESS_HOURS_SHARE = 0.75   # of human-channel tickets created 09-18 on weekdays
P_ESCALATED = 0.08
P_CSAT_OFFERED_RATED = 0.30          # share of solved tickets whose requester rates
CSAT_GOOD = 0.80

# ---------------------------------------------------------------------------
# Surveys.  Response rates of post-transaction surveys 5-15%.
# NPS mix for a healthy fashion brand: 40-50% promoters, ~30% passives, 20-25% detractors.
# ---------------------------------------------------------------------------
P_NPS_AFTER_PURCHASE = 0.10
NPS_MIX = (0.45, 0.30, 0.25)          # promoters, passives, detractors (shifted by stage)
P_CSAT_SURVEY_AFTER_SUPPORT = 0.25
CSAT_SATISFIED = 0.80                 # 4-5 on 1-5
CSAT_SENTIMENT = (CSAT_SATISFIED, 0.08, 0.12)   # 4-5 positive, 3 neutral, 1-2 negative
P_CES_IN_APP = 0.01                   # per app session
P_SURVEY_COMMENT = 0.45

# ---------------------------------------------------------------------------
# Reviews.  5-10% of online orders get a review (Korean shops push reviews with points);
# ratings are J-shaped.
# ---------------------------------------------------------------------------
P_REVIEW_AFTER_ORDER = 0.09
RATING_WEIGHTS = {5: 0.55, 4: 0.20, 3: 0.10, 2: 0.06, 1: 0.09}
P_REVIEW_STORE_KIOSK = 0.015         # of store receipts: a review at the in-store kiosk, same visit
P_REVIEW_NAVER_SHOPPING = 0.15        # of reviews: written on the marketplace (no account id)
P_REVIEW_ENGLISH = 0.08
REVIEW_POINTS = 500

# ---------------------------------------------------------------------------
# Social.
# ---------------------------------------------------------------------------
#                      unaware awar  consid purch reten advoc  at_risk churned
SOCIAL_MENTION = (0.0,  0.002, 0.003, 0.006, 0.004, 0.02,  0.004, 0.001)  # handle holders
SOCIAL_PLATFORM_WEIGHTS = {"instagram": 0.45, "naver_blog": 0.20, "youtube": 0.08, "x": 0.15, "facebook": 0.12}
BRAND_POSTS_PER_DAY = (1, 3)
P_SOCIAL_SHARE_POINTS = 0.25          # loyalty members earn points for a tagged post
SOCIAL_SHARE_POINTS = 300

# ---------------------------------------------------------------------------
# Loyalty.  Earn rates by tier (% of amount paid), tier thresholds on yearly points.
# ---------------------------------------------------------------------------
TIERS = ("basic", "silver", "gold", "vip")
EARN_RATE = {"basic": 0.01, "silver": 0.02, "gold": 0.03, "vip": 0.05}
TIER_THRESHOLDS = {"silver": 3_000, "gold": 10_000, "vip": 30_000}
P_REDEEM_AT_PURCHASE = 0.12
P_EXPIRE_PER_DAY = 0.002

# ---------------------------------------------------------------------------
# Paid media.  Meta/Kakao display CTR ~1%, search (Google/Naver) 2-4%; CVR 2-3%.
# CPM: Meta ~7,000 KRW, Google display/PMax ~4,000 KRW, Naver ~3,000 KRW, Kakao ~3,500 KRW.
# Daily spend scales with the population: ~35 KRW per person per day in total.
# ---------------------------------------------------------------------------
AD_SPEND_PER_PERSON_DAY_KRW = 35
AD_RESTATE_DAYS = 2   # each delivery restates the two previous days (attribution lag)
AD_CVR = 0.025

# ---------------------------------------------------------------------------
# Realism faults, always on.
# ---------------------------------------------------------------------------
DUPLICATE_RATE = 0.007     # exact re-sends (same line again, same or a later file)
LATE_RATE = 0.03           # records delivered 1-3 days after the event day
LATE_DAYS_WEIGHTS = (0.6, 0.3, 0.1)   # 1, 2, 3 days late
INJECTION_TEXT_RATE = 0.002  # valid free-text fields carrying injection-looking text

# ---------------------------------------------------------------------------
# Feedback sentiment by stage (positive, neutral, negative).  Blended over the
# buyers who answer surveys this gives ~45/30/25, the NPS mix above.
# ---------------------------------------------------------------------------
SENTIMENT_BY_STAGE = {
    UNAWARE: (0.35, 0.40, 0.25), AWARENESS: (0.35, 0.40, 0.25), CONSIDERATION: (0.40, 0.35, 0.25),
    PURCHASE: (0.42, 0.32, 0.26), RETENTION: (0.45, 0.32, 0.23), ADVOCACY: (0.65, 0.22, 0.13),
    AT_RISK: (0.15, 0.30, 0.55), CHURNED: (0.10, 0.30, 0.60),
}
# Support tickets are mostly complaints or questions.
TICKET_SENTIMENT = (0.05, 0.45, 0.50)

# ---------------------------------------------------------------------------
# Time of day (KST), relative weights per hour 0..23.
# Web/app: evening peak 20-23h and a lunch bump (Korean mobile commerce pattern).
# ---------------------------------------------------------------------------
WEB_HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 8, 7, 6, 6, 6, 6, 7, 8, 10, 11, 10, 6)
# Stores open 10:30-21:30, busiest 14-19h.
STORE_HOUR_WEIGHTS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 6, 6, 8, 8, 9, 9, 9, 7, 5, 2, 0, 0)
# Weekend uplift of store visits (Sat/Sun).
STORE_WEEKEND_FACTOR = 1.6
