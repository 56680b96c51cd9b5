// The monitor is itself monitored: one log alert that fires when the timer function failed, or
// logged no run at all for longer than one schedule period, and mails whoever watches the monitor.
param actionGroupName string
param alertRuleName string
param location string
param tags object = {}
@description('Address that receives the alert when the monitor itself fails or does not run.')
param monitorFailureEmail string
param applicationInsightsId string
@description('Name of the timer function as Application Insights records it (operation_Name).')
param timerFunctionName string
// A log search alert looks back at most two days (overrideQueryTimeRange P2D below), so the missed-run
// watch covers schedules that run at least daily; main.bicep documents the same bound for CHECK_SCHEDULE.
@minValue(1)
@maxValue(48)
@description('Hours without a logged timer run before the alert fires: one schedule period plus slack.')
param missedRunAlertHours int
// ISO 8601 with separators: utcNow()'s default ('20261130T070000Z') is not among the forms KQL's todatetime() documents.
@description('When this deployment ran (UTC, ISO 8601); the missed-run watch starts missedRunAlertHours later.')
param deployedAt string = utcNow('yyyy-MM-ddTHH:mm:ssZ')

// One row per problem; the rule fires when the query returns any row.
// - Windows are on ingestion_time(), not timestamp: Application Insights stamps a request with its
//   start time, so a run lasting minutes plus the ingestion delay lands before a fixed `ago(1h)` and
//   would be missed by every evaluation. Each hourly evaluation sees exactly the rows ingested since
//   the last one.
// - No "did not run" row until missedRunAlertHours after the deployment: a fresh deployment's first
//   scheduled run is up to one period away (the grace covers it plus slack).
var timerQuery = format('''
let runs = requests
    | where ingestion_time() > ago({1}h)
    | where operation_Name == '{0}';
let failed = runs
    | where ingestion_time() > ago(1h)
    | where success == false
    | project problem = 'the timer run failed', timestamp;
let watchFrom = todatetime('{2}') + {1}h;
let missed = print problem = 'no timer run in the last {1} hours', timestamp = now()
    | where now() > watchFrom
    | where toscalar(runs | count) == 0;
union failed, missed
''', timerFunctionName, missedRunAlertHours, deployedAt)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'dcmonitor'
    enabled: true
    emailReceivers: [
      {
        name: 'monitor-failure'
        emailAddress: monitorFailureEmail
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
    // The query looks back further than one window (the missed-run check); two days is the most a log alert allows.
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
    // Stateful: the alert fires once and resolves itself when the query comes back empty (the next run
    // succeeded). ARM refuses autoMitigate together with muteActionsDuration, so there is no mute.
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertRuleId string = timerAlert.id
