{#- Fails for every row where the boolean SQL expression is false (null counts as
    false unless the expression handles it). dbt_utils.expression_is_true without the
    package. On a model, `expression` may use any column; on a column, it is appended
    to the column name (`expression: "~ '^[0-9a-f]{64}$'"`), and null values pass. -#}
{% test touchpoint_expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    {%- if column_name is none %}
    where not coalesce({{ expression }}, false)
    {%- else %}
    where {{ column_name }} is not null
        and not coalesce({{ column_name }} {{ expression }}, false)
    {%- endif %}
{% endtest %}
