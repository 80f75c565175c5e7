{#- Published as marts.customer_id_merges: customer ids that were absorbed by an older
    one. current_customer_id follows chains (A -> B on one night, B -> C later) to the
    id in use today, so a BI join needs one hop. -#}
with recursive

merges as (

    select * from {{ source('identity', 'customer_id_merges') }}

),

chains as (

    select
        old_customer_id,
        new_customer_id as current_customer_id,
        1 as hops
    from merges

    union all

    select
        chains.old_customer_id,
        merges.new_customer_id as current_customer_id,
        chains.hops + 1 as hops
    from chains
    join merges
        on merges.old_customer_id = chains.current_customer_id
    where chains.hops < 100

),

current_ids as (

    select distinct on (old_customer_id)
        old_customer_id,
        current_customer_id
    from chains
    order by old_customer_id, hops desc

),

final as (

    select
        merges.old_customer_id,
        merges.new_customer_id,
        merges.merged_at,
        merges.reason,
        current_ids.current_customer_id
    from merges
    join current_ids
        on current_ids.old_customer_id = merges.old_customer_id

)

select * from final
