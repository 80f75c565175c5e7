{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['customer_id'], 'unique': True},
            {'columns': ['_changed_at']},
        ],
    )
}}
{#- The customers whose customer-grain rows a night recomputes, one row per customer
    ever touched; the rows written tonight (_changed_at of this run) are tonight's list.
    A customer is touched when
      1. an event-grain row of the customer was rewritten since this model's last run
         (its _changed_at above this model's watermark: new, late or re-mapped records);
      2. the customer was either side of an identity merge since then (the absorbed id
         loses its rows, the surviving id gains the records);
      3. an identifier of the customer was mapped or moved since then (the spine);
      4. the customer has a session on a date that enters or leaves a rolling window
         (30 and 90 days, int_customer_sessions_aggregated) between the last run's
         as-of date and tonight's.
    A full build lists every customer. Incremental (issue 8): delete+insert on
    customer_id; no lookback (the inputs are written earlier in the same night). -#}
{%- set event_models = [
    'int_crm_accounts_mapped_to_customers',
    'int_email_events_mapped_to_customers',
    'int_loyalty_events_mapped_to_customers',
    'int_orders_mapped_to_customers',
    'int_product_reviews_mapped_to_customers',
    'int_receipts_mapped_to_customers',
    'int_sessions_mapped_to_customers',
    'int_social_mentions_mapped_to_customers',
    'int_support_tickets_mapped_to_customers',
    'int_survey_responses_mapped_to_customers',
    'int_customer_touches_unioned',
] -%}
{%- set rolling_window_days = [30, 90] -%}

with

identifier_map as (

    select * from {{ source('identity', 'identifier_map') }}

),

merges as (

    select * from {{ source('identity', 'customer_id_merges') }}

),

sessions as (

    select * from {{ ref('int_sessions_mapped_to_customers') }}

),

{%- for model in event_models %}

{{ model }} as (

    select customer_id from {{ ref(model) }}
    {%- if is_incremental() %}
    where _changed_at > {{ touched_customers_watermark() }}
    {%- endif %}

),
{%- endfor %}

{%- if is_incremental() %}

last_run as (

    select max(as_of_date) as as_of_date
    from {{ this }}
    where _changed_at = (select max(_changed_at) from {{ this }})

),

-- the dates whose sessions enter or leave a window between the two as-of dates:
-- (low - days, high - days] leave or enter at the far end, (low, high] at the near end
window_boundaries as (

    select
        least(last_run.as_of_date, {{ as_of_date() }}) as low_date,
        greatest(last_run.as_of_date, {{ as_of_date() }}) as high_date
    from last_run

),

sessions_crossing_windows as (

    select sessions.customer_id
    from sessions
    cross join window_boundaries
    where sessions.session_date > window_boundaries.low_date
        and sessions.session_date <= window_boundaries.high_date
    {%- for days in rolling_window_days %}

    union all

    select sessions.customer_id
    from sessions
    cross join window_boundaries
    where sessions.session_date > cast({{ dbt.dateadd('day', -days, 'window_boundaries.low_date') }} as date)
        and sessions.session_date <= cast({{ dbt.dateadd('day', -days, 'window_boundaries.high_date') }} as date)
    {%- endfor %}

),

merged_customers as (

    select old_customer_id as customer_id
    from merges
    where merged_at > {{ touched_customers_watermark() }}

    union all

    select new_customer_id as customer_id
    from merges
    where merged_at > {{ touched_customers_watermark() }}

),

remapped_customers as (

    select customer_id
    from identifier_map
    where updated_at > {{ touched_customers_watermark() }}

),

{%- else %}

sessions_crossing_windows as (

    select customer_id from sessions where false

),

merged_customers as (

    select old_customer_id as customer_id from merges

),

remapped_customers as (

    select customer_id from identifier_map

),

{%- endif %}

customers_touched as (

    select customer_id from sessions_crossing_windows
    union
    select customer_id from merged_customers
    union
    select customer_id from remapped_customers
    {%- for model in event_models %}
    union
    select customer_id from {{ model }}
    {%- endfor %}

),

final as (

    select
        customers_touched.customer_id,
        not exists (
            select 1
            from identifier_map
            where identifier_map.customer_id = customers_touched.customer_id
        ) as is_absorbed,
        {{ as_of_date() }} as as_of_date,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customers_touched
    where customers_touched.customer_id is not null

)

select * from final
