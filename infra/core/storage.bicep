// Storage for the Functions host (blobs), the Flex Consumption deployment package and the alert-state table,
// reached only with Entra ID (shared keys off), so no connection string exists anywhere.
param name string
param location string
param tags object = {}
param deploymentContainerName string
param stateTableName string
@description('Principal id of the monitor\'s managed identity.')
param principalId string

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    // checkov:skip=CKV_AZURE_206: host state and an alert-state table that rebuilds itself do not need geo-replication
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // checkov:skip=CKV_AZURE_59: the Functions host without a virtual network needs the public endpoint; shared keys and anonymous access are off
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // checkov:skip=CKV_AZURE_35: see CKV_AZURE_59; every request must still carry an Entra ID token
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

}

// Child resources declared with `parent` rather than nested: pycep (and so checkov) drops some nested ones.
resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableServices 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableServices
  name: stateTableName
}

// Role assignments on the narrowest scope, named deterministically so redeploying is idempotent.
// The Functions host of a timer + HTTP app on Flex Consumption needs blobs only (deployment package,
// host keys, timer schedule status and locks); queues serve queue and blob triggers and Durable
// Functions, which this app has none of (Microsoft's Flex http quickstart grants blob only). The
// alert-state table is the one table the monitor touches.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateTable.id, principalId, storageTableDataContributor)
  scope: stateTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
