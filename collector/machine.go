package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gopcua/opcua/ua"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// machineRun is one machine's front end on a shared session.
type machineRun struct {
	c      *Collector
	line   *config.Line
	m      *config.Machine
	conn   *uaclient.Conn
	batch  *lineBatch
	tags   map[string]*config.Tag
	values prometheus.Counter
	bad    [3]prometheus.Counter // by sample.Quality
	lat    prometheus.Observer
	calls  prometheus.Counter
}

func (c *Collector) newMachineRun(l *config.Line, m *config.Machine, conn *uaclient.Conn, b *lineBatch) *machineRun {
	mr := &machineRun{c: c, line: l, m: m, conn: conn, batch: b, tags: map[string]*config.Tag{}}
	for i := range m.Tags {
		mr.tags[m.Tags[i].Name] = &m.Tags[i]
	}
	mr.values = c.met.values.WithLabelValues(l.ID, m.ID)
	mr.bad[sample.Uncertain] = c.met.bad.WithLabelValues(l.ID, m.ID, "uncertain")
	mr.bad[sample.Bad] = c.met.bad.WithLabelValues(l.ID, m.ID, "bad")
	mr.lat = c.met.readLatency.WithLabelValues(l.ID, m.ID)
	mr.calls = c.met.readCalls.WithLabelValues(l.ID, m.ID)
	return mr
}

// base is a sample with the machine's identity and the tag's name and unit.
func (mr *machineRun) base(t *config.Tag) sample.Sample {
	return sample.Sample{Site: mr.c.cfg.Site, Line: mr.line.ID, Machine: mr.m.ID, Tag: t.Name, Unit: t.Unit}
}

// emit stamps batch context, counts quality and hands the read to the
// output. r is the caller's (a poller reuses its own every tick, so a read
// costs no allocation); emit fills in the machine and the batch events.
func (mr *machineRun) emit(ctx context.Context, r *sample.Read) {
	ss := r.Samples
	if len(ss) == 0 {
		return
	}
	mr.values.Add(float64(len(ss)))
	for i := range ss {
		if q := ss[i].Quality(); q != sample.Good {
			mr.bad[q].Inc()
		}
	}
	var evs []sample.BatchEvent
	if mr.batch != nil {
		evs = mr.batch.observe(mr.m.ID, ss)
	}
	for _, ev := range evs {
		mr.c.log.Info("batch "+ev.Event, "line", ev.Line, "batch", ev.Batch, "product", ev.Product)
	}
	if mr.c.opts.Output == nil {
		return
	}
	r.Site, r.Line, r.Machine, r.Batches = mr.c.cfg.Site, mr.line.ID, mr.m.ID, evs
	mr.c.opts.Output.Read(ctx, r)
	r.Batches = nil // not kept for the next read
}

// resolveNodeIDs parses the tags' node ids for a session; nsu= ids are
// resolved against the server's namespace array. A tag whose id cannot be
// resolved gets a nil entry and is reported with BadNodeIdUnknown.
func resolveNodeIDs(tags []*config.Tag, namespaces []string) ([]*ua.NodeID, []error) {
	ids := make([]*ua.NodeID, len(tags))
	errs := make([]error, len(tags))
	for i, t := range tags {
		ids[i], errs[i] = resolveNodeID(t.NodeID, namespaces)
	}
	return ids, errs
}

func resolveNodeID(s string, namespaces []string) (*ua.NodeID, error) {
	if rest, ok := strings.CutPrefix(s, "nsu="); ok {
		uri, id, _ := strings.Cut(rest, ";")
		for i, ns := range namespaces {
			if ns == uri {
				return ua.ParseNodeID("ns=" + strconv.Itoa(i) + ";" + id)
			}
		}
		return nil, fmt.Errorf("namespace %q not in the server's namespace array", uri)
	}
	return ua.ParseNodeID(s)
}
