// Security Reader for the monitor's identity on one management group. A resource-group (or subscription)
// deployment cannot create a role assignment at management-group scope, so the azd postprovision hook
// (infra/hooks/postprovision.sh) deploys this file once per scope group with `az deployment mg create`.
targetScope = 'managementGroup'

@description('Principal (object) id of the monitor\'s user-assigned managed identity.')
param principalId string

// Security Reader: Microsoft.Management/managementGroups/read and Microsoft.Security/*/read, nothing more.
var securityReader = '39bc4728-0917-49c7-9d2c-d95423bc2eb4'

resource securityReaderAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  // Deterministic name: deploying again changes nothing.
  name: guid(managementGroup().id, principalId, securityReader)
  properties: {
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', securityReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Defender Contact Monitor reads security contacts under this management group'
  }
}

output roleAssignmentId string = securityReaderAssignment.id
