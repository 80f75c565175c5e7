{{ staging_config('receipt_line_id', 'store_transactions', 'delete+insert', 'receipt_id') }}

with

source as (

    select * from {{ source('store_transactions', 'store_transactions') }}
    {{- staging_filter('store_transactions') }}

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

-- incremental: per receipt touched tonight, the last loaded of its new copies and the
-- copy its existing lines come from (same order as stg_store_transactions__receipts);
-- a new winner replaces all lines of the receipt (delete+insert on receipt_id)
{%- if is_incremental() and not staging_has_superseded_rows('store_transactions') %}

existing_versions as (

    select distinct on (existing.receipt_id)
        existing.receipt_id,
        existing._loaded_at,
        existing._load_id,
        existing._line_number,
        false as is_new_version

    from {{ this }} as existing
    where existing.receipt_id in (select deduplicated.receipt_id from deduplicated)
    order by existing.receipt_id

),

winning_versions as (

    select distinct on (candidates.receipt_id)
        candidates.receipt_id,
        candidates.is_new_version

    from (
        select
            receipt_id,
            _loaded_at,
            _load_id,
            _line_number,
            true as is_new_version
        from deduplicated
        union all
        select * from existing_versions
    ) as candidates
    order by
        candidates.receipt_id,
        candidates._loaded_at desc,
        candidates._load_id desc,
        candidates._line_number desc

),

new_versions as (

    select deduplicated.*
    from deduplicated
    inner join winning_versions
        on deduplicated.receipt_id = winning_versions.receipt_id
    where winning_versions.is_new_version

),

kept_lines as (

    select existing.*
    from {{ this }} as existing
    inner join winning_versions
        on existing.receipt_id = winning_versions.receipt_id
    where not winning_versions.is_new_version

),
{%- elif is_incremental() %}

-- slow path (a replaced file): recomputed from all of raw, the receipts of superseded
-- rows and of tonight's rows
new_versions as (

    select deduplicated.*
    from deduplicated
    where {{ loaded_since_last_run('deduplicated._loaded_at') }}
        or deduplicated.receipt_id in (
            select existing.receipt_id
            from {{ this }} as existing
            where existing._load_id in {{ staging_superseded_loads('store_transactions') }}
        )

),
{%- else %}

new_versions as (

    select * from deduplicated

),
{%- endif %}

unnested as (

    select
        new_versions.receipt_id,
        new_versions.store_id,
        new_versions.transacted_at,
        new_versions.transaction_type,
        new_versions._load_id,
        new_versions._loaded_at,
        new_versions._line_number,
        line_items.line_item,
        line_items.line_number

    from new_versions
    cross join lateral jsonb_array_elements(new_versions.line_items)
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
        _loaded_at,
        _line_number

    from unnested

),

transformed as (

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
        _loaded_at,
        _line_number

    from typed

),

final as (

    select * from transformed
    {%- if is_incremental() and not staging_has_superseded_rows('store_transactions') %}
    union all
    select * from kept_lines
    {%- endif %}

)

select * from final
