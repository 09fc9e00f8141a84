package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/analytics/detect"
)

// MaxFileSize bounds what Load reads; a config is a few hundred KB at most.
const MaxFileSize = 16 << 20

// Load reads, decodes, defaults and validates the config at path. On any
// problem it returns Errors with every problem found.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
	}
	return Parse(data, path)
}

// Parse is Load for a config held in memory; file names it in errors.
//
// A valid config is decoded once without recording where each field is
// written: the paths and positions serve error messages only, and for a
// large config they would be most of the memory of loading it (at 20 000
// tags ~20 MB, which set the collector's peak RSS). When there is any
// error the config is decoded again, recording them, so every error names
// its file:line and field path.
func Parse(data []byte, file string) (*Config, error) {
	cfg, errs := parse(data, file, false)
	if len(errs) == 0 {
		return cfg, nil
	}
	cfg, errs = parse(data, file, true)
	if len(errs) == 0 { // cannot happen: recording positions only adds detail
		return cfg, nil
	}
	return cfg, errs.sorted()
}

func parse(data []byte, file string, record bool) (*Config, Errors) {
	sum := sha256.Sum256(data)
	cfg := &Config{File: file, Digest: hex.EncodeToString(sum[:])}
	if record {
		cfg.pos = positions{}
	}
	var errs Errors
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(file, err)}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		d := &decoder{file: file, pos: cfg.pos}
		d.walk(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
		errs = append(errs, d.errs...)
	}
	cfg.applyDefaults()
	errs = append(errs, cfg.validate()...)
	// A valid config drops the positions: they only serve error messages.
	cfg.pos = nil
	return cfg, errs
}

func syntaxError(file string, err error) Error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	e := Error{File: file, Msg: "YAML syntax: " + msg}
	// yaml.v3 reports "line N: …"
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				e.Line, e.Column = n, 1
				e.Msg = "YAML syntax:" + rest[i+1:]
			}
		}
	}
	return e
}

// positions maps field paths to where they are written.
type positions map[string][2]int

// decoder walks the YAML tree and the config struct together so that every
// unknown key and every badly typed scalar is reported, not only the first.
// Without pos (the first decoding of Parse) it builds no paths either.
type decoder struct {
	file string
	pos  positions
	errs Errors
}

func (d *decoder) mark(path string, n *yaml.Node) {
	if d.pos != nil {
		d.pos[path] = [2]int{n.Line, n.Column}
	}
}

// child is the path of key under path, built only when positions are recorded.
func (d *decoder) child(path, key string) string {
	if d.pos == nil || path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) index(path string, i int) string {
	if d.pos == nil {
		return ""
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

func (d *decoder) errorf(n *yaml.Node, path, value, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) walk(n *yaml.Node, v reflect.Value, path string) {
	d.mark(path, n)
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	switch {
	case v.Kind() == reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if p, ok := elem.Interface().(detect.Prefiller); ok {
			p.Prefill() // defaults that only an absent key takes
		}
		d.walk(n, elem.Elem(), path)
		v.Set(elem)
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, short(n), "expected a mapping of keys (%s)", strings.Join(fieldNames(v.Type()), ", "))
			return
		}
		d.walkStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, short(n), "expected a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.walk(c, s.Index(i), d.index(path, i))
		}
		v.Set(s)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) walkStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		sub := d.child(path, key)
		if seen[key] {
			d.errorf(k, sub, "", "key written twice")
			continue
		}
		seen[key] = true
		idx := fieldIndex(t, key)
		if idx == nil {
			d.unknownKey(k, t, sub, key)
			continue
		}
		d.mark(sub, k)
		d.walk(val, v.FieldByIndex(idx), sub)
		d.mark(sub, k)
		if val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
			// point value errors at the value, structure errors at the key
			d.mark(sub, val)
		}
	}
}

// inlineSecretKeys are keys people write when they mean a secret reference.
var inlineSecretKeys = map[string]bool{"password": true, "token": true, "secret": true, "passphrase": true}

func (d *decoder) unknownKey(k *yaml.Node, t reflect.Type, path, key string) {
	names := fieldNames(t)
	if inlineSecretKeys[key] {
		d.mark(path+"!inline", k)
		d.errorf(k, path, "", "inline secrets are not allowed: reference it with %s_env (environment variable) or %s_file (file holding it)", key, key)
		return
	}
	msg := fmt.Sprintf("unknown key %q", key)
	if s := suggest(key, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; allowed keys: " + strings.Join(names, ", ")
	}
	d.errorf(k, path, "", "%s", msg)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "", "expected a single value, not a %s", kindName(n.Kind))
		return
	}
	if v.Type() == durationType {
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, path, n.Value, "not a duration; write a number with a unit, e.g. 500ms, 10s, 5m, 24h")
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.errorf(n, path, n.Value, "expected %s", typeName(v.Type()))
	}
}

// fieldIndex finds the field a key decodes into, also in structs embedded
// with `yaml:",inline"`; nil when there is none.
func fieldIndex(t reflect.Type, key string) []int {
	for i := range t.NumField() {
		f := t.Field(i)
		if inline(f) {
			if sub := fieldIndex(f.Type, key); sub != nil {
				return append([]int{i}, sub...)
			}
			continue
		}
		if yamlName(f) == key {
			return []int{i}
		}
	}
	return nil
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if inline(f) {
			names = append(names, fieldNames(f.Type)...)
		} else if n := yamlName(f); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// inline reports an embedded struct whose keys are the outer struct's.
func inline(f reflect.StructField) bool {
	return f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("yaml") == ",inline"
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if tag == "-" {
		return ""
	}
	return tag
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Uint32, reflect.Uint, reflect.Uint64:
		return "a whole number ≥ 0"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func short(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// suggest returns the closest allowed key when it is close enough to be a typo.
func suggest(key string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := levenshtein(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	if bestD <= max(2, len(key)/3) {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
