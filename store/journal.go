package store

import (
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
// A file holds records of the spool's format (readJournal).
// Only with a disk spool (influxdb.spool.dir).
type journal struct {
	dir string
	log *slog.Logger
	gen uint64   // the open batch's file
	f   *os.File // nil until the open batch has lines
	rec []byte   // reused record buffer
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
		b, err := readJournal(p, log)
		if err != nil {
			return nil, err
		}
		if b.lines > 0 {
			if err := sp.Append(b); err != nil {
				return nil, fmt.Errorf("spool journal %s: %w", p, err)
			}
			lines += b.lines
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

// readJournal reads one journal file: the spool's records (length,
// CRC-32C, line count, line protocol — a string field may hold a newline,
// so lines are counted when written), one per write. A record cut by a
// power loss fails its length or checksum check: it and what follows are
// dropped, and logged.
func readJournal(path string, log *slog.Logger) (*batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool journal: %w", err)
	}
	b := &batch{}
	for off := int64(0); off < st.Size(); {
		rec, next, err := readRecordAt(f, off, st.Size())
		if err != nil {
			log.Error("spool journal: damaged record; it and the rest of the file are dropped", "file", path, "offset", off, "bytes", st.Size()-off, "err", err)
			break
		}
		b.body = append(b.body, rec.body...)
		b.lines += rec.lines
		off = next
	}
	return b, nil
}

// write appends the open batch's new lines p (lines of them) as one
// record. On an error the lines still go on in memory, without the
// protection against a crash (logged).
func (j *journal) write(p []byte, lines int) {
	if j == nil || lines == 0 {
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
	j.rec = appendRecord(j.rec[:0], p, false, lines)
	if _, err := j.f.Write(j.rec); err != nil {
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
