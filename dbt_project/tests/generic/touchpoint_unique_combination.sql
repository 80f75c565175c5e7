{#- Fails for every combination of the given columns that occurs more than once
    (dbt_utils.unique_combination_of_columns without the package). -#}
{% test touchpoint_unique_combination(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(", ") }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(", ") }}
    having count(*) > 1
{% endtest %}
