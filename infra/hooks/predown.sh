#!/bin/sh
# azd predown hook: remove the Security Reader assignments that postprovision made on the management
# groups. `azd down` deletes the resource group (and so the identity) but cannot see assignments made
# outside it; left behind they would show as "Identity not found" on the groups.
set -eu
set -f # group ids are data, never glob patterns

if [ -z "${MONITOR_IDENTITY_PRINCIPAL_ID:-}" ] || [ -z "${SCOPE_MANAGEMENT_GROUP_IDS:-}" ]; then
    echo "predown: nothing provisioned in this environment; no management-group role to remove"
    exit 0
fi
if ! command -v az >/dev/null 2>&1; then
    echo "predown: the Azure CLI (az) is needed to remove Security Reader from the management groups" >&2
    exit 1
fi

security_reader=39bc4728-0917-49c7-9d2c-d95423bc2eb4
for group in $(printf '%s' "$SCOPE_MANAGEMENT_GROUP_IDS" | tr ',;' '  '); do
    scope="/providers/Microsoft.Management/managementGroups/$group"
    ids=$(az role assignment list \
        --scope "$scope" \
        --role "$security_reader" \
        --query "[?principalId=='$MONITOR_IDENTITY_PRINCIPAL_ID'].id" \
        --only-show-errors \
        --output tsv)
    if [ -z "$ids" ]; then
        echo "predown: no Security Reader assignment for the monitor on management group $group"
        continue
    fi
    echo "predown: removing Security Reader for the monitor's identity on management group $group"
    # shellcheck disable=SC2086 # one id per line, each its own argument
    az role assignment delete --ids $ids --only-show-errors
done
