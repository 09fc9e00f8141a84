package config

import "time"

// Alarms configures the ISA-18.2 alarm system.
type Alarms struct {
	DefaultPriority string        `yaml:"default_priority"`
	OnDelay         time.Duration `yaml:"on_delay"`
	OffDelay        time.Duration `yaml:"off_delay"`
	ShelveMax       time.Duration `yaml:"shelve_max"`
	// SuppressWhenState: machine states (from the machine_state role tag) in
	// which the machine's alarms are suppressed by design.
	SuppressWhenState []string       `yaml:"suppress_when_state"`
	Retention         time.Duration  `yaml:"retention"`
	Priorities        []PriorityRule `yaml:"priorities"`
	Flood             Flood          `yaml:"flood"`
	Chatter           Chatter        `yaml:"chatter"`
	Routes            []Route        `yaml:"routes"`
	Roles             Roles          `yaml:"roles"`
}

// PriorityRule assigns a priority to findings that match all given fields.
type PriorityRule struct {
	Lines     []string `yaml:"lines"`
	Tags      []string `yaml:"tags"`
	Detectors []string `yaml:"detectors"`
	Priority  string   `yaml:"priority"`
}

// Flood detection per line (ISA-18.2: more than Threshold alarms in Window).
type Flood struct {
	Threshold int           `yaml:"threshold"`
	Window    time.Duration `yaml:"window"`
	EndBelow  int           `yaml:"end_below"`
}

// Chatter detection: Count or more activations within Window.
type Chatter struct {
	Count  int           `yaml:"count"`
	Window time.Duration `yaml:"window"`
}

// Route sends notifications for matching alarms.
type Route struct {
	Name          string        `yaml:"name"`
	Lines         []string      `yaml:"lines"`
	Priorities    []string      `yaml:"priorities"`
	Webhook       *Webhook      `yaml:"webhook"`
	Email         *Email        `yaml:"email"`
	EscalateAfter time.Duration `yaml:"escalate_after"`
}

// Webhook posts JSON, HMAC-SHA256 signed with the referenced secret.
type Webhook struct {
	URL        string        `yaml:"url"`
	SecretEnv  string        `yaml:"secret_env"`
	SecretFile string        `yaml:"secret_file"`
	Timeout    time.Duration `yaml:"timeout"`
	TLS        TLS           `yaml:"tls"`
}

// Secret returns the HMAC secret reference.
func (w Webhook) Secret() Secret { return Secret{Env: w.SecretEnv, File: w.SecretFile} }

// Email sends over SMTP.
type Email struct {
	SMTP         string   `yaml:"smtp"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	EscalateTo   []string `yaml:"escalate_to"`
	Username     string   `yaml:"username"`
	PasswordEnv  string   `yaml:"password_env"`
	PasswordFile string   `yaml:"password_file"`
	StartTLS     bool     `yaml:"starttls"`
}

// Password returns the SMTP password reference.
func (e Email) Password() Secret { return Secret{Env: e.PasswordEnv, File: e.PasswordFile} }

// Roles authorises operator commands by identity.
type Roles struct {
	Operators   []string `yaml:"operators"`
	Supervisors []string `yaml:"supervisors"`
}

// Console is the web operator console.
type Console struct {
	Listen string `yaml:"listen"`
	// UsersFile holds "user:role:bcrypt-hash" lines.
	UsersFile string `yaml:"users_file"`
	TLS       TLS    `yaml:"tls"`
}

// Reports configures QA batch reports.
type Reports struct {
	SigningKeyFile string `yaml:"signing_key_file"`
	OutputDir      string `yaml:"output_dir"`
	// Signatures says which roles of the users file may sign with each
	// meaning (21 CFR 11.50(a)(3)).
	Signatures SignatureRoles `yaml:"signatures"`
	// StorageLocations are the rooms, fridges and freezers batches are
	// kept in: their temperature tags and the lines whose batches they
	// hold. The batch report shows the locations of its line (excursions,
	// MKT, time out of refrigeration); `linewatch report storage` reports
	// one location over any time range.
	StorageLocations []StorageLocation `yaml:"storage_locations"`
}

// StorageLocation is one place batches are stored.
type StorageLocation struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Tags are the location's temperature probes (line/machine/tag).
	Tags []string `yaml:"tags"`
	// Lines whose batches are stored here, from the batch start to its
	// end plus Hold.
	Lines []string      `yaml:"lines"`
	Hold  time.Duration `yaml:"hold"`
}

// StorageLocation returns the storage location with id, or nil.
func (r Reports) StorageLocation(id string) *StorageLocation {
	for i := range r.StorageLocations {
		if r.StorageLocations[i].ID == id {
			return &r.StorageLocations[i]
		}
	}
	return nil
}

// SignatureRoles lists the roles allowed per signature meaning; a meaning
// left out keeps its default, an empty list is an error.
type SignatureRoles struct {
	Review         []string `yaml:"review"`
	Approval       []string `yaml:"approval"`
	Responsibility []string `yaml:"responsibility"`
	// Required are the meanings every report's signature block shows,
	// signed or pending (default review and approval).
	Required []string `yaml:"required"`
}

// For returns the roles allowed to sign with meaning (nil: unknown meaning).
func (s SignatureRoles) For(meaning string) []string {
	switch meaning {
	case "review":
		return s.Review
	case "approval":
		return s.Approval
	case "responsibility":
		return s.Responsibility
	}
	return nil
}

// Audit configures the audit trail's anchoring.
type Audit struct {
	// CheckpointInterval is how often the alerts role signs the chain head.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// KeyFile is the audit service's Ed25519 key (created on first start,
	// mode 0600; the public key next to it as KeyFile+".pub").
	KeyFile string `yaml:"key_file"`
	// TrustedKeys are public key files (PEM) of other audit services whose
	// checkpoints and e-signature seals verify; the own key is trusted too.
	TrustedKeys []string `yaml:"trusted_keys"`
}
