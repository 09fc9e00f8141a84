package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Allowed values, also listed in docs/configuration.md.
var (
	SecurityPolicies = []string{"None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"}
	SecurityModes    = []string{"None", "Sign", "SignAndEncrypt"}
	AuthTypes        = []string{"anonymous", "username", "certificate"}
	DeadbandTypes    = []string{"none", "absolute", "percent"}
	Priorities       = []string{"low", "medium", "high", "urgent"}
	SpoolPolicies    = []string{"drop_oldest", "drop_newest"}
	// TagRoles tell analytics and dashboards what a tag means.
	TagRoles = []string{
		"temperature", "humidity", "pressure", "fill_weight", "weight", "hardness", "thickness",
		"force", "speed", "good_count", "reject_count", "batch_id", "product_code",
		"machine_state", "phase", "door", "running", "other",
	}
)

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const idRule = "lower-case letters, digits, '_' and '-', starting with a letter or digit (used in NATS subjects and InfluxDB tags)"

type validator struct {
	c    *Config
	errs Errors
}

// at finds where path (or its nearest written parent) is in the file.
func (v *validator) at(path string) (int, int) {
	for p := path; ; {
		if pos, ok := v.c.pos[p]; ok {
			return pos[0], pos[1]
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			if pos, ok := v.c.pos[""]; ok {
				return pos[0], pos[1]
			}
			return 0, 0
		}
		p = p[:i]
	}
}

// inline reports whether the secret at path was written inline (already reported).
func (v *validator) inline(path string) bool {
	_, ok := v.c.pos[path+"!inline"]
	return ok
}

func (v *validator) errf(path, value, format string, args ...any) {
	line, col := v.at(path)
	v.errs = append(v.errs, Error{File: v.c.File, Line: line, Column: col, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(path, got string, allowed []string) {
	if !slices.Contains(allowed, got) {
		msg := "allowed: " + strings.Join(allowed, ", ")
		if s := suggest(got, allowed); s != "" {
			msg = fmt.Sprintf("did you mean %q? allowed: %s", s, strings.Join(allowed, ", "))
		}
		v.errf(path, got, "%s", msg)
	}
}

func (v *validator) id(path, got string) {
	if got == "" {
		v.errf(path, "", "required; %s", idRule)
	} else if !idRe.MatchString(got) {
		v.errf(path, got, "invalid id; use %s", idRule)
	}
}

func (v *validator) secret(path, key string, s Secret, required bool) {
	switch {
	case s.Env != "" && s.File != "":
		v.errf(path+"."+key+"_env", s.Env, "give either %s_env or %s_file, not both", key, key)
	case required && s.Env == "" && s.File == "" && !v.inline(path+"."+key):
		v.errf(path, "", "%s required: set %s_env (environment variable) or %s_file (file holding it)", key, key, key)
	}
}

func (v *validator) hostPort(path, got string) {
	if _, port, err := net.SplitHostPort(got); err != nil || port == "" {
		v.errf(path, got, "expected host:port, e.g. 127.0.0.1:8080")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errf(path, got, "port must be 0–65535")
	}
}

// LoopbackHost reports whether a listen host reaches this machine only:
// a loopback IP or "localhost". An empty host (":4222"), 0.0.0.0, [::]
// and any other name may be reachable from the network.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) minDur(path string, got, least time.Duration) {
	if got < least {
		v.errf(path, got.String(), "must be at least %s", least)
	}
}

func (c *Config) validate() Errors {
	v := &validator{c: c}
	v.id("site", c.Site)
	if _, err := c.Location(); err != nil {
		v.errf("time_zone", c.TimeZone, "must be an IANA time zone name such as UTC or Europe/Dublin")
	}
	v.influx()
	v.nats()
	v.collector()
	v.lines()
	v.analytics()
	v.alarms()
	if c.Console.Listen != "off" {
		v.hostPort("console.listen", c.Console.Listen)
	}
	v.tls("console.tls", c.Console.TLS)
	v.reportsAudit()
	return v.errs
}

// SignatureMeanings are the meanings of an electronic signature.
var SignatureMeanings = []string{"review", "approval", "responsibility"}

var roleRe = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func (v *validator) reportsAudit() {
	for _, m := range SignatureMeanings {
		path := "reports.signatures." + m
		roles := v.c.Reports.Signatures.For(m)
		if len(roles) == 0 {
			v.errf(path, "", "list at least one role of the users file (e.g. %s)", DefaultApprovalRole)
		}
		for i, r := range roles {
			if !roleRe.MatchString(r) {
				v.errf(fmt.Sprintf("%s[%d]", path, i), r, "a role is 1 to 32 lower-case letters, digits, '_' or '-' (as in the users file)")
			}
		}
	}
	for i, m := range v.c.Reports.Signatures.Required {
		v.oneOf(fmt.Sprintf("reports.signatures.required[%d]", i), m, SignatureMeanings)
	}
	v.storageLocations()
	a := v.c.Audit
	if a.CheckpointInterval < time.Second || a.CheckpointInterval > 24*time.Hour {
		v.errf("audit.checkpoint_interval", a.CheckpointInterval.String(), "must be 1s to 24h")
	}
	for i, k := range a.TrustedKeys {
		if strings.TrimSpace(k) == "" {
			v.errf(fmt.Sprintf("audit.trusted_keys[%d]", i), k, "empty path; give a public key file (PEM)")
		}
	}
}

func (v *validator) tls(path string, t TLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.errf(path, "", "cert_file and key_file go together")
	}
}

func (v *validator) influx() {
	in := v.c.InfluxDB
	if in.URL != "" {
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errf("influxdb.url", in.URL, "expected http:// or https:// URL, or leave empty to start an embedded InfluxDB")
		}
	}
	if in.Bucket != "" && in.Database != "" {
		v.errf("influxdb.bucket", in.Bucket, "give bucket (2.x, or db/rp on 1.8) or database (1.x), not both")
	}
	if in.Org != "" && in.Bucket == "" {
		v.errf("influxdb.bucket", "", "bucket required when org is set")
	}
	v.secret("influxdb", "token", in.Token(), false)
	v.tls("influxdb.tls", in.TLS)
	if in.BatchSize < 1 || in.BatchSize > 1_000_000 {
		v.errf("influxdb.batch_size", strconv.Itoa(in.BatchSize), "must be 1–1000000")
	}
	if in.Writers < 1 || in.Writers > 64 {
		v.errf("influxdb.writers", strconv.Itoa(in.Writers), "must be 1–64")
	}
	v.minDur("influxdb.flush_interval", in.FlushInterval, 10*time.Millisecond)
	v.minDur("influxdb.timeout", in.Timeout, 100*time.Millisecond)
	if in.Spool.MaxSizeMB < 1 {
		v.errf("influxdb.spool.max_size_mb", strconv.FormatInt(in.Spool.MaxSizeMB, 10), "must be at least 1")
	}
	v.oneOf("influxdb.spool.full_policy", in.Spool.FullPolicy, SpoolPolicies)
	if in.MemoryLimitMB < 1 || in.MemoryLimitMB > 1<<20 {
		v.errf("influxdb.memory_limit_mb", strconv.FormatInt(in.MemoryLimitMB, 10), "must be 1–1048576 (MB of batches held in memory while neither InfluxDB nor the spool disk takes them)")
	}
}

func (v *validator) nats() {
	n := v.c.NATS
	if n.URL != "" {
		for _, s := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) || u.Host == "" {
				v.errf("nats.url", s, "expected nats://host:port (or tls://, ws://, wss://), comma-separated for a cluster; leave empty for the embedded server")
			}
		}
	} else {
		v.hostPort("nats.embedded.listen", n.Embedded.Listen)
		v.tls("nats.embedded.tls", n.Embedded.TLS)
		if host, _, err := net.SplitHostPort(n.Embedded.Listen); err == nil && !LoopbackHost(host) && n.Embedded.TLS.CertFile == "" {
			v.errf("nats.embedded.listen", n.Embedded.Listen, "not a loopback address: the embedded server serves the network only with TLS — set nats.embedded.tls.cert_file and key_file (clients then authenticate with the role credentials in <data_dir>/nats-auth), or listen on 127.0.0.1, [::1] or localhost, or use an external NATS cluster (nats.url)")
		}
	}
	auths := 0
	if n.User != "" {
		auths++
		v.secret("nats", "password", n.Password(), true)
	} else if n.PasswordEnv != "" || n.PasswordFile != "" {
		v.errf("nats.user", "", "user required with a password")
	}
	if n.NKeyFile != "" {
		auths++
	}
	if n.CredsFile != "" {
		auths++
	}
	if auths > 1 {
		v.errf("nats", "", "choose one authentication: user/password, nkey_file or creds_file")
	}
	if auths > 0 && n.URL == "" {
		field, val := "nats.user", n.User
		if n.User == "" && n.NKeyFile != "" {
			field, val = "nats.nkey_file", n.NKeyFile
		} else if n.User == "" {
			field, val = "nats.creds_file", n.CredsFile
		}
		v.errf(field, val, "the embedded server (nats.url empty) accepts only the role credentials it generates in <data_dir>/nats-auth: remove %s, or set nats.url to the external server these credentials are for", field)
	}
	v.tls("nats.tls", n.TLS)
	if n.Replicas < 1 || n.Replicas > 5 {
		v.errf("nats.replicas", strconv.Itoa(n.Replicas), "must be 1–5 (JetStream stream replicas)")
	}
	v.minDur("nats.telemetry.max_age", n.Telemetry.MaxAge, time.Minute)
	if n.MaxInflight < 1 || n.MaxInflight > 65536 {
		v.errf("nats.max_inflight", strconv.Itoa(n.MaxInflight), "must be 1–65536 (telemetry publishes awaiting their acknowledgement)")
	}
	if n.SpoolMemoryMB < 1 || n.SpoolMemoryMB > 1<<20 {
		v.errf("nats.spool_memory_mb", strconv.Itoa(n.SpoolMemoryMB), "must be 1–1048576 (MB of telemetry held in memory while JetStream does not take it)")
	}
}

func (v *validator) collector() {
	co := v.c.Collector
	if co.MetricsListen != "off" {
		v.hostPort("collector.metrics_listen", co.MetricsListen)
	}
	v.minDur("collector.reconnect_min", co.ReconnectMin, 10*time.Millisecond)
	if co.ReconnectMax < co.ReconnectMin {
		v.errf("collector.reconnect_max", co.ReconnectMax.String(), "must be at least reconnect_min (%s)", co.ReconnectMin)
	}
	v.minDur("collector.request_timeout", co.RequestTimeout, 100*time.Millisecond)
	v.minDur("collector.comm_loss_alarm_delay", co.CommLossAlarmDelay, 0)
}
