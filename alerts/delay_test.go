package alerts

import (
	"context"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestOnDelaySurvivesRestart(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	cfg.Alarms.OnDelay = 30 * time.Second
	clock := newClock()
	s1 := newService(t, cfg, nc, clock, nil)
	on := fnd("filling1", "filler", "fill_weight", true, t0)
	if err := s1.Notify(ctx, []analytics.Finding{on}); err != nil {
		t.Fatal(err)
	}
	id := AlarmID(cfg.Site, on)
	if a, _, _ := s1.Store().Get(ctx, id); a.State != Normal || alarmsInStream(t, js) != 0 {
		t.Fatalf("annunciated before the on-delay: %+v", a)
	}
	clock.Advance(29 * time.Second)
	s1.Tick(ctx)
	if alarmsInStream(t, js) != 0 {
		t.Fatal("fired early")
	}
	// The worker restarts; the delayed finding is in the bucket.
	s2 := newService(t, cfg, nc, clock, nil)
	if err := s2.ReplayOutboxes(ctx); err != nil { // also loads the timers, as Run does at start
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	s2.Tick(ctx)
	trs := streamTransitions(t, js)
	if len(trs) != 1 || trs[0].To != Unacknowledged || !trs[0].Alarm.ActivatedAt.Equal(t0) || !trs[0].Time.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after the on-delay:\n%s", summary(trs))
	}
	s2.Notify(ctx, []analytics.Finding{on}) // a replay changes nothing
	if alarmsInStream(t, js) != 1 {
		t.Fatal("replay after firing duplicated the activation")
	}
}

func TestDelaysFilterShortConditions(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	cfg.Alarms.OnDelay, cfg.Alarms.OffDelay = 30*time.Second, time.Minute
	tagOn := 5 * time.Second // the tag's own on-delay wins over alarms.on_delay
	cfg.Lines[0].Machines[0].Tags[1].Alarm.OnDelay = &tagOn
	tag := cfg.Lines[0].Machines[0].Tags[1].Name
	clock := newClock()
	s := newService(t, cfg, nc, clock, nil)

	// A 10 s blip on fill_weight: below the 30 s on-delay, never annunciated.
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", "fill_weight", true, t0), fnd("filling1", "filler", "fill_weight", false, t0.Add(10*time.Second))})
	clock.Advance(time.Hour)
	s.Tick(ctx)
	if n := alarmsInStream(t, js); n != 0 {
		t.Fatalf("blip annunciated: %d transitions", n)
	}
	// The tag with a 5 s on-delay fires after 5 s; a 20 s gap in the
	// condition is bridged by the 1 min off-delay.
	now := clock.Now()
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", tag, true, now)})
	clock.Advance(5 * time.Second)
	s.Tick(ctx)
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", tag, false, now.Add(10*time.Second)), fnd("filling1", "filler", tag, true, now.Add(30*time.Second))})
	clock.Advance(2 * time.Minute)
	s.Tick(ctx)
	trs := streamTransitions(t, js)
	if len(trs) != 1 || trs[0].Event != EvActivate || trs[0].Alarm.Tag != tag {
		t.Fatalf("want one activation of %s:\n%s", tag, summary(trs))
	}
	// A lasting clear ends it after the off-delay.
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", tag, false, clock.Now())})
	clock.Advance(59 * time.Second)
	s.Tick(ctx)
	if alarmsInStream(t, js) != 1 {
		t.Fatal("cleared before the off-delay")
	}
	clock.Advance(time.Second)
	s.Tick(ctx)
	trs = streamTransitions(t, js)
	if len(trs) != 2 || trs[1].Event != EvClear || trs[1].To != RTNUnack {
		t.Fatalf("after the off-delay:\n%s", summary(trs))
	}
}
