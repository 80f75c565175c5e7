{#- Published as marts.customer_identity_map: which customer an identifier belongs to,
    without the identifier itself (PII stays in schema identity). -#}
with

identifier_map as (

    select * from {{ source('identity', 'identifier_map') }}

),

final as (

    select
        identifier_type,
        encode(sha256(convert_to(identifier_value, 'UTF8')), 'hex') as identifier_sha256,
        customer_id,
        first_seen_at,
        last_seen_at,
        sources
    from identifier_map
    -- loyalty_member_id is an internal node of the graph, not a published identifier
    where identifier_type in (
        'email', 'phone', 'account_id', 'loyalty_card', 'cookie_id', 'app_instance_id', 'social_handle'
    )

)

select * from final
