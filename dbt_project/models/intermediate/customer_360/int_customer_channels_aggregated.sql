{{ customer_grain_config() }}
with

touches as (

    select * from {{ ref('int_customer_touches_unioned') }}
    {{ touched_customers_filter() }}

),

customer_touches as (

    select * from touches
    where customer_id is not null

),

touches_ranked as (

    select
        customer_id,
        channel,
        touched_at,
        utm_source,
        utm_medium,
        utm_campaign,
        -- ties at the same instant: touch_id, so the pick is deterministic
        row_number() over (
            partition by customer_id
            order by touched_at, touch_id
        ) as touch_rank
    from customer_touches

),

-- first touch: acquisition channel and campaign, and when the customer was first seen
first_touches as (

    select
        customer_id,
        touched_at as first_seen_at,
        channel as acquisition_channel,
        utm_source as acquisition_source,
        utm_medium as acquisition_medium,
        utm_campaign as acquisition_campaign
    from touches_ranked
    where touch_rank = 1

),

last_touches as (

    select
        customer_id,
        max(touched_at) as last_seen_at
    from customer_touches
    group by customer_id

),

channel_interactions as (

    select
        customer_id,
        channel,
        count(*) as interaction_count,
        max(touched_at) as last_touched_at
    from customer_touches
    where channel is not null
    group by customer_id, channel

),

-- most interactions wins; a tie goes to the channel used most recently, then to the
-- alphabetically first channel
channel_interactions_ranked as (

    select
        customer_id,
        channel,
        row_number() over (
            partition by customer_id
            order by interaction_count desc, last_touched_at desc, channel
        ) as preference_rank
    from channel_interactions

),

preferred_channels as (

    select
        customer_id,
        channel as preferred_channel
    from channel_interactions_ranked
    where preference_rank = 1

),

channels_listed as (

    select
        customer_id,
        count(*) as channel_count,
        {{ dbt.listagg('channel', "','", 'order by channel') }} as channels_used
    from channel_interactions
    group by customer_id

),

final as (

    select
        first_touches.customer_id,
        first_touches.first_seen_at,
        last_touches.last_seen_at,
        first_touches.acquisition_channel,
        first_touches.acquisition_source,
        first_touches.acquisition_medium,
        first_touches.acquisition_campaign,
        coalesce(channels_listed.channel_count, 0) as channel_count,
        channels_listed.channels_used,
        preferred_channels.preferred_channel,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from first_touches
    inner join last_touches
        on first_touches.customer_id = last_touches.customer_id
    left join channels_listed
        on first_touches.customer_id = channels_listed.customer_id
    left join preferred_channels
        on first_touches.customer_id = preferred_channels.customer_id

)

select * from final
