package collector

import (
	"context"
	"errors"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// poller reads one poll group once per interval. Ticks are on a grid of
// wall time (multiples of the interval), so they do not drift, and are
// waited for on monotonic time, so a step of the wall clock neither
// stalls nor bunches them (grid; a step re-aligns it). When a
// read outlasts ticks, those ticks are counted as skipped and the next
// read happens at the next future tick — reads never pile up.
type poller struct {
	mr       *machineRun
	group    config.PollGroup
	tags     []*config.Tag
	skipped  prometheus.Counter
	chunkCap int         // lowered when the server answers BadTooManyOperations
	read     sample.Read // reused every tick, samples too: outputs do not keep them (Output)
	lastTick time.Time   // names the last read in its telemetry message id
}

func (mr *machineRun) newPoller(g config.PollGroup) *poller {
	p := &poller{mr: mr, group: g, skipped: mr.c.met.skipped.WithLabelValues(mr.line.ID, mr.m.ID, g.Name)}
	for _, n := range g.Tags {
		if t := mr.tags[n]; t != nil {
			p.tags = append(p.tags, t)
		}
	}
	return p
}

// readID is the time that names a read in its telemetry message id
// (JetStream deduplicates on it). After the wall clock was stepped back
// the grid passes wall times it has used already; a repeated id would make
// JetStream drop the new reading as a duplicate, so the id never goes back.
func (p *poller) readID(tick time.Time) time.Time {
	if !tick.After(p.lastTick) {
		tick = p.lastTick.Add(time.Nanosecond)
	}
	p.lastTick = tick
	return tick
}

func (p *poller) run(ctx context.Context) {
	for {
		sess, err := p.mr.conn.Wait(ctx)
		if err != nil {
			return
		}
		p.session(ctx, sess)
		if ctx.Err() != nil {
			return
		}
	}
}

// session polls on one session until it fails or goes down.
func (p *poller) session(ctx context.Context, sess *uaclient.Session) {
	clk := p.mr.c.clk
	ids, idErrs := resolveNodeIDs(p.tags, sess.Client.Namespaces())
	for i, err := range idErrs {
		if err != nil {
			p.mr.c.log.Warn("tag node id not resolvable; reported as BadNodeIdUnknown", "line", p.mr.line.ID,
				"machine", p.mr.m.ID, "tag", p.tags[i].Name, "node_id", p.tags[i].NodeID, "err", err)
		}
	}
	var rvs []*ua.ReadValueID
	var idx []int // rvs[k] belongs to tags[idx[k]]
	for i, id := range ids {
		if id != nil {
			rvs = append(rvs, uaclient.NewReadValueID(id))
			idx = append(idx, i)
		}
	}
	chunk := p.mr.m.MaxNodesPerRead
	if chunk <= 0 {
		chunk = sess.Limits.MaxNodesPerRead
	}
	if p.chunkCap > 0 && (chunk <= 0 || chunk > p.chunkCap) {
		chunk = p.chunkCap
	}
	plan := uaclient.NewReadPlan(rvs, chunk)
	grid := newGrid(clk, p.mr.c.steps, p.group.Interval)
	var results []*ua.DataValue
	for {
		timer, stop := clk.After(grid.Wait())
		select {
		case <-ctx.Done():
			stop()
			return
		case <-sess.Down:
			stop()
			return
		case <-timer:
		}
		tick := p.readID(grid.Fire())
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, p.mr.c.cfg.Collector.RequestTimeout)
		var calls int
		var err error
		results, calls, err = plan.Read(rctx, sess.Client, results[:0])
		cancel()
		p.mr.calls.Add(float64(calls))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ua.StatusBadTooManyOperations) && chunk != 1 {
				if chunk <= 0 {
					chunk = len(rvs)
				}
				chunk = max(1, chunk/2)
				p.chunkCap = chunk
				plan = uaclient.NewReadPlan(rvs, chunk)
				p.mr.c.log.Warn("server refused the read size; reading in smaller chunks", "machine", p.mr.m.ID, "chunk", chunk)
			} else {
				p.mr.conn.Fail(sess.Gen, err)
				return
			}
		} else {
			p.mr.lat.Observe(time.Since(start).Seconds())
			p.emit(ctx, tick, ids, idx, results)
		}
		// The slice is reused; drop the decoded values so they are not kept
		// alive (a few hundred bytes per tag) until the next poll overwrites them.
		clear(results)
		if n := grid.Next(); n > 0 {
			p.skipped.Add(float64(n))
		}
	}
}

func (p *poller) emit(ctx context.Context, tick time.Time, ids []*ua.NodeID, idx []int, results []*ua.DataValue) {
	recv := p.mr.c.clk.Now().UTC()
	if cap(p.read.Samples) < len(p.tags) {
		p.read.Samples = make([]sample.Sample, len(p.tags))
	}
	ss := p.read.Samples[:len(p.tags)]
	for i, t := range p.tags {
		ss[i] = p.mr.base(t)
		if ids[i] == nil {
			ss[i].Time, ss[i].Status = recv, uint32(ua.StatusBadNodeIDUnknown)
		}
	}
	for k, dv := range results {
		fillValue(&ss[idx[k]], dv, recv)
	}
	p.read.Samples, p.read.Group, p.read.Tick = ss, p.group.Name, tick
	p.mr.emit(ctx, &p.read)
}
