package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// lastSeenGroup is the saved form of the newest source timestamps: the
// keys (line/machine/tag) that share a time and a line/machine, as
// Prefix ("line/machine/") and the rest of each key. A read gives every
// tag of a machine one time, so a line of 10 000 tags saves ~11 bytes per
// tag instead of the ~42 of a map from key to time ("last_time", still
// read): the checkpoint is written to an R3 bucket every second.
type lastSeenGroup struct {
	Time   time.Time `json:"t"`
	Prefix string    `json:"p,omitempty"`
	Keys   []string  `json:"k"`
}

// groupLastSeen returns the groups of last, in a fixed order (by time,
// then prefix, keys sorted), so equal states save equal bytes.
func groupLastSeen(last map[string]time.Time) []lastSeenGroup {
	if len(last) == 0 {
		return nil
	}
	type gk struct {
		t      time.Time
		prefix string
	}
	index := map[gk]int{}
	var groups []lastSeenGroup
	for key, t := range last {
		prefix, rest := splitKey(key)
		k := gk{t, prefix}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, lastSeenGroup{Time: t, Prefix: prefix})
		}
		groups[i].Keys = append(groups[i].Keys, rest)
	}
	slices.SortFunc(groups, func(a, b lastSeenGroup) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix, b.Prefix)
	})
	for i := range groups {
		slices.Sort(groups[i].Keys)
	}
	return groups
}

// splitKey cuts line/machine/tag after its second '/' (a key with fewer
// is all rest): Prefix + rest is the key again, whatever it holds.
func splitKey(key string) (prefix, rest string) {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return "", key
	}
	n := i + 1 + j + 1
	return key[:n], key[n:]
}
