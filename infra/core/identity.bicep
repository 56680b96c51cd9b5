// The one identity the monitor uses for everything: storage host, alert-state table, Key Vault
// references, Application Insights ingestion and ARM (through AZURE_CLIENT_ID).
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
