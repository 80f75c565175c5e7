{#- Incremental customer-grain models (issue 8). A night recomputes the customers listed
    in int_customers_touched_collected since the model last wrote a row (its watermark:
    max _changed_at of {{ this }}, no lookback: the touched list is written earlier in
    the same nightly run, so the comparison is exact).

    touched_customers_filter(column='customer_id')
        `where <column> in (tonight's touched customers)` in an incremental run, nothing
        in a full one. Put it on every import CTE that reads an event-grain model (each
        has an index on customer_id).

    delete_touched_customers()
        Pre-hook: deletes the touched customers' rows before the model is recomputed, so a
        customer whose recomputation yields no row (an absorbed customer id, a customer
        whose records moved to another one) really goes. Inside the model's transaction.
-#}

{#- a literal, read once when the model is compiled, i.e. before its pre-hook deletes
    rows (a subquery would see the max after the deletion); the planner also estimates
    a literal better -#}
{% macro touched_customers_watermark() -%}
    {%- set watermark = none -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query(
            'select max(_changed_at)::text from ' ~ this
        ) -%}
        {%- set watermark = result.columns[0].values()[0] -%}
    {%- endif -%}
    cast('{{ watermark if watermark is not none else "-infinity" }}' as timestamptz)
{%- endmacro %}


{% macro touched_customers_list() -%}
    {%- set touched = ref('int_customers_touched_collected') -%}
    select customer_id
    from {{ touched }}
    where _changed_at > {{ touched_customers_watermark() }}
{%- endmacro %}


{% macro touched_customers_filter(column='customer_id') -%}
    {#- ref() outside the condition: dbt records the dependency at parse time -#}
    {%- set touched = ref('int_customers_touched_collected') -%}
    {%- if is_incremental() %}
    where {{ column }} in ({{ touched_customers_list() }})
    {%- endif %}
{%- endmacro %}


{% macro delete_touched_customers() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where customer_id in ({{ touched_customers_list() }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of int_customers_touched_collected: the lookups the customer-grain models
    make into the event-grain models (by customer_id; sessions also by session_date for
    the rolling windows; touches by touch_date for as_of_date()'s fallback). `if not
    exists`: a no-op on every night but the first after an event model is (re)created.
    Belongs in the event models' own `indexes` config; kept here until they have it. -#}
{% macro ensure_customer_lookup_indexes() -%}
    {%- set lookups = [
        ('int_crm_accounts_mapped_to_customers', 'customer_id'),
        ('int_email_events_mapped_to_customers', 'customer_id'),
        ('int_loyalty_events_mapped_to_customers', 'customer_id'),
        ('int_orders_mapped_to_customers', 'customer_id'),
        ('int_product_reviews_mapped_to_customers', 'customer_id'),
        ('int_receipts_mapped_to_customers', 'customer_id'),
        ('int_sessions_mapped_to_customers', 'customer_id'),
        ('int_sessions_mapped_to_customers', 'session_date'),
        ('int_social_mentions_mapped_to_customers', 'customer_id'),
        ('int_support_tickets_mapped_to_customers', 'customer_id'),
        ('int_survey_responses_mapped_to_customers', 'customer_id'),
        ('int_customer_touches_unioned', 'customer_id'),
        ('int_customer_touches_unioned', 'touch_date'),
    ] -%}
    {%- for model, column in lookups %}
    create index if not exists {{ model[4:] }}__{{ column }}_lookup_idx
        on {{ ref(model) }} ({{ column }});
    {%- endfor %}
{%- endmacro %}
