#!/bin/sh
# azd preprovision hook: a monitor that tells nobody anything is not deployed by accident.
# At least one chat channel must be set, as a plain value (azd env set) or as a Key Vault reference
# (azd env set-secret, stored as akvs://...; azd resolves it for the @secure() parameter).
# ALLOW_NO_CHAT_CHANNEL=true deploys without one (the on-demand HTTP check and the failure e-mail only).
# Values are never printed: a webhook URL is a credential.
# It also refuses, before anything is provisioned: a true/false setting that is not exactly true or
# false (what Bicep's bool takes), and a CHECK_SCHEDULE that does not run every day (the missed-run
# alert looks back at most two days, so it can watch only a daily or more frequent schedule).
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

# Every true/false setting the hooks or Bicep read; is_true stops here, before provisioning, on a bad one.
for flag in ALLOW_NO_CHAT_CHANNEL KEY_VAULT_PURGE_PROTECTION SKIP_MANAGEMENT_GROUP_ROLE; do
    is_true "$flag" || :
done

# Six NCRONTAB fields (second minute hour day month day-of-week); every day: day, month, weekday all in.
schedule_problem() {
    set -f # the fields hold '*'
    # shellcheck disable=SC2086 # split into the fields on purpose
    set -- $1
    set +f
    if [ "$#" -ne 6 ]; then
        echo "has $# field(s); the Functions timer takes six NCRONTAB fields (second minute hour day month day-of-week, UTC), e.g. '0 0 7 * * *'"
        return
    fi
    case "$4" in
        '*' | '*/1' | 1-31) ;;
        *)
            echo "does not run every day (its day field is '$4')"
            return
            ;;
    esac
    case "$5" in
        '*' | '*/1' | 1-12) ;;
        *)
            echo "does not run every day (its month field is '$5')"
            return
            ;;
    esac
    case "$6" in
        '*' | '*/1' | 0-6) ;;
        *)
            echo "does not run every day (its day-of-week field is '$6')"
            return
            ;;
    esac
}
schedule=${CHECK_SCHEDULE:-}
if [ -n "$schedule" ]; then
    problem=$(schedule_problem "$schedule")
    if [ -n "$problem" ]; then
        cat >&2 <<EOF
$hook: CHECK_SCHEDULE '$schedule' $problem.
  The "monitor did not run" alert looks back at most two days, so it watches only schedules that run
  at least daily: keep the day, month and day-of-week fields at '*', e.g.
    azd env set CHECK_SCHEDULE '0 0 7 * * *'
EOF
        exit 1
    fi
fi

channels=0
if check_channel TEAMS_WEBHOOK_URL "${TEAMS_WEBHOOK_URL:-}"; then channels=$((channels + 1)); fi
if check_channel SLACK_WEBHOOK_URL "${SLACK_WEBHOOK_URL:-}"; then channels=$((channels + 1)); fi
if [ "$bad" = true ]; then
    exit 1
fi
if [ "$channels" -gt 0 ]; then
    exit 0
fi
if is_true ALLOW_NO_CHAT_CHANNEL; then
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
