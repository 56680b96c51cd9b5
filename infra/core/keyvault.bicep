// Key Vault for the chat webhook URLs (they are credentials: anyone holding one can post).
// RBAC mode, so access is a role assignment on this vault, never an access policy.
param name string
param location string
param tags object = {}
param softDeleteRetentionInDays int
@description('Purge protection: once on, it cannot be turned off, and the vault name stays taken for the retention period after a delete.')
param enablePurgeProtection bool
@description('Principal id of the monitor\'s managed identity.')
param principalId string
param teamsSecretName string
@secure()
param teamsWebhookUrl string
param slackSecretName string
@secure()
param slackWebhookUrl string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // ARM refuses an explicit false ("cannot be set to false"), so off is left unset rather than false.
    // checkov:skip=CKV_AZURE_110: purge protection is a parameter, off by default: the vault holds two webhook URLs that can be reissued, and it would keep the name taken after azd down (docs/deploy.md)
    // checkov:skip=CKV_AZURE_42: see CKV_AZURE_110; soft delete stays on
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // checkov:skip=CKV_AZURE_109: App Service resolves Key Vault references over the public endpoint when the app has no virtual network; access is by Entra ID role only
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    // checkov:skip=CKV_AZURE_189: see CKV_AZURE_109
  }
}

// A webhook URL is stored only when one is given; rotating it means writing a new version (docs/deploy.md).
resource teamsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  parent: vault
  name: teamsSecretName
  properties: {
    value: teamsWebhookUrl
    // checkov:skip=CKV_AZURE_114: contentType is set just here; checkov does not read the properties of a conditional resource
    contentType: 'text/uri-list'
    // checkov:skip=CKV_AZURE_41: a webhook URL does not expire by itself; it is rotated when the channel owner regenerates it
  }
}

resource slackSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(slackWebhookUrl)) {
  parent: vault
  name: slackSecretName
  properties: {
    value: slackWebhookUrl
    // checkov:skip=CKV_AZURE_114: contentType is set just here; checkov does not read the properties of a conditional resource
    contentType: 'text/uri-list'
    // checkov:skip=CKV_AZURE_41: a webhook URL does not expire by itself; it is rotated when the channel owner regenerates it
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output vaultUri string = vault.properties.vaultUri
