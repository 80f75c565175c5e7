{{
    config(
        materialized='incremental',
        unique_key=['identifier_type', 'identifier_hmac'],
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['identifier_type', 'identifier_hmac'], 'unique': True},
        ],
    )
}}
{#- Published as marts.customer_identity_map: which customer an identifier belongs to,
    without the identifier itself (PII stays in schema identity): each identifier is
    published as its keyed pseudonym (HMAC-SHA-256, macro pseudonym; docs/security.md),
    so a reader of marts cannot test guesses against it.
    Incremental (issue 8), cheap by construction: the map is read whole (one row per
    identifier, not per event) and joined to this table on the grain, but only new
    rows and rows whose customer, dates or sources changed are written (merge), so
    _changed_at moves only for them. The map's updated_at alone would miss a new
    sighting (last_seen_at, sources), which does not bump it. The resolver never
    deletes an identifier, so no row has to go. -#}
with

identifier_map as (

    select * from {{ source('identity', 'identifier_map') }}

),

identifiers_hashed as (

    select
        identifier_type,
        {{ pseudonym('identifier_value') }} as identifier_hmac,
        customer_id,
        first_seen_at,
        last_seen_at,
        sources
    from identifier_map
    -- loyalty_member_id is an internal node of the graph, not a published identifier
    where identifier_type in (
        'email', 'phone', 'account_id', 'loyalty_card', 'cookie_id', 'app_instance_id', 'social_handle'
    )

),

{%- if is_incremental() %}

identifiers_changed as (

    select identifiers_hashed.*
    from identifiers_hashed
    left join {{ this }} as published
        on identifiers_hashed.identifier_type = published.identifier_type
        and identifiers_hashed.identifier_hmac = published.identifier_hmac
    where published.identifier_hmac is null
        or (
            identifiers_hashed.customer_id,
            identifiers_hashed.first_seen_at,
            identifiers_hashed.last_seen_at,
            identifiers_hashed.sources
        ) is distinct from (
            published.customer_id,
            published.first_seen_at,
            published.last_seen_at,
            published.sources
        )

),

{%- else %}

identifiers_changed as (

    select * from identifiers_hashed

),

{%- endif %}

final as (

    select
        identifier_type,
        identifier_hmac,
        customer_id,
        first_seen_at,
        last_seen_at,
        sources,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from identifiers_changed

)

select * from final
