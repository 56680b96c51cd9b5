// Defender Contact Monitor: everything but the management-group role, in one resource group.
// `azd up` deploys this file, then the postprovision hook (infra/hooks/postprovision.sh) grants the
// identity its reader role on the scope management groups, which a subscription deployment cannot reach.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it seeds every resource name.')
param environmentName string

// The regions Microsoft's Flex Consumption azd templates allow (Azure-Samples/functions-quickstart-python-azd-timer);
// extend the list when Flex Consumption reaches a new region.
@minLength(1)
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@description('Region for every resource; only regions that offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Management groups to check (comma separated ids); empty means the tenant root group, whose id is the tenant id. The postprovision hook grants the identity its reader role on each.')
param managementGroupIds string = ''

@description('Address mailed when the monitor itself fails: the scheduled check failed or did not run. Not the chat alerts about contacts.')
param monitorFailureEmail string

@secure()
@description('Teams Workflows webhook URL; stored in Key Vault only. Empty means no Teams messages.')
param teamsWebhookUrl string = ''

@secure()
@description('Slack incoming webhook URL; stored in Key Vault only. Empty means no Slack messages.')
param slackWebhookUrl string = ''

// The "did not run" alert looks back at most two days (a log search alert's limit), so it can only
// watch a schedule that runs at least daily: the day-of-month, month and day-of-week fields must be
// '*' (a weekday-only or weekly schedule leaves gaps over 48 hours). Bicep cannot test the text
// (docs/deploy.md); missedRunAlertHours must cover one period plus slack.
@minLength(11)
@description('NCRONTAB schedule of the timer check (six fields, UTC); at least daily, see above.')
param checkSchedule string = '0 0 7 * * *'

@minValue(1)
@maxValue(48)
@description('The "did not run" alert fires when no timer run was logged for this many hours: one schedule period plus slack (at most 48, the alert\'s look-back).')
param missedRunAlertHours int = 26

@description('Name of the timer function in function_app.py; the alert looks for its runs.')
param timerFunctionName string = 'scheduled_check'

// Functions supports Python 3.11 until October 2027 and 3.12 until October 2028 (docs/deploy.md).
@allowed([
  '3.11'
  '3.12'
])
@description('Python version of the Functions runtime; requirements.txt is pinned from an environment of this version.')
param pythonVersion string = '3.11'

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance.')
param instanceMemoryMB int = 2048

// 40 is the lowest ceiling Flex Consumption has accepted since its launch; a daily check only ever uses one.
@minValue(40)
@maxValue(1000)
@description('Most Flex Consumption instances the app may scale out to.')
param maximumInstanceCount int = 40

@allowed([
  'Enabled'
  'Disabled'
])
@description('Whether the function app (and so the on-demand HTTP check) is reachable from the internet. The timer runs either way.')
param publicNetworkAccess string = 'Enabled'

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps the monitor\'s logs.')
param logRetentionDays int = 30

@minValue(7)
@maxValue(90)
@description('Days a deleted Key Vault stays recoverable (purge protection keeps it that long).')
param keyVaultSoftDeleteDays int = 90

// Off by default: the vault holds only the two webhook URLs, which the channel owners can reissue,
// while purge protection keeps the vault's name (derived from the environment name) taken for
// keyVaultSoftDeleteDays after `azd down`, so `azd up` with the same environment would fail.
@description('Key Vault purge protection; irreversible once on (docs/deploy.md).')
param keyVaultPurgeProtection bool = false

@description('URL of a report page linked from the chat messages (app setting REPORT_URL); empty means no link.')
@maxLength(2048)
param reportUrl string = ''

// With no webhook URL set the monitor tells nobody anything, so a deployment without a chat channel
// must be asked for. The preprovision hook (infra/hooks) stops `azd up` before provisioning when
// neither URL is set and this is false. It is not enforced here: Bicep's fail() would do it, but
// pycep, and so checkov, cannot parse it.
@description('Deploy with neither TEAMS_WEBHOOK_URL nor SLACK_WEBHOOK_URL set (only the on-demand HTTP check and the monitor-failure mail).')
#disable-next-line no-unused-params
param allowNoChatChannel bool = false

// Monitor settings, passed through as the app setting of the same name. Typed, so a bad value fails
// before anything is deployed; ranges follow shared/config.py (tests/test_infra.py holds them together).
// Text settings: empty means "the monitor's own default" (docs/settings.md), so those defaults live in
// one place. Number settings cannot be empty: their default here is the monitor's, held equal by the test.
param includeSubscriptionIds string = ''
param excludeSubscriptionIds string = ''
@allowed([
  ''
  'true'
  'false'
])
param requireContactEmail string = ''
@allowed([
  ''
  'true'
  'false'
])
param requireAlertNotifications string = ''
@allowed([
  ''
  'Low'
  'Medium'
  'High'
])
param minAlertSeverity string = ''
@allowed([
  ''
  'true'
  'false'
])
param requireOwnerNotifications string = ''
@allowed([
  ''
  'true'
  'false'
])
param requireAttackPathNotifications string = ''
@allowed([
  ''
  'Low'
  'Medium'
  'High'
  'Critical'
])
param minAttackPathRisk string = ''
param allowedEmailDomains string = ''
@minValue(1)
@maxValue(256)
param checkConcurrency int = 128
// At most 600: the run must end inside host.json's functionTimeout (900 s) with time left to deliver the messages.
@minValue(5)
@maxValue(600)
param runTimeoutSeconds int = 540
@allowed([
  ''
  '2023-12-01-preview'
  '2020-01-01-preview'
])
param contactsApiVersion string = ''
@allowed([
  ''
  'true'
  'false'
])
param includeDelegatedSubscriptions string = ''
param notifyAllowedHosts string = ''
@allowed([
  ''
  'fail'
  'error'
  'fail,error'
  'error,fail'
])
param notifyOn string = ''
@minValue(1)
@maxValue(50)
param notifyMaxMessages int = 5
@allowed([
  ''
  'true'
  'false'
])
param notifyAlways string = ''
@minValue(1)
@maxValue(8760)
param remindAfterHours int = 168

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-dcm-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var stateTableName = 'contactmonitorstate'
var teamsSecretName = 'teams-webhook-url'
var slackSecretName = 'slack-webhook-url'
// The monitor and the postprovision hook both skip empty entries, so "a,,b" or a trailing comma is harmless.
var requestedGroupIds = replace(replace(trim(managementGroupIds), ' ', ''), ';', ',')
var scopeManagementGroupIds = empty(requestedGroupIds) ? [tenant().tenantId] : split(requestedGroupIds, ',')

// App settings the monitor reads that this template leaves unset on purpose, and why.
// tests/test_infra.py holds these and the settings below to shared.config.APP_SETTINGS.
#disable-next-line no-unused-vars
var settingsLeftToDefault = {
  ARM_ENDPOINT: 'the cloud\'s own ARM endpoint follows from AZURE_CLOUD; an override is for proxies and the emulator'
  STATE_CONNECTION_STRING: 'the managed identity reaches the alert-state table through STATE_TABLE_ENDPOINT; no keys in Azure'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-dcm-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stdcm${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    stateTableName: stateTableName
    principalId: identity.outputs.principalId
  }
}

module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-dcm-${resourceToken}'
    location: location
    tags: tags
    softDeleteRetentionInDays: keyVaultSoftDeleteDays
    enablePurgeProtection: keyVaultPurgeProtection
    principalId: identity.outputs.principalId
    teamsSecretName: teamsSecretName
    teamsWebhookUrl: teamsWebhookUrl
    slackSecretName: slackSecretName
    slackWebhookUrl: slackWebhookUrl
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-dcm-${resourceToken}'
    applicationInsightsName: 'appi-dcm-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
    principalId: identity.outputs.principalId
  }
}

// Key Vault references by unversioned secret URI: a rotated secret reaches the app without a redeploy.
var teamsReference = '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${teamsSecretName}/)'
var slackReference = '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${slackSecretName}/)'

// Every setting shared/config.py reads, under its own name (see settingsLeftToDefault for the rest).
var monitorSettings = {
  MANAGEMENT_GROUP_IDS: join(scopeManagementGroupIds, ',')
  INCLUDE_SUBSCRIPTION_IDS: includeSubscriptionIds
  EXCLUDE_SUBSCRIPTION_IDS: excludeSubscriptionIds
  REQUIRE_CONTACT_EMAIL: requireContactEmail
  REQUIRE_ALERT_NOTIFICATIONS: requireAlertNotifications
  MIN_ALERT_SEVERITY: minAlertSeverity
  REQUIRE_OWNER_NOTIFICATIONS: requireOwnerNotifications
  REQUIRE_ATTACK_PATH_NOTIFICATIONS: requireAttackPathNotifications
  MIN_ATTACK_PATH_RISK: minAttackPathRisk
  ALLOWED_EMAIL_DOMAINS: allowedEmailDomains
  CHECK_CONCURRENCY: string(checkConcurrency)
  RUN_TIMEOUT_SECONDS: string(runTimeoutSeconds)
  AZURE_CLOUD: environment().name
  CONTACTS_API_VERSION: contactsApiVersion
  INCLUDE_DELEGATED_SUBSCRIPTIONS: includeDelegatedSubscriptions
  CHECK_SCHEDULE: checkSchedule
  TEAMS_WEBHOOK_URL: empty(teamsWebhookUrl) ? '' : teamsReference
  SLACK_WEBHOOK_URL: empty(slackWebhookUrl) ? '' : slackReference
  NOTIFY_ALLOWED_HOSTS: notifyAllowedHosts
  NOTIFY_ON: notifyOn
  NOTIFY_MAX_MESSAGES: string(notifyMaxMessages)
  NOTIFY_ALWAYS: notifyAlways
  REMIND_AFTER_HOURS: string(remindAfterHours)
  REPORT_URL: reportUrl
  STATE_TABLE_ENDPOINT: storage.outputs.tableEndpoint
  STATE_TABLE_NAME: stateTableName
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-dcm-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    publicNetworkAccess: publicNetworkAccess
    pythonVersion: pythonVersion
    monitorSettings: monitorSettings
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    actionGroupName: 'ag-dcm-${resourceToken}'
    alertRuleName: 'alert-dcm-timer-${resourceToken}'
    location: location
    tags: tags
    monitorFailureEmail: monitorFailureEmail
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    timerFunctionName: timerFunctionName
    missedRunAlertHours: missedRunAlertHours
  }
}

// Read by azd (and so by the hooks as environment variables). No secret among them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output MONITOR_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output SCOPE_MANAGEMENT_GROUP_IDS string = join(scopeManagementGroupIds, ',')
