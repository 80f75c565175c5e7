{{ customer_grain_config() }}
with

email_events as (

    select * from {{ ref('int_email_events_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

-- one row per message (one recipient, one campaign send); a click counts as an open,
-- since clicks without a tracked open are image-blocking, not disinterest
messages_flagged as (

    select
        customer_id,
        message_id,
        max(case when event_type = 'sent' then 1 else 0 end) as is_sent,
        max(case when event_type = 'delivered' then 1 else 0 end) as is_delivered,
        max(case when event_type in ('open', 'click') then 1 else 0 end) as is_opened,
        max(case when event_type = 'click' then 1 else 0 end) as is_clicked
    from email_events
    where customer_id is not null
    group by customer_id, message_id

),

customer_messages_aggregated as (

    select
        customer_id,
        sum(is_sent) as email_sent_count,
        sum(is_delivered) as email_delivered_count,
        sum(is_opened) as email_opened_count,
        sum(is_clicked) as email_clicked_count,
        -- rates are per delivered message, so opens of undelivered (not tracked as
        -- delivered) messages do not push a rate above 1
        sum(is_delivered * is_opened) as delivered_opened_count,
        sum(is_delivered * is_clicked) as delivered_clicked_count
    from messages_flagged
    group by customer_id

),

final as (

    select
        customer_id,
        email_sent_count,
        email_delivered_count,
        email_opened_count,
        email_clicked_count,
        round(
            cast(delivered_opened_count as {{ dbt.type_numeric() }}) / nullif(email_delivered_count, 0),
            4
        ) as email_open_rate,
        round(
            cast(delivered_clicked_count as {{ dbt.type_numeric() }}) / nullif(email_delivered_count, 0),
            4
        ) as email_click_rate,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customer_messages_aggregated

)

select * from final
