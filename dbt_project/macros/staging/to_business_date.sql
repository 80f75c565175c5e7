{#- Business (Seoul) calendar date of a UTC timestamptz: the brand reports in
    var('business_timezone') (Asia/Seoul), so a purchase at 2026-11-01 16:00 UTC
    belongs to 2026-11-02. -#}
{% macro to_business_date(column_name) -%}
    {{ return(adapter.dispatch('to_business_date')(column_name)) }}
{%- endmacro %}

{% macro default__to_business_date(column_name) -%}
    cast(({{ column_name }} at time zone '{{ var("business_timezone") }}') as date)
{%- endmacro %}
