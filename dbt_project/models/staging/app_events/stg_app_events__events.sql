{{ staging_config('app_event_id', 'app_events') }}

with

source as (

    select * from {{ source('app_events', 'app_events') }}
    {{- staging_filter('app_events') }}

),

-- exact re-sends: one row per contract key (app_instance_id, event_timestamp, event_name)
deduplicated as (

    {{ deduplicate('source', ['trim(app_instance_id)', 'event_timestamp', 'lower(trim(event_name))']) }}

),

flattened as (

    select
        {{ normalize_device_id('app_instance_id') }} as app_instance_id,
        event_timestamp as event_at,
        nullif(lower(trim(event_name)), '') as event_name,
        event_date as ga4_event_date,
        {{ normalize_account_id('user_id') }} as account_id,
        nullif(upper(trim(platform)), '') as platform,
        nullif(trim(app_info ->> 'id'), '') as app_id,
        nullif(trim(app_info ->> 'version'), '') as app_version,
        {{ ga4_event_param('event_params', 'ga_session_id', 'int') }} as ga_session_id,
        {{ ga4_event_param('event_params', 'ga_session_number', 'int') }} as ga_session_number,
        {{ ga4_event_param('event_params', 'firebase_screen') }} as screen_name,
        {{ ga4_event_param('event_params', 'firebase_screen_class') }} as screen_class,
        nullif(lower(trim(traffic_source ->> 'source')), '') as utm_source,
        nullif(lower(trim(traffic_source ->> 'medium')), '') as utm_medium,
        nullif(lower(trim(traffic_source ->> 'name')), '') as utm_campaign,
        nullif(lower(trim(device ->> 'category')), '') as device_category,
        nullif(trim(device ->> 'mobile_brand_name'), '') as mobile_brand_name,
        nullif(trim(device ->> 'operating_system_version'), '') as operating_system_version,
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
            'app_instance_id', 'cast(extract(epoch from event_at) * 1000000 as bigint)', 'event_name'
        ]) }} as app_event_id,
        app_instance_id,
        account_id,
        account_id is not null as is_logged_in,
        platform,
        app_id,
        app_version,
        event_name,
        event_at,
        {{ to_business_date('event_at') }} as event_date,
        ga4_event_date,
        ga_session_id,
        case
            when ga_session_id is not null
                then {{ dbt.concat(['app_instance_id', "'.'", dbt.safe_cast('ga_session_id', dbt.type_string())]) }}
        end as session_id,
        ga_session_number,
        screen_name,
        screen_class,
        utm_source,
        utm_medium,
        utm_campaign,
        device_category,
        mobile_brand_name,
        operating_system_version,
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
        'app_event_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'app_events'
    ) }}

)

select * from final
