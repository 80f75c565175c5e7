{{ staging_config('loyalty_event_id', 'loyalty_events') }}

with

source as (

    select * from {{ source('loyalty_events', 'loyalty_events') }}
    {{- staging_filter('loyalty_events') }}

),

renamed as (

    select
        nullif(trim(event_id), '') as loyalty_event_id,
        {{ normalize_loyalty_member_id('member_id') }} as loyalty_member_id,
        {{ normalize_loyalty_card('card_number') }} as loyalty_card_number,
        nullif(lower(trim(event_type)), '') as event_type,
        points,
        nullif(lower(trim(tier_before)), '') as tier_before,
        nullif(lower(trim(tier_after)), '') as tier_after,
        nullif(lower(trim(channel)), '') as channel,
        nullif(lower(trim(reference_type)), '') as reference_type,
        nullif(trim(reference_id), '') as reference_id,
        occurred_at as event_at,
        {{ to_business_date('occurred_at') }} as event_date,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per event_id, the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['loyalty_event_id']) }}

),

transformed as (

    select
        loyalty_event_id,
        loyalty_member_id,
        loyalty_card_number,
        event_type,
        points,
        tier_before,
        tier_after,
        channel,
        reference_type,
        case when reference_type = 'none' then null else reference_id end as reference_id,
        event_at,
        event_date,
        _load_id,
        _loaded_at,
        _line_number

    from deduplicated

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'loyalty_event_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'loyalty_events'
    ) }}

)

select * from final
