{{ staging_config('daily_campaign_id', 'ad_spend') }}

with

source as (

    select * from {{ source('ad_spend', 'ad_spend') }}
    {{- staging_filter('ad_spend') }}

),

renamed as (

    select
        spend_date,
        nullif(lower(trim(platform)), '') as platform,
        nullif(trim(campaign_id), '') as campaign_id,
        nullif(trim(campaign_name), '') as campaign_name,
        spend_krw,
        impressions,
        clicks,
        conversions,
        conversion_value_krw,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from source

),

-- platforms restate recent days: the latest delivery (_logical_date, then load time)
-- of each (spend_date, platform, campaign_id) wins
latest_delivery as (

    {{ deduplicate(
        'renamed',
        ['spend_date', 'platform', 'campaign_id'],
        '_logical_date desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

transformed as (

    select
        {{ touchpoint_surrogate_key(['spend_date', 'platform', 'campaign_id']) }} as daily_campaign_id,
        spend_date,
        platform,
        campaign_id,
        campaign_name,
        nullif(lower(campaign_name), '') as utm_campaign,
        spend_krw,
        impressions,
        clicks,
        conversions,
        conversion_value_krw,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from latest_delivery

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'daily_campaign_id',
        '_logical_date desc, _loaded_at desc, _load_id desc, _line_number desc',
        'ad_spend'
    ) }}

)

select * from final
