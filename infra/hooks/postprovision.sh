#!/bin/sh
# azd postprovision hook: the monitor's identity gets its reader role on every scope management group.
#
# A subscription deployment cannot assign a role at management-group scope, and a management-group
# deployment needs Microsoft.Resources/deployments/write there, which User Access Administrator and an
# elevated Global Administrator do not hold. So this hook makes the assignments with
# `az role assignment create` (Microsoft.Authorization/roleAssignments/write only), as whoever is
# signed in to the Azure CLI. It never stops `azd up` for a missing right: it says what is missing,
# prints the commands to hand to an administrator, and the code still deploys (the monitor's own
# "could not run" alert names the missing role until it is granted).
#
# Settings (azd env set NAME value):
#   MANAGEMENT_GROUP_ROLE          custom (default): "Defender Contact Monitor Reader", only what the check
#                                  reads; security-reader: the built-in Security Reader
#   MONITOR_ROLE_DEFINITION_GROUP  where the custom role is defined: a group above every scope group
#                                  (default: the tenant root group)
#   SKIP_MANAGEMENT_GROUP_ROLE     true: change nothing, print the commands for an administrator
# Idempotent: existing assignments are left alone. What it creates is recorded in the azd environment
# (MONITOR_ROLE_ASSIGNMENT_IDS, MONITOR_ROLE_DEFINITION_CREATED) for the predown hook.
set -eu
set -f # group ids are data, never glob patterns
hook=postprovision
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

: "${MONITOR_IDENTITY_PRINCIPAL_ID:?is not set: run azd provision (it is an output of infra/main.bicep)}"
: "${SCOPE_MANAGEMENT_GROUP_IDS:?is not set: run azd provision (it is an output of infra/main.bicep)}"
: "${AZURE_TENANT_ID:?is not set: run azd provision (it is an output of infra/main.bicep)}"
principal=$MONITOR_IDENTITY_PRINCIPAL_ID
tenant=$AZURE_TENANT_ID
groups=$(group_list "$SCOPE_MANAGEMENT_GROUP_IDS")
role_choice=$(printf '%s' "${MANAGEMENT_GROUP_ROLE:-custom}" | tr '[:upper:]' '[:lower:]')
role_group=${MONITOR_ROLE_DEFINITION_GROUP:-$tenant}
# Assigned by name, so az asks ARM for the definition's id as seen from the group (a bare GUID becomes
# a subscription-scoped id in some az versions).
case "$role_choice" in
    custom) role_name=$MONITOR_ROLE_NAME ;;
    security-reader | securityreader) role_choice=security-reader role_name='Security Reader' ;;
    *)
        echo "$hook: MANAGEMENT_GROUP_ROLE must be custom or security-reader" >&2
        exit 1
        ;;
esac

role_id='' # the role definition's id (a GUID), once known

# Remember when this identity first appeared: the predeploy hook waits out its storage role's propagation.
now=$(date -u +%s 2>/dev/null || echo 0)
case "$(env_value "$RECORDED_IDENTITY")" in
    "$principal":*) ;;
    *) record "$RECORDED_IDENTITY" "$principal:$now" ;;
esac

# The commands an administrator runs instead; $1 the groups still without the role (one per line).
print_handover() {
    echo
    echo "Hand these commands to someone with Owner or User Access Administrator on the group(s)"
    echo "(on the tenant root group: usually a Global Administrator who has elevated access):"
    echo
    echo "  az login --tenant $tenant"
    if [ "$role_choice" = custom ] && [ -z "$role_id" ]; then
        echo "  # once per tenant; skip it if this lists the role already:"
        echo "  #   az role definition list --custom-role-only true --name '$MONITOR_ROLE_NAME' --scope $(group_scope "$role_group")"
        echo "  az role definition create --role-definition \\"
        echo "      '$(role_definition_json)'"
    fi
    printf '%s\n' "$1" | while IFS= read -r missing_group; do
        echo "  az role assignment create --role '$role_name' \\"
        echo "      --assignee-object-id $principal --assignee-principal-type ServicePrincipal \\"
        echo "      --scope $(group_scope "$missing_group")"
    done
    echo
    echo "Re-running this step is safe: azd hooks run postprovision"
    echo "Until the role is granted every run fails, and the monitor's \"could not run\" alert names"
    echo "the missing permission."
}

give_up() {
    echo "$hook: the monitor's identity ($principal) did NOT get the role '$role_name' on management group(s): $(printf '%s' "$1" | tr '\n' ' ')"
    echo "$hook: $2"
    print_handover "$1"
    exit 0 # the app still deploys: azd up goes on
}

if is_true SKIP_MANAGEMENT_GROUP_ROLE; then
    give_up "$groups" "SKIP_MANAGEMENT_GROUP_ROLE is set, so this hook changes no role."
fi
if ! command -v az >/dev/null 2>&1; then
    give_up "$groups" "the Azure CLI (az) is not installed; it makes the assignments."
fi

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

if ! signed_in=$(az account show --query tenantId --output tsv 2>"$errors"); then
    show_error "$errors"
    give_up "$groups" "the Azure CLI is not signed in (az login --tenant $tenant)."
fi
if [ "$(printf '%s' "$signed_in" | tr '[:upper:]' '[:lower:]')" != "$(printf '%s' "$tenant" | tr '[:upper:]' '[:lower:]')" ]; then
    give_up "$groups" "the Azure CLI is signed in to tenant $signed_in, but azd deployed to tenant $tenant (az login --tenant $tenant)."
fi

role_fresh=false
if [ "$role_choice" = custom ]; then
    role_scope=$(group_scope "$role_group")
    if ! role_id=$(az role definition list --custom-role-only true --name "$MONITOR_ROLE_NAME" --scope "$role_scope" \
        --query "[0].name" --output tsv --only-show-errors 2>"$errors"); then
        show_error "$errors"
        give_up "$groups" "could not read the role definitions at management group $role_group (missing Microsoft.Authorization/roleDefinitions/read there, or the group does not exist)."
    fi
    if [ -z "$role_id" ]; then
        echo "$hook: defining the custom role '$MONITOR_ROLE_NAME' at management group $role_group"
        if ! role_id=$(az role definition create --role-definition "$(role_definition_json)" \
            --query name --output tsv --only-show-errors 2>"$errors"); then
            show_error "$errors"
            if grep -q RoleDefinitionWithSameNameExists "$errors"; then
                give_up "$groups" "a role named '$MONITOR_ROLE_NAME' already exists in this tenant but is not assignable at management group $role_group (another environment defined it at another group): set MONITOR_ROLE_DEFINITION_GROUP to that group if it is above every scope group, or azd env set MANAGEMENT_GROUP_ROLE security-reader."
            fi
            give_up "$groups" "could not define the custom role at management group $role_group: the deployer needs Microsoft.Authorization/roleDefinitions/write there (Owner or User Access Administrator), or choose azd env set MANAGEMENT_GROUP_ROLE security-reader."
        fi
        record "$RECORDED_DEFINITION" "$role_group/$role_id" # where it is defined, for predown
        role_fresh=true
    else
        # The role exists (this or another environment, or an administrator, defined it): bring its
        # actions up to date when this version reads more or less; failing that is no reason to stop.
        current=$(az role definition list --custom-role-only true --name "$MONITOR_ROLE_NAME" --scope "$role_scope" \
            --query "[0].permissions[0].actions" --output tsv --only-show-errors 2>/dev/null | sort)
        wanted=$(printf '%s' "$MONITOR_ROLE_ACTIONS" | tr -d '"' | tr ',' '\n' | sort)
        if [ "$current" != "$wanted" ]; then
            echo "$hook: bringing the custom role's actions up to date"
            if ! az role definition update --role-definition "$(role_definition_json)" \
                --output none --only-show-errors 2>"$errors"; then
                show_error "$errors"
                echo "$hook: could not update them (Microsoft.Authorization/roleDefinitions/write); the role keeps its current actions"
            fi
        fi
    fi
else
    role_id=$SECURITY_READER_ID
fi

# A role defined a moment ago may not be known to every ARM region yet: a bounded retry.
create_assignment() {
    attempt=1
    while :; do
        if az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
            --role "$role_name" --scope "$1" --description "Defender Contact Monitor reads security contacts under this management group" \
            --query id --output tsv --only-show-errors 2>"$errors"; then
            return 0
        fi
        if [ "$role_fresh" = true ] && [ "$attempt" -lt 6 ] && grep -q -e RoleDefinitionDoesNotExist -e 'does not exist' -e "doesn't exist" "$errors"; then
            attempt=$((attempt + 1))
            sleep 10
            continue
        fi
        return 1
    done
}

recorded=$(env_value "$RECORDED_ASSIGNMENTS")
missing=''
for group in $groups; do
    scope=$(group_scope "$group")
    # Filtered by the definition's id rather than --role: a name lookup can lag a new definition.
    if ! existing=$(az role assignment list --scope "$scope" \
        --query "[?principalId=='$principal' && ends_with(roleDefinitionId, '/$role_id')].id" \
        --output tsv --only-show-errors 2>"$errors"); then
        show_error "$errors"
        echo "$hook: could not read the role assignments on management group $group (missing Microsoft.Authorization/roleAssignments/read, or the group does not exist)"
        missing="$missing$group
"
        continue
    fi
    if [ -n "$existing" ]; then
        echo "$hook: management group $group: the monitor's identity already has '$role_name'"
        continue
    fi
    echo "$hook: management group $group: granting '$role_name' to the monitor's identity"
    if ! assignment=$(create_assignment "$scope"); then
        show_error "$errors"
        echo "$hook: could not assign it: the deployer needs Microsoft.Authorization/roleAssignments/write on management group $group"
        missing="$missing$group
"
        continue
    fi
    recorded=${recorded:+$recorded,}$assignment
    record "$RECORDED_ASSIGNMENTS" "$recorded"
done

if [ -n "$missing" ]; then
    give_up "$(printf '%s' "$missing" | sed '/^$/d')" "the deployer lacks the rights named above."
fi
echo "$hook: the monitor's identity has '$role_name' on every scope management group; it can take a few minutes to apply."
