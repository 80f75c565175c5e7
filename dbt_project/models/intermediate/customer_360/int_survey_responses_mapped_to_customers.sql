{%- set response_identifiers = {
    'account_id': 'responses.account_id',
    'email': 'responses.email_normalized',
} -%}

with

responses as (

    select * from {{ ref('stg_survey_responses__responses') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

responses_mapped as (

    select
        responses.response_id,
        {{ customer_id_by_precedence(response_identifiers) }} as customer_id,
        {{ matched_identifier_type(response_identifiers) }} as matched_identifier_type,
        responses.survey_type,
        responses.score,
        responses.touchpoint,
        responses.channel,
        responses.responded_at,
        responses.response_date,
        responses.email_normalized
    from responses
    {{ join_identifier_map(response_identifiers) }}

),

final as (

    select * from responses_mapped

)

select * from final
