# Sourced by the azd hooks (POSIX sh): settings, the azd environment, and the monitor's reader role.
# shellcheck shell=sh disable=SC2034,SC2154 # constants for the hooks; $hook and $role_group are theirs

# The custom role (item 3 of issue 15): only what the check reads. Defined once at one management
# group above every scope group; its name is unique in the tenant, so every environment shares it.
MONITOR_ROLE_NAME='Defender Contact Monitor Reader'
MONITOR_ROLE_DESCRIPTION='Reads Defender for Cloud security contacts, the management-group tree and subscriptions; nothing else.'
# securityContacts/read: the check itself. managementGroups/read: the scope tree (expand=children).
# subscriptions/read: names and states. subscriptions/providers/read: which api-versions Microsoft.Security
# offers (the tenant-level GET /providers/Microsoft.Security needs no role).
MONITOR_ROLE_ACTIONS='"Microsoft.Security/securityContacts/read","Microsoft.Management/managementGroups/read","Microsoft.Resources/subscriptions/read","Microsoft.Resources/subscriptions/providers/read"'
SECURITY_READER_ID=39bc4728-0917-49c7-9d2c-d95423bc2eb4
# What postprovision records in the azd environment, so predown removes exactly that and nothing else.
RECORDED_ASSIGNMENTS=MONITOR_ROLE_ASSIGNMENT_IDS
RECORDED_DEFINITION=MONITOR_ROLE_DEFINITION_CREATED
RECORDED_IDENTITY=MONITOR_IDENTITY_PROVISIONED_AT

# A value of the azd environment: the file azd keeps (current even when an earlier hook of the same
# `azd up` changed it), else the variable azd passed to the hook.
env_value() {
    if command -v azd >/dev/null 2>&1; then
        if _value=$(azd env get-value "$1" 2>/dev/null); then
            printf '%s' "$_value"
            return 0
        fi
    fi
    eval "printf '%s' \"\${$1:-}\""
}

# Writes a value into the azd environment; says so when it cannot (the record is what predown reads).
record() {
    if ! azd env set "$1" "$2" >/dev/null 2>&1; then
        echo "$hook: could not record $1 in the azd environment; run: azd env set $1 '$2'" >&2
    fi
}

# A true/false setting, named by $1, read as Bicep's bool takes it: exactly `true` or `false` (unset is
# false). Anything else stops the hook with the reason: "yes" or "1" would reach a bool parameter and
# fail provisioning late, or mean one thing here and another in Bicep.
is_true() {
    eval "_flag=\${$1:-}"
    case "$_flag" in
        true) return 0 ;;
        false | '') return 1 ;;
    esac
    echo "$hook: $1 is '$_flag'; it must be true or false (exactly what a Bicep bool parameter takes)" >&2
    exit 1
}

# Group ids from a comma/semicolon/space separated list, one per line.
group_list() {
    # shellcheck disable=SC2020 # each of the three separators becomes a newline
    printf '%s' "$1" | tr ',; ' '\n\n\n' | sed '/^$/d'
}

group_scope() {
    printf '/providers/Microsoft.Management/managementGroups/%s' "$1"
}

# The role definition as `az role definition create` reads it; `update` finds the role by this Name
# in its assignable scope.
role_definition_json() {
    printf '{"Name": "%s", "IsCustom": true, "Description": "%s", "Actions": [%s], "NotActions": [], "DataActions": [], "NotDataActions": [], "AssignableScopes": ["%s"]}' \
        "$MONITOR_ROLE_NAME" "$MONITOR_ROLE_DESCRIPTION" "$MONITOR_ROLE_ACTIONS" "$(group_scope "$role_group")"
}

# First lines of an az error, indented: what Azure said, for the person reading the hook's output.
show_error() {
    grep -v -e '^Code:' -e '^Message:' "$1" | sed -n '1,3s/^/    /p' >&2
}
