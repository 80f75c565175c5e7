{#- Data tests on staging models and raw sources check only the night's rows (issue 8).

    dbt wraps the relation of every generic test in get_where_subquery; this project's
    postgres__get_where_subquery keeps dbt's behaviour (an explicit `where` config wins)
    and, for a relation in raw or a stg_ model, without `where`, in a run that is not
    --full-refresh, restricts the test to the rows loaded in the last
    24 hours plus the incremental lookback (var incremental_lookback_hours):

    - staging, per-row tests (not_null, accepted_values, ranges...): rows with
      _loaded_at above max(_loaded_at) minus the window (btree index on _loaded_at);
    - staging, `unique` on a column: every row whose value is among the night's values
      (the night's keys against the whole history, through the unique index), so it
      still catches a duplicate between a new row and an old one;
    - raw sources: rows with _loaded_at above the source's latest current load in
      ops.load_manifest minus the window (the BRIN index on raw.<source>._loaded_at;
      max() over raw itself would be a full scan).

    A --full-refresh build tests everything. -#}

{% macro postgres__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {#- inlined: this macro also renders in dbt's own namespace (parsing), where the
        project's other macros are not visible -#}
    {%- set hours = 24 + (var('incremental_lookback_hours', 6) | int) -%}
    {%- set test_name = (model.test_metadata.name if model.test_metadata is defined and model.test_metadata else '') -%}
    {%- set kwargs = (model.test_metadata.kwargs if test_name else {}) -%}
    {%- set is_staging = relation.identifier is string and relation.identifier.startswith('stg_') -%}
    {%- set is_raw = relation.schema == 'raw' -%}
    {%- if where -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
    {%- elif flags.FULL_REFRESH or not (is_staging or is_raw) -%}
        {%- do return(relation) -%}
    {%- elif is_raw -%}
        {%- set filtered -%}
            (
                select * from {{ relation }}
                where _loaded_at > (
                    select max(load_manifest.loaded_at) - interval '{{ hours }} hours'
                    from ops.load_manifest as load_manifest
                    where load_manifest.source = '{{ relation.identifier }}'
                        and load_manifest.is_current
                )
            ) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- set night -%}
            _loaded_at > (
                select max(_loaded_at) - interval '{{ hours }} hours' from {{ relation }}
            )
        {%- endset -%}
        {%- if test_name == 'unique' and kwargs.get('column_name') -%}
            {%- set column = kwargs.get('column_name') -%}
            {%- set filtered -%}
                (
                    select * from {{ relation }}
                    where {{ column }} in (
                        select {{ column }} from {{ relation }} where {{ night }}
                    )
                ) dbt_subquery
            {%- endset -%}
        {%- else -%}
            {%- set filtered -%}
                (select * from {{ relation }} where {{ night }}) dbt_subquery
            {%- endset -%}
        {%- endif -%}
        {%- do return(filtered) -%}
    {%- endif -%}
{%- endmacro %}
