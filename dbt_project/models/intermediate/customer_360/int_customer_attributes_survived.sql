{{ customer_grain_config() }}
{#- Survivorship: one value per customer and attribute.
      1. a CRM value beats every other source; among CRM values, the one of the most
         recently updated account wins (the latest statement of the customer);
      2. with no CRM value: the value stated by most source records;
      3. then the most recently observed value;
      4. then the smallest value, so reruns pick the same one.
    Raw values (PII) stay in this restricted intermediate model; customer_360 hashes
    or masks them. -#}
with

candidates as (

    select * from {{ ref('int_customer_attribute_candidates_unioned') }}
    {{ touched_customers_filter() }}

),

candidate_values as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        max(case when is_crm then observed_at end) as latest_crm_observed_at,
        count(*) as occurrence_count,
        max(observed_at) as latest_observed_at
    from candidates
    group by customer_id, attribute_name, attribute_value

),

candidate_values_ranked as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        row_number() over (
            partition by customer_id, attribute_name
            order by
                latest_crm_observed_at desc nulls last,
                occurrence_count desc,
                latest_observed_at desc,
                attribute_value
        ) as survivorship_rank
    from candidate_values

),

surviving_values as (

    select customer_id, attribute_name, attribute_value
    from candidate_values_ranked
    where survivorship_rank = 1

),

final as (

    select
        customer_id,
        max(case when attribute_name = 'email' then attribute_value end) as email_normalized,
        max(case when attribute_name = 'phone' then attribute_value end) as phone_e164,
        max(case when attribute_name = 'name' then attribute_value end) as name,
        max(case when attribute_name = 'gender' then attribute_value end) as gender,
        cast(max(case when attribute_name = 'birth_year' then attribute_value end) as {{ dbt.type_int() }}) as birth_year,
        max(case when attribute_name = 'city' then attribute_value end) as city,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from surviving_values
    group by customer_id

)

select * from final
