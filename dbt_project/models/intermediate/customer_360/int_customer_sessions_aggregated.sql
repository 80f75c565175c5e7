{{ customer_grain_config() }}
{#- Windows are the last 30 / 90 Seoul business dates up to and including
    as_of_date() (var data_date, else the latest touch date); sessions dated after the
    as-of date (data loaded ahead of a backfilled run) are not counted. -#}
with

sessions as (

    select * from {{ ref('int_sessions_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

customer_sessions_windowed as (

    select
        customer_id,
        platform,
        session_date > cast({{ dbt.dateadd('day', -30, as_of_date()) }} as date) as is_within_30_days,
        session_date > cast({{ dbt.dateadd('day', -90, as_of_date()) }} as date) as is_within_90_days
    from sessions
    where customer_id is not null
        and session_date <= {{ as_of_date() }}

),

final as (

    select
        customer_id,
        sum(case when platform = 'web' and is_within_30_days then 1 else 0 end) as web_session_count_last_30_days,
        sum(case when platform = 'web' and is_within_90_days then 1 else 0 end) as web_session_count_last_90_days,
        sum(case when platform = 'app' and is_within_30_days then 1 else 0 end) as app_session_count_last_30_days,
        sum(case when platform = 'app' and is_within_90_days then 1 else 0 end) as app_session_count_last_90_days,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customer_sessions_windowed
    group by customer_id

)

select * from final
