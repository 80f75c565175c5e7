{#- Keeps one row per `partition_by` (list of columns) of `relation` (a relation or
    a CTE name).

    Default order: the most recently loaded copy wins (`_loaded_at desc, _load_id desc,
    _line_number desc`), which is how exact re-sends of one record key are collapsed.
    Versioned sources call it a second time, partitioned by the entity id and ordered
    by the version field first, to keep the latest version of each entity.

    Adds a `_rank_in_<relation>` column (always 1); final CTEs list their columns
    explicitly, so it never reaches the model's output. -#}
{% macro deduplicate(relation, partition_by, order_by=none) -%}
    {%- set order_by = order_by or "_loaded_at desc, _load_id desc, _line_number desc" -%}
    {%- set rank_column = "_rank_in_" ~ (relation | string | lower | replace('"', '') | replace('.', '_')) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by | join(", ") }}
                order by {{ order_by }}
            ) as {{ rank_column }}
        from {{ relation }}
    ) as ranked
    where {{ rank_column }} = 1
{%- endmacro %}
