"""Day-by-day simulation of the population's journeys and of every business entity.

Phase 1 of the generator (single process): evolves each person's latent stage,
decides sessions, orders, receipts, tickets, surveys, reviews, mentions, loyalty
entries, CRM changes and ad spend, and registers every identifier it exposes.
Low-volume sources come out as ready contract records (dicts) per event day; the
high-volume ones (web/app events, email events) come out as compact specs that the
renderers in ``sources.py`` expand in parallel.

With ``history_days`` H the simulation starts H days before the first delivery day:
day indexes 0 .. H-1 are the history window, H .. H+D-1 the delivery days.  The
simulation does not know about deliveries; the writers put everything from the
history window into the first delivery (see ``writer.py``).
"""
from __future__ import annotations

import datetime as dt
import random
from bisect import bisect
from collections import defaultdict
from itertools import accumulate

import numpy as np

from touchpoint.generator import rates as R
from touchpoint.generator import vocab as V
from touchpoint.generator.clock import DAY, kst_iso, kst_naive, midnight_kst_epoch
from touchpoint.generator.people import (
    CRM_EXISTING, CRM_NEW, NEVER_ID, Population, build_population, canonical_handle, email_variant, new_member,
    phone_variant,
)

SENTIMENTS = ("positive", "neutral", "negative")
LOW_VOLUME_SOURCES = ("crm_customers", "social_mentions", "store_transactions", "ecommerce_orders",
                      "support_tickets", "survey_responses", "product_reviews", "loyalty_events", "ad_spend")


class Session:
    __slots__ = ("person", "device", "platform", "start", "dur", "pages", "funnel", "login_idx", "user_id",
                 "signup", "source", "items", "order", "first_open", "traffic")

    def __init__(self, person, device, platform, start, dur, pages, funnel, login_idx, user_id, signup, source,
                 items, order, first_open, traffic):
        self.person, self.device, self.platform, self.start, self.dur = person, device, platform, start, dur
        self.pages, self.funnel, self.login_idx, self.user_id, self.signup = pages, funnel, login_idx, user_id, signup
        self.source, self.items, self.order, self.first_open, self.traffic = source, items, order, first_open, traffic


class Campaign:
    __slots__ = ("campaign_id", "name", "send", "slug", "recipients")

    def __init__(self, campaign_id, name, send, slug):
        self.campaign_id, self.name, self.send, self.slug = campaign_id, name, send, slug
        # (email as the ESP holds it, sent, outcome, t_deliver_or_bounce, t_open, t_click, t_unsub, t_spam, ua)
        self.recipients: list[tuple] = []


class World:
    """Everything phase 1 decided; read-only for the renderers.

    ``start``/``days``/``dates`` span every simulated day, the history window included;
    ``history_days`` is the index of the first delivery day (--start).
    """

    def __init__(self, pop: Population, start: dt.date, days: int, seed: int, history_days: int = 0):
        self.pop, self.start, self.days, self.seed = pop, start, days, seed
        self.history_days = history_days
        self.start_epoch = midnight_kst_epoch(start)
        self.dates = [start + dt.timedelta(days=d) for d in range(days)]
        self.stages = np.zeros((pop.n, days), dtype=np.int8)
        self.web: list[list[Session]] = [[] for _ in range(days)]
        self.app: list[list[Session]] = [[] for _ in range(days)]
        self.campaigns: list[list[Campaign]] = [[] for _ in range(days)]
        self.records: dict[str, list[list[dict]]] = {s: [[] for _ in range(days)] for s in LOW_VOLUME_SOURCES}
        self.identifiers: dict[tuple[str, str], int] = {}
        self.feedback: list[tuple[str, str, str, str]] = []

    def use(self, id_type: str, value: str, person: int) -> None:
        key = (id_type, value)
        owner = self.identifiers.setdefault(key, person)
        if owner != person:  # pragma: no cover - construction guarantees uniqueness
            raise AssertionError(f"identifier {key} shared by {owner} and {person}")

    def day_of(self, epoch: int) -> int:
        return (epoch - self.start_epoch) // DAY


def _cum(weights) -> list[float]:
    """Cumulative weights: random.choices(cum_weights=...) draws exactly as with weights=, minus the summing."""
    return list(accumulate(weights))


def _draw(rng: random.Random, population, cum_weights: list[float]):
    """Same draw as rng.choices(population, cum_weights=cum_weights)[0], without its overhead."""
    return population[bisect(cum_weights, rng.random() * cum_weights[-1], 0, len(cum_weights) - 1)]


HOURS = range(24)
CUM_WEB_HOURS = _cum(R.WEB_HOUR_WEIGHTS)
CUM_STORE_HOURS = _cum(R.STORE_HOUR_WEIGHTS)
CUM_PRODUCTS = _cum(V.PRODUCT_WEIGHTS)
CUM_AD_CAMPAIGNS = _cum(V.AD_PLATFORM_BUDGET[c[0]] * c[7] for c in V.AD_CAMPAIGNS)
CUM_ORGANIC = _cum(s[3] for s in V.ORGANIC_SOURCES)


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), list(weights.values()))[0]


class Simulator:
    def __init__(self, customers: int, days: int, start: dt.date, seed: int, history_days: int = 0):
        """``start``/``days``: the first simulated day and the number of simulated days
        (history window included); ``history_days``: how many of them precede --start."""
        self.start_epoch = midnight_kst_epoch(start)
        pop = build_population(customers, seed, self.start_epoch, days)
        self.w = World(pop, start, days, seed, history_days)
        self.pop = pop
        self.n, self.days = customers, days
        self.rng = random.Random(f"{seed}/sim")
        self.np = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFFFFFF, 7]))
        self.sched: dict[int, list[tuple]] = defaultdict(list)
        self.order_seq = 0
        self.ticket_seq = 100000
        self.counters: dict[str, int] = defaultdict(int)
        self.app_logged_in: set[str] = set()
        self.app_seen: set[str] = set()
        self.crm_phone: dict[int, str] = {}
        self.points = {}      # member person -> [balance, yearly, tier]
        self.bought: set[int] = set()
        self.positive: list[int] = []
        self.negative: list[int] = []
        self.purchasers: list[int] = []
        self.store_seq: dict[tuple[str, int], int] = defaultdict(int)
        self.products = range(len(V.PRODUCTS))
        kinds = np.array(pop.kind, dtype=np.int8)
        self.kinds = kinds
        self.has_app = np.array([bool(a) for a in pop.apps])
        self.signup_day = np.array(pop.signup_day, dtype=np.int64)
        self.consent_email = np.array([c[0] for c in pop.consent])
        self.hard_bounced = np.zeros(customers, dtype=bool)
        self.has_handle = np.array([s is not None for s in pop.social])
        self.stage = self._initial_stages()
        for i in range(customers):
            if pop.member[i]:
                tier = self.rng.choices(R.TIERS, (0.55, 0.25, 0.15, 0.05))[0]
                self.points[i] = [self.rng.randrange(0, 20000), self._tier_floor(tier) + self.rng.randrange(0, 2000), tier]

    # ------------------------------------------------------------------ helpers
    def _initial_stages(self) -> np.ndarray:
        stage = np.zeros(self.n, dtype=np.int8)
        crm = self.kinds == CRM_EXISTING
        keys = list(R.INITIAL_STAGE_CRM)
        p = np.array(list(R.INITIAL_STAGE_CRM.values()))
        stage[crm] = self.np.choice(keys, size=int(crm.sum()), p=p / p.sum())
        keys = list(R.INITIAL_STAGE_PROSPECT)
        p = np.array(list(R.INITIAL_STAGE_PROSPECT.values()))
        stage[~crm] = self.np.choice(keys, size=int((~crm).sum()), p=p / p.sum())
        return stage

    @staticmethod
    def _tier_floor(tier: str) -> int:
        return R.TIER_THRESHOLDS.get(tier, 0)

    def next_id(self, name: str) -> int:
        self.counters[name] += 1
        return self.counters[name]

    def emit(self, source: str, epoch: int, record: dict) -> None:
        d = self.w.day_of(epoch)
        if 0 <= d < self.days:
            self.w.records[source][d].append(record)

    def has_account(self, i: int, d: int) -> bool:
        return self.pop.account[i] is not None and self.pop.signup_day[i] <= d

    def email_of(self, i: int, second_ok: bool = True) -> str | None:
        pop = self.pop
        if pop.email[i] is None:
            return None
        e = pop.email2[i] if second_ok and pop.email2[i] and self.rng.random() < 0.3 else pop.email[i]
        self.w.use("email", e, i)
        return email_variant(e, self.rng)

    def phone_of(self, i: int) -> str | None:
        if self.pop.phone[i] is None:
            return None
        self.w.use("phone", f"+8210{self.pop.phone[i]:08d}", i)
        return phone_variant(self.pop.phone[i], self.rng)

    def account_of(self, i: int) -> str:
        self.w.use("account_id", self.pop.account[i], i)
        return self.pop.account[i]

    def text(self, category: str, sentiment: str, english: bool) -> str:
        ko, en = self.rng.choice(V.FEEDBACK_TEXT[(category, sentiment)])
        t = en if english else ko
        if self.rng.random() < R.INJECTION_TEXT_RATE:
            t = t + " " + self.rng.choice(V.INJECTIONS)
        return t

    def sentiment(self, i: int) -> str:
        return self.rng.choices(SENTIMENTS, R.SENTIMENT_BY_STAGE[int(self.stage[i])])[0]

    def time_in_day(self, d: int, cum_weights, lo: int = 0, hi: int = DAY - 1) -> int:
        hour = _draw(self.rng, HOURS, cum_weights)
        sec = hour * 3600 + self.rng.randrange(3600)
        if not lo <= sec <= hi:
            sec = lo + self.rng.randrange(max(1, min(3600, hi - lo)))
        return self.start_epoch + d * DAY + sec

    def pick_items(self, k: int) -> list[int]:
        items: list[int] = []
        while len(items) < k:
            p = _draw(self.rng, self.products, CUM_PRODUCTS)
            if p not in items:
                items.append(p)
        return items

    # ------------------------------------------------------------------ CRM
    def crm_row(self, i: int, updated: int) -> None:
        pop = self.pop
        if i not in self.crm_phone:
            self.crm_phone[i] = self.phone_of(i) if self.rng.random() < 0.95 else None
        self.w.use("account_id", pop.account[i], i)
        self.w.use("email", pop.email[i], i)
        social = None
        if pop.social_linked[i]:
            plat, handle = pop.social[i]
            social = f"{plat}:{handle}" if self.rng.random() < 0.8 else f"{plat.title()}:{handle}"
            self.w.use("social_handle", canonical_handle(plat, handle), i)
        signup = pop.signup_epoch[i]
        c = pop.consent[i]
        name = pop.name[i]
        if self.rng.random() < R.INJECTION_TEXT_RATE:
            name = self.rng.choice(V.INJECTIONS)
        self.emit("crm_customers", max(updated, self.start_epoch), {
            "account_id": pop.account[i], "email": pop.crm_email[i], "phone": self.crm_phone[i], "name": name,
            "birth_year": pop.birth_year[i] if self.rng.random() < 0.9 else None, "gender": pop.gender[i],
            "city": V.CITIES[pop.city[i]][0], "signup_channel": pop.signup_channel[i], "signup_at": kst_iso(signup),
            "consent_email": c[0], "consent_sms": c[1], "consent_push": c[2], "loyalty_member_id": pop.member[i],
            "social_handle": social, "updated_at": kst_iso(updated),
        })

    def initial_crm_snapshot(self) -> None:
        """The first delivery carries the full export of accounts that exist before the
        simulation starts (with a history window: before its first day; the accounts
        created or changed during the history window follow as their own versions)."""
        for i in range(self.n):
            if self.pop.kind[i] == CRM_EXISTING:
                signup = self.pop.signup_epoch[i]
                updated = signup + self.rng.randrange(0, max(1, self.start_epoch - signup))
                self._crm_snapshot_row(i, updated)

    def _crm_snapshot_row(self, i: int, updated: int) -> None:
        # The snapshot row is emitted on simulated day 0 (delivered with the first delivery)
        # but carries its historical updated_at.
        before = len(self.w.records["crm_customers"][0])
        self.crm_row(i, self.start_epoch)
        self.w.records["crm_customers"][0][before]["updated_at"] = kst_iso(updated)

    # ------------------------------------------------------------------ loyalty
    def loyalty(self, i: int, epoch: int, etype: str, points: int, channel: str, ref_type: str, ref_id: str | None,
                tier_before=None, tier_after=None) -> None:
        pop = self.pop
        card = pop.card[i] if (channel == "store" or self.rng.random() < 0.8) else None
        if card:
            self.w.use("loyalty_card", card, i)
        self.emit("loyalty_events", epoch, {
            "event_id": f"L{self.next_id('loyalty'):010d}", "member_id": pop.member[i], "card_number": card,
            "event_type": etype, "points": points, "tier_before": tier_before, "tier_after": tier_after,
            "channel": channel, "reference_type": ref_type, "reference_id": ref_id, "occurred_at": kst_iso(epoch),
        })

    def earn(self, i: int, epoch: int, amount: int, channel: str, ref_type: str, ref_id: str) -> None:
        if self.pop.member[i] is None or amount <= 0:
            return
        acct = self.points[i]
        if acct[0] > 1000 and self.rng.random() < R.P_REDEEM_AT_PURCHASE:
            used = min(acct[0], self.rng.randrange(1000, 5001, 100))
            acct[0] -= used
            self.loyalty(i, epoch, "redeem", -used, channel, ref_type, ref_id)
        pts = int(amount * R.EARN_RATE[acct[2]])
        acct[0] += pts
        acct[1] += pts
        self.loyalty(i, epoch + 1, "earn", pts, channel, ref_type, ref_id)
        new_tier = acct[2]
        for tier in ("silver", "gold", "vip"):
            if acct[1] >= R.TIER_THRESHOLDS[tier]:
                new_tier = tier
        if R.TIERS.index(new_tier) > R.TIERS.index(acct[2]):
            self.loyalty(i, epoch + 2, "tier_change", 0, "system", "none", None, acct[2], new_tier)
            acct[2] = new_tier

    def enroll(self, i: int, epoch: int, channel: str) -> None:
        new_member(self.pop, i, self.rng)
        self.points[i] = [0, 0, "basic"]
        self.loyalty(i, epoch, "enroll", 0, channel, "none", None, None, "basic")
        self.crm_row(i, epoch + 5)

    # ------------------------------------------------------------------ orders
    def make_order(self, i: int, created: int, source_name: str, logged_in: bool, session_source,
                   viewed: list[int]) -> dict:
        rng = self.rng
        self.order_seq += 1
        oid = f"O{100000000 + self.order_seq:09d}"
        k = rng.choices((1, 2, 3), R.ITEMS_PER_ORDER_WEIGHTS)[0]
        products = list(viewed[:k])
        for p in self.pick_items(3):
            if len(products) < k and p not in products:
                products.append(p)
        lines = []
        for n, p in enumerate(products):
            sku, ko, en, _, price = V.PRODUCTS[p]
            qty = 2 if rng.random() < R.P_QUANTITY_TWO else 1
            lines.append({"id": f"LI{n + 1}", "sku": sku, "title": en if self.pop.english[i] else ko,
                          "quantity": qty, "price": price})
        subtotal = sum(li["price"] * li["quantity"] for li in lines)
        codes = []
        discount = 0
        if rng.random() < R.P_DISCOUNT_CODE:
            code, ctype, val = rng.choice(V.DISCOUNT_CODES)
            discount = int(round(subtotal * val, -2)) if ctype == "percentage" else min(int(val), subtotal)
            codes = [{"code": code, "amount": discount, "type": ctype}]
        shipping = 0 if subtotal - discount >= R.FREE_SHIPPING_THRESHOLD_KRW else R.SHIPPING_FEE_KRW
        total = subtotal - discount + shipping
        src, med, camp = session_source
        landing = f"/products/{lines[0]['sku']}"
        if camp and med not in ("organic", "(none)"):
            landing += f"?utm_source={src}&utm_medium={med}&utm_campaign={camp}"
        referring = {"naver": "https://search.naver.com", "google": "https://www.google.com",
                     "instagram": "https://l.instagram.com", "facebook": "https://m.facebook.com",
                     "kakao": "https://m.kakao.com", "daum": "https://search.daum.net"}.get(src)
        if logged_in:
            customer, email, phone = self.account_of(i), self.email_of(i, second_ok=False), self.phone_of(i)
        else:
            customer, email = None, self.email_of(i)
            phone = self.phone_of(i) if rng.random() < 0.85 else None
        base = {
            "order_id": oid, "order_number": 10000 + self.order_seq, "customer_id": customer, "email": email,
            "phone": phone, "created_at": kst_iso(created), "updated_at": None, "currency": "KRW",
            "subtotal_price": subtotal, "total_discounts": discount, "shipping_price": shipping, "total_price": total,
            "financial_status": "paid", "cancelled_at": None, "cancel_reason": None, "line_items": lines,
            "discount_codes": codes, "refunds": [], "source_name": source_name, "landing_site": landing,
            "referring_site": referring,
        }
        self._order_lifecycle(i, base, created, total, lines)
        return base

    def _order_version(self, base: dict, updated: int, **changes) -> None:
        rec = dict(base)
        rec.update(changes)
        rec["updated_at"] = kst_iso(updated)
        self.emit("ecommerce_orders", updated, rec)

    def _order_lifecycle(self, i: int, base: dict, created: int, total: int, lines: list) -> None:
        rng = self.rng
        t = created + rng.randrange(2, 30)
        r = rng.random()
        paid_at = t
        if r < R.P_PENDING_PAYMENT:
            self._order_version(base, t, financial_status="pending")
            if rng.random() < R.P_PENDING_NEVER_PAID:
                t2 = created + 3 * DAY + rng.randrange(3600)
                self._order_version(base, t2, financial_status="voided", cancelled_at=kst_iso(t2), cancel_reason="declined")
                return
            paid_at = created + rng.randrange(3600, DAY)
            self._order_version(base, paid_at, financial_status="paid")
        elif r < R.P_PENDING_PAYMENT + 0.12:
            self._order_version(base, t, financial_status="authorized")
            paid_at = created + rng.randrange(6 * 3600, 30 * 3600)
            if rng.random() < R.P_CANCEL:
                reason = rng.choices(("customer", "inventory", "fraud", "other"), (0.7, 0.2, 0.03, 0.07))[0]
                t2 = created + rng.randrange(600, 6 * 3600)
                self._order_version(base, t2, financial_status="voided", cancelled_at=kst_iso(t2), cancel_reason=reason)
                return
            self._order_version(base, paid_at, financial_status="paid")
        else:
            self._order_version(base, t, financial_status="paid")
        if base["customer_id"]:
            self.earn(i, paid_at, total, base["source_name"], "order", base["order_id"])
        if rng.random() < R.P_CANCEL:
            t2 = paid_at + rng.randrange(1800, 30 * 3600)
            reason = rng.choices(("customer", "inventory", "other"), (0.8, 0.15, 0.05))[0]
            refund = [{"id": f"RF{base['order_id'][1:]}", "created_at": kst_iso(t2), "amount": total, "note": "주문 취소"}]
            self._order_version(base, t2, financial_status="refunded", cancelled_at=kst_iso(t2),
                                cancel_reason=reason, refunds=refund)
            return
        if rng.random() < R.P_RETURN:
            t2 = paid_at + rng.randrange(3 * DAY, 10 * DAY)
            if len(lines) > 1 and rng.random() < R.P_PARTIAL_RETURN:
                amount = lines[-1]["price"] * lines[-1]["quantity"]
                status = "partially_refunded"
            else:
                amount, status = total, "refunded"
            refund = [{"id": f"RF{base['order_id'][1:]}", "created_at": kst_iso(t2), "amount": amount, "note": "반품 환불"}]
            self._order_version(base, t2, financial_status=status, refunds=refund)

    # ------------------------------------------------------------------ sessions
    def session_source(self):
        rng = self.rng
        if rng.random() < V.PAID_SHARE:
            c = _draw(rng, V.AD_CAMPAIGNS, CUM_AD_CAMPAIGNS)
            return (c[3], c[4], c[2])
        s = _draw(rng, V.ORGANIC_SOURCES, CUM_ORGANIC)
        return (s[0], s[1], s[2])

    def new_session(self, i: int, d: int, app: bool, source=None, start: int | None = None,
                    signup: bool = False) -> Session:
        rng = self.rng
        pop = self.pop
        st = int(self.stage[i])
        if app:
            device, platform = pop.apps[i][0] if len(pop.apps[i]) == 1 or rng.random() < 0.8 else pop.apps[i][1]
            self.w.use("app_instance_id", device, i)
            # installs made before the window do not send first_open again
            first_open = device not in self.app_seen and (pop.kind[i] != CRM_EXISTING or rng.random() < 0.1)
            self.app_seen.add(device)
        else:
            cookies = pop.cookies[i]
            k = 0 if len(cookies) == 1 or rng.random() < 0.6 else rng.randrange(1, len(cookies))
            device, platform, first_open = cookies[k], None, False
            self.w.use("cookie_id", device, i)
        pages = 1 + min(30, int(rng.expovariate(1.0 / (R.PAGES_PER_SESSION_MEAN - 1))))
        r = rng.random()
        funnel = 0
        if r < R.P_VIEW_ITEM:
            funnel = 1
            if r < R.P_ADD_TO_CART:
                funnel = 2
                if r < R.P_BEGIN_CHECKOUT:
                    funnel = 3
        can_buy = pop.kind[i] != NEVER_ID and pop.email[i] is not None
        converted = can_buy and rng.random() < R.CONVERSION[st]
        if converted:
            funnel = 4
        dur = pages * rng.randrange(20, 70) + funnel * 40
        if start is None:
            start = self.time_in_day(d, CUM_WEB_HOURS)
        day_end = self.start_epoch + (d + 1) * DAY - 1
        start = min(start, day_end - dur - 1)
        account = self.has_account(i, d) or signup
        login_idx = -1
        if account:
            if app:
                if device in self.app_logged_in:
                    login_idx = 0
                elif signup or rng.random() < R.APP_LOGIN_SHARE or (converted and rng.random() < R.LOGIN_AT_CHECKOUT_SHARE):
                    login_idx = 1 + rng.randrange(pages)
                    self.app_logged_in.add(device)
            elif signup or rng.random() < R.WEB_LOGIN_SHARE:
                login_idx = 1 + rng.randrange(pages)
            elif converted and rng.random() < R.LOGIN_AT_CHECKOUT_SHARE:
                login_idx = pages  # logs in to pay
        user_id = self.account_of(i) if login_idx >= 0 else None
        if source is None:
            source = self.session_source()
        sess = Session(person=i, device=device, platform=platform, start=start, dur=dur, pages=pages,
                       funnel=funnel, login_idx=login_idx, user_id=user_id, signup=signup, source=source,
                       items=self.pick_items(1 + (funnel >= 1 and rng.random() < 0.4)), order=None,
                       first_open=first_open, traffic=None if app else pop.cookie_source[i][k])
        if converted:
            sess.order = self.make_order(i, start + dur, "app" if app else "web", login_idx >= 0, source, sess.items)
            self.purchasers.append(i)
            self.after_purchase(i, d, start + dur, sess.order["order_id"], "app" if app else "web", online=True,
                                skus=[li["sku"] for li in sess.order["line_items"]])
        (self.w.app if app else self.w.web)[d].append(sess)
        if app and rng.random() < R.P_CES_IN_APP:
            self.sched[d].append(("ces", i, start + dur + 60))
        return sess

    def after_purchase(self, i: int, d: int, epoch: int, ref: str, channel: str, online: bool,
                       skus: list[str]) -> None:
        rng = self.rng
        if rng.random() < R.P_NPS_AFTER_PURCHASE:
            t = epoch + rng.randrange(2 * DAY, 5 * DAY)
            self.sched[self.w.day_of(t)].append(("nps", i, t, ref, channel))
        if online and rng.random() < R.P_REVIEW_AFTER_ORDER:
            t = epoch + rng.randrange(3 * DAY, 10 * DAY)
            self.sched[self.w.day_of(t)].append(("review", i, t, ref, rng.choice(skus)))
        elif not online and rng.random() < R.P_REVIEW_STORE_KIOSK:
            self.review(i, epoch + rng.randrange(120, 1800), None, rng.choice(skus), kiosk=True)
        if online and rng.random() < R.P_TICKET_AFTER_ORDER:
            t = epoch + rng.randrange(DAY, 4 * DAY)
            self.sched[self.w.day_of(t)].append(("ticket", i, t, ref))

    # ------------------------------------------------------------------ store
    def store_visit(self, i: int, d: int) -> None:
        rng = self.rng
        pop = self.pop
        city = V.CITIES[pop.city[i]][0]
        local = [s for s in V.STORES if s[3] == city]
        store = rng.choice(local) if local and rng.random() < 0.85 else rng.choices(V.STORES, [s[4] for s in V.STORES])[0]
        t = self.time_in_day(d, CUM_STORE_HOURS, 10 * 3600 + 1800, 21 * 3600 + 1800)
        key = (store[0], d)
        self.store_seq[key] += 1
        rid = f"R-{store[0]}-{self.w.dates[d]:%Y%m%d}-{self.store_seq[key]:04d}"
        lines = []
        for p in self.pick_items(rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]):
            sku, ko, en, _, price = V.PRODUCTS[p]
            disc = int(round(price * 0.1, -2)) if rng.random() < 0.2 else 0
            lines.append({"sku": sku, "product_name": ko, "quantity": 1, "unit_price_krw": price, "discount_krw": disc})
        subtotal = sum(li["unit_price_krw"] * li["quantity"] for li in lines)
        discount = sum(li["discount_krw"] for li in lines)
        if pop.member[i] is None and pop.account[i] is not None and self.has_account(i, d) \
                and rng.random() < R.LOYALTY_ENROLL_PER_STORE_VISIT:
            self.enroll(i, t - 120, "store")
        card = pop.card[i] if pop.card[i] and rng.random() < R.P_LOYALTY_CARD_PRESENTED else None
        if card:
            self.w.use("loyalty_card", card, i)
        payment = _pick(rng, R.STORE_PAYMENT_WEIGHTS)
        rec = {"receipt_id": rid, "store_id": store[0], "store_name": store[1], "region": store[2],
               "transaction_local_time": kst_naive(t), "transaction_type": "sale", "loyalty_card_number": card,
               "line_items": lines, "subtotal_krw": subtotal, "discount_krw": discount,
               "total_krw": subtotal - discount, "payment_method": payment, "original_receipt_id": None}
        self.emit("store_transactions", t, rec)
        if card:
            self.earn(i, t + 1, subtotal - discount, "store", "receipt", rid)
        self.purchasers.append(i)
        self.after_purchase(i, d, t, rid, "store", online=False, skus=[li["sku"] for li in lines])
        if rng.random() < R.P_STORE_RETURN:
            t2 = t + rng.randrange(DAY, 10 * DAY)
            self.sched[self.w.day_of(t2)].append(("store_return", i, t2, rec))

    def store_return(self, i: int, t: int, sale: dict) -> None:
        d = self.w.day_of(t)
        hour = (t - self.start_epoch) % DAY
        if not 10 * 3600 + 1800 <= hour <= 21 * 3600:
            t = self.start_epoch + d * DAY + 11 * 3600 + self.rng.randrange(9 * 3600)
        key = (sale["store_id"], d)
        self.store_seq[key] += 1
        rid = f"R-{sale['store_id']}-{self.w.dates[d]:%Y%m%d}-{self.store_seq[key]:04d}"
        line = dict(sale["line_items"][0])
        amount = line["unit_price_krw"] * line["quantity"]
        card = sale["loyalty_card_number"]
        self.emit("store_transactions", t, {
            "receipt_id": rid, "store_id": sale["store_id"], "store_name": sale["store_name"], "region": sale["region"],
            "transaction_local_time": kst_naive(t), "transaction_type": "return", "loyalty_card_number": card,
            "line_items": [line], "subtotal_krw": -amount, "discount_krw": -line["discount_krw"],
            "total_krw": -(amount - line["discount_krw"]), "payment_method": sale["payment_method"],
            "original_receipt_id": sale["receipt_id"]})

    # ------------------------------------------------------------------ feedback
    def survey(self, i: int, t: int, stype: str, touchpoint: str, channel: str, ref: str | None) -> None:
        rng = self.rng
        if stype == "csat":
            sent = rng.choices(SENTIMENTS, R.CSAT_SENTIMENT)[0]
        else:
            sent = self.sentiment(i)
        if stype == "nps":
            score = {"positive": rng.choice((9, 10)), "neutral": rng.choice((7, 8)),
                     "negative": rng.choices(range(7), (1, 1, 2, 3, 4, 7, 8))[0]}[sent]
        elif stype == "csat":
            score = {"positive": rng.choice((4, 5, 5)), "neutral": 3, "negative": rng.choice((1, 2))}[sent]
        else:
            score = {"positive": rng.choice((5, 6, 7)), "neutral": 4, "negative": rng.choice((1, 2, 3))}[sent]
        category = rng.choices(V.CATEGORIES, V.SURVEY_CATEGORY_WEIGHTS)[0]
        if touchpoint == "after_store_visit":
            category = rng.choice(("store_experience", "product_quality", "service"))
        elif stype == "csat":
            category = "service"
        elif stype == "ces":
            category = rng.choice(("app_bug", "other", "delivery"))
        comment = self.text(category, sent, self.pop.english[i]) if rng.random() < R.P_SURVEY_COMMENT else None
        account = self.account_of(i) if self.pop.account[i] and self.has_account(i, self.w.day_of(t)) else None
        email = self.email_of(i, second_ok=False) if channel in ("email", "web") or rng.random() < 0.3 else None
        rid = f"SR{self.next_id('survey'):09d}"
        self.emit("survey_responses", t, {
            "response_id": rid, "survey_type": stype, "score": score, "touchpoint": touchpoint, "channel": channel,
            "account_id": account, "email": email, "reference_id": ref, "comment": comment, "responded_at": kst_iso(t)})
        self.w.feedback.append(("survey_responses", rid, sent, category))
        self.react(i, sent)

    def react(self, i: int, sentiment: str) -> None:
        if sentiment == "negative":
            self.negative.append(i)
        elif sentiment == "positive":
            self.positive.append(i)

    def review(self, i: int, t: int, order_id: str | None, sku: str, kiosk: bool = False) -> None:
        rng = self.rng
        pop = self.pop
        sent = self.sentiment(i)
        rating = {"positive": rng.choices((5, 4), (0.75, 0.25))[0], "neutral": 3,
                  "negative": rng.choices((1, 2), (0.6, 0.4))[0]}[sent]
        category = rng.choices(V.CATEGORIES, V.REVIEW_CATEGORY_WEIGHTS)[0]
        english = pop.english[i] or rng.random() < R.P_REVIEW_ENGLISH
        marketplace = not kiosk and rng.random() < R.P_REVIEW_NAVER_SHOPPING
        logged = not marketplace and self.has_account(i, self.w.day_of(t))
        channel = "store_kiosk" if kiosk else "naver_shopping" if marketplace else rng.choice(("web", "app"))
        rid = f"RV{self.next_id('review'):08d}"
        if kiosk and category in ("delivery", "app_bug"):
            category = "store_experience"
        nick = pop.name[i][1:] if not pop.english[i] else pop.name[i].split()[0]
        if marketplace:
            nick = nick[:1] + "**"
        self.emit("product_reviews", t, {
            "review_id": rid, "product_id": sku, "rating": rating,
            "title": rng.choice(V.REVIEW_TITLES[sent]), "body": self.text(category, sent, english),
            "is_verified_purchase": not marketplace, "channel": channel,
            "account_id": self.account_of(i) if logged else None,
            "reviewer_email": self.email_of(i, second_ok=False) if (not logged and not marketplace and not kiosk) else None,
            "reviewer_nickname": nick, "order_id": None if marketplace else order_id, "created_at": kst_iso(t),
            "language": "en" if english else "ko"})
        self.w.feedback.append(("product_reviews", rid, sent, category))
        if logged and pop.member[i]:
            self.loyalty(i, t + 30, "earn", R.REVIEW_POINTS, "store" if kiosk else channel, "review", rid)
        self.react(i, sent)

    def ticket(self, i: int, t: int, ref: str | None) -> None:
        rng = self.rng
        pop = self.pop
        channel = _pick(rng, R.TICKET_CHANNEL_WEIGHTS)
        d = self.w.day_of(t)
        weekday = self.w.dates[d].weekday()
        if channel not in ("chatbot", "email", "web") or rng.random() < 0.5:
            if weekday < 5 and rng.random() < R.TICKET_BUSINESS_HOURS_SHARE:
                t = self.start_epoch + d * DAY + 9 * 3600 + rng.randrange(9 * 3600)
        category = "delivery" if ref and rng.random() < 0.6 else rng.choices(V.CATEGORIES, V.TICKET_CATEGORY_WEIGHTS)[0]
        sent = rng.choices(SENTIMENTS, R.TICKET_SENTIMENT)[0]
        english = pop.english[i]
        subject = V.TICKET_SUBJECTS[category][1 if english else 0]
        desc = self.text(category, sent, english)
        if ref:
            desc = f"{desc} ({ref})"
        email = self.email_of(i) if channel in ("email", "web", "chat") or rng.random() < 0.2 else None
        phone = self.phone_of(i) if channel == "phone" or (channel == "chat" and rng.random() < 0.3) else None
        if channel == "social" and pop.social[i]:
            plat, handle = pop.social[i]
            desc = f"[{plat} DM {handle}] {desc}"
            self.w.use("social_handle", canonical_handle(plat, handle), i)
        self.ticket_seq += 1
        tid = self.ticket_seq
        priority = _pick(rng, R.TICKET_PRIORITY_WEIGHTS)
        escalated = rng.random() < R.P_ESCALATED
        reply = {"phone": (30, 300), "chat": (60, 900), "chatbot": (5, 60), "social": (1800, 6 * 3600),
                 "web": (3600, 20 * 3600), "email": (3600, 24 * 3600)}[channel]
        first_reply = t + rng.randrange(*reply)
        solved = first_reply + rng.randrange(600, 3 * DAY if escalated else DAY)
        base = {"ticket_id": tid, "via_channel": channel, "requester_email": email, "requester_phone": phone,
                "subject": subject, "description": desc, "tags": [category] + (["escalated"] if escalated else []),
                "priority": "high" if escalated and priority in ("low", "normal") else priority, "status": "new",
                "created_at": kst_iso(t), "updated_at": kst_iso(t), "first_reply_at": None, "solved_at": None,
                "is_escalated": False, "satisfaction_rating": "unoffered", "satisfaction_comment": None,
                "assignee_id": None}
        self.emit("support_tickets", t, dict(base))
        agent = f"AG{rng.randrange(1, 60):03d}"
        v = dict(base, status="open", updated_at=kst_iso(first_reply), first_reply_at=kst_iso(first_reply),
                 assignee_id=agent)
        self.emit("support_tickets", first_reply, v)
        if escalated:
            te = min(first_reply + rng.randrange(600, 6 * 3600), solved - 60)
            v = dict(v, status="pending", is_escalated=True, updated_at=kst_iso(te))
            self.emit("support_tickets", te, v)
        v = dict(v, status="solved", solved_at=kst_iso(solved), updated_at=kst_iso(solved), satisfaction_rating="offered")
        self.emit("support_tickets", solved, v)
        self.w.feedback.append(("support_tickets", str(tid), sent, category))
        self.react(i, sent)
        if rng.random() < R.P_CSAT_OFFERED_RATED:
            tr = solved + rng.randrange(600, DAY)
            good = rng.random() < R.CSAT_GOOD
            comment = self.text("service", "positive" if good else "negative", english) if rng.random() < 0.4 else None
            v = dict(v, satisfaction_rating="good" if good else "bad", satisfaction_comment=comment, updated_at=kst_iso(tr))
            self.emit("support_tickets", tr, v)
        tc = solved + 4 * DAY
        self.emit("support_tickets", tc, dict(v, status="closed", updated_at=kst_iso(tc)))
        if rng.random() < R.P_CSAT_SURVEY_AFTER_SUPPORT:
            ts = solved + rng.randrange(1800, DAY)
            self.sched[self.w.day_of(ts)].append(("csat", i, ts, str(tid)))

    def mention(self, i: int, d: int) -> None:
        rng = self.rng
        pop = self.pop
        plat, handle = pop.social[i]
        sent = self.sentiment(i)
        category = rng.choices(V.CATEGORIES, V.SOCIAL_CATEGORY_WEIGHTS)[0]
        english = pop.english[i] or rng.random() < 0.1
        t = self.time_in_day(d, CUM_WEB_HOURS)
        text = self.text(category, sent, english) + rng.choice((" #touchpoint", " #데일리룩", " #오오티디", ""))
        mid = f"SM{self.next_id('mention'):010d}"
        likes = int(rng.paretovariate(1.5) * 3) - 3
        rec = {"mention_id": mid, "platform": plat, "handle": handle if rng.random() < 0.9 else handle.lower(),
               "author_name": pop.name[i] if rng.random() < 0.5 else pop.roman[i].split(".")[0].title(),
               "text": text, "posted_at": kst_iso(t), "collected_at": None, "likes": likes,
               "shares": likes // 20, "comments": likes // 8, "is_brand_post": False,
               "post_url": f"https://{plat}.example.com/p/{mid.lower()}", "language": "en" if english else "ko"}
        if not self._collect(rec, t):
            return  # collected after the window: never delivered
        self.w.use("social_handle", canonical_handle(plat, handle), i)
        self.w.feedback.append(("social_mentions", mid, sent, category))
        self.react(i, sent)
        if pop.member[i] and rng.random() < R.P_SOCIAL_SHARE_POINTS:
            self.loyalty(i, t + 3600, "earn", R.SOCIAL_SHARE_POINTS, "social_share", "social_post", mid)

    def _collect(self, rec: dict, posted: int, recollect: bool = False) -> bool:
        """The listening tool collects at 01:00 KST the next day; brand posts again a day later."""
        collected = self.start_epoch + (self.w.day_of(posted) + 1) * DAY + 3600 + self.rng.randrange(1800)
        if self.w.day_of(collected) >= self.days:
            return False
        rec = dict(rec, collected_at=kst_iso(collected))
        self.emit("social_mentions", collected, rec)
        if recollect:
            c2 = collected + DAY
            grow = 1.0 + self.rng.random()
            self.emit("social_mentions", c2, dict(rec, collected_at=kst_iso(c2), likes=int(rec["likes"] * grow),
                                                  shares=int(rec["shares"] * grow), comments=int(rec["comments"] * grow)))
        return True

    def brand_posts(self, d: int) -> None:
        rng = self.rng
        scale = max(1.0, self.n / 10000)
        for _ in range(rng.randint(*R.BRAND_POSTS_PER_DAY)):
            plat = _pick(rng, R.SOCIAL_PLATFORM_WEIGHTS)
            english = rng.random() < 0.2
            ko, en = rng.choice(V.BRAND_POST_TEXTS)
            t = self.start_epoch + d * DAY + rng.choice((9, 12, 18, 20)) * 3600 + rng.randrange(1800)
            mid = f"SM{self.next_id('mention'):010d}"
            likes = int(rng.randrange(50, 800) * scale)
            rec = {"mention_id": mid, "platform": plat, "handle": V.BRAND_HANDLES[plat], "author_name": "Touchpoint",
                   "text": en if english else ko, "posted_at": kst_iso(t), "collected_at": None, "likes": likes,
                   "shares": likes // 15, "comments": likes // 10, "is_brand_post": True,
                   "post_url": f"https://{plat}.example.com/p/{mid.lower()}", "language": "en" if english else "ko"}
            self._collect(rec, t, recollect=True)

    # ------------------------------------------------------------------ email
    def email_campaign(self, d: int) -> None:
        rng = self.rng
        date = self.w.dates[d]
        code, name = V.EMAIL_CAMPAIGNS[(date.isocalendar()[1] * 3 + date.weekday()) % len(V.EMAIL_CAMPAIGNS)]
        cid = f"C{date:%Y_%m_%d}_{code}"
        hour = 19 if date.weekday() == 5 else 10
        camp = Campaign(cid, name, self.start_epoch + d * DAY + hour * 3600, code.lower())
        eligible = (self.signup_day <= d) & self.consent_email & ~self.hard_bounced & (self.kinds <= CRM_NEW)
        idx = np.flatnonzero(eligible & (self.np.random(self.n) < R.EMAIL_AUDIENCE_SHARE))
        if len(idx) == 0:
            self.w.campaigns[d].append(camp)
            return
        eng = np.array(R.EMAIL_ENGAGEMENT)[self.stage[idx]]
        eng = eng / max(eng.mean(), 1e-9)
        u = self.np.random((len(idx), 5))
        p_open = np.minimum(0.95, R.EMAIL_OPEN * eng)
        for j, i in enumerate(idx.tolist()):
            sent = camp.send + rng.randrange(1200)
            email = self.pop.email[i]
            self.w.use("email", email, i)
            held = email_variant(email, rng)
            ua = rng.choice(V.USER_AGENTS)
            if u[j, 0] < R.EMAIL_BOUNCE:
                hard = rng.random() < R.EMAIL_HARD_BOUNCE_SHARE
                if hard:
                    self.hard_bounced[i] = True
                camp.recipients.append((held, sent, "hard" if hard else "soft", sent + rng.randrange(1, 60), 0, 0, 0, 0, ua))
                continue
            delivered = sent + rng.randrange(1, 30)
            t_open = t_click = t_unsub = t_spam = 0
            if u[j, 1] < p_open[j]:
                t_open = delivered + min(2 * DAY, int(rng.expovariate(1 / 14400)))
                if u[j, 2] < R.EMAIL_CLICK / R.EMAIL_OPEN:
                    t_click = t_open + rng.randrange(5, 600)
                    if rng.random() < R.EMAIL_CLICK_TO_SESSION:
                        self.sched[self.w.day_of(t_click)].append(("email_session", i, t_click + 2, cid))
                if u[j, 3] < R.EMAIL_UNSUBSCRIBE / R.EMAIL_OPEN:
                    t_unsub = t_open + rng.randrange(10, 900)
                    self.consent_email[i] = False
                    self.pop.consent[i][0] = False
                    self.crm_row(i, t_unsub + 1)
            if u[j, 4] < R.EMAIL_SPAM_COMPLAINT:
                t_spam = delivered + rng.randrange(60, 6 * 3600)
            camp.recipients.append((held, sent, "delivered", delivered, t_open, t_click, t_unsub, t_spam, ua))
        self.w.campaigns[d].append(camp)

    # ------------------------------------------------------------------ ads
    def ad_spend(self) -> None:
        rng = random.Random(f"{self.w.seed}/ads")
        daily_total = R.AD_SPEND_PER_PERSON_DAY_KRW * self.n
        truth: dict[tuple[int, str], list] = {}
        for d in range(self.days):
            weekend = self.w.dates[d].weekday() >= 5
            for c in V.AD_CAMPAIGNS:
                platform, cid, name, _, _, cpm, ctr, share = c
                spend = daily_total * V.AD_PLATFORM_BUDGET[platform] * share * rng.uniform(0.8, 1.2) * (1.15 if weekend else 1)
                spend = int(round(spend, -1))
                impressions = int(spend / cpm * 1000)
                clicks = int(impressions * ctr * rng.uniform(0.85, 1.15))
                conv = int(clicks * R.AD_CVR * rng.uniform(0.7, 1.3))
                truth[(d, cid)] = [platform, cid, name, spend, impressions, clicks, conv, conv * rng.randrange(70000, 110000, 100)]
        for d in range(self.days):
            # Delivery d: day d (preliminary) and restated previous days (attribution lag adds conversions).
            for back in range(R.AD_RESTATE_DAYS, -1, -1):
                sd = d - back
                if sd < 0:
                    continue
                for c in V.AD_CAMPAIGNS:
                    platform, cid, name, spend, imp, clicks, conv, value = truth[(sd, c[1])]
                    frac = (0.85, 0.95, 1.0)[min(back, 2)]
                    self.w.records["ad_spend"][d].append({
                        "spend_date": self.w.dates[sd].isoformat(), "platform": platform, "campaign_id": cid,
                        "campaign_name": name, "spend_krw": spend, "impressions": imp, "clicks": clicks,
                        "conversions": int(conv * frac), "conversion_value_krw": int(value * frac)})

    def run_scheduled(self, d: int) -> None:
        """Follow-ups due today (surveys, reviews, tickets, returns, e-mail click sessions)."""
        rng = self.rng
        while self.sched.get(d):
            self._run_items(d, self.sched.pop(d), rng)

    def _run_items(self, d: int, items: list[tuple], rng: random.Random) -> None:
        for item in items:
            kind, i, t = item[0], item[1], item[2]
            if kind == "nps":
                ch = {"store": "sms", "web": "email", "app": "app"}[item[4]]
                self.survey(i, t, "nps", "after_store_visit" if item[4] == "store" else "after_purchase", ch, item[3])
            elif kind == "csat":
                self.survey(i, t, "csat", "after_support", rng.choice(("email", "sms", "web")), item[3])
            elif kind == "ces":
                self.survey(i, t, "ces", "in_app", "app", None)
            elif kind == "review":
                self.review(i, t, item[3], item[4])
            elif kind == "ticket":
                self.ticket(i, t, item[3])
            elif kind == "store_return":
                self.store_return(i, t, item[3])
            elif kind == "email_session":
                self.new_session(i, d, app=False, source=("newsletter", "email", item[3].lower()), start=t)

    # ------------------------------------------------------------------ main loop
    def run(self) -> World:
        w, pop, rng = self.w, self.pop, self.rng
        self.initial_crm_snapshot()
        st = self.stage
        web_rate = np.array(R.WEB_SESSIONS)
        app_rate = np.array(R.APP_SESSIONS)
        store_rate = np.array(R.STORE_PURCHASE)
        ticket_rate = np.array(R.TICKET_BASELINE)
        mention_rate = np.array(R.SOCIAL_MENTION)
        for d in range(self.days):
            date = w.dates[d]
            n = self.n
            # 1. drift
            u = self.np.random(n)
            old = st.copy()
            st[(old == R.UNAWARE) & (u < R.P_BECOME_AWARE)] = R.AWARENESS
            st[(old == R.AWARENESS) & (u < R.P_AWARE_TO_CONSIDER)] = R.CONSIDERATION
            st[(old == R.CONSIDERATION) & (u < R.P_CONSIDER_TO_AWARE)] = R.AWARENESS
            st[(old == R.PURCHASE) & (u < R.P_PURCHASE_TO_AT_RISK)] = R.AT_RISK
            st[(old == R.RETENTION) & (u < R.P_RETENTION_TO_ADVOCACY)] = R.ADVOCACY
            st[(old == R.RETENTION) & (u > 1 - R.P_RETENTION_TO_AT_RISK)] = R.AT_RISK
            st[(old == R.ADVOCACY) & (u < R.P_ADVOCACY_TO_RETENTION)] = R.RETENTION
            st[(old == R.ADVOCACY) & (u > 1 - R.P_ADVOCACY_TO_AT_RISK)] = R.AT_RISK
            st[(old == R.AT_RISK) & (u < R.P_AT_RISK_TO_CHURNED)] = R.CHURNED
            st[(old == R.AT_RISK) & (u > 1 - R.P_AT_RISK_TO_RETENTION)] = R.RETENTION
            # 2. sign-ups today (crm_new): they are at least considering.
            for i in np.flatnonzero(self.signup_day == d).tolist():
                st[i] = max(int(st[i]), R.CONSIDERATION)
                t = self.time_in_day(d, CUM_WEB_HOURS)
                pop.signup_epoch[i] = t
                ch = pop.signup_channel[i]
                if ch in ("web", "app") and (ch == "web" or pop.apps[i]):
                    sess = self.new_session(i, d, app=(ch == "app"), start=t - 120, signup=True)
                    sess.signup = True
                self.crm_row(i, t + 1)
                if ch == "store" and rng.random() < 0.5:
                    self.enroll(i, t + 60, "store")
            # 3. scheduled follow-ups (again at the end of the day for same-day ones)
            self.run_scheduled(d)
            # 4. email campaign
            if date.weekday() in R.EMAIL_CAMPAIGN_WEEKDAYS:
                self.email_campaign(d)
            # 5. sessions
            n_web = self.np.poisson(web_rate[st])
            for i in np.flatnonzero(n_web).tolist():
                for _ in range(int(n_web[i])):
                    self.new_session(i, d, app=False)
            n_app = self.np.poisson(app_rate[st]) * self.has_app
            for i in np.flatnonzero(n_app).tolist():
                for _ in range(int(n_app[i])):
                    self.new_session(i, d, app=True)
            # 6. stores
            factor = R.STORE_WEEKEND_FACTOR if date.weekday() >= 5 else 1.0
            for i in np.flatnonzero(self.np.random(n) < store_rate[st] * factor).tolist():
                self.store_visit(i, d)
            # 7. tickets, mentions, brand posts
            for i in np.flatnonzero(self.np.random(n) < ticket_rate[st]).tolist():
                self.ticket(i, self.time_in_day(d, CUM_WEB_HOURS), None)
            for i in np.flatnonzero((self.np.random(n) < mention_rate[st]) & self.has_handle).tolist():
                self.mention(i, d)
            self.brand_posts(d)
            # 8. point expiry (system job at 00:05)
            for i in sorted(self.points):
                acct = self.points[i]
                if acct[0] > 0 and rng.random() < R.P_EXPIRE_PER_DAY:
                    pts = min(acct[0], rng.randrange(100, 3000, 100))
                    acct[0] -= pts
                    self.loyalty(i, self.start_epoch + d * DAY + 300, "expire", -pts, "system", "none", None)
            self.run_scheduled(d)
            # 9. stage effects of today's purchases and feedback
            for i in self.purchasers:
                s = int(st[i])
                if s in (R.UNAWARE, R.AWARENESS, R.CONSIDERATION):
                    st[i] = R.PURCHASE
                elif s in (R.PURCHASE, R.AT_RISK, R.CHURNED):
                    st[i] = R.RETENTION
            for i in self.negative:
                if st[i] in (R.PURCHASE, R.RETENTION, R.ADVOCACY) and rng.random() < R.P_NEGATIVE_TO_AT_RISK:
                    st[i] = R.AT_RISK
            for i in self.positive:
                if st[i] in (R.PURCHASE, R.RETENTION) and rng.random() < R.P_POSITIVE_TO_ADVOCACY:
                    st[i] = R.ADVOCACY
            self.purchasers, self.negative, self.positive = [], [], []
            w.stages[:, d] = st
        self.ad_spend()
        return w


def simulate(customers: int, days: int, start: dt.date, seed: int, history_days: int = 0) -> World:
    """Simulate ``history_days`` days before ``start`` and ``days`` days from it."""
    first = start - dt.timedelta(days=history_days)
    return Simulator(customers, history_days + days, first, seed, history_days).run()
