#!/bin/sh
# azd preprovision hook: a monitor that tells nobody anything is not deployed by accident.
# At least one chat channel must be set, as a plain value (azd env set) or as a Key Vault reference
# (azd env set-secret, stored as akvs://...; azd resolves it for the @secure() parameter).
# ALLOW_NO_CHAT_CHANNEL=true deploys without one (the on-demand HTTP check and the failure e-mail only).
# Values are never printed: a webhook URL is a credential.
set -eu
hook=preprovision
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

bad=false
# The URL's shape only: the monitor itself checks the host when it loads its settings.
check_channel() {
    case "$2" in
        '') return 1 ;;
        https://* | akvs://*) return 0 ;;
        *)
            echo "$hook: $1 is set but is neither an https:// URL nor an akvs:// reference (azd env set-secret $1)" >&2
            bad=true
            return 0
            ;;
    esac
}

channels=0
if check_channel TEAMS_WEBHOOK_URL "${TEAMS_WEBHOOK_URL:-}"; then channels=$((channels + 1)); fi
if check_channel SLACK_WEBHOOK_URL "${SLACK_WEBHOOK_URL:-}"; then channels=$((channels + 1)); fi
if [ "$bad" = true ]; then
    exit 1
fi
if [ "$channels" -gt 0 ]; then
    exit 0
fi
if is_true "${ALLOW_NO_CHAT_CHANNEL:-}"; then
    echo "$hook: no Teams or Slack webhook set and ALLOW_NO_CHAT_CHANNEL is true: failures reach nobody but"
    echo "$hook: the on-demand check and the monitor-failure e-mail"
    exit 0
fi
cat >&2 <<EOF
$hook: no chat channel: set TEAMS_WEBHOOK_URL or SLACK_WEBHOOK_URL (or both) before provisioning.
  Keep the URL out of .azure/<environment>/.env (azd asks for a vault and secret; it stores akvs://...):
    azd env set-secret TEAMS_WEBHOOK_URL
  or as a plain value:
    azd env set TEAMS_WEBHOOK_URL 'https://...'
  To deploy without a channel (only the on-demand HTTP check and the monitor-failure e-mail):
    azd env set ALLOW_NO_CHAT_CHANNEL true
EOF
exit 1
