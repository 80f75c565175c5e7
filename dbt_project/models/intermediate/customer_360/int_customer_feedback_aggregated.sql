{{ customer_grain_config() }}
with

tickets as (

    select * from {{ ref('int_support_tickets_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

responses as (

    select * from {{ ref('int_survey_responses_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

reviews as (

    select * from {{ ref('int_product_reviews_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

mentions as (

    select * from {{ ref('int_social_mentions_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

ticket_totals as (

    select
        customer_id,
        count(*) as support_ticket_count,
        sum(case when is_solved then 0 else 1 end) as open_support_ticket_count
    from tickets
    where customer_id is not null
    group by customer_id

),

nps_responses_ranked as (

    select
        customer_id,
        score,
        row_number() over (
            partition by customer_id
            order by responded_at desc, response_id desc
        ) as recency_rank
    from responses
    where customer_id is not null
        and survey_type = 'nps'

),

latest_nps_responses as (

    select
        customer_id,
        score as latest_nps_score,
        {{ nps_group('score') }} as nps_group
    from nps_responses_ranked
    where recency_rank = 1

),

-- CSAT votes: CSAT survey answers (1-5; 4-5 satisfied) and the good/bad rating of
-- support tickets (good satisfied); offered-but-unanswered tickets are not votes
csat_votes as (

    select
        customer_id,
        case when score >= 4 then 1 else 0 end as is_satisfied
    from responses
    where customer_id is not null
        and survey_type = 'csat'

    union all

    select
        customer_id,
        case when satisfaction_rating = 'good' then 1 else 0 end as is_satisfied
    from tickets
    where customer_id is not null
        and satisfaction_rating in ('good', 'bad')

),

csat_totals as (

    select
        customer_id,
        count(*) as csat_response_count,
        round(cast(sum(is_satisfied) as {{ dbt.type_numeric() }}) / count(*), 4) as csat_rate
    from csat_votes
    group by customer_id

),

review_totals as (

    select
        customer_id,
        count(*) as review_count,
        round(avg(cast(rating as {{ dbt.type_numeric() }})), 2) as average_review_rating
    from reviews
    where customer_id is not null
    group by customer_id

),

mention_totals as (

    select
        customer_id,
        count(*) as social_mention_count
    from mentions
    where customer_id is not null
    group by customer_id

),

customers_with_feedback as (

    select customer_id from ticket_totals
    union
    select customer_id from latest_nps_responses
    union
    select customer_id from csat_totals
    union
    select customer_id from review_totals
    union
    select customer_id from mention_totals

),

final as (

    select
        customers_with_feedback.customer_id,
        coalesce(ticket_totals.support_ticket_count, 0) as support_ticket_count,
        coalesce(ticket_totals.open_support_ticket_count, 0) as open_support_ticket_count,
        latest_nps_responses.latest_nps_score,
        latest_nps_responses.nps_group,
        csat_totals.csat_rate,
        coalesce(csat_totals.csat_response_count, 0) as csat_response_count,
        coalesce(review_totals.review_count, 0) as review_count,
        review_totals.average_review_rating,
        coalesce(mention_totals.social_mention_count, 0) as social_mention_count,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customers_with_feedback
    left join ticket_totals
        on customers_with_feedback.customer_id = ticket_totals.customer_id
    left join latest_nps_responses
        on customers_with_feedback.customer_id = latest_nps_responses.customer_id
    left join csat_totals
        on customers_with_feedback.customer_id = csat_totals.customer_id
    left join review_totals
        on customers_with_feedback.customer_id = review_totals.customer_id
    left join mention_totals
        on customers_with_feedback.customer_id = mention_totals.customer_id

)

select * from final
