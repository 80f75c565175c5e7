{{ staging_config('order_id', 'ecommerce_orders') }}

with

source as (

    select * from {{ source('ecommerce_orders', 'ecommerce_orders') }}
    {{- staging_filter('ecommerce_orders') }}

),

renamed as (

    select
        nullif(trim(order_id), '') as order_id,
        order_number,
        {{ normalize_account_id('customer_id') }} as account_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ normalize_phone_e164('phone') }} as phone_e164,
        created_at as ordered_at,
        {{ to_business_date('created_at') }} as order_date,
        updated_at,
        upper(trim(currency)) as currency,
        subtotal_price as subtotal_price_krw,
        coalesce(total_discounts, 0) as total_discounts_krw,
        coalesce(shipping_price, 0) as shipping_price_krw,
        total_price as total_price_krw,
        lower(trim(financial_status)) as financial_status,
        cancelled_at,
        nullif(lower(trim(cancel_reason)), '') as cancel_reason,
        case when jsonb_typeof(line_items) = 'array' then line_items else '[]'::jsonb end as line_items,
        case when jsonb_typeof(discount_codes) = 'array' then discount_codes else '[]'::jsonb end as discount_codes,
        case when jsonb_typeof(refunds) = 'array' then refunds else '[]'::jsonb end as refunds,
        lower(trim(source_name)) as source_name,
        nullif(trim(landing_site), '') as landing_site,
        nullif(trim(referring_site), '') as referring_site,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends of one (order_id, updated_at) version: keep the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['order_id', 'updated_at']) }}

),

-- one row per order: its latest version
latest_version as (

    {{ deduplicate(
        'deduplicated',
        ['order_id'],
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

nested_aggregates as (

    select
        latest_version.*,
        (
            select coalesce(sum({{ safe_to_numeric("refund ->> 'amount'") }}), 0)
            from jsonb_array_elements(latest_version.refunds) as refund
        ) as refunded_krw,
        jsonb_array_length(latest_version.refunds) as refund_count,
        jsonb_array_length(latest_version.line_items) as line_item_count,
        (
            select cast(coalesce(sum({{ safe_to_bigint("line_item ->> 'quantity'") }}), 0) as {{ dbt.type_bigint() }})
            from jsonb_array_elements(latest_version.line_items) as line_item
        ) as item_quantity,
        (
            select string_agg(upper(trim(discount_code ->> 'code')), ',' order by discount_code_index)
            from jsonb_array_elements(latest_version.discount_codes)
                with ordinality as codes (discount_code, discount_code_index)
        ) as discount_codes_list

    from latest_version

),

transformed as (

    select
        order_id,
        order_number,
        account_id,
        account_id is null as is_guest_checkout,
        email_normalized,
        phone_e164,
        ordered_at,
        order_date,
        updated_at,
        currency,
        subtotal_price_krw,
        total_discounts_krw,
        shipping_price_krw,
        total_price_krw,
        refunded_krw,
        case
            when cancelled_at is not null or financial_status in ('voided', 'refunded') then 0
            else greatest(total_price_krw - refunded_krw, 0)
        end as net_revenue_krw,
        refund_count,
        financial_status,
        cancelled_at is not null as is_cancelled,
        cancelled_at,
        cancel_reason,
        line_item_count,
        item_quantity,
        nullif(discount_codes_list, '') as discount_codes,
        source_name,
        landing_site,
        {{ get_url_path('landing_site') }} as landing_page_path,
        {{ get_url_parameter('landing_site', 'utm_source') }} as utm_source,
        {{ get_url_parameter('landing_site', 'utm_medium') }} as utm_medium,
        {{ get_url_parameter('landing_site', 'utm_campaign') }} as utm_campaign,
        {{ get_url_parameter('landing_site', 'utm_content') }} as utm_content,
        {{ get_url_parameter('landing_site', 'utm_term') }} as utm_term,
        referring_site,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from nested_aggregates

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'order_id',
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc',
        'ecommerce_orders'
    ) }}

)

select * from final
