package bus

// Stream names.
const (
	StreamTelemetry = "TELEMETRY"
	StreamAlarms    = "ALARMS"
	StreamBatches   = "BATCHES"
	StreamFindings  = "FINDINGS"
	// StreamHealth keeps system condition changes (package health) for
	// the alarm service: the last 100 per condition subject.
	StreamHealth = "HEALTH"
)

// Subject roots.
const (
	TelemetryAll = "linewatch.telemetry.>"
	AlarmsAll    = "linewatch.alarms.>"
	BatchesAll   = "linewatch.batches.>"
	FindingsAll  = "linewatch.findings.>"
	HealthAll    = "linewatch.health.>" // system conditions (package health)
	CmdAlarms    = "linewatch.cmd.alarms"
	// CmdAuth: login, refresh and logout (request-reply, served by the
	// alerts role): linewatch.cmd.auth.{login,refresh,logout}.
	CmdAuth = "linewatch.cmd.auth"
)

// BucketAlarms is the JetStream key-value bucket of the current state of
// every alarm, written by the alerts role (alerts.Store) and read through
// alerts.Reader.
const BucketAlarms = "LINEWATCH_ALARMS"

// BucketAuth is the JetStream key-value bucket in which alerts workers
// share what they must remember about tokens until the tokens expire: the
// request nonces already used (create-only, so a replay fails on every
// worker) and the tokens revoked by logout or refresh. Only the alerts role
// may read or write it.
const BucketAuth = "LINEWATCH_AUTH"

// Auth verbs: the last token of linewatch.cmd.auth.<verb>.
const (
	AuthLogin   = "login"
	AuthRefresh = "refresh"
	AuthLogout  = "logout"
)

// AuthSubject is the request-reply subject of an auth verb.
func AuthSubject(verb string) string { return CmdAuth + "." + verb }

// TelemetrySubject is where a machine's samples are published.
func TelemetrySubject(site, line, machine string) string {
	return "linewatch.telemetry." + site + "." + line + "." + machine
}

// AlarmSubject is where alarm transitions of a line are published.
func AlarmSubject(site, line, priority string) string {
	return "linewatch.alarms." + site + "." + line + "." + priority
}

// BatchSubject is where batch start / end events of a line are published.
func BatchSubject(site, line string) string {
	return "linewatch.batches." + site + "." + line
}

// CmdSubject is the request-reply subject of an alarm command
// (ack, shelve, unshelve, comment).
func CmdSubject(command string) string { return CmdAlarms + "." + command }

// FindingSubject carries analytics findings to alerts workers when analytics
// and alerts run in different processes (stream FINDINGS; the message
// format is analytics.EncodeFinding's).
func FindingSubject(site, line string) string {
	return "linewatch.findings." + site + "." + line
}

// MachineStateSubject carries a machine's state changes (suppression by
// design) on stream FINDINGS, in order with the line's findings
// (analytics.EncodeMachineState). "*" for line and machine matches every
// machine of a site.
func MachineStateSubject(site, line, machine string) string {
	return "linewatch.findings." + site + "." + line + ".state." + machine
}
