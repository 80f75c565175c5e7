{{
    config(
        materialized='incremental',
        unique_key='old_customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['old_customer_id'], 'unique': True},
        ],
    )
}}
{#- Published as marts.customer_id_merges: customer ids that were absorbed by an older
    one. current_customer_id follows chains (A -> B on one night, B -> C later) to the
    id in use today, so a BI join needs one hop.
    Incremental (issue 8), cheap by construction: one row per merge ever (a small
    table), recomputed whole, but only new rows and rows whose current_customer_id
    moved (a later merge extended the chain) are written (merge on old_customer_id). -#}
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

merges_resolved as (

    select
        merges.old_customer_id,
        merges.new_customer_id,
        merges.merged_at,
        merges.reason,
        current_ids.current_customer_id
    from merges
    inner join current_ids
        on current_ids.old_customer_id = merges.old_customer_id

),

merges_changed as (

    select merges_resolved.*
    from merges_resolved
    {%- if is_incremental() %}
    left join {{ this }} as published
        on merges_resolved.old_customer_id = published.old_customer_id
    where published.old_customer_id is null
        or (
            merges_resolved.new_customer_id,
            merges_resolved.merged_at,
            merges_resolved.reason,
            merges_resolved.current_customer_id
        ) is distinct from (
            published.new_customer_id,
            published.merged_at,
            published.reason,
            published.current_customer_id
        )
    {%- endif %}

),

final as (

    select
        old_customer_id,
        new_customer_id,
        merged_at,
        reason,
        current_customer_id,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from merges_changed

)

select * from final
