with

source as (

    select * from {{ source('ecommerce_orders', 'ecommerce_orders') }}

),

renamed as (

    select
        nullif(trim(order_id), '') as order_id,
        created_at as ordered_at,
        updated_at,
        case when jsonb_typeof(line_items) = 'array' then line_items else '[]'::jsonb end as line_items,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends of one (order_id, updated_at) version: keep the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['order_id', 'updated_at']) }}

),

-- the lines of the latest version of each order (same rule as stg_ecommerce_orders__orders)
latest_version as (

    {{ deduplicate(
        'deduplicated',
        ['order_id'],
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

unnested as (

    select
        latest_version.order_id,
        latest_version.ordered_at,
        latest_version._load_id,
        latest_version._loaded_at,
        line_items.line_item,
        line_items.line_number

    from latest_version
    cross join lateral jsonb_array_elements(latest_version.line_items)
        with ordinality as line_items (line_item, line_number)

),

final as (

    select
        {{ touchpoint_surrogate_key(['order_id', 'line_number']) }} as order_line_id,
        order_id,
        cast(line_number as integer) as line_number,
        nullif(trim(line_item ->> 'id'), '') as line_item_id,
        nullif(upper(trim(line_item ->> 'sku')), '') as product_id,
        nullif(trim(line_item ->> 'title'), '') as product_title,
        {{ safe_to_bigint("line_item ->> 'quantity'") }} as quantity,
        {{ safe_to_numeric("line_item ->> 'price'") }} as unit_price_krw,
        {{ safe_to_bigint("line_item ->> 'quantity'") }}
            * {{ safe_to_numeric("line_item ->> 'price'") }} as line_price_krw,
        ordered_at,
        {{ to_business_date('ordered_at') }} as order_date,
        _load_id,
        _loaded_at

    from unnested

)

select * from final
