#!/bin/sh
# azd postdeploy hook: run one check through the deployed app, with chat delivery, so a fresh deployment
# says at once that it works (or what stops it), instead of at the next scheduled run.
# It calls the on-demand route (GET /api/check?format=table&announce=true) with the check function's key
# in the x-functions-key header: every chat channel gets a short "monitor is live" notice plus the alerts
# as usual, and the answer lists what each channel got. It prints what it saw. It never fails `azd up`: when the role is not
# effective yet, or the app cannot be reached, it says so and prints the command to run it again.
set -u
hook=postdeploy
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"
rerun='azd hooks run postdeploy'

later() {
    echo "$hook: $1"
    echo "$hook: run the check again later with: $rerun"
    exit 0
}

uri=${SERVICE_API_URI:-}
group=${AZURE_RESOURCE_GROUP:-}
app=${AZURE_FUNCTION_NAME:-}
if [ -z "$uri" ] || [ -z "$group" ] || [ -z "$app" ]; then
    later "SERVICE_API_URI, AZURE_RESOURCE_GROUP or AZURE_FUNCTION_NAME is not set (run azd provision first)"
fi
for tool in az curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        later "$tool is not installed; the first check waits for the timer"
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Right after a deploy the host may still be starting and not list keys yet: a bounded retry.
attempt=1
while :; do
    if key=$(az functionapp function keys list --resource-group "$group" --name "$app" --function-name check \
        --query default --output tsv --only-show-errors 2>"$work/errors") && [ -n "$key" ]; then
        break
    fi
    if [ "$attempt" -ge 6 ]; then
        show_error "$work/errors"
        later "could not read the check function's key (the app may still be starting, or the deployer cannot list keys)"
    fi
    attempt=$((attempt + 1))
    sleep 10
done

echo "$hook: running one check through $uri/api/check (it tells the chat channels the monitor is live)"
# The key goes in a header read from stdin: never on a command line, in a URL or in this output.
# --max-time bounds the whole call: the front end ends an HTTP request after 230 s anyway.
status=$(printf 'x-functions-key: %s\n' "$key" | curl --silent --show-error --max-time 240 --header @- \
    --output "$work/body" --write-out '%{http_code}' "$uri/api/check?format=table&announce=true" 2>"$work/errors")
status=${status:-000}
body() {
    if [ -s "$work/body" ]; then
        # What each channel got ends the table answer: always shown, after at most 60 lines of the report.
        sed '/^Chat channels:/,$d' "$work/body" >"$work/report"
        sed -n '1,60s/^/    /p' "$work/report"
        lines=$(($(wc -l <"$work/report")))
        if [ "$lines" -gt 60 ]; then
            echo "    ... $((lines - 60)) more lines: run the check yourself (docs/deploy.md, Running a check on demand)"
        fi
        sed -n '/^Chat channels:/,$s/^/    /p' "$work/body"
    fi
}
case "$status" in
    200)
        body
        echo "$hook: the monitor is live: the check ran (report above)."
        if grep -q '^Chat channels: none configured' "$work/body"; then
            echo "$hook: no chat channel is configured, so nobody was told; only the HTTP check reports (docs/chat-alerts.md)."
        elif grep -q 'NOT delivered' "$work/body"; then
            echo "$hook: a chat channel did not take its message (listed above): check its webhook URL"
            echo "$hook: (docs/chat-alerts.md), then run it again with: $rerun"
        else
            echo "$hook: each chat channel got a \"monitor is live\" notice plus the alerts the rules send (listed above)."
        fi
        ;;
    502)
        body
        later "the app is up but its check could not run. Right after the first deploy this is usually the management-group role not applied yet (it can take up to 30 minutes), or not granted (see the postprovision output)."
        ;;
    503)
        body
        later "the app is up but its settings are invalid (listed above); fix them with azd env set and azd provision."
        ;;
    401)
        later "the app refused the function key (401); it may have been rotated while this ran."
        ;;
    403)
        body
        later "the app refused the call (403): public network access is off or an access restriction applies; run it from a network that reaches the app."
        ;;
    000)
        show_error "$work/errors"
        later "the app could not be reached (no HTTP answer)."
        ;;
    *)
        body
        later "the app answered HTTP $status."
        ;;
esac
