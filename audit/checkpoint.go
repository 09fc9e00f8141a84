package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/internal/display/text"
	"github.com/linewatch/linewatch/internal/edkey"
)

// Checkpoints: the audit service signs the chain head (seq, hash, time) at
// an interval, at shutdown and on request, and stores it in its own stream
// so that an export can carry it and a verifier can tell a rewritten or
// truncated trail from the real one.
const (
	CheckpointStream  = "AUDIT_CHECKPOINTS"
	CheckpointSubject = "linewatch.checkpoints.audit"
	// CheckpointRequestSubject asks the audit service for a checkpoint of
	// the head now (request-reply; the reply is a Checkpoint JSON or
	// {"error": "..."}).
	CheckpointRequestSubject = "linewatch.cmd.audit.checkpoint"
)

// Checkpoint is a signed chain head: entry Seq has hash Hash, as seen by
// the holder of key KeyID at Time.
type Checkpoint struct {
	V     int       `json:"v"`
	Seq   uint64    `json:"seq"`
	Hash  string    `json:"hash"`
	Time  time.Time `json:"time"`
	KeyID string    `json:"key_id"`
	Sig   string    `json:"sig"` // base64 Ed25519
}

func (c Checkpoint) message() []byte {
	return []byte(strings.Join([]string{"linewatch-audit-checkpoint-v1", strconv.FormatUint(c.Seq, 10), c.Hash,
		c.Time.UTC().Format(time.RFC3339Nano), c.KeyID}, "\x00"))
}

// SignCheckpoint signs the head (seq, hash) at now.
func SignCheckpoint(key ed25519.PrivateKey, seq uint64, hash string, now time.Time) Checkpoint {
	c := Checkpoint{V: SchemaVersion, Seq: seq, Hash: hash, Time: now.UTC(), KeyID: edkey.KeyID(key.Public().(ed25519.PublicKey))}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.message()))
	return c
}

// Verify checks the signature with a trusted key.
func (c Checkpoint) Verify(trusted edkey.Keyring) error { return c.verify(trusted, time.UTC) }

// verify is Verify with the checkpoint's time written in loc.
func (c Checkpoint) verify(trusted edkey.Keyring, loc *time.Location) error {
	pub, ok := trusted[c.KeyID]
	if !ok {
		return fmt.Errorf("checkpoint of seq %d (%s) is signed by key %s, which is not trusted (audit.trusted_keys)", c.Seq, text.Time(c.Time, loc), c.KeyID)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(c.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize || c.V != SchemaVersion || !ed25519.Verify(pub, c.message(), sig) {
		return fmt.Errorf("checkpoint of seq %d (%s): signature does not verify with key %s: it was edited or forged", c.Seq, text.Time(c.Time, loc), c.KeyID)
	}
	return nil
}

// Anchoring is what VerifyAnchored found.
type Anchoring struct {
	// Problems lists broken links and entries that contradict a trusted
	// checkpoint, in seq order; empty means intact.
	Problems []ChainError
	// Head is the newest trusted checkpoint that the entries match (nil:
	// none).
	Head *Checkpoint
	// Unanchored counts the entries after Head ("not yet anchored").
	Unanchored int
}

// OK reports whether no problem was found.
func (a Anchoring) OK() bool { return len(a.Problems) == 0 }

// VerifyAnchored checks a run of entries (Problems) and the checkpoints:
// every checkpoint must be signed by a trusted key, the entry at each
// checkpoint's seq must have the signed hash (a rewritten entry, even with
// every later hash recomputed, changes the hash at the head), and no
// trusted checkpoint may lie beyond the last entry (a truncated trail).
// Checkpoints before the first entry are ignored (an export that starts
// later). Times in the problems are UTC; see VerifyAnchoredIn.
func VerifyAnchored(entries []Entry, cps []Checkpoint, trusted edkey.Keyring) Anchoring {
	return VerifyAnchoredIn(entries, cps, trusted, time.UTC)
}

// VerifyAnchoredIn is VerifyAnchored with the checkpoint times of its
// problems written for people in loc (the site zone, 24-hour, labelled).
func VerifyAnchoredIn(entries []Entry, cps []Checkpoint, trusted edkey.Keyring, loc *time.Location) Anchoring {
	var a Anchoring
	a.Problems = Problems(entries)
	bySeq := make(map[uint64]int, len(entries))
	for i, e := range entries {
		bySeq[e.Seq] = i
	}
	var first, last uint64
	if len(entries) > 0 {
		first, last = entries[0].Seq, entries[len(entries)-1].Seq
	}
	truncatedAt := uint64(0)
	for _, c := range cps {
		if err := c.verify(trusted, loc); err != nil {
			a.Problems = append(a.Problems, ChainError{Index: -1, Seq: c.Seq, Problem: err.Error()})
			continue
		}
		switch i, ok := bySeq[c.Seq]; {
		case c.Seq > last:
			if truncatedAt == 0 || c.Seq > truncatedAt {
				truncatedAt = c.Seq
			}
		case c.Seq < first:
		case !ok:
			a.Problems = append(a.Problems, ChainError{Index: -1, Seq: c.Seq, Problem: fmt.Sprintf("entry seq %d, signed in the checkpoint of %s, is missing", c.Seq, text.Time(c.Time, loc))})
		case entries[i].Hash != c.Hash:
			a.Problems = append(a.Problems, ChainError{Index: i, Seq: c.Seq, Problem: fmt.Sprintf("hash %s does not match the checkpoint signed at %s (%s): this entry or one before it was rewritten, inserted or removed",
				short(entries[i].Hash), text.Time(c.Time, loc), short(c.Hash))})
		default:
			if a.Head == nil || c.Seq > a.Head.Seq || (c.Seq == a.Head.Seq && c.Time.After(a.Head.Time)) {
				cp := c
				a.Head = &cp
			}
		}
	}
	if truncatedAt != 0 {
		a.Problems = append(a.Problems, ChainError{Index: len(entries), Seq: last + 1, Problem: fmt.Sprintf("the trail ends at seq %d but a trusted checkpoint covers seq %d: entries %d…%d were removed (truncated)", last, truncatedAt, last+1, truncatedAt)})
	}
	sortProblems(a.Problems)
	if a.Head != nil {
		a.Unanchored = int(last - a.Head.Seq)
	} else {
		a.Unanchored = len(entries)
	}
	return a
}
