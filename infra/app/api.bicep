// The function app on a Flex Consumption (FC1) plan: Linux, Python, user-assigned identity only.
param name string
param planName string
param location string
param tags object = {}
@description('Resource id of the user-assigned managed identity.')
param identityId string
@description('Client id of the same identity: the Functions host, Key Vault references, App Insights and DefaultAzureCredential use it.')
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param instanceMemoryMB int
param maximumInstanceCount int
param publicNetworkAccess string
@description('Python version of the Functions runtime (main.bicep\'s pythonVersion).')
param pythonVersion string
@description('The monitor\'s own app settings (see main.bicep).')
param monitorSettings object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Settings the Functions host and the Azure SDKs read; all identity based, none a secret. The host gets
// the blob endpoint only: a timer + HTTP app uses no host queues or tables (see core/storage.bicep).
var platformSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    // checkov:skip=CKV_AZURE_225: a daily check rides out a zone outage by running late; zone redundancy would bill always-ready instances
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// Flex Consumption (FC1) refuses many siteConfig properties other plans take (ARM error 51021,
// enforced region by region): ftpsState, use32BitWorkerProcess, netFrameworkVersion,
// functionsRuntimeScaleMonitoringEnabled, linuxFxVersion and more. The runtime lives in
// functionAppConfig.runtime, scale in functionAppConfig.scaleAndConcurrency, so siteConfig keeps
// only what Microsoft's Flex templates set (TLS) and the app settings; tests/test_infra.py holds it
// to that. (pycep, and so checkov, accepts at most four comment lines in a row inside an object.)
resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // checkov:skip=CKV_AZURE_222: a parameter: Enabled (default) lets operators call the on-demand check with the function key; Disabled leaves the timer only
    publicNetworkAccess: publicNetworkAccess
    keyVaultReferenceIdentity: identityId
    // checkov:skip=CKV_AZURE_78: FTP deployment is off through the 'ftp' basicPublishingCredentialsPolicies below; FC1 refuses ftpsState
    // checkov:skip=CKV_AZURE_67: FC1 refuses most siteConfig properties and Microsoft's Flex templates leave http20Enabled unset; a route called a few times a day gains nothing from HTTP/2
    // checkov:skip=CKV_AZURE_18: the web-app twin of CKV_AZURE_67 above; same reason
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // Flex Consumption takes the runtime from functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION must not be set here.
      appSettings: [for setting in items(union(monitorSettings, platformSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    // checkov:skip=CKV_AZURE_17: callers authenticate with the function key (HTTP route "check", auth level FUNCTION), not client certificates
    // checkov:skip=CKV_AZURE_212: a daily timer needs no always-ready instances; Flex Consumption starts one per run
    // checkov:skip=CKV_AZURE_213: Flex Consumption routes per execution; there is no instance pool for a health-check path to guard
  }
}

// Publishing with a user name and password stays off; azd deploys with Entra ID. ARM refuses these
// two without a location ("The parameter location has an invalid value", Azure/bicep-types-az#1529),
// although the Bicep types do not declare it.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  #disable-next-line BCP187
  location: location
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  #disable-next-line BCP187
  location: location
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
