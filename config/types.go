package config

import "time"

// Config is the whole linewatch configuration.
type Config struct {
	// Site names the plant; it is the first level of every NATS subject and an InfluxDB tag.
	Site string `yaml:"site"`
	// TimeZone is the site's IANA time zone (e.g. Europe/Dublin): every
	// time a person reads (console, CLI, alarm messages, notifications,
	// reports) is shown in it, 24-hour and labelled. Default UTC.
	TimeZone string `yaml:"time_zone"`
	// DataDir holds state that must survive restarts: spool, PKI, keys, embedded NATS store.
	DataDir   string    `yaml:"data_dir"`
	InfluxDB  InfluxDB  `yaml:"influxdb"`
	NATS      NATS      `yaml:"nats"`
	Collector Collector `yaml:"collector"`
	Lines     []Line    `yaml:"lines"`
	Analytics Analytics `yaml:"analytics"`
	Alarms    Alarms    `yaml:"alarms"`
	Console   Console   `yaml:"console"`
	Reports   Reports   `yaml:"reports"`
	Audit     Audit     `yaml:"audit"`

	// File is the path the config was loaded from ("" when parsed from memory).
	File string `yaml:"-"`
	// Digest is the SHA-256 (hex) of the file's bytes: the "config in force"
	// recorded in the audit trail and in batch reports.
	Digest string `yaml:"-"`
	pos    positions
}

// Secret references a secret held outside the config file.
type Secret struct {
	Env  string // environment variable name
	File string // path of a file whose content (trimmed) is the secret
}

// TLS configures a TLS client or server.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// InfluxDB is where samples, alarms, batches and statistics are stored.
type InfluxDB struct {
	// URL of InfluxDB; empty means linewatch starts its own InfluxDB 1.8 (demo and tests only).
	URL string `yaml:"url"`
	// 1.x: Database and RetentionPolicy. 2.x: Org and Bucket. Bucket "db/rp" also works on 1.8.
	Database        string `yaml:"database"`
	RetentionPolicy string `yaml:"retention_policy"`
	Org             string `yaml:"org"`
	Bucket          string `yaml:"bucket"`
	// Token (2.x) or "user:password" (1.x), by reference.
	TokenEnv      string        `yaml:"token_env"`
	TokenFile     string        `yaml:"token_file"`
	TLS           TLS           `yaml:"tls"`
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	Timeout       time.Duration `yaml:"timeout"`
	Writers       int           `yaml:"writers"`
	Gzip          *bool         `yaml:"gzip"`
	Spool         Spool         `yaml:"spool"`
	// MemoryLimitMB bounds the batches held in memory when they can be
	// neither sent nor spooled (spool disk full or failing, or the writer
	// behind); past it spool.full_policy drops data.
	MemoryLimitMB int64 `yaml:"memory_limit_mb"`
	// SkipDatabaseCreation: by default the writer creates a missing 1.x
	// database (CREATE DATABASE, as Telegraf's influxdb output does);
	// true leaves it to the administrator.
	SkipDatabaseCreation bool `yaml:"skip_database_creation"`
}

// Token returns the token reference.
func (i InfluxDB) Token() Secret { return Secret{Env: i.TokenEnv, File: i.TokenFile} }

// Spool is the on-disk store-and-forward buffer used while InfluxDB is unreachable.
type Spool struct {
	Dir       string `yaml:"dir"`
	MaxSizeMB int64  `yaml:"max_size_mb"`
	// FullPolicy: drop_oldest (default) or drop_newest.
	FullPolicy string `yaml:"full_policy"`
}

// NATS is the message bus: telemetry, alarms, commands, batches.
type NATS struct {
	// URL of a NATS server or cluster (comma-separated); empty means an embedded server.
	URL          string         `yaml:"url"`
	Embedded     EmbeddedNATS   `yaml:"embedded"`
	User         string         `yaml:"user"`
	PasswordEnv  string         `yaml:"password_env"`
	PasswordFile string         `yaml:"password_file"`
	NKeyFile     string         `yaml:"nkey_file"`
	CredsFile    string         `yaml:"creds_file"`
	TLS          TLS            `yaml:"tls"`
	Replicas     int            `yaml:"replicas"`
	Telemetry    StreamSettings `yaml:"telemetry"`
	MaxInflight  int            `yaml:"max_inflight"`
	// SpoolMemoryMB bounds the collector's telemetry messages held in
	// memory while JetStream does not take them (oldest dropped beyond).
	SpoolMemoryMB int `yaml:"spool_memory_mb"`
}

// Password returns the password reference.
func (n NATS) Password() Secret { return Secret{Env: n.PasswordEnv, File: n.PasswordFile} }

// EmbeddedNATS configures the in-process NATS server used when URL is empty.
type EmbeddedNATS struct {
	// Listen must be a loopback address unless TLS is set (the role
	// credentials in <data_dir>/nats-auth are always required).
	Listen   string `yaml:"listen"`
	StoreDir string `yaml:"store_dir"`
	// TLS is the server certificate (cert_file, key_file) and, with
	// ca_file, the CA that client certificates must chain to (mutual TLS).
	TLS TLS `yaml:"tls"`
}

// StreamSettings bounds a JetStream stream.
type StreamSettings struct {
	MaxAge time.Duration `yaml:"max_age"`
}

// Collector settings shared by all machines.
type Collector struct {
	// MetricsListen is the Prometheus /metrics address; "off" disables it.
	MetricsListen string `yaml:"metrics_listen"`
	// PKIDir holds the client application instance certificate (own/) and the
	// trusted server certificates (trusted/).
	PKIDir         string        `yaml:"pki_dir"`
	ReconnectMin   time.Duration `yaml:"reconnect_min"`
	ReconnectMax   time.Duration `yaml:"reconnect_max"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// CommLossAlarmDelay is how long a machine's OPC UA session must stay
	// down before the system alarm "OPC UA communication lost" is raised.
	CommLossAlarmDelay time.Duration `yaml:"comm_loss_alarm_delay"`
}

// Line is a production line: machines that make one batch at a time.
type Line struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// BatchTag is "machine/tag" of the tag holding the current batch id.
	BatchTag string    `yaml:"batch_tag"`
	Machines []Machine `yaml:"machines"`
}

// Machine is one OPC UA server (or one machine behind a shared server).
type Machine struct {
	ID              string         `yaml:"id"`
	Name            string         `yaml:"name"`
	Endpoint        string         `yaml:"endpoint"`
	SecurityPolicy  string         `yaml:"security_policy"`
	SecurityMode    string         `yaml:"security_mode"`
	CertificateFile string         `yaml:"certificate_file"`
	PrivateKeyFile  string         `yaml:"private_key_file"`
	TrustedCertsDir string         `yaml:"trusted_certs_dir"`
	Auth            Auth           `yaml:"auth"`
	MaxNodesPerRead int            `yaml:"max_nodes_per_read"`
	PollGroups      []PollGroup    `yaml:"poll_groups"`
	Subscriptions   []Subscription `yaml:"subscriptions"`
	Tags            []Tag          `yaml:"tags"`
}

// Auth is how the collector authenticates to the OPC UA server.
type Auth struct {
	// Type: anonymous, username or certificate.
	Type            string `yaml:"type"`
	Username        string `yaml:"username"`
	PasswordEnv     string `yaml:"password_env"`
	PasswordFile    string `yaml:"password_file"`
	CertificateFile string `yaml:"certificate_file"`
	PrivateKeyFile  string `yaml:"private_key_file"`
}

// Password returns the password reference.
func (a Auth) Password() Secret { return Secret{Env: a.PasswordEnv, File: a.PasswordFile} }

// PollGroup reads its tags with one Read per interval.
type PollGroup struct {
	Name     string        `yaml:"name"`
	Interval time.Duration `yaml:"interval"`
	Tags     []string      `yaml:"tags"`
}

// Subscription monitors its tags with OPC UA monitored items.
type Subscription struct {
	Name               string        `yaml:"name"`
	PublishingInterval time.Duration `yaml:"publishing_interval"`
	SamplingInterval   time.Duration `yaml:"sampling_interval"`
	QueueSize          uint32        `yaml:"queue_size"`
	Deadband           Deadband      `yaml:"deadband"`
	Tags               []string      `yaml:"tags"`
}

// Deadband filters small changes at the server.
type Deadband struct {
	// Type: none, absolute or percent.
	Type  string  `yaml:"type"`
	Value float64 `yaml:"value"`
}

// Tag is one OPC UA variable.
type Tag struct {
	Name        string `yaml:"name"`
	NodeID      string `yaml:"node_id"`
	Unit        string `yaml:"unit"`
	Description string `yaml:"description"`
	// Role tells analytics and dashboards what the value means (see Roles).
	Role     string   `yaml:"role"`
	Critical bool     `yaml:"critical"`
	Decimals *int     `yaml:"decimals"`
	Limits   Limits   `yaml:"limits"`
	Spec     Spec     `yaml:"spec"`
	Alarm    TagAlarm `yaml:"alarm"`
}

// NamedLimit is one configured limit of a tag, named as operators read it.
type NamedLimit struct {
	Name  string // LoLo, Lo, Hi, HiHi, LSL, USL, Target
	Value float64
}

// NamedLimits lists the tag's configured alarm and specification limits,
// alarm limits first, for dashboards and reports.
func (t *Tag) NamedLimits() []NamedLimit {
	out := []NamedLimit{}
	for _, l := range []struct {
		name string
		v    *float64
	}{
		{"LoLo", t.Limits.LoLo}, {"Lo", t.Limits.Lo}, {"Hi", t.Limits.Hi}, {"HiHi", t.Limits.HiHi},
		{"LSL", t.Spec.LSL}, {"USL", t.Spec.USL}, {"Target", t.Spec.Target},
	} {
		if l.v != nil {
			out = append(out, NamedLimit{l.name, *l.v})
		}
	}
	return out
}

// Limits are process alarm limits.
type Limits struct {
	LoLo *float64 `yaml:"lolo"`
	Lo   *float64 `yaml:"lo"`
	Hi   *float64 `yaml:"hi"`
	HiHi *float64 `yaml:"hihi"`
}

// Spec are product specification limits (for Cp/Cpk and reports).
type Spec struct {
	LSL    *float64 `yaml:"lsl"`
	USL    *float64 `yaml:"usl"`
	Target *float64 `yaml:"target"`
}

// TagAlarm overrides alarm settings for one tag.
type TagAlarm struct {
	Priority string         `yaml:"priority"`
	OnDelay  *time.Duration `yaml:"on_delay"`
	OffDelay *time.Duration `yaml:"off_delay"`
	Deadband *float64       `yaml:"deadband"`
	Latched  *bool          `yaml:"latched"`
}
