"""The twelve sources, in load order. Import CONTRACTS from here rather than the modules."""
from __future__ import annotations

from importlib import import_module

from ingestion.contract import Contract

SOURCE_NAMES: tuple[str, ...] = (
    "crm_customers",
    "web_events",
    "app_events",
    "email_events",
    "social_mentions",
    "store_transactions",
    "ecommerce_orders",
    "support_tickets",
    "survey_responses",
    "product_reviews",
    "loyalty_events",
    "ad_spend",
)

CONTRACTS: dict[str, Contract] = {name: import_module(f"ingestion.{name}").CONTRACT for name in SOURCE_NAMES}


def get_contract(source: str) -> Contract:
    try:
        return CONTRACTS[source]
    except KeyError:
        raise SystemExit(
            f"unknown source {source!r}; known sources: {', '.join(SOURCE_NAMES)}"
        ) from None
