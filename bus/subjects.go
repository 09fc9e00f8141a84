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
)

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
// and alerts run in different processes.
func FindingSubject(site, line string) string {
	return "linewatch.findings." + site + "." + line
}
