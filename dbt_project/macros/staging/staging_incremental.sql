{#- Incremental staging (issue 8): a night reads only the night's raw rows.

    staging_config(unique_key, source_name, strategy='merge', replace_key=none)
        The config every staging model shares: incremental on its grain, a unique index
        on the grain, an index on _loaded_at (the watermark's max()) and on _load_id (the
        superseded-load lookup), on_schema_change 'fail' (a column change is a
        --full-refresh), and a post-hook deleting rows of superseded loads.
        Line models pass strategy='delete+insert' and replace_key=<parent id>: a newer
        parent version replaces all of its lines (merge could not remove vanished lines).

    staging_superseded_loads(source_name)
        Subquery: the load ids of `source_name` that a changed file replaced (their raw
        rows are deleted by ingestion/loader.py).

    staging_has_superseded_rows(key)
        True in an incremental run when {{ this }} still holds rows of a superseded load.
        Then the model takes the slow path: it recomputes from all of raw (a full scan,
        as a full refresh) and rewrites the keys of those rows; rare (a file replaced).

    staging_filter(source_name)
        Follows the import CTE's `select * from source(...)`: nothing in a full refresh
        (or the slow path), else `where _loaded_at >` the watermark minus the lookback,
        so the night reads only its raw rows (BRIN index on raw.<source>._loaded_at).

    staging_keep_latest(relation, key, order_by)
        The model's last step. Incremental: the night's rows plus the existing rows of
        the keys they touch; per key the first in `order_by` wins. The order is total
        (it ends with _loaded_at, _load_id, _line_number), so winner(existing, new) is the
        winner over all raw rows of the key: a late older version never overwrites a
        newer one and exact re-sends collapse. Slow path: the recomputed rows of the
        superseded keys and of the night's keys. Full refresh: the rows as they are.
-#}

{% macro staging_config(unique_key, source_name, strategy='merge', replace_key=none) -%}
    {%- set indexes = [
        {'columns': [unique_key], 'unique': true},
        {'columns': ['_loaded_at']},
        {'columns': ['_load_id']},
    ] -%}
    {%- if replace_key -%}
        {%- do indexes.append({'columns': [replace_key]}) -%}
    {%- endif -%}
    {{ config(
        materialized='incremental',
        unique_key=(replace_key or unique_key),
        incremental_strategy=strategy,
        on_schema_change='fail',
        indexes=indexes,
        post_hook=["{{ staging_delete_superseded('" ~ source_name ~ "') }}"],
    ) }}
{%- endmacro %}


{% macro staging_superseded_loads(source_name) -%}
    (
        select load_manifest.load_id
        from ops.load_manifest as load_manifest
        where load_manifest.source = '{{ source_name }}'
            and not load_manifest.is_current
    )
{%- endmacro %}


{% macro staging_has_superseded_rows(source_name) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set result = run_query(
        "select exists (select 1 from " ~ this ~ " where _load_id in "
        ~ staging_superseded_loads(source_name) ~ ")"
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}


{% macro staging_filter(source_name) -%}
    {%- if is_incremental() and not staging_has_superseded_rows(source_name) %}
    where {{ loaded_since_last_run('_loaded_at') }}
    {%- endif %}
{%- endmacro %}


{% macro staging_keep_latest(relation, key, order_by, source_name) -%}
    {%- if not is_incremental() -%}
    select * from {{ relation }}
    {%- elif staging_has_superseded_rows(source_name) -%}
    select * from {{ relation }}
    where {{ loaded_since_last_run(relation ~ '._loaded_at') }}
        or {{ relation }}.{{ key }} in (
            select existing.{{ key }}
            from {{ this }} as existing
            where existing._load_id in {{ staging_superseded_loads(source_name) }}
        )
    {%- else -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='quoted') | join(', ') -%}
    select distinct on ({{ key }}) *
    from (
        select * from {{ relation }}
        union all
        select {{ columns }}
        from {{ this }} as existing
        where existing.{{ key }} in (select {{ relation }}.{{ key }} from {{ relation }})
    ) as candidates
    order by {{ key }}, {{ order_by }}
    {%- endif -%}
{%- endmacro %}


{% macro staging_delete_superseded(source_name) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where _load_id in {{ staging_superseded_loads(source_name) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
