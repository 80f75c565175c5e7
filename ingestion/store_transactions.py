"""Point-of-sale receipts from offline stores (JSONL)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="store_transactions",
    description="Offline store receipts from the POS: one row per receipt (sale or return), with line items nested. A loyalty card number is present only when the customer presented their card.",
    file_format="jsonl",
    key=("receipt_id",),
    event_time_field="transaction_local_time",
    watched_fields=("loyalty_card_number",),
    amount_fields=("total_krw",),
    timezone_note="transaction_local_time is the store's naive local wall-clock time (Asia/Seoul); it is stored as UTC.",
    fields=(
        Field("receipt_id", "string", "POS receipt id.", required=True),
        Field("store_id", "string", "Store id.", required=True),
        Field("store_name", "string", "Store name.", max_length=200),
        Field("region", "string", "Store region (Seoul, Gyeonggi, Busan, ...)."),
        Field("transaction_local_time", "timestamp", "Receipt time, naive store-local time.", required=True),
        Field("transaction_type", "string", "Sale or return.", required=True, enum=("sale", "return")),
        Field("loyalty_card_number", "string", "Loyalty card scanned at the till (16 digits), when presented.", pii=True, identifier="loyalty_card"),
        Field("line_items", "json", "[{sku, product_name, quantity, unit_price_krw, discount_krw}].", required=True),
        Field("subtotal_krw", "numeric", "Sum of line amounts before discounts, KRW (negative for returns).", required=True, minimum=-100_000_000, maximum=100_000_000),
        Field("discount_krw", "numeric", "Total discount, KRW.", minimum=-100_000_000, maximum=100_000_000),
        Field("total_krw", "numeric", "Amount paid (negative for returns), KRW incl. VAT.", required=True, minimum=-100_000_000, maximum=100_000_000),
        Field("payment_method", "string", "Payment method.", enum=("card", "cash", "mobile_pay", "gift_card")),
        Field("original_receipt_id", "string", "For returns: the receipt being returned."),
    ),
    example={
        "receipt_id": "R-S012-20261101-0042", "store_id": "S012", "store_name": "강남점", "region": "Seoul",
        "transaction_local_time": "2026-11-01 14:23:05", "transaction_type": "sale",
        "loyalty_card_number": "9410123412341234",
        "line_items": [{"sku": "P0012", "product_name": "울 코트", "quantity": 1, "unit_price_krw": 189000, "discount_krw": 0}],
        "subtotal_krw": 189000, "discount_krw": 0, "total_krw": 189000, "payment_method": "card", "original_receipt_id": None,
    },
)
