// The monitor is itself monitored: one log alert that fires when the timer function failed, or
// logged no run at all for longer than one schedule period, and mails the operator.
param actionGroupName string
param alertRuleName string
param location string
param tags object = {}
param alertEmail string
param applicationInsightsId string
@description('Name of the timer function as Application Insights records it (operation_Name).')
param timerFunctionName string
@description('Hours without a logged timer run before the alert fires.')
param missedRunAlertHours int

// One row per problem: each failed timer run in the last hour, plus one row when no run at all was
// logged in the window. The rule fires when the query returns any row.
var timerQuery = format('''
let runs = requests | where timestamp > ago({1}h) | where operation_Name == '{0}';
let failed = runs | where timestamp > ago(1h) | where success == false | project problem = 'the timer run failed', timestamp;
let missed = print problem = 'no timer run in the last {1} hours', timestamp = now() | where toscalar(runs | count) == 0;
union failed, missed
''', timerFunctionName, missedRunAlertHours)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'dcmonitor'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource timerAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: alertRuleName
  location: location
  tags: tags
  properties: {
    displayName: 'Defender Contact Monitor: scheduled check failed or did not run'
    description: 'The timer function ${timerFunctionName} failed, or logged no run in the last ${missedRunAlertHours} hours.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    // The query looks back further than one window (the missed-run check), so the time range must allow it.
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: timerQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // A missed run stays true every hour until the next run: tell people twice a day, not hourly.
    autoMitigate: false
    muteActionsDuration: 'PT12H'
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertRuleId string = timerAlert.id
