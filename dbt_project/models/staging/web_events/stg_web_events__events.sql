{{ staging_config('web_event_id', 'web_events') }}

with

source as (

    select * from {{ source('web_events', 'web_events') }}
    {{- staging_filter('web_events') }}

),

-- exact re-sends: one row per contract key (user_pseudo_id, event_timestamp, event_name)
deduplicated as (

    {{ deduplicate('source', ['trim(user_pseudo_id)', 'event_timestamp', 'lower(trim(event_name))']) }}

),

flattened as (

    select
        {{ normalize_device_id('user_pseudo_id') }} as cookie_id,
        event_timestamp as event_at,
        nullif(lower(trim(event_name)), '') as event_name,
        event_date as ga4_event_date,
        {{ normalize_account_id('user_id') }} as account_id,
        {{ ga4_event_param('event_params', 'ga_session_id', 'int') }} as ga_session_id,
        {{ ga4_event_param('event_params', 'ga_session_number', 'int') }} as ga_session_number,
        {{ ga4_event_param('event_params', 'page_location') }} as page_location,
        {{ ga4_event_param('event_params', 'page_title') }} as page_title,
        {{ ga4_event_param('event_params', 'page_referrer') }} as page_referrer,
        nullif(lower(trim(traffic_source ->> 'source')), '') as utm_source,
        nullif(lower(trim(traffic_source ->> 'medium')), '') as utm_medium,
        nullif(lower(trim(traffic_source ->> 'name')), '') as utm_campaign,
        nullif(lower(trim(device ->> 'category')), '') as device_category,
        nullif(trim(device ->> 'operating_system'), '') as operating_system,
        nullif(trim(device ->> 'browser'), '') as browser,
        nullif(lower(trim(device ->> 'language')), '') as device_language,
        nullif(trim(geo ->> 'country'), '') as geo_country,
        nullif(trim(geo ->> 'region'), '') as geo_region,
        nullif(trim(geo ->> 'city'), '') as geo_city,
        nullif(trim(ecommerce ->> 'transaction_id'), '') as transaction_id,
        {{ safe_to_numeric("ecommerce ->> 'purchase_revenue'") }} as purchase_revenue_krw,
        {{ safe_to_bigint("ecommerce ->> 'total_item_quantity'") }} as item_count,
        _load_id,
        _loaded_at,
        _line_number

    from deduplicated

),

transformed as (

    select
        {{ touchpoint_surrogate_key([
            'cookie_id', 'cast(extract(epoch from event_at) * 1000000 as bigint)', 'event_name'
        ]) }} as web_event_id,
        cookie_id,
        account_id,
        account_id is not null as is_logged_in,
        event_name,
        event_at,
        {{ to_business_date('event_at') }} as event_date,
        ga4_event_date,
        ga_session_id,
        case
            when ga_session_id is not null
                then {{ dbt.concat(['cookie_id', "'.'", dbt.safe_cast('ga_session_id', dbt.type_string())]) }}
        end as session_id,
        ga_session_number,
        page_location,
        {{ get_url_path('page_location') }} as page_path,
        page_title,
        page_referrer,
        {{ get_url_parameter('page_location', 'utm_source') }} as page_utm_source,
        {{ get_url_parameter('page_location', 'utm_medium') }} as page_utm_medium,
        {{ get_url_parameter('page_location', 'utm_campaign') }} as page_utm_campaign,
        utm_source,
        utm_medium,
        utm_campaign,
        device_category,
        operating_system,
        browser,
        device_language,
        geo_country,
        geo_region,
        geo_city,
        transaction_id,
        purchase_revenue_krw,
        item_count,
        _load_id,
        _loaded_at,
        _line_number

    from flattened

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'web_event_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'web_events'
    ) }}

)

select * from final
