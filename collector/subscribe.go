package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/sample"
)

// subscriber keeps one OPC UA subscription with its monitored items. The
// subscription belongs to a session, so it is created again on every new
// session (after a reconnect or a server restart).
type subscriber struct {
	mr   *machineRun
	sub  config.Subscription
	tags []*config.Tag
	read sample.Read // handed to the output (one goroutine: no allocation per notification)
}

func (mr *machineRun) newSubscriber(s config.Subscription) *subscriber {
	sb := &subscriber{mr: mr, sub: s}
	for _, n := range s.Tags {
		if t := mr.tags[n]; t != nil {
			sb.tags = append(sb.tags, t)
		}
	}
	return sb
}

func (s *subscriber) run(ctx context.Context) {
	for {
		sess, err := s.mr.conn.Wait(ctx)
		if err != nil {
			return
		}
		if err := s.session(ctx, sess); err != nil && ctx.Err() == nil {
			s.mr.conn.Fail(sess.Gen, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-sess.Down:
		}
	}
}

// defaultItemsPerCall bounds CreateMonitoredItems when the server states no limit.
const defaultItemsPerCall = 1000

func (s *subscriber) session(ctx context.Context, sess *uaclient.Session) error {
	notify := make(chan *opcua.PublishNotificationData, 64)
	sub, err := sess.Client.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: s.sub.PublishingInterval}, notify)
	if err != nil {
		return fmt.Errorf("create subscription %q: %w", s.sub.Name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		sub.Cancel(cctx)
	}()
	ids, idErrs := resolveNodeIDs(s.tags, sess.Client.Namespaces())
	recv := s.mr.c.clk.Now().UTC()
	var refused []sample.Sample
	var reqs []*ua.MonitoredItemCreateRequest
	var handles []int
	for i, t := range s.tags {
		if idErrs[i] != nil {
			bs := s.mr.base(t)
			bs.Time, bs.Status = recv, uint32(ua.StatusBadNodeIDUnknown)
			refused = append(refused, bs)
			continue
		}
		reqs = append(reqs, s.itemRequest(ids[i], uint32(i)))
		handles = append(handles, i)
	}
	per := sess.Limits.MaxMonitoredItemsPerCall
	if per <= 0 || per > defaultItemsPerCall {
		per = defaultItemsPerCall
	}
	retry, retryHandles, more, err := s.monitor(ctx, sub, reqs, handles, per, recv, false)
	if err != nil {
		return err
	}
	// A refused item is reported with its status code so the gap has a reason.
	s.emit(ctx, append(refused, more...), recv)

	// Items refused while a restarted server is still building its address
	// space (BadNodeIdUnknown) are tried again with the reconnect backoff.
	reconnect := backoff.Policy{Min: s.mr.c.cfg.Collector.ReconnectMin, Max: s.mr.c.cfg.Collector.ReconnectMax, Jitter: true}
	attempt := 0
	var retryC <-chan time.Time
	stopRetry := func() {}
	defer func() { stopRetry() }()
	arm := func() {
		stopRetry()
		retryC = nil
		if len(retry) > 0 {
			retryC, stopRetry = s.mr.c.clk.After(reconnect.Delay(attempt + 1))
			attempt++
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sess.Down:
			return nil
		case <-retryC:
			retry, retryHandles, _, err = s.monitor(ctx, sub, retry, retryHandles, per, s.mr.c.clk.Now().UTC(), true)
			if err != nil {
				return err
			}
			arm()
		case n := <-notify:
			if n.Error != nil {
				return fmt.Errorf("subscription %q: %w", s.sub.Name, n.Error)
			}
			switch v := n.Value.(type) {
			case *ua.DataChangeNotification:
				s.dataChange(ctx, v)
			case *ua.StatusChangeNotification:
				if v.Status != ua.StatusOK {
					return fmt.Errorf("subscription %q: status change %w", s.sub.Name, v.Status)
				}
			}
		}
	}
}

// monitor creates items in chunks; it returns the refused requests (to
// retry) and a sample with the status code of each refused item.
func (s *subscriber) monitor(ctx context.Context, sub *opcua.Subscription, reqs []*ua.MonitoredItemCreateRequest, handles []int, per int, now time.Time, retrying bool) ([]*ua.MonitoredItemCreateRequest, []int, []sample.Sample, error) {
	var retry []*ua.MonitoredItemCreateRequest
	var retryHandles []int
	var refused []sample.Sample
	for start := 0; start < len(reqs); start += per {
		end := min(start+per, len(reqs))
		res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs[start:end]...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("create monitored items of subscription %q: %w", s.sub.Name, err)
		}
		if len(res.Results) != end-start {
			return nil, nil, nil, fmt.Errorf("create monitored items of subscription %q: %d results for %d items", s.sub.Name, len(res.Results), end-start)
		}
		for k, r := range res.Results {
			if r.StatusCode == ua.StatusOK {
				continue
			}
			t := s.tags[handles[start+k]]
			log := s.mr.c.log.Warn
			if retrying {
				log = s.mr.c.log.Debug // said once; the retries are not news
			}
			log("monitored item refused; will retry", "machine", s.mr.m.ID, "tag", t.Name, "node_id", t.NodeID, "status", r.StatusCode)
			bs := s.mr.base(t)
			bs.Time, bs.Status = now, uint32(r.StatusCode)
			refused = append(refused, bs)
			retry = append(retry, reqs[start+k])
			retryHandles = append(retryHandles, handles[start+k])
		}
	}
	return retry, retryHandles, refused, nil
}

func (s *subscriber) itemRequest(id *ua.NodeID, handle uint32) *ua.MonitoredItemCreateRequest {
	var filter *ua.ExtensionObject
	var dbType ua.DeadbandType
	switch s.sub.Deadband.Type {
	case "absolute":
		dbType = ua.DeadbandTypeAbsolute
	case "percent":
		dbType = ua.DeadbandTypePercent
	}
	if dbType != ua.DeadbandTypeNone {
		filter = ua.NewExtensionObject(&ua.DataChangeFilter{
			Trigger: ua.DataChangeTriggerStatusValue, DeadbandType: uint32(dbType), DeadbandValue: s.sub.Deadband.Value,
		})
	}
	return &ua.MonitoredItemCreateRequest{
		ItemToMonitor:  &ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}},
		MonitoringMode: ua.MonitoringModeReporting,
		RequestedParameters: &ua.MonitoringParameters{
			ClientHandle:     handle,
			SamplingInterval: float64(s.sub.SamplingInterval / time.Millisecond),
			Filter:           filter,
			QueueSize:        s.sub.QueueSize,
			DiscardOldest:    true,
		},
	}
}

func (s *subscriber) dataChange(ctx context.Context, v *ua.DataChangeNotification) {
	recv := s.mr.c.clk.Now().UTC()
	ss := make([]sample.Sample, 0, len(v.MonitoredItems))
	for _, it := range v.MonitoredItems {
		if it == nil || int(it.ClientHandle) >= len(s.tags) {
			continue
		}
		smp := s.mr.base(s.tags[it.ClientHandle])
		fillValue(&smp, it.Value, recv)
		ss = append(ss, smp)
	}
	s.emit(ctx, ss, recv)
}

func (s *subscriber) emit(ctx context.Context, ss []sample.Sample, recv time.Time) {
	s.read = sample.Read{Group: s.sub.Name, Tick: recv, Samples: ss}
	s.mr.emit(ctx, &s.read)
	s.read.Samples = nil // not kept alive until the next notification
}
