{{ config(severity='error', tags=['reconciliation']) }}
{#- Reconciliation (issue 9, Fivetran style): customer_360's net revenue and order count
    equal those of the staged orders and store receipts, less what no customer could be
    attributed (records without any identifier). One row per figure that disagrees, with
    both sides; no row when everything reconciles. Whole-table sums: these are the
    order-grain tables (small) and customer_360 once. -#}

with

staged_orders as (

    select
        count(*) as order_count,
        coalesce(sum(net_revenue_krw), 0) as net_revenue_krw
    from {{ ref('stg_ecommerce_orders__orders') }}

),

staged_receipts as (

    select
        count(*) filter (where not is_return) as order_count,
        coalesce(sum(total_krw), 0) as net_revenue_krw
    from {{ ref('stg_store_transactions__receipts') }}

),

unattributed_orders as (

    select
        count(*) as order_count,
        coalesce(sum(net_revenue_krw), 0) as net_revenue_krw
    from {{ ref('int_orders_mapped_to_customers') }}
    where customer_id is null

),

unattributed_receipts as (

    select
        count(*) filter (where not is_return) as order_count,
        coalesce(sum(total_krw), 0) as net_revenue_krw
    from {{ ref('int_receipts_mapped_to_customers') }}
    where customer_id is null

),

published as (

    select
        coalesce(sum(order_count), 0) as order_count,
        coalesce(sum(net_revenue_krw), 0) as net_revenue_krw
    from {{ ref('customer_360') }}

),

expected as (

    select
        staged_orders.order_count + staged_receipts.order_count
            - unattributed_orders.order_count - unattributed_receipts.order_count as order_count,
        staged_orders.net_revenue_krw + staged_receipts.net_revenue_krw
            - unattributed_orders.net_revenue_krw - unattributed_receipts.net_revenue_krw as net_revenue_krw
    from staged_orders
    cross join staged_receipts
    cross join unattributed_orders
    cross join unattributed_receipts

),

comparisons as (

    select
        'net_revenue_krw' as figure,
        cast(expected.net_revenue_krw as {{ dbt.type_numeric() }}) as expected_from_staging,
        cast(published.net_revenue_krw as {{ dbt.type_numeric() }}) as in_customer_360
    from expected
    cross join published

    union all

    select
        'order_count' as figure,
        cast(expected.order_count as {{ dbt.type_numeric() }}),
        cast(published.order_count as {{ dbt.type_numeric() }})
    from expected
    cross join published

),

final as (

    select *
    from comparisons
    where expected_from_staging <> in_customer_360

)

select * from final
