package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// journalExt names the journal files in the spool directory (the spool
// itself reads only *.seg).
const journalExt = ".wal"

// journal makes what WriteSamples and WritePoint accepted survive a
// killed process (SIGKILL, OOM kill, panic): the lines of every batch not
// yet durable — the open one, and sealed ones queued in memory or in
// flight — are also in a file of the spool directory, one per batch,
// appended with one write(2) before the call returns (no fsync: the page
// cache outlives the process, not a power loss). The collector publishes
// a read on NATS after handing it to the writer, so nothing is on
// TELEMETRY that a crash can take from InfluxDB. A batch's file is removed
// once the batch is in InfluxDB or the spool, or counted lost; the next
// Writer on the directory spools what files are left, before anything new.
// Only with a disk spool (influxdb.spool.dir).
type journal struct {
	dir string
	log *slog.Logger
	gen uint64   // the open batch's file
	f   *os.File // nil until the open batch has lines
	// failing: the last write failed (logged once until one succeeds;
	// a full disk is also the spool's, which says so itself)
	failing bool
}

func (j *journal) path(gen uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%016x%s", gen, journalExt))
}

// openJournal spools the lines of the journal files a previous process
// left in dir (oldest batch first) and removes the files that it spooled.
func openJournal(dir string, sp *diskSpool, log *slog.Logger) (*journal, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool directory %s: %w", dir, err)
	}
	var gens []uint64
	for _, e := range ents {
		if name := e.Name(); strings.HasSuffix(name, journalExt) {
			g, err := strconv.ParseUint(strings.TrimSuffix(name, journalExt), 16, 64)
			if err != nil {
				log.Warn("spool: ignoring file with an unexpected name", "file", filepath.Join(dir, name))
				continue
			}
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	j := &journal{dir: dir, log: log, gen: 1}
	if len(gens) > 0 {
		j.gen = gens[len(gens)-1] + 1
	}
	lines := 0
	for _, g := range gens {
		p := j.path(g)
		body, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("spool journal %s: %w", p, err)
		}
		// A write cut by a power loss leaves a partial last line: drop it.
		if i := bytes.LastIndexByte(body, '\n'); i+1 < len(body) {
			log.Error("spool journal: partial last line dropped", "file", p, "offset", i+1, "bytes", len(body)-i-1)
			body = body[:i+1]
		}
		if n := bytes.Count(body, []byte{'\n'}); n > 0 {
			if err := sp.Append(&batch{body: body, lines: n}); err != nil {
				return nil, fmt.Errorf("spool journal %s: %w", p, err)
			}
			lines += n
		}
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("spool journal: %w", err)
		}
	}
	if lines > 0 {
		log.Info("spool: lines a killed process had accepted were in its journal; spooled for InfluxDB", "dir", dir, "files", len(gens), "lines", lines)
	}
	return j, nil
}

// write appends the open batch's new lines p. On an error the lines still
// go on in memory, without the protection against a crash (logged).
func (j *journal) write(p []byte) {
	if j == nil || len(p) == 0 {
		return
	}
	if j.f == nil {
		f, err := os.OpenFile(j.path(j.gen), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			j.fail(err)
			return
		}
		j.f = f
	}
	if _, err := j.f.Write(p); err != nil {
		j.fail(err)
		return
	}
	if j.failing {
		j.failing = false
		j.log.Info("spool journal: writes succeed again")
	}
}

func (j *journal) fail(err error) {
	if !j.failing {
		j.failing = true
		j.log.Error("spool journal: write failed; until it works again, lines not yet sent or spooled are lost if the process is killed", "err", err)
	}
}

// seal ends the open batch's file and returns its generation, for done;
// 0 when the batch has no file.
func (j *journal) seal() uint64 {
	if j == nil || j.f == nil {
		return 0
	}
	j.f.Close()
	j.f = nil
	g := j.gen
	j.gen++
	return g
}

// done removes the file of a batch that is durable or counted lost.
func (j *journal) done(b *batch) {
	if j == nil || b.jgen == 0 {
		return
	}
	if err := os.Remove(j.path(b.jgen)); err != nil && !os.IsNotExist(err) {
		j.log.Warn("spool journal: cannot remove the file of a written batch (it is sent again after a restart; InfluxDB keeps one copy)", "err", err)
	}
	b.jgen = 0
}

// close closes the open file; its lines stay for the next Writer.
func (j *journal) close() {
	if j != nil && j.f != nil {
		j.f.Close()
		j.f = nil
	}
}
