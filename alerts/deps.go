package alerts

import (
	"context"

	"github.com/linewatch/linewatch/audit"
)

// PointWriter writes transitions to InfluxDB measurement "alarms"
// (implemented by store/; asynchronous, it spools while InfluxDB is down).
type PointWriter interface{ WriteAlarm(Transition) }

// Auditor appends to the audit trail (implemented by *audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}
