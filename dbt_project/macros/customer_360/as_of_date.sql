{#- The date customer_360's windowed metrics (sessions in the last 30/90 days) are
    measured at: var('data_date') when the run sets it (the nightly DAG passes the data
    date it processes), else the latest touch_date in the data
    (int_customer_touches_unioned, every channel, mapped or not), so an ad-hoc run on a
    historical dataset still gets meaningful windows. A Seoul business date. -#}
{% macro as_of_date() -%}
    {%- set data_date = var('data_date', none) -%}
    {%- if data_date is not none and (data_date | string | trim) != '' -%}
        cast('{{ data_date }}' as date)
    {%- else -%}
        (select max(touch_date) from {{ ref('int_customer_touches_unioned') }})
    {%- endif -%}
{%- endmacro %}
