"""Website events in the GA4 BigQuery-export shape (JSONL)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="web_events",
    description="Website analytics events in the GA4 BigQuery export shape: one row per event. Anonymous visitors carry a cookie (user_pseudo_id); user_id is set only after login.",
    file_format="jsonl",
    key=("user_pseudo_id", "event_timestamp", "event_name"),
    event_time_field="event_timestamp",
    may_be_empty=False,
    watched_fields=("user_id",),
    timezone_note="event_timestamp is UTC microseconds since the epoch (GA4); event_date is the property's local (Asia/Seoul) date.",
    fields=(
        Field("event_date", "date", "Event date in the property timezone, YYYYMMDD.", required=True),
        Field("event_timestamp", "timestamp_micros", "Event time, microseconds since the Unix epoch (UTC).", required=True),
        Field("event_name", "string", "GA4 event name (page_view, session_start, view_item, add_to_cart, begin_checkout, purchase, login, sign_up, ...).", required=True),
        Field("user_pseudo_id", "string", "First-party cookie id of the browser.", required=True, identifier="cookie_id"),
        Field("user_id", "string", "CRM account id, set after login.", pii=False, identifier="account_id"),
        Field("event_params", "json", "GA4 key/value params: [{key, value:{string_value|int_value|double_value}}], incl. ga_session_id, page_location, page_title."),
        Field("traffic_source", "json", "First-touch source of the user: {source, medium, name}."),
        Field("device", "json", "{category, operating_system, browser, language}."),
        Field("geo", "json", "{country, region, city}."),
        Field("ecommerce", "json", "For purchase events: {transaction_id, purchase_revenue, currency, total_item_quantity}."),
        Field("items", "json", "Items of an ecommerce event: [{item_id, item_name, price, quantity}]."),
    ),
    example={
        "event_date": "20261101", "event_timestamp": 1793491200123456, "event_name": "page_view",
        "user_pseudo_id": "1839201.1761990000", "user_id": None,
        "event_params": [{"key": "ga_session_id", "value": {"int_value": 1793491200}},
                         {"key": "page_location", "value": {"string_value": "https://shop.example.kr/products/P0012?utm_source=naver&utm_medium=cpc&utm_campaign=winter_sale"}}],
        "traffic_source": {"source": "naver", "medium": "cpc", "name": "winter_sale"},
        "device": {"category": "mobile", "operating_system": "Android", "browser": "Chrome", "language": "ko-kr"},
        "geo": {"country": "South Korea", "region": "Seoul", "city": "Seoul"},
        "ecommerce": None, "items": None,
    },
)
