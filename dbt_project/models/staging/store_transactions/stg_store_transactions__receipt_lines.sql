with

source as (

    select * from {{ source('store_transactions', 'store_transactions') }}

),

renamed as (

    select
        nullif(trim(receipt_id), '') as receipt_id,
        nullif(upper(trim(store_id)), '') as store_id,
        transaction_local_time as transacted_at,
        nullif(lower(trim(transaction_type)), '') as transaction_type,
        case when jsonb_typeof(line_items) = 'array' then line_items else '[]'::jsonb end as line_items,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per receipt_id, the last loaded copy (as in __receipts)
deduplicated as (

    {{ deduplicate('renamed', ['receipt_id']) }}

),

unnested as (

    select
        deduplicated.receipt_id,
        deduplicated.store_id,
        deduplicated.transacted_at,
        deduplicated.transaction_type,
        deduplicated._load_id,
        deduplicated._loaded_at,
        line_items.line_item,
        line_items.line_number

    from deduplicated
    cross join lateral jsonb_array_elements(deduplicated.line_items)
        with ordinality as line_items (line_item, line_number)

),

typed as (

    select
        receipt_id,
        cast(line_number as integer) as line_number,
        nullif(upper(trim(line_item ->> 'sku')), '') as product_id,
        nullif(trim(line_item ->> 'product_name'), '') as product_name,
        {{ safe_to_bigint("line_item ->> 'quantity'") }} as quantity,
        {{ safe_to_numeric("line_item ->> 'unit_price_krw'") }} as unit_price_krw,
        coalesce({{ safe_to_numeric("line_item ->> 'discount_krw'") }}, 0) as discount_krw,
        store_id,
        transacted_at,
        transaction_type,
        _load_id,
        _loaded_at

    from unnested

),

final as (

    select
        {{ touchpoint_surrogate_key(['receipt_id', 'line_number']) }} as receipt_line_id,
        receipt_id,
        line_number,
        product_id,
        product_name,
        quantity,
        unit_price_krw,
        discount_krw,
        quantity * unit_price_krw - discount_krw as line_amount_krw,
        store_id,
        transacted_at,
        {{ to_business_date('transacted_at') }} as transaction_date,
        transaction_type,
        _load_id,
        _loaded_at

    from typed

)

select * from final
