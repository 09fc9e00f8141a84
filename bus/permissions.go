package bus

import (
	"crypto/rand"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Names of streams and buckets owned by other packages that the permission
// sets below must name (NATS wildcards match whole tokens only, so a
// bucket's stream KV_<bucket> cannot be matched by a prefix).
const (
	streamAudit     = "AUDIT"                          // audit.Stream
	streamAuditCP   = "AUDIT_CHECKPOINTS"              // audit.CheckpointStream
	subjAuditCP     = "linewatch.checkpoints.audit"    // audit.CheckpointSubject
	subjCmdAuditCP  = "linewatch.cmd.audit.checkpoint" // audit.CheckpointRequestSubject
	streamHealth    = "HEALTH"                         // system conditions (health package)
	kvAlarms        = "KV_" + BucketAlarms
	kvNotifyDedupe  = "KV_LINEWATCH_NOTIFY_DEDUPE"    // notify.DedupeBucket
	kvAlertsShared  = "KV_LINEWATCH_ALERTS_SHARED"    // alerts.SharedBucket
	kvAnalytics     = "KV_LINEWATCH_ANALYTICS"        // engine.StateBucket
	kvLeases        = "KV_LINEWATCH_ANALYTICS_LEASES" // engine.LeaseBucket
	subjKVAlarms    = "$KV." + BucketAlarms + ".>"
	subjKVDedupe    = "$KV.LINEWATCH_NOTIFY_DEDUPE.>"
	subjKVShared    = "$KV.LINEWATCH_ALERTS_SHARED.>"
	subjKVAnalytics = "$KV.LINEWATCH_ANALYTICS.>"
	subjKVLeases    = "$KV.LINEWATCH_ANALYTICS_LEASES.>"
	subjAudit       = "linewatch.audit.>"
	subjHealth      = "linewatch.health.>"
	// Each role publishes only the system conditions of its own sources
	// (linewatch.health.<site>.<source>.…, health.Subject), so no role can
	// raise or clear another's system alarm; every role that writes to
	// InfluxDB reports the store's.
	subjHealthCollector = "linewatch.health.*.collector.>"
	subjHealthAnalytics = "linewatch.health.*.analytics.>"
	subjHealthNotify    = "linewatch.health.*.notify.>"
	subjHealthStore     = "linewatch.health.*.store.>"
	subjCmdAll          = "linewatch.cmd.>"
	subjCmdAuth         = "linewatch.cmd.auth.>"
	subjCmdReports      = "linewatch.cmd.reports.>"
	subjInbox           = "_INBOX.>"
)

// ConsumerNotify is the notifier's durable consumer on ALARMS, shared by
// all alerts workers. No operator may create, change, read from or delete it.
const ConsumerNotify = "linewatch-notify"

// OperatorConsumerPrefix starts the names of the consumers that operator
// clients (console, CLI) create. NATS permissions match whole subject
// tokens, so the server cannot enforce a name prefix: what it enforces is
// that the operator role reaches consumers only on OperatorStreams and
// never the service consumers of ServiceConsumers. The prefix makes the
// operator's consumers recognisable (`nats consumer ls`).
const OperatorConsumerPrefix = "op_"

// OperatorStreams are the streams an operator client reads (alarm state
// and history, audit trail, batches for reports).
var OperatorStreams = []string{StreamAlarms, kvAlarms, streamAudit, streamAuditCP, StreamBatches}

// ServiceConsumers are the durable consumers of linewatch services on
// OperatorStreams, by stream: the operator role is denied every consumer
// API on them.
var ServiceConsumers = map[string][]string{StreamAlarms: {ConsumerNotify}}

// Permissions returns the NATS permission set of role r (nil for admin:
// full access). docs/nats-security.md prints the same sets.
func Permissions(r Role) *server.Permissions {
	switch r {
	case RoleCollector:
		return &server.Permissions{
			// MSG.GET: the telemetry publisher reads a subject's last
			// message to tell whether a publish whose answer was lost (or
			// refused as not expecting the last sequence) is stored.
			Publish: allow(TelemetryAll, BatchesAll, subjHealthCollector, subjHealthStore,
				"$JS.API.INFO", "$JS.API.STREAM.INFO."+StreamTelemetry, "$JS.API.STREAM.INFO."+StreamBatches,
				"$JS.API.STREAM.INFO."+streamHealth,
				"$JS.API.STREAM.MSG.GET."+StreamTelemetry, "$JS.API.STREAM.MSG.GET."+StreamBatches),
			Subscribe: allow(subjInbox),
		}
	case RoleAnalytics:
		p := []string{FindingsAll, subjHealthAnalytics, subjHealthStore, subjKVAnalytics, subjKVLeases, "$JS.API.INFO",
			"$JS.API.STREAM.INFO." + StreamFindings, "$JS.API.STREAM.INFO." + streamHealth}
		p = append(p, bucketAPI(kvAnalytics)...)
		// Leases: workers list the membership keys (a consumer on the bucket).
		p = append(p, bucketAPI(kvLeases)...)
		p = append(p, consumerAPI(kvLeases)...)
		p = append(p, consumerAPI(StreamTelemetry)...)
		p = append(p, consumerAPI(StreamBatches)...)
		return &server.Permissions{Publish: allow(p...), Subscribe: allow(subjInbox)}
	case RoleAlerts:
		p := []string{AlarmsAll, subjAudit, subjAuditCP, subjHealthNotify, subjHealthStore, subjKVAlarms, subjKVDedupe, subjKVShared, "$KV." + BucketAuth + ".>",
			"$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.FC.>"}
		// alerts.New ensures the streams it serves (and the ones it reads)
		// exist: create and update, never delete or purge.
		for _, s := range []string{StreamTelemetry, StreamAlarms, StreamFindings, StreamBatches, streamHealth} {
			p = append(p, "$JS.API.STREAM.CREATE."+s, "$JS.API.STREAM.UPDATE."+s)
		}
		// KV_LINEWATCH_AUTH (used nonces, revoked tokens) is the alarm
		// service's alone: no other role may read or write it.
		for _, s := range []string{streamAudit, streamAuditCP, kvAlarms, kvNotifyDedupe, kvAlertsShared, "KV_" + BucketAuth} {
			p = append(p, bucketAPI(s)...)
		}
		for _, s := range []string{StreamAlarms, StreamFindings, streamHealth, streamAudit, streamAuditCP, kvAlarms, kvNotifyDedupe} {
			p = append(p, consumerAPI(s)...)
		}
		// STREAM.INFO.* covers every stream's info.
		p = slices.DeleteFunc(p, func(s string) bool {
			return strings.HasPrefix(s, "$JS.API.STREAM.INFO.") && s != "$JS.API.STREAM.INFO.*"
		})
		return &server.Permissions{
			Publish:   allow(p...),
			Subscribe: allow(subjInbox, subjCmdAll, subjHealth, FindingsAll),
			// Answers each command request once (to the requester's inbox).
			Response: &server.ResponsePermission{MaxMsgs: 1},
		}
	case RoleOperator:
		p := []string{CmdAlarms + ".>", subjCmdAuth, subjCmdReports, subjCmdAuditCP, "$JS.API.INFO",
			"$JS.API.DIRECT.GET." + kvAlarms + ".>", "$JS.API.STREAM.MSG.GET." + kvAlarms,
			"$JS.FC." + kvAlarms + ".>"}
		var deny []string
		for _, s := range OperatorStreams {
			p = append(p, "$JS.API.STREAM.INFO."+s,
				"$JS.API.CONSUMER.CREATE."+s+".*", "$JS.API.CONSUMER.CREATE."+s+".*.>",
				"$JS.API.CONSUMER.DELETE."+s+".*", "$JS.API.CONSUMER.INFO."+s+".*",
				"$JS.API.CONSUMER.MSG.NEXT."+s+".*")
			for _, c := range ServiceConsumers[s] {
				deny = append(deny, "$JS.API.CONSUMER.*."+s+"."+c, "$JS.API.CONSUMER.*."+s+"."+c+".>",
					"$JS.API.CONSUMER.MSG.NEXT."+s+"."+c, "$JS.ACK."+s+"."+c+".>")
			}
		}
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p, Deny: deny},
			Subscribe: allow(subjInbox),
		}
	}
	return nil
}

func allow(subjects ...string) *server.SubjectPermission {
	return &server.SubjectPermission{Allow: slices.Clone(subjects)}
}

// bucketAPI: create/update the stream, and read single messages from it.
func bucketAPI(stream string) []string {
	return []string{"$JS.API.STREAM.CREATE." + stream, "$JS.API.STREAM.UPDATE." + stream,
		"$JS.API.STREAM.INFO." + stream, "$JS.API.STREAM.MSG.GET." + stream, "$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.DIRECT.GET." + stream}
}

// consumerAPI: every consumer call on stream, pulls and acks.
func consumerAPI(stream string) []string {
	return []string{"$JS.API.STREAM.INFO." + stream, "$JS.API.CONSUMER.*." + stream, "$JS.API.CONSUMER.*." + stream + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".>", "$JS.ACK." + stream + ".>"}
}

// OperatorConsumerName is a fresh, unguessable name for a consumer of an
// operator client (OperatorConsumerPrefix + 26 random base32 characters).
func OperatorConsumerName() string { return OperatorConsumerPrefix + rand.Text() }
