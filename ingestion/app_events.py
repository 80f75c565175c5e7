"""Mobile app events in the Firebase/GA4 BigQuery-export shape (JSONL)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="app_events",
    description="Mobile app analytics events (Firebase / GA4 export shape): one row per event. Devices are identified by app_instance_id; user_id is set only after login.",
    file_format="jsonl",
    key=("app_instance_id", "event_timestamp", "event_name"),
    event_time_field="event_timestamp",
    may_be_empty=False,
    watched_fields=("user_id",),
    timezone_note="event_timestamp is UTC microseconds since the epoch (GA4); event_date is the property's local (Asia/Seoul) date.",
    fields=(
        Field("event_date", "date", "Event date in the property timezone, YYYYMMDD.", required=True),
        Field("event_timestamp", "timestamp_micros", "Event time, microseconds since the Unix epoch (UTC).", required=True),
        Field("event_name", "string", "Event name (first_open, session_start, screen_view, view_item, add_to_cart, purchase, login, ...).", required=True),
        Field("app_instance_id", "string", "Firebase app instance id of the installation.", required=True, identifier="app_instance_id"),
        Field("user_id", "string", "CRM account id, set after login.", identifier="account_id"),
        Field("platform", "string", "Mobile platform.", enum=("IOS", "ANDROID")),
        Field("app_info", "json", "{id, version}."),
        Field("event_params", "json", "GA4 key/value params incl. ga_session_id, firebase_screen."),
        Field("traffic_source", "json", "Install source: {source, medium, name}."),
        Field("device", "json", "{category, mobile_brand_name, operating_system_version, language}."),
        Field("geo", "json", "{country, region, city}."),
        Field("ecommerce", "json", "For purchase events: {transaction_id, purchase_revenue, currency}."),
        Field("items", "json", "Items of an ecommerce event."),
    ),
    example={
        "event_date": "20261101", "event_timestamp": 1793491200123456, "event_name": "screen_view",
        "app_instance_id": "f1c2e3d4a5b6c7d8e9f0a1b2c3d4e5f6", "user_id": "A00001234", "platform": "ANDROID",
        "app_info": {"id": "kr.example.shop", "version": "5.2.0"},
        "event_params": [{"key": "ga_session_id", "value": {"int_value": 1793491200}},
                         {"key": "firebase_screen", "value": {"string_value": "home"}}],
        "traffic_source": {"source": "google-play", "medium": "organic", "name": None},
        "device": {"category": "mobile", "mobile_brand_name": "Samsung", "operating_system_version": "Android 15", "language": "ko-kr"},
        "geo": {"country": "South Korea", "region": "Gyeonggi-do", "city": "Suwon"}, "ecommerce": None, "items": None,
    },
)
