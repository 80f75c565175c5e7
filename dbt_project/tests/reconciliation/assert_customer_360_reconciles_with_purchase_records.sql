{{ config(severity='error', tags=['reconciliation']) }}
{#- Reconciliation (issue 9, Fivetran style): customer_360's net revenue and order count
    equal those of the staged orders and store receipts (read through their mapped models,
    one row per staged order / receipt with its customer_id), less what no customer could
    be attributed (records without any identifier). One row per figure that disagrees,
    with both sides; no row when everything reconciles. It refers only to models of the
    DAG's second dbt group: Cosmos renders a test beside every parent, so a staging ref
    would put it in the first group too, before customer_360 is built. -#}

with

records as (

    select
        count(*) as order_count,
        coalesce(sum(net_revenue_krw), 0) as net_revenue_krw,
        count(*) filter (where customer_id is null) as unattributed_order_count,
        coalesce(sum(net_revenue_krw) filter (where customer_id is null), 0) as unattributed_net_revenue_krw
    from {{ ref('int_orders_mapped_to_customers') }}

    union all

    select
        count(*) filter (where not is_return),
        coalesce(sum(total_krw), 0),
        count(*) filter (where not is_return and customer_id is null),
        coalesce(sum(total_krw) filter (where customer_id is null), 0)
    from {{ ref('int_receipts_mapped_to_customers') }}

),

published as (

    select
        coalesce(sum(order_count), 0) as order_count,
        coalesce(sum(net_revenue_krw), 0) as net_revenue_krw
    from {{ ref('customer_360') }}

),

expected as (

    select
        sum(order_count) - sum(unattributed_order_count) as order_count,
        sum(net_revenue_krw) - sum(unattributed_net_revenue_krw) as net_revenue_krw
    from records

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
