{#- The date customer_360's windowed metrics (sessions in the last 30/90 days) are
    measured at: the data date when the run sets it (the nightly DAG sets the
    TOUCHPOINT_DATA_DATE environment variable, not a var, so dbt's partial parse stays
    valid from night to night; a data_date var, by hand or in a unit test's
    overrides, wins), else the latest touch_date in the data
    (int_customer_touches_unioned, every channel, mapped or not), so an ad-hoc run on a
    historical dataset still gets meaningful windows. A Seoul business date. -#}
{% macro as_of_date() -%}
    {%- set data_date = var('data_date', none) or env_var('TOUCHPOINT_DATA_DATE', '') -%}
    {%- if data_date is not none and (data_date | string | trim) != '' -%}
        cast('{{ data_date }}' as date)
    {%- else -%}
        (select max(touch_date) from {{ ref('int_customer_touches_unioned') }})
    {%- endif -%}
{%- endmacro %}
