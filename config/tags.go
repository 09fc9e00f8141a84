package config

import "strings"

// TagRef points at one configured tag.
type TagRef struct {
	LineIndex int
	Line      *Line
	Machine   *Machine
	Tag       *Tag
}

func (t TagRef) String() string { return t.Line.ID + "/" + t.Machine.ID + "/" + t.Tag.Name }

// AllTags lists every configured tag in file order.
func (c *Config) AllTags() []TagRef {
	var out []TagRef
	for li := range c.Lines {
		l := &c.Lines[li]
		for mi := range l.Machines {
			m := &l.Machines[mi]
			for ti := range m.Tags {
				out = append(out, TagRef{LineIndex: li, Line: l, Machine: m, Tag: &m.Tags[ti]})
			}
		}
	}
	return out
}

// MatchTags returns the tags a line/machine/tag pattern selects; "*"
// matches any one segment.
func (c *Config) MatchTags(pattern string) []TagRef {
	parts := strings.Split(pattern, "/")
	if len(parts) != 3 {
		return nil
	}
	match := func(p, s string) bool { return p == "*" || p == s }
	var out []TagRef
	for _, t := range c.AllTags() {
		if match(parts[0], t.Line.ID) && match(parts[1], t.Machine.ID) && match(parts[2], t.Tag.Name) {
			out = append(out, t)
		}
	}
	return out
}

// Tag finds line/machine/tag, or returns false.
func (c *Config) Tag(line, machine, tag string) (TagRef, bool) {
	for _, t := range c.AllTags() {
		if t.Line.ID == line && t.Machine.ID == machine && t.Tag.Name == tag {
			return t, true
		}
	}
	return TagRef{}, false
}

func (c *Config) line(id string) *Line {
	for i := range c.Lines {
		if c.Lines[i].ID == id {
			return &c.Lines[i]
		}
	}
	return nil
}

// Line returns the line with id, or nil.
func (c *Config) Line(id string) *Line { return c.line(id) }
