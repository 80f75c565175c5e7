{{ staging_config('receipt_id', 'store_transactions') }}

with

source as (

    select * from {{ source('store_transactions', 'store_transactions') }}
    {{- staging_filter('store_transactions') }}

),

renamed as (

    select
        nullif(trim(receipt_id), '') as receipt_id,
        nullif(upper(trim(store_id)), '') as store_id,
        nullif(trim(store_name), '') as store_name,
        nullif(trim(region), '') as region,
        transaction_local_time as transacted_at,
        {{ to_business_date('transaction_local_time') }} as transaction_date,
        nullif(lower(trim(transaction_type)), '') as transaction_type,
        {{ normalize_loyalty_card('loyalty_card_number') }} as loyalty_card_number,
        case when jsonb_typeof(line_items) = 'array' then line_items else '[]'::jsonb end as line_items,
        subtotal_krw,
        coalesce(discount_krw, 0) as discount_krw,
        total_krw,
        nullif(lower(trim(payment_method)), '') as payment_method,
        nullif(trim(original_receipt_id), '') as original_receipt_id,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per receipt_id, the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['receipt_id']) }}

),

nested_aggregates as (

    select
        deduplicated.*,
        jsonb_array_length(deduplicated.line_items) as line_item_count,
        (
            select cast(coalesce(sum({{ safe_to_bigint("line_item ->> 'quantity'") }}), 0) as {{ dbt.type_bigint() }})
            from jsonb_array_elements(deduplicated.line_items) as line_item
        ) as item_quantity

    from deduplicated

),

transformed as (

    select
        receipt_id,
        store_id,
        store_name,
        region,
        transacted_at,
        transaction_date,
        transaction_type,
        transaction_type = 'return' as is_return,
        loyalty_card_number,
        loyalty_card_number is not null as has_loyalty_card,
        subtotal_krw,
        discount_krw,
        total_krw,
        payment_method,
        original_receipt_id,
        line_item_count,
        item_quantity,
        _load_id,
        _loaded_at,
        _line_number

    from nested_aggregates

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'receipt_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'store_transactions'
    ) }}

)

select * from final
