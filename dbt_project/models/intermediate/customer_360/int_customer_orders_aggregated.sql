{{ customer_grain_config() }}
with

orders as (

    select * from {{ ref('int_orders_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

receipts as (

    select * from {{ ref('int_receipts_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

-- online orders and store receipts in one shape. An order is an online order of any
-- status or a store sale; a store return is not an order but its (negative) amount
-- reduces offline revenue. Cancelled orders count as orders with 0 net revenue
-- (staging's net_revenue_krw) but not as purchases for the average order value.
purchases_unioned as (

    select
        customer_id,
        'online' as sales_channel,
        order_date as purchase_date,
        true as is_order,
        not is_cancelled as is_completed_order,
        net_revenue_krw
    from orders
    where customer_id is not null

    union all

    select
        customer_id,
        'offline' as sales_channel,
        transaction_date as purchase_date,
        not is_return as is_order,
        not is_return as is_completed_order,
        total_krw as net_revenue_krw
    from receipts
    where customer_id is not null

),

purchases_aggregated as (

    select
        customer_id,
        sum(case when is_order then 1 else 0 end) as order_count,
        sum(case when sales_channel = 'online' and is_order then 1 else 0 end) as online_order_count,
        sum(case when sales_channel = 'offline' and is_order then 1 else 0 end) as offline_order_count,
        sum(case when is_completed_order then 1 else 0 end) as completed_order_count,
        sum(net_revenue_krw) as net_revenue_krw,
        sum(case when sales_channel = 'online' then net_revenue_krw else 0 end) as online_net_revenue_krw,
        sum(case when sales_channel = 'offline' then net_revenue_krw else 0 end) as offline_net_revenue_krw,
        min(case when is_order then purchase_date end) as first_order_date,
        max(case when is_order then purchase_date end) as last_order_date
    from purchases_unioned
    group by customer_id

),

final as (

    select
        customer_id,
        order_count,
        online_order_count,
        offline_order_count,
        net_revenue_krw,
        online_net_revenue_krw,
        offline_net_revenue_krw,
        -- KRW has no minor unit: rounded to whole won
        round(
            cast(net_revenue_krw as {{ dbt.type_numeric() }}) / nullif(completed_order_count, 0),
            0
        ) as average_order_value_krw,
        first_order_date,
        last_order_date,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from purchases_aggregated

)

select * from final
