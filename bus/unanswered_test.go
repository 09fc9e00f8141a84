package bus

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// What provisioning and the notifier retry at start (a cluster still
// forming) and what they report at once.
func TestUnansweredClassification(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("notify: consumer: %w", nats.ErrNoResponders), true},
		{fmt.Errorf("notify: create consumer: %w", context.DeadlineExceeded), true},
		{nats.ErrTimeout, true},
		{jetstream.ErrJetStreamNotEnabled, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream cluster not available"}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10009, Description: "JetStream cluster no metadata leader"}, true},
		{&jetstream.APIError{Code: 408, Description: "request timeout"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10013, Description: "consumer name in subject does not match durable name in request"}, false},
		{fmt.Errorf("notify: consumer: %w", jetstream.ErrStreamNotFound), false},
		{errors.New("nats: permissions violation for publish"), false},
	} {
		if got := Unanswered(c.err); got != c.want {
			t.Errorf("Unanswered(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}
