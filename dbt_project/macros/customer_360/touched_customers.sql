{#- Incremental customer-grain models (issue 8), configured by customer_grain_config()
    (at the end). A night recomputes the customers listed in
    int_customers_touched_collected since the model last wrote a row (its watermark: max
    _changed_at of {{ this }}, no lookback: the touched list is written earlier in the
    same nightly run, so the comparison is exact).

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


{#- The config of every customer-grain model: delete+insert by customer_id, the touched
    customers' rows deleted first, a unique index on the row key (customer_id, or the
    model's own key when a customer has several rows, plus a customer_id index) and the
    _changed_at index publication and downstream models read. -#}
{% macro customer_grain_config(row_key='customer_id') -%}
    {%- set indexes = [{'columns': [row_key], 'unique': true}] -%}
    {%- if row_key != 'customer_id' -%}
        {%- do indexes.append({'columns': ['customer_id']}) -%}
    {%- endif -%}
    {%- do indexes.append({'columns': ['_changed_at']}) -%}
    {{ config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=indexes,
        pre_hook="{{ delete_touched_customers() }}",
    ) }}
{%- endmacro %}
