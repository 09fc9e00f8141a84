package bus

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfigOptions describes one node of an external nats-server
// cluster that serves linewatch with the role credentials and permission
// sets of the embedded server.
type ServerConfigOptions struct {
	// Name is the server_name (unique in the cluster).
	Name string
	// Listen is the client host:port.
	Listen string
	// StoreDir is the JetStream store of this node.
	StoreDir string
	// MaxFileStore bounds the JetStream file store in bytes; 0: the server's default.
	MaxFileStore int64
	// Cluster is the cluster name; empty: a single server without routes.
	Cluster string
	// ClusterListen is the route host:port of this node.
	ClusterListen string
	// Routes are the route URLs of every node (nats-route://host:port),
	// this one included (the server skips itself).
	Routes []string
	// Credentials are the role nkeys (EnsureCredentials); required.
	Credentials *Credentials
	// HTTP is the monitoring host:port (/varz, /jsz); empty: off.
	HTTP string
}

// ServerConfig renders a nats-server configuration file for o: JetStream,
// the cluster routes, and one nkey user per role with the role's
// Permissions, exactly what StartEmbedded applies in process. Every
// string is quoted: subjects start with '$', which the config format
// would otherwise read as a variable.
func ServerConfig(o ServerConfigOptions) (string, error) {
	if o.Name == "" || o.StoreDir == "" {
		return "", fmt.Errorf("NATS server config: name and store dir required")
	}
	if o.Credentials == nil {
		return "", fmt.Errorf("NATS server config %s: role credentials required (bus.EnsureCredentials)", o.Name)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return "", fmt.Errorf("NATS server config %s: listen %q: %w", o.Name, o.Listen, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: %s\nmax_payload: %d\n", q(o.Name), q(o.Listen), 8<<20)
	if o.HTTP != "" {
		fmt.Fprintf(&b, "http: %s\n", q(o.HTTP))
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %s\n", q(o.StoreDir))
	if o.MaxFileStore > 0 {
		fmt.Fprintf(&b, "  max_file_store: %d\n", o.MaxFileStore)
	}
	b.WriteString("}\n")
	if o.Cluster != "" {
		if _, _, err := net.SplitHostPort(o.ClusterListen); err != nil {
			return "", fmt.Errorf("NATS server config %s: cluster listen %q: %w", o.Name, o.ClusterListen, err)
		}
		fmt.Fprintf(&b, "cluster {\n  name: %s\n  listen: %s\n  routes: [%s]\n}\n", q(o.Cluster), q(o.ClusterListen), qlist(o.Routes))
	}
	b.WriteString("authorization {\n  timeout: 5\n  users: [\n")
	for _, r := range Roles {
		pub := o.Credentials.Public[r]
		if pub == "" {
			return "", fmt.Errorf("NATS server config %s: no public key for role %s", o.Name, r)
		}
		fmt.Fprintf(&b, "    # role %s\n    { nkey: %s", r, q(pub))
		if p := Permissions(r); p != nil {
			b.WriteString(", permissions: {")
			var parts []string
			if s := subjectPerm(p.Publish); s != "" {
				parts = append(parts, " publish: "+s)
			}
			if s := subjectPerm(p.Subscribe); s != "" {
				parts = append(parts, " subscribe: "+s)
			}
			if p.Response != nil {
				rp := fmt.Sprintf(" allow_responses: { max: %d", p.Response.MaxMsgs)
				if p.Response.Expires != 0 {
					rp += ", expires: " + q(p.Response.Expires.String())
				}
				parts = append(parts, rp+" }")
			}
			b.WriteString(strings.Join(parts, ",") + " }")
		}
		b.WriteString(" }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func subjectPerm(p *server.SubjectPermission) string {
	if p == nil {
		return ""
	}
	var parts []string
	if len(p.Allow) > 0 {
		parts = append(parts, "allow: ["+qlist(p.Allow)+"]")
	}
	if len(p.Deny) > 0 {
		parts = append(parts, "deny: ["+qlist(p.Deny)+"]")
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// q quotes s for the nats-server config format (a double-quoted string
// with Go-compatible escapes: strconv.Quote's output is read back as is).
func q(s string) string { return strconv.Quote(s) }

func qlist(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return strings.Join(out, ", ")
}
