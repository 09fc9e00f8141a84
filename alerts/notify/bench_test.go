package notify_test

import (
	"fmt"
	"testing"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
)

// BenchmarkWebhookDelivery measures end-to-end notifications: publish an
// activation on ALARMS → one notifier → signed webhook received (one at a
// time, so it is latency-bound: JetStream publish, consumer fetch, two KV
// dedupe writes, one HTTP POST).
func BenchmarkWebhookDelivery(b *testing.B) {
	b.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(b)
	rx := newReceiver(b)
	r.start(b, config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}})
	b.ResetTimer()
	for i := range b.N {
		a := testAlarm("L1", fmt.Sprintf("m%d", i), alerts.High)
		r.svc.activate(&a, t0)
		<-rx.got
	}
}
