{#- The NPS group of a 0-10 score: promoter 9-10, passive 7-8, detractor 0-6 (null for
    a null score). One definition for staging's nps_category and customer_360's nps_group. -#}
{% macro nps_group(score) -%}
    case
        when {{ score }} >= 9 then 'promoter'
        when {{ score }} >= 7 then 'passive'
        when {{ score }} >= 0 then 'detractor'
    end
{%- endmacro %}
