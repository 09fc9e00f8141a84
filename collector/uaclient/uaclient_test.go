package uaclient

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"gopkg.in/yaml.v3"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/simulator"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSelectEndpointExplainsMismatch(t *testing.T) {
	eps := []*ua.EndpointDescription{{
		SecurityPolicyURI: ua.SecurityPolicyURINone, SecurityMode: ua.MessageSecurityModeNone,
		UserIdentityTokens: []*ua.UserTokenPolicy{{TokenType: ua.UserTokenTypeAnonymous}},
	}}
	_, err := SelectEndpoint(eps, "opc.tcp://x:4840", "Basic256Sha256", "SignAndEncrypt", "anonymous")
	if err == nil || !strings.Contains(err.Error(), "it offers None/None") {
		t.Fatalf("err = %v", err)
	}
	_, err = SelectEndpoint(eps, "opc.tcp://x:4840", "None", "None", "username")
	if err == nil || !strings.Contains(err.Error(), "does not accept") {
		t.Fatalf("err = %v", err)
	}
	if ep, err := SelectEndpoint(eps, "opc.tcp://x:4840", "None", "None", "anonymous"); err != nil || ep != eps[0] {
		t.Fatalf("got %v, %v", ep, err)
	}
}

func TestTagName(t *testing.T) {
	for in, want := range map[string]string{
		"FillWeight": "fillweight", "Fill Weight (g)": "fill_weight_g", "fill_weight": "fill_weight",
		"--x": "tag--x", "": "tag", "Température": "temp_rature",
	} {
		if got := TagName(in); got != want {
			t.Errorf("TagName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBrowseToTagYAML browses the simulator and turns a selection into
// config tags with their engineering units.
func TestBrowseToTagYAML(t *testing.T) {
	ctx, cl, lim := dialSimulator(t, simulator.Options{})
	if lim.MaxNodesPerRead != 32 {
		t.Errorf("MaxNodesPerRead = %d, want the simulator's 32", lim.MaxNodesPerRead)
	}
	nodes, err := Browse(ctx, cl, BrowseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fw *BrowsedNode
	for i := range nodes {
		if nodes[i].NodeID == "ns=2;s=filling1.filler.fill_weight" {
			fw = &nodes[i]
		}
	}
	if fw == nil {
		t.Fatalf("fill_weight not found among %d nodes", len(nodes))
	}
	if fw.DataType != "Double" || !strings.Contains(fw.Access, "r") || fw.Value == "" || !strings.HasSuffix(fw.Path, "fill_weight") {
		t.Errorf("fill_weight = %+v", *fw)
	}
	sel, err := SelectNodes(nodes, []string{"ns=2;s=filling1.filler.*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) < 6 {
		t.Fatalf("selected %d filler nodes, want ≥ 6", len(sel))
	}
	b, err := TagYAML(sel)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Tags []map[string]string `yaml:"tags"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tg := range raw.Tags {
		if tg["node_id"] == "ns=2;s=filling1.filler.fill_weight" {
			found = true
			if tg["name"] != "fill_weight" {
				t.Errorf("tag %v", tg)
			}
			if fw.Unit != "" && tg["unit"] != fw.Unit {
				t.Errorf("unit %q, want %q", tg["unit"], fw.Unit)
			}
		}
	}
	if !found {
		t.Fatalf("YAML lacks fill_weight:\n%s", b)
	}
	t.Logf("fill_weight: %+v", *fw)
}

// FuzzTagName checks that any browse name becomes a valid config id
// (config's rule: ^[a-z0-9][a-z0-9_-]{0,62}$).
func FuzzTagName(f *testing.F) {
	for _, s := range []string{"FillWeight", "Température", "--x", "", "a b c", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got := TagName(s); !valid.MatchString(got) {
			t.Fatalf("TagName(%q) = %q, not a valid config id", s, got)
		}
	})
}

// dialSimulator starts a simulator (anonymous access allowed) and an
// insecure session to it, both closed when the test ends; ctx bounds the test.
func dialSimulator(t *testing.T, o simulator.Options) (context.Context, *opcua.Client, Limits) {
	t.Helper()
	o.AllowAnonymous = true
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := simulator.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	store := pki.Open(t.TempDir())
	cert, key, err := store.OwnCertificate("urn:linewatch:collector:test")
	if err != nil {
		t.Fatal(err)
	}
	cl, lim, err := Dial(ctx, Config{Endpoint: sim.Endpoint(), Policy: "None", Mode: "None", Certificate: cert, PrivateKey: key,
		AppURI: "urn:linewatch:collector:test", PKI: store, TrustDir: store.TrustedDir(), Auth: Auth{Type: "anonymous"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(context.Background()) })
	return ctx, cl, lim
}

// syntheticReadIDs reads the simulator's first n extra tags.
func syntheticReadIDs(n int) []*ua.ReadValueID {
	ids := make([]*ua.ReadValueID, 0, n)
	for i := 1; i <= n; i++ {
		ids = append(ids, NewReadValueID(ua.NewStringNodeID(2, fmt.Sprintf("synthetic.load.tag%05d", i))))
	}
	return ids
}
