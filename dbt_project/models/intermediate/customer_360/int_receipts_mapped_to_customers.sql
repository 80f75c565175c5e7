{#- A receipt identifies its buyer only by the loyalty card scanned at the till;
    receipts without a card stay unmapped (customer_id null). -#}
{%- set receipt_identifiers = {
    'loyalty_card': 'receipts.loyalty_card_number',
} -%}

with

receipts as (

    select * from {{ ref('stg_store_transactions__receipts') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

receipts_mapped as (

    select
        receipts.receipt_id,
        {{ customer_id_by_precedence(receipt_identifiers) }} as customer_id,
        {{ matched_identifier_type(receipt_identifiers) }} as matched_identifier_type,
        receipts.store_id,
        receipts.transaction_type,
        receipts.is_return,
        receipts.transacted_at,
        receipts.transaction_date,
        receipts.total_krw,
        receipts.original_receipt_id
    from receipts
    {{ join_identifier_map(receipt_identifiers) }}

),

final as (

    select * from receipts_mapped

)

select * from final
