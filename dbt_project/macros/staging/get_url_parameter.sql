{#- Value of one query-string parameter of a URL or path (e.g. utm_source of
    '/products/P0012?utm_source=kakao&utm_medium=message'), '+' read as a space,
    trimmed and lower-cased (UTM values are case-insensitive in practice); null when
    absent or empty. Percent-encoded characters are left encoded. -#}
{% macro get_url_parameter(url, parameter) -%}
    nullif(
        lower(trim(replace(
            substring({{ url }} from '[?&]{{ parameter }}=([^&#]*)'),
            '+', ' '
        ))),
        ''
    )
{%- endmacro %}

{#- Path of a URL or path, without scheme, host, query string and fragment. -#}
{% macro get_url_path(url) -%}
    nullif(
        split_part(split_part(regexp_replace({{ url }}, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*', ''), '?', 1), '#', 1),
        ''
    )
{%- endmacro %}
