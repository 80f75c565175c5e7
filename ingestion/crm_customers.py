"""CRM accounts export (CSV): one row per changed account per delivery."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="crm_customers",
    description="CRM accounts with profile attributes and marketing consent. Each delivery holds the accounts created or changed that day; the latest updated_at per account wins.",
    file_format="csv",
    key=("account_id", "updated_at"),
    version_field="updated_at",
    event_time_field="updated_at",
    watched_fields=("email", "phone"),
    fields=(
        Field("account_id", "string", "CRM account identifier (also the web/app login user_id).", required=True, format="A + 8 digits", identifier="account_id"),
        Field("email", "string", "Account email as typed by the customer (case/whitespace not normalised).", pii=True, identifier="email", max_length=320),
        Field("phone", "string", "Mobile phone in any common KR format (010-1234-5678, +82 10-1234-5678, 01012345678).", pii=True, identifier="phone"),
        Field("name", "string", "Full name (Korean or English).", pii=True, max_length=200),
        Field("birth_year", "integer", "Year of birth.", minimum=1900, maximum=2026),
        Field("gender", "string", "Self-declared gender.", enum=("F", "M", "U")),
        Field("city", "string", "City of residence (e.g. Seoul, Busan)."),
        Field("signup_channel", "string", "Channel the account was created on.", enum=("web", "app", "store", "social", "call_center")),
        Field("signup_at", "timestamp", "When the account was created.", required=True),
        Field("consent_email", "boolean", "Marketing consent for email at updated_at."),
        Field("consent_sms", "boolean", "Marketing consent for SMS/alimtalk at updated_at."),
        Field("consent_push", "boolean", "Marketing consent for app push at updated_at."),
        Field("loyalty_member_id", "string", "Loyalty program member id when enrolled (links loyalty_events and POS cards).", format="M + 8 digits", identifier="loyalty_member_id"),
        Field("social_handle", "string", "Social handle the customer linked to the account, as platform:@handle.", pii=True, identifier="social_handle"),
        Field("updated_at", "timestamp", "When this version of the account was written in the CRM.", required=True),
    ),
    example={
        "account_id": "A00001234", "email": " Minji.Kim@Example.com", "phone": "010-1234-5678",
        "name": "김민지", "birth_year": "1992", "gender": "F", "city": "Seoul", "signup_channel": "app",
        "signup_at": "2026-10-03T21:14:05+09:00", "consent_email": "true", "consent_sms": "false",
        "consent_push": "true", "loyalty_member_id": "M00001234", "social_handle": "instagram:@minji_k",
        "updated_at": "2026-11-01T09:30:00+09:00",
    },
)
