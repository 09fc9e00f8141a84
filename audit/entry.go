package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion versions the Entry JSON and its canonical encoding.
const SchemaVersion = 1

// Genesis is the Prev of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Actions recorded by linewatch. Other packages may add their own
// ("report.sign", …); the action is free text in the chain.
const (
	ActionConfigLoaded = "config.loaded"
	ActionReportSigned = "report.signed"
	// Alarm commands are "alarm.<verb>" (alarm.ack, alarm.shelve, …);
	// refused ones "alarm.<verb>.denied".
	ActionAlarmPrefix = "alarm."
)

// Entry is one audited action. Old and New are the value before and after
// (free text, often JSON); Reason is the person's stated reason.
type Entry struct {
	V      int       `json:"v"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Object string    `json:"object"`
	Old    string    `json:"old,omitempty"`
	New    string    `json:"new,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Prev   string    `json:"prev"`
	Hash   string    `json:"hash"`
}

// Canonical is the byte string the hash covers: a fixed field order, each
// field as <length>:<bytes>\n, so that no two different entries encode the
// same (no separator can be forged inside a field).
func (e Entry) Canonical() []byte {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte('\n')
	}
	field("linewatch-audit")
	field(strconv.Itoa(e.V))
	field(strconv.FormatUint(e.Seq, 10))
	field(e.Time.UTC().Format(time.RFC3339Nano))
	field(e.Actor)
	field(e.Action)
	field(e.Object)
	field(e.Old)
	field(e.New)
	field(e.Reason)
	field(e.Prev)
	return []byte(b.String())
}

// ComputeHash returns the hex SHA-256 of the canonical encoding.
func (e Entry) ComputeHash() string {
	s := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(s[:])
}

// Seal sets V, Seq, Prev and Hash so that e follows prev (nil: first entry).
func (e Entry) Seal(prev *Entry) Entry {
	e.V = SchemaVersion
	e.Time = e.Time.UTC()
	e.Seq, e.Prev = 1, Genesis
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.Hash = e.ComputeHash()
	return e
}

// ChainError names the entry where verification failed.
type ChainError struct {
	Index   int    // position in the verified slice
	Seq     uint64 // the entry's own sequence number
	Problem string
}

func (e *ChainError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("audit entry seq %d: %s", e.Seq, e.Problem)
	}
	return fmt.Sprintf("audit entry seq %d (position %d): %s", e.Seq, e.Index+1, e.Problem)
}

// sortProblems orders problems by seq, keeping the order of each seq's.
func sortProblems(p []ChainError) {
	slices.SortStableFunc(p, func(a, b ChainError) int { return cmp.Compare(a.Seq, b.Seq) })
}

// Verify checks a run of consecutive entries: every hash recomputes, each
// entry's Prev is the hash of the one before, sequence numbers increase by
// one, and a run that starts at seq 1 starts from Genesis. It returns the
// first *ChainError, naming the entry that was modified, or the one after a
// deleted or moved entry.
func Verify(entries []Entry) error {
	if p := Problems(entries); len(p) > 0 {
		return &p[0]
	}
	return nil
}

// Problems lists every broken link, not only the first.
func Problems(entries []Entry) []ChainError {
	var out []ChainError
	present := make(map[uint64]bool, len(entries))
	for _, e := range entries {
		present[e.Seq] = true
	}
	for i, e := range entries {
		bad := func(format string, args ...any) {
			out = append(out, ChainError{Index: i, Seq: e.Seq, Problem: fmt.Sprintf(format, args...)})
		}
		if e.V != SchemaVersion {
			bad("unknown schema version %d", e.V)
		}
		if h := e.ComputeHash(); h != e.Hash {
			bad("content does not match its hash (stored %s, computed %s): the entry was modified", short(e.Hash), short(h))
		}
		if i == 0 {
			if e.Seq == 1 && e.Prev != Genesis {
				bad("first entry does not start from the genesis hash")
			}
			continue
		}
		p := entries[i-1]
		switch {
		case e.Seq <= p.Seq:
			bad("sequence %d follows %d: entries were reordered", e.Seq, p.Seq)
		case e.Seq != p.Seq+1 && present[p.Seq+1]:
			bad("sequence jumps from %d to %d but seq %d appears later: entries were reordered", p.Seq, e.Seq, p.Seq+1)
		case e.Seq != p.Seq+1:
			bad("sequence jumps from %d to %d: %d entr(y/ies) missing (deleted)", p.Seq, e.Seq, e.Seq-p.Seq-1)
		}
		if e.Prev != p.Hash {
			bad("previous-hash link %s does not match entry seq %d (%s): an entry before it was modified, deleted or moved", short(e.Prev), p.Seq, short(p.Hash))
		}
		if e.Time.Before(p.Time) {
			bad("time %s is before the previous entry's %s", e.Time.Format(time.RFC3339Nano), p.Time.Format(time.RFC3339Nano))
		}
	}
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
