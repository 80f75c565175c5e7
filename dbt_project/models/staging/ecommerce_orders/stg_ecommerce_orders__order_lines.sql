{{ staging_config('order_line_id', 'ecommerce_orders', 'delete+insert', 'order_id') }}

with

source as (

    select * from {{ source('ecommerce_orders', 'ecommerce_orders') }}
    {{- staging_filter('ecommerce_orders') }}

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

-- incremental: per order touched tonight, the winner of its new versions and the
-- version its existing lines come from (same order as stg_ecommerce_orders__orders);
-- a new winner replaces all lines of the order (delete+insert on order_id)
{%- if is_incremental() and not staging_has_superseded_rows('ecommerce_orders') %}

existing_versions as (

    select distinct on (existing.order_id)
        existing.order_id,
        existing._order_updated_at as updated_at,
        existing._loaded_at,
        existing._load_id,
        existing._line_number,
        false as is_new_version

    from {{ this }} as existing
    where existing.order_id in (select latest_version.order_id from latest_version)
    order by existing.order_id

),

winning_versions as (

    select distinct on (candidates.order_id)
        candidates.order_id,
        candidates.is_new_version

    from (
        select
            order_id,
            updated_at,
            _loaded_at,
            _load_id,
            _line_number,
            true as is_new_version
        from latest_version
        union all
        select * from existing_versions
    ) as candidates
    order by
        candidates.order_id,
        candidates.updated_at desc,
        candidates._loaded_at desc,
        candidates._load_id desc,
        candidates._line_number desc

),

new_versions as (

    select latest_version.*
    from latest_version
    inner join winning_versions
        on latest_version.order_id = winning_versions.order_id
    where winning_versions.is_new_version

),

kept_lines as (

    select existing.*
    from {{ this }} as existing
    inner join winning_versions
        on existing.order_id = winning_versions.order_id
    where not winning_versions.is_new_version

),
{%- elif is_incremental() %}

-- slow path (a replaced file): recomputed from all of raw, the orders of superseded
-- rows and of tonight's rows
new_versions as (

    select latest_version.*
    from latest_version
    where {{ loaded_since_last_run('latest_version._loaded_at') }}
        or latest_version.order_id in (
            select existing.order_id
            from {{ this }} as existing
            where existing._load_id in {{ staging_superseded_loads('ecommerce_orders') }}
        )

),
{%- else %}

new_versions as (

    select * from latest_version

),
{%- endif %}

unnested as (

    select
        new_versions.order_id,
        new_versions.ordered_at,
        new_versions._load_id,
        new_versions._loaded_at,
        new_versions._line_number,
        new_versions.updated_at as _order_updated_at,
        line_items.line_item,
        line_items.line_number

    from new_versions
    cross join lateral jsonb_array_elements(new_versions.line_items)
        with ordinality as line_items (line_item, line_number)

),

transformed as (

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
        _loaded_at,
        _line_number,
        _order_updated_at

    from unnested

),

final as (

    select * from transformed
    {%- if is_incremental() and not staging_has_superseded_rows('ecommerce_orders') %}
    union all
    select * from kept_lines
    {%- endif %}

)

select * from final
