#!/bin/sh
# azd predeploy hook: on the first deploy of a new identity, wait out its storage role's propagation.
# With shared keys off, the package upload runs as the app's identity; its Storage Blob Data Owner
# assignment is minutes old on a first `azd up` and can still answer 403 (Azure/azure-dev#8026).
# ROLE_PROPAGATION_WAIT_SECONDS (default 120; 0 turns it off) counts from when postprovision first saw
# this identity, so later deploys do not wait at all.
set -eu
hook=predeploy
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

wait_total=${ROLE_PROPAGATION_WAIT_SECONDS:-120}
case "$wait_total" in
    '' | *[!0-9]*)
        echo "$hook: ROLE_PROPAGATION_WAIT_SECONDS must be a whole number of seconds" >&2
        exit 1
        ;;
esac
principal=${MONITOR_IDENTITY_PRINCIPAL_ID:-}
first_seen=$(env_value "$RECORDED_IDENTITY")
case "$first_seen" in
    "$principal":[0-9]*) since=${first_seen#*:} ;;
    *) exit 0 ;; # not provisioned by these hooks (or an identity of the past): nothing to wait for
esac
now=$(date -u +%s 2>/dev/null || echo 0)
remaining=$((since + wait_total - now))
if [ -z "$principal" ] || [ "$remaining" -le 0 ] || [ "$remaining" -gt "$wait_total" ]; then
    exit 0
fi
echo "$hook: the app's identity is new; waiting ${remaining}s for its storage role to apply before the package upload"
echo "$hook: (if the deploy still stops with 403 AuthorizationPermissionMismatch, run 'azd deploy' again in a few minutes)"
sleep "$remaining"
