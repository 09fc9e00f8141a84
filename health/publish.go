package health

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamPublisher publishes changes on stream HEALTH with the change's
// message id, so a republished change is dropped as a duplicate.
func JetStreamPublisher(js jetstream.JetStream) PublishFunc {
	return func(ctx context.Context, c Condition) error {
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("health condition %s: %w", c.Key(), err)
		}
		msg := &nats.Msg{Subject: Subject(c), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, c.MsgID())
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("publish health condition %s on %s: %w", c.Key(), msg.Subject, err)
		}
		return nil
	}
}
