{#- Writes one row per executed node into ops.dbt_results at the end of every dbt
    invocation. The audit stage reads it: every error-severity test of the run must
    have passed and every mart must have been built, whichever way the DAG invoked dbt
    (Cosmos runs one node per task). -#}
{% macro record_run_results(results) %}
    {%- if execute and flags.WHICH in ('run', 'test', 'build', 'seed') -%}
        {%- set run_key = var('touchpoint_run_id', invocation_id) -%}
        create schema if not exists ops;
        create table if not exists ops.dbt_results (
            run_key text not null,
            invocation_id text not null,
            unique_id text not null,
            resource_type text not null,
            node_name text not null,
            relation_schema text,
            status text not null,
            severity text,
            failures bigint,
            message text,
            execution_seconds numeric,
            recorded_at timestamptz not null default now()
        );
        {%- if results | length > 0 %}
        insert into ops.dbt_results
            (run_key, invocation_id, unique_id, resource_type, node_name, relation_schema,
             status, severity, failures, message, execution_seconds)
        values
        {%- for result in results %}
            (
                '{{ run_key }}',
                '{{ invocation_id }}',
                '{{ result.node.unique_id }}',
                '{{ result.node.resource_type }}',
                '{{ result.node.name }}',
                {{ "'" ~ result.node.schema ~ "'" if result.node.resource_type in ('model', 'seed', 'snapshot') else 'null' }},
                '{{ result.status }}',
                {{ "'" ~ result.node.config.severity ~ "'" if result.node.resource_type in ('test', 'unit_test') else 'null' }},
                {{ result.failures if result.failures is not none else 'null' }},
                {{ "'" ~ (result.message | string | replace("'", "''"))[:2000] ~ "'" if result.message is not none else 'null' }},
                {{ result.execution_time | round(3) }}
            ){{ "," if not loop.last }}
        {%- endfor %};
        {%- endif %}
    {%- endif -%}
{% endmacro %}
