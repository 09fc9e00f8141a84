package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// spool is the FIFO of batches that could not be sent yet. It is used by
// the dispatcher goroutine only.
type spool interface {
	// Append stores b durably (disk spool: fsync'd) or drops data per the
	// full policy; the drop is logged and counted here.
	Append(b *batch) error
	// Next returns the oldest record not handed out yet, nil when none.
	Next() (*batch, error)
	// Ack releases a record handed out by Next (written or rejected).
	Ack(b *batch)
	// Pending counts records appended and not acknowledged.
	Pending() int
	Bytes() int64
	Close() error
}

const segExt = ".seg"

type segment struct {
	seq        uint64
	path       string
	size       int64 // end of the last valid record
	readOff    int64
	records    int
	lines      int
	dispatched int
	acked      int
	ackedLines int
	w          *os.File // append handle (tail only)
	r          *os.File // read handle, opened on first Next
}

// diskSpool keeps batches in segment files under dir (see segment.go for
// the format). Delivery is at least once: a segment is deleted when every
// record in it was acknowledged, so after a crash the acknowledged records
// of a partly sent segment are sent again; InfluxDB overwrites identical
// points, so a replay does not duplicate data.
type diskSpool struct {
	dir        string
	maxBytes   int64
	segMax     int64
	dropOldest bool
	segs       []*segment // oldest first
	tail       *segment   // append target; nil until the next Append
	bytes      int64
	nextSeq    uint64
	log        *slog.Logger
	m          *metrics
	loss       *lossLog
	lock       *os.File
}

func openDiskSpool(dir string, maxBytes int64, dropOldest bool, log *slog.Logger, m *metrics, loss *lossLog) (*diskSpool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory %s: %w (set influxdb.spool.dir to a writable directory)", dir, err)
	}
	// Two processes appending to one spool would interleave records.
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool directory %s is in use by another linewatch writer (%w); give each collector its own influxdb.spool.dir", dir, err)
	}
	segMax := max(maxBytes/8, 64<<10)
	s := &diskSpool{dir: dir, maxBytes: maxBytes, segMax: segMax, dropOldest: dropOldest, log: log, m: m, loss: loss, nextSeq: 1, lock: lock}
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("spool directory %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 16, 64)
		if err != nil {
			log.Warn("spool: ignoring file with an unexpected name", "file", filepath.Join(dir, name))
			continue
		}
		seg, err := s.scan(seq, filepath.Join(dir, name))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.nextSeq = max(s.nextSeq, seq+1)
		if seg == nil {
			continue
		}
		s.segs = append(s.segs, seg)
		s.bytes += seg.size
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpU64(a.seq, b.seq) })
	if len(s.segs) > 0 {
		lines := 0
		for _, g := range s.segs {
			lines += g.lines
		}
		log.Info("spool: replaying batches left by a previous run", "dir", dir, "segments", len(s.segs), "bytes", s.bytes, "lines", lines)
	}
	m.setSpoolBytes(s.bytes)
	return s, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan validates a segment left by a previous run. A torn or corrupt record
// ends the segment: it and everything after it are skipped and reported.
func (s *diskSpool) scan(seq uint64, path string) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool segment %s: %w", path, err)
	}
	seg := &segment{seq: seq, path: path}
	rr, err := newRecordReader(f)
	switch {
	case errors.Is(err, io.EOF):
		os.Remove(path) // created, crashed before its magic was durable
		return nil, nil
	case errors.Is(err, errCorrupt):
		s.log.Error("spool: segment is not a linewatch spool segment; skipping it", "file", path, "err", err)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("spool segment %s: %w", path, err)
	}
	for {
		rec, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				return nil, fmt.Errorf("spool segment %s: %w", path, err)
			}
			s.log.Error("spool: torn or corrupt record; the rest of the segment is skipped",
				"file", path, "offset", rr.off, "skipped_bytes", st.Size()-rr.off, "err", err)
			break
		}
		seg.records++
		seg.lines += rec.lines
	}
	seg.size = rr.off
	seg.readOff = int64(len(segMagic))
	if seg.records == 0 {
		os.Remove(path)
		return nil, nil
	}
	return seg, nil
}

func (s *diskSpool) Bytes() int64 { return s.bytes }

func (s *diskSpool) Pending() int {
	n := 0
	for _, g := range s.segs {
		n += g.records - g.acked
	}
	return n
}

func (s *diskSpool) Append(b *batch) error {
	recLen := int64(recHeaderLen + payloadHeaderLen + len(b.body))
	if recLen+int64(len(segMagic)) > s.maxBytes {
		s.drop(b.lines, lostSpoolFull, "batch larger than the whole spool")
		return nil
	}
	for s.bytes+recLen > s.maxBytes {
		if !s.dropOldest || len(s.segs) == 0 {
			s.drop(b.lines, lostSpoolFull, "spool full, policy drop_newest")
			return nil
		}
		old := s.segs[0]
		lost := old.lines - old.ackedLines
		s.remove(old)
		s.drop(lost, lostSpoolFull, "spool full, policy drop_oldest: oldest segment deleted")
	}
	if s.tail == nil || s.tail.size+recLen > s.segMax && s.tail.records > 0 {
		if err := s.roll(); err != nil {
			return err
		}
	}
	t := s.tail
	buf := appendRecord(make([]byte, 0, recLen), b.body, b.gz, b.lines)
	if _, err := t.w.Write(buf); err != nil {
		t.w.Truncate(t.size) // drop a partial record so the segment stays readable
		return fmt.Errorf("spool: write %s: %w", t.path, err)
	}
	if err := t.w.Sync(); err != nil {
		// Not durable: drop it from the file so the next record starts
		// where the segment's size says.
		t.w.Truncate(t.size)
		return fmt.Errorf("spool: fsync %s: %w", t.path, err)
	}
	t.size += recLen
	t.records++
	t.lines += b.lines
	s.bytes += recLen
	s.m.setSpoolBytes(s.bytes)
	b.seg = t.seq
	b.spooled = true
	return nil
}

// probe writes and fsyncs a small file in the spool directory and removes
// it: whether the disk takes writes again (space back, remounted rw).
func (s *diskSpool) probe() error {
	path := filepath.Join(s.dir, "PROBE")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: probe %s: %w", path, err)
	}
	defer os.Remove(path)
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: probe %s: %w", path, err)
	}
	return nil
}

func (s *diskSpool) drop(lines int, reason, why string) {
	s.loss.lost(lines, reason, fmt.Sprintf("%s (spool %s, max %d bytes)", why, s.dir, s.maxBytes))
}

// roll starts a new tail segment; the magic is fsync'd with the directory
// entry so the segment is found after a crash.
func (s *diskSpool) roll() error {
	if s.tail != nil {
		s.tail.w.Close()
		s.tail.w = nil
		s.tail = nil
	}
	seq := s.nextSeq
	s.nextSeq++
	path := filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, segExt))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.WriteString(segMagic); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: create segment %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	seg := &segment{seq: seq, path: path, size: int64(len(segMagic)), readOff: int64(len(segMagic)), w: f}
	s.segs = append(s.segs, seg)
	s.tail = seg
	s.bytes += seg.size
	return nil
}

func (s *diskSpool) Next() (*batch, error) {
	for _, g := range s.segs {
		if g.readOff >= g.size {
			continue
		}
		if g.r == nil {
			f, err := os.Open(g.path)
			if err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
			g.r = f
		}
		rec, next, err := readRecordAt(g.r, g.readOff, g.size)
		if err != nil {
			// Damaged after it was scanned (disk error): skip the rest.
			lost := g.lines - g.ackedLines
			s.log.Error("spool: corrupt record; the rest of the segment is skipped", "file", g.path, "offset", g.readOff, "err", err)
			g.readOff = g.size
			s.drop(lost, lostSpoolCorrupt, "corrupt spool record")
			s.maybeRemove(g)
			return s.Next()
		}
		g.readOff = next
		g.dispatched++
		return &batch{body: rec.body, gz: rec.gz, lines: rec.lines, seg: g.seq, spooled: true}, nil
	}
	return nil, nil
}

func readRecordAt(f io.ReaderAt, off, limit int64) (record, int64, error) {
	var h [recHeaderLen]byte
	if off+recHeaderLen > limit {
		return record{}, 0, fmt.Errorf("%w: header past end", errCorrupt)
	}
	if _, err := f.ReadAt(h[:], off); err != nil {
		return record{}, 0, err
	}
	length := int64(binary.LittleEndian.Uint32(h[:4]))
	if length < payloadHeaderLen || length > maxRecordLen || off+recHeaderLen+length > limit {
		return record{}, 0, fmt.Errorf("%w: length %d out of range", errCorrupt, length)
	}
	p := make([]byte, length)
	if _, err := f.ReadAt(p, off+recHeaderLen); err != nil {
		return record{}, 0, err
	}
	if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(h[4:]) {
		return record{}, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	rec, err := decodePayload(p)
	return rec, off + recHeaderLen + length, err
}

func (s *diskSpool) Ack(b *batch) {
	for _, g := range s.segs {
		if g.seq == b.seg {
			g.acked++
			g.ackedLines += b.lines
			s.maybeRemove(g)
			return
		}
	}
	// The segment was dropped (spool full) while the batch was in flight.
}

// maybeRemove deletes a segment once every record was read and acknowledged.
func (s *diskSpool) maybeRemove(g *segment) {
	if g.readOff >= g.size && g.acked >= g.dispatched {
		s.remove(g)
	}
}

func (s *diskSpool) remove(g *segment) {
	if g.w != nil {
		g.w.Close()
	}
	if g.r != nil {
		g.r.Close()
	}
	if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("spool: cannot delete a delivered segment; it will be sent again after a restart", "file", g.path, "err", err)
	}
	if s.tail == g {
		s.tail = nil
	}
	s.segs = slices.DeleteFunc(s.segs, func(x *segment) bool { return x == g })
	s.bytes -= g.size
	s.m.setSpoolBytes(s.bytes)
}

func (s *diskSpool) Close() error {
	for _, g := range s.segs {
		if g.w != nil {
			g.w.Close()
			g.w = nil
		}
		if g.r != nil {
			g.r.Close()
			g.r = nil
		}
	}
	s.tail = nil
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
	return nil
}

// memSpool is the spool without a directory: the same FIFO and full
// policy, in memory, lost on a crash.
type memSpool struct {
	q          []*batch // oldest first; q[:next] were handed out
	next       int
	pending    int
	bytes      int64
	maxBytes   int64
	dropOldest bool
	m          *metrics
	loss       *lossLog
}

func (s *memSpool) Append(b *batch) error {
	n := int64(len(b.body))
	for s.bytes+n > s.maxBytes {
		if !s.dropOldest || len(s.q) == 0 {
			s.loss.lost(b.lines, lostSpoolFull, fmt.Sprintf("memory spool full (max %d bytes), policy drop_newest", s.maxBytes))
			return nil
		}
		old := s.q[0]
		s.q = s.q[1:]
		if s.next > 0 {
			s.next--
		}
		old.dropped = true
		s.pending--
		s.bytes -= int64(len(old.body))
		s.loss.lost(old.lines, lostSpoolFull, fmt.Sprintf("memory spool full (max %d bytes), policy drop_oldest", s.maxBytes))
	}
	b.spooled = true
	s.q = append(s.q, b)
	s.pending++
	s.bytes += n
	s.m.setSpoolBytes(s.bytes)
	return nil
}

func (s *memSpool) Next() (*batch, error) {
	if s.next >= len(s.q) {
		return nil, nil
	}
	b := s.q[s.next]
	s.next++
	return b, nil
}

func (s *memSpool) Ack(b *batch) {
	if b.dropped {
		return
	}
	b.acked = true
	s.pending--
	s.bytes -= int64(len(b.body))
	for len(s.q) > 0 && s.q[0].acked {
		s.q = s.q[1:]
		s.next--
	}
	s.m.setSpoolBytes(s.bytes)
}

func (s *memSpool) Pending() int { return s.pending }
func (s *memSpool) Bytes() int64 { return s.bytes }
func (s *memSpool) Close() error { return nil }
