"""Renderers: turn the World into landing lines, one function per source family.

web_events / app_events expand sessions into GA4-shaped events with hand-assembled
JSON (the hot path: pre-serialised fragments, no per-event dict building);
email_events expands campaign recipients into ESP events; every other source is
already a list of contract records per day.
"""
from __future__ import annotations

import json
import random

from touchpoint.generator import vocab as V
from touchpoint.generator.clock import kst_iso
from touchpoint.generator.simulate import Session, World
from touchpoint.generator.writer import SourceWriter

_d = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

WEB_BROWSERS = {"mobile": (("Chrome", 0.45), ("Safari", 0.30), ("Samsung Internet", 0.15), ("Whale", 0.10)),
                "desktop": (("Chrome", 0.65), ("Edge", 0.15), ("Whale", 0.12), ("Safari", 0.08)),
                "tablet": (("Safari", 0.6), ("Chrome", 0.4))}
ANDROID_BRANDS = (("Samsung", 0.80), ("LG", 0.08), ("Google", 0.12))


def _choice(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _geo_json() -> list[str]:
    return [_d({"country": "South Korea", "region": region, "city": city}) for city, region, _ in V.CITIES]


def _item_json(p: int, english: bool, qty: int = 1) -> dict:
    sku, ko, en, _, price = V.PRODUCTS[p]
    return {"item_id": sku, "item_name": en if english else ko, "price": price, "quantity": qty}


SKU_INDEX = {p[0]: i for i, p in enumerate(V.PRODUCTS)}


def session_steps(s: Session, rng: random.Random, english: bool, app: bool) -> list[tuple]:
    """Ordered (event_name, path_or_screen, title, items_json|None, ecommerce_json|None)."""
    items = s.items
    focus = items[0]
    sku = V.PRODUCTS[focus][0]
    product_page = (f"/products/{sku}", V.PRODUCTS[focus][2 if english else 1])
    cat = V.PRODUCTS[focus][3]
    pages = [("/", "홈" if not english else "Home"), (f"/category/{cat}", V.CATEGORY_TITLES[cat])]
    steps: list[tuple] = []
    view = "screen_view" if app else "page_view"
    if s.first_open:
        steps.append(("first_open", "home", "home", None, None))
    steps.append(("session_start", None, None, None, None))
    n_pages = s.pages
    landing = product_page if (s.funnel >= 1 and rng.random() < 0.5) else pages[rng.random() < 0.4]
    browse = [landing]
    for _ in range(n_pages - 1):
        r = rng.random()
        if r < 0.5 and len(items) > 1:
            p = items[1]
            browse.append((f"/products/{V.PRODUCTS[p][0]}", V.PRODUCTS[p][2 if english else 1]))
        else:
            browse.append(pages[r < 0.75])
    discover: list[tuple] = []
    funnel_steps: list[tuple] = []
    if s.funnel >= 1:
        ij = _d([_item_json(focus, english)])
        if landing != product_page:
            discover.append((view, product_page[0], product_page[1], None, None))
        discover.append(("view_item", product_page[0], product_page[1], ij, None))
        if s.funnel >= 2:
            funnel_steps.append(("add_to_cart", product_page[0], product_page[1], ij, None))
            funnel_steps.append((view, "/cart", "장바구니", None, None))
        if s.funnel >= 3:
            order = s.order
            if order:
                ij = _d([_item_json(SKU_INDEX[li["sku"]], english, li["quantity"]) for li in order["line_items"]])
            funnel_steps.append(("begin_checkout", "/checkout", "주문/결제", ij, None))
        if s.funnel == 4:
            order = s.order
            qty = sum(li["quantity"] for li in order["line_items"])
            eco = {"transaction_id": order["order_id"], "purchase_revenue": order["total_price"], "currency": "KRW"}
            if not app:
                eco["total_item_quantity"] = qty
            funnel_steps.append((view, "/order/complete", "주문 완료", None, None))
            funnel_steps.append(("purchase", "/order/complete", "주문 완료", ij, _d(eco)))
    steps.append((view, landing[0], landing[1], None, None))
    rest = [(view, p[0], p[1], None, None) for p in browse[1:]]
    split = 0 if landing == product_page else rng.randrange(len(rest) + 1)
    steps.extend(rest[:split])
    steps.extend(discover)      # product page view (unless landed on it) and view_item
    steps.extend(rest[split:])  # more browsing
    steps.extend(funnel_steps)  # cart, checkout, purchase
    if s.login_idx is not None and s.login_idx > 0:
        # insert login (and sign_up) after the login_idx-th view, but before checkout
        pos, seen = len(steps), 0
        for k, st in enumerate(steps):
            if st[0] == view:
                seen += 1
                if seen == s.login_idx:
                    pos = k + 1
                    break
        for k, st in enumerate(steps):
            if st[0] == "begin_checkout" and k < pos:
                pos = k
                break
        ins = [("login", None, None, None, None)]
        if s.signup:
            ins.insert(0, ("sign_up", None, None, None, None))
        steps[pos:pos] = ins
    return steps


def render_ga4(world: World, writer: SourceWriter, app: bool) -> None:
    pop = world.pop
    rng = random.Random(f"{world.seed}/{'app' if app else 'web'}_events/render")
    geo = _geo_json()
    devices: dict[str, str] = {}
    sessions_by_day = world.app if app else world.web
    app_info = {v: _d({"id": V.APP_ID, "version": v}) for v in V.APP_VERSIONS}
    install_sources = {}
    for d in range(world.days):
        writer.flush_before(d)
        event_date = world.dates[d].strftime("%Y%m%d")
        head = '{"event_date":"' + event_date + '","event_timestamp":'
        for s in sessions_by_day[d]:
            i = s.person
            english = pop.english[i]
            dev = devices.get(s.device)
            if dev is None:
                dev = devices[s.device] = _device(rng, app, s.platform, english)
            steps = session_steps(s, rng, english, app)
            t0 = s.start * 1_000_000 + rng.randrange(1_000_000)
            end = (s.start + s.dur) * 1_000_000
            gap = max(1, (end - t0) // max(1, len(steps)))
            sid = '{"key":"ga_session_id","value":{"int_value":' + str(s.start) + '}}'
            src, med, camp = s.source
            utm = f"?utm_source={src}&utm_medium={med}&utm_campaign={camp}" if camp and med not in ("organic", "(none)") else ""
            if app:
                key_id = s.device
                ts = install_sources.get(s.device)
                if ts is None:
                    store = "apple-appstore" if s.platform == "IOS" else "google-play"
                    ts = install_sources[s.device] = _d({"source": store, "medium": "organic", "name": None}) \
                        if rng.random() < 0.7 else _d({"source": src, "medium": med, "name": camp})
                prefix = '","app_instance_id":' + _d(key_id)
                mid = ',"platform":"' + s.platform + '","app_info":' + app_info[_ver(s.device)]
            else:
                traffic = s.traffic
                ts = _d({"source": traffic[0], "medium": traffic[1], "name": traffic[2]})
                prefix = '","user_pseudo_id":' + _d(s.device)
                mid = ""
            tail = ',"traffic_source":' + ts + ',"device":' + dev + ',"geo":' + geo[pop.city[i]]
            uid_json = _d(s.user_id) if s.user_id else "null"
            logged = s.login_idx == 0
            first_view = True
            t = t0
            for k, (name, path, title, items, eco) in enumerate(steps):
                if name == "login":
                    logged = True
                if name == "purchase":
                    t = max(t + 1, end + rng.randrange(1_000_000))
                elif k:
                    t = t + gap // 2 + rng.randrange(gap)
                params = [sid]
                if path is not None:
                    if app:
                        params.append('{"key":"firebase_screen","value":{"string_value":' + _d(path.strip("/") or "home") + '}}')
                    else:
                        loc = V.SHOP + path + (utm if first_view else "")
                        first_view = False
                        params.append('{"key":"page_location","value":{"string_value":' + _d(loc) + '}}')
                        params.append('{"key":"page_title","value":{"string_value":' + _d(title) + '}}')
                elif name in ("login", "sign_up"):
                    params.append('{"key":"method","value":{"string_value":"email"}}')
                if name == "session_start" and not app:
                    loc = V.SHOP + browse_landing(steps) + utm
                    params.append('{"key":"page_location","value":{"string_value":' + _d(loc) + '}}')
                line = (head + str(t) + ',"event_name":"' + name + prefix
                        + ',"user_id":' + (uid_json if logged else "null") + mid
                        + ',"event_params":[' + ",".join(params) + "]" + tail
                        + ',"ecommerce":' + (eco or "null") + ',"items":' + (items or "null") + "}\n")
                writer.add_line(line, d)
    writer.close()


def _ver(device: str) -> str:
    return V.APP_VERSIONS[int(device[:2], 16) % len(V.APP_VERSIONS)]


def browse_landing(steps) -> str:
    for st in steps:
        if st[1] is not None and st[0] in ("page_view", "view_item"):
            return st[1]
    return "/"


def _device(rng: random.Random, app: bool, platform: str | None, english: bool) -> str:
    lang = "en-us" if english else "ko-kr"
    if app:
        if platform == "IOS":
            brand, os_v = "Apple", f"iOS {rng.choice(('17.6', '18.0', '18.1'))}"
        else:
            brand, os_v = _choice(rng, ANDROID_BRANDS), f"Android {rng.choice((13, 14, 15))}"
        return _d({"category": "mobile", "mobile_brand_name": brand, "operating_system_version": os_v, "language": lang})
    cat = _choice(rng, (("mobile", 0.65), ("desktop", 0.30), ("tablet", 0.05)))
    if cat == "desktop":
        os_ = _choice(rng, (("Windows", 0.75), ("Macintosh", 0.25)))
    elif cat == "tablet":
        os_ = "iOS"
    else:
        os_ = _choice(rng, (("Android", 0.7), ("iOS", 0.3)))
    browser = _choice(rng, WEB_BROWSERS[cat])
    if os_ == "iOS" and browser == "Samsung Internet":
        browser = "Safari"
    return _d({"category": cat, "operating_system": os_, "browser": browser, "language": lang})


def render_email(world: World, writer: SourceWriter) -> None:
    msg = ev = 0
    line = writer._csv
    for d in range(world.days):
        writer.flush_before(d)
        for c in world.campaigns[d]:
            url = f"{V.SHOP}/campaign/{c.slug}?utm_source=newsletter&utm_medium=email&utm_campaign={c.campaign_id.lower()}"
            for held, sent, outcome, t1, t_open, t_click, t_unsub, t_spam, ua in c.recipients:
                msg += 1
                mid = f"MSG{msg:012d}"
                events = [("sent", sent, "", "", "")]
                if outcome == "delivered":
                    events.append(("delivered", t1, "", "", ""))
                else:
                    events.append(("bounce", t1, "", outcome, ""))
                if t_open:
                    events.append(("open", t_open, "", "", ua))
                if t_click:
                    events.append(("click", t_click, url, "", ua))
                if t_unsub:
                    events.append(("unsubscribe", t_unsub, "", "", ua))
                if t_spam:
                    events.append(("spam_complaint", t_spam, "", "", ""))
                for etype, t, u, bounce, agent in events:
                    day = world.day_of(t)
                    if day >= world.days:
                        continue
                    ev += 1
                    writer.add_line(line([f"E{ev:010d}", mid, etype, kst_iso(t), c.campaign_id, c.name, held,
                                          u, bounce, agent]), day)
    writer.close()


def render_records(world: World, writer: SourceWriter, source: str) -> None:
    for d in range(world.days):
        writer.flush_before(d)
        for rec in world.records[source][d]:
            writer.add(rec, d)
    writer.close()
