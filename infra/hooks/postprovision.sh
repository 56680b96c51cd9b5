#!/bin/sh
# azd postprovision hook: Security Reader for the monitor's identity on every scope management group.
# A subscription deployment cannot assign a role at management-group scope, so this deploys
# infra/mg-role.bicep once per group with `az deployment mg create`. The assignment name is
# deterministic, so running it again changes nothing. It runs as whoever is signed in to the Azure CLI
# (`az login`), who needs Owner or User Access Administrator on those groups.
set -eu
set -f # group ids are data, never glob patterns
cd "$(dirname "$0")/../.."

: "${MONITOR_IDENTITY_PRINCIPAL_ID:?is not set: run azd provision (it is an output of infra/main.bicep)}"
: "${SCOPE_MANAGEMENT_GROUP_IDS:?is not set: run azd provision (it is an output of infra/main.bicep)}"
: "${AZURE_LOCATION:?is not set: run azd provision}"
if ! command -v az >/dev/null 2>&1; then
    echo "postprovision: the Azure CLI (az) is needed to grant Security Reader on the management groups" >&2
    exit 1
fi

# Deployment names are at most 64 characters.
deployment_name=$(printf 'dcm-security-reader-%s' "${AZURE_ENV_NAME:-monitor}" | cut -c1-64)

for group in $(printf '%s' "$SCOPE_MANAGEMENT_GROUP_IDS" | tr ',;' '  '); do
    echo "postprovision: Security Reader for the monitor's identity on management group $group"
    az deployment mg create \
        --name "$deployment_name" \
        --management-group-id "$group" \
        --location "$AZURE_LOCATION" \
        --template-file infra/mg-role.bicep \
        --parameters principalId="$MONITOR_IDENTITY_PRINCIPAL_ID" \
        --only-show-errors \
        --output none
done
