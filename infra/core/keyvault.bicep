// Key Vault for the chat webhook URLs (they are credentials: anyone holding one can post).
// RBAC mode, so access is a role assignment on this vault, never an access policy.
param name string
param location string
param tags object = {}
param softDeleteRetentionInDays int
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
    enablePurgeProtection: true
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
