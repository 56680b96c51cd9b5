#!/bin/sh
# azd predown hook: remove exactly what postprovision made outside the resource group, as it recorded
# it in the azd environment: the role assignments on the management groups, and the custom role if this
# environment defined it and nothing else still uses it. `azd down` deletes the resource group (and so
# the identity) but cannot see these; left behind, assignments show as "Identity not found".
# Assignments someone else made (an administrator, from the commands postprovision printed) stay.
# A removal that fails is reported with the command to finish it, and `azd down` goes on.
set -eu
set -f # ids are data, never glob patterns
hook=predown
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

assignments=$(env_value "$RECORDED_ASSIGNMENTS")
definition=$(env_value "$RECORDED_DEFINITION")
if [ -z "$assignments" ] && [ -z "$definition" ]; then
    echo "$hook: this environment made no management-group role assignment; nothing to remove"
    exit 0
fi
if ! command -v az >/dev/null 2>&1; then
    echo "$hook: the Azure CLI (az) is needed to remove the monitor's management-group roles; remove them later with:" >&2
    for id in $(printf '%s' "$assignments" | tr ',' ' '); do
        echo "  az role assignment delete --ids $id" >&2
    done
    exit 0
fi

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

left=''
for id in $(printf '%s' "$assignments" | tr ',' ' '); do
    echo "$hook: removing the monitor's role assignment $id"
    if az role assignment delete --ids "$id" --only-show-errors 2>"$errors"; then
        continue
    fi
    show_error "$errors"
    echo "$hook: could not remove it (Microsoft.Authorization/roleAssignments/delete is needed); later run: az role assignment delete --ids $id"
    left=${left:+$left,}$id
done
record "$RECORDED_ASSIGNMENTS" "$left"

if [ -n "$definition" ]; then
    # Recorded as <group it is defined at>/<definition id>.
    definition_id=${definition##*/}
    scope=$(group_scope "${definition%/*}")
    echo "$hook: removing the custom role '$MONITOR_ROLE_NAME' this environment defined"
    if az role definition delete --name "$definition_id" --scope "$scope" --only-show-errors 2>"$errors"; then
        record "$RECORDED_DEFINITION" ''
    elif grep -q 'RoleDefinitionHasAssignments' "$errors"; then
        # Another environment (or an administrator) still assigns it, or Azure still counts the
        # assignments just removed: it stays, and so does the record.
        echo "$hook: the custom role is still assigned elsewhere (or Azure still counts the assignments just"
        echo "$hook: removed), so it stays; once unused: az role definition delete --name $definition_id --scope $scope"
    else
        show_error "$errors"
        echo "$hook: could not remove it; later run: az role definition delete --name $definition_id --scope $scope"
    fi
fi
