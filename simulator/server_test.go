package simulator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"
)

// defaultIDs are the node ids other packages configure against.
var defaultIDs = map[string]valueKind{
	"filling1.filler.fill_weight":           kindDouble,
	"filling1.filler.fill_speed":            kindDouble,
	"filling1.filler.stopper_rejects":       kindUInt32,
	"filling1.filler.state":                 kindString,
	"filling1.filler.batch_id":              kindString,
	"filling1.filler.product_code":          kindString,
	"filling1.checkweigher.good_count":      kindUInt32,
	"filling1.checkweigher.reject_count":    kindUInt32,
	"coldroom1.coldroom.temp_probe1":        kindDouble,
	"coldroom1.coldroom.temp_probe2":        kindDouble,
	"coldroom1.coldroom.humidity":           kindDouble,
	"coldroom1.coldroom.door_open":          kindBool,
	"coldroom1.coldroom.compressor_running": kindBool,
	"tableting1.press.tablet_weight":        kindDouble,
	"tableting1.press.hardness":             kindDouble,
	"tableting1.press.thickness":            kindDouble,
	"tableting1.press.compression_force":    kindDouble,
	"tableting1.press.turret_speed":         kindDouble,
	"tableting1.press.reject_count":         kindUInt32,
	"tableting1.press.batch_id":             kindString,
	"tableting1.press.state":                kindString,
	"lyo1.freezedryer.shelf_temp":           kindDouble,
	"lyo1.freezedryer.chamber_pressure":     kindDouble,
	"lyo1.freezedryer.condenser_temp":       kindDouble,
	"lyo1.freezedryer.phase":                kindString,
	"lyo1.freezedryer.batch_id":             kindString,
}

func browseNames(t *testing.T, c *opcua.Client, n *ua.NodeID) map[string]*ua.ReferenceDescription {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Browse(ctx, &ua.BrowseRequest{NodesToBrowse: []*ua.BrowseDescription{{
		NodeID: n, BrowseDirection: ua.BrowseDirectionForward,
		ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences), IncludeSubtypes: true,
		ResultMask: uint32(ua.BrowseResultMaskAll),
	}}})
	if err != nil {
		t.Fatalf("browse %s: %v", n, err)
	}
	if sc := resp.Results[0].StatusCode; sc != ua.StatusOK {
		t.Fatalf("browse %s: %v", n, sc)
	}
	out := map[string]*ua.ReferenceDescription{}
	for _, r := range resp.Results[0].References {
		out[r.BrowseName.Name] = r
	}
	return out
}

func TestBrowseReadSubscribeNone(t *testing.T) {
	s := startSim(t, Options{})
	c := mustDial(t, s)

	// Browse from the standard Objects folder down to a tag.
	objs := browseNames(t, c, ua.NewNumericNodeID(0, id.ObjectsFolder))
	for _, line := range []string{"filling1", "coldroom1", "tableting1", "lyo1"} {
		r, ok := objs[line]
		if !ok {
			t.Fatalf("Objects has no %s: %v", line, slices.Collect(mapKeys(objs)))
		}
		if r.NodeID.NodeID.String() != "ns=2;s="+line {
			t.Errorf("line %s node id %s", line, r.NodeID.NodeID)
		}
	}
	machines := browseNames(t, c, nid("filling1"))
	if _, ok := machines["filler"]; !ok {
		t.Fatalf("filling1 children: %v", slices.Collect(mapKeys(machines)))
	}
	tags := browseNames(t, c, nid("filling1.filler"))
	for _, want := range []string{"fill_weight", "fill_speed", "stopper_rejects", "state", "batch_id", "product_code"} {
		r, ok := tags[want]
		if !ok || r.NodeClass != ua.NodeClassVariable {
			t.Errorf("filler has no variable %s", want)
		}
	}
	props := browseNames(t, c, nid("filling1.filler.fill_weight"))
	if _, ok := props["EngineeringUnits"]; !ok {
		t.Errorf("fill_weight has no EngineeringUnits property")
	}
	eu := readOne(t, c, "filling1.filler.fill_weight.EngineeringUnits")
	if info, ok := eu.Value.Value().(*ua.ExtensionObject); !ok || info.Value.(*ua.EUInformation).DisplayName.Text != "g" {
		t.Errorf("EngineeringUnits = %#v, want EUInformation g", eu.Value.Value())
	}

	// Every default id reads with the documented type.
	var ids []string
	for k := range defaultIDs {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	res, err := readValues(t, c, ids...)
	if err != nil {
		t.Fatal(err)
	}
	for i, dv := range res {
		if dv.Status != ua.StatusOK {
			t.Errorf("%s: status %v", ids[i], dv.Status)
			continue
		}
		var ok bool
		switch defaultIDs[ids[i]] {
		case kindDouble:
			_, ok = dv.Value.Value().(float64)
		case kindUInt32:
			_, ok = dv.Value.Value().(uint32)
		case kindBool:
			_, ok = dv.Value.Value().(bool)
		case kindString:
			_, ok = dv.Value.Value().(string)
		}
		if !ok {
			t.Errorf("%s: value %T, want %s", ids[i], dv.Value.Value(), defaultIDs[ids[i]])
		}
		if !dv.SourceTimestamp.Equal(DefaultStart) {
			t.Errorf("%s: source timestamp %v, want simulated start %v", ids[i], dv.SourceTimestamp, DefaultStart)
		}
	}
	if b := readOne(t, c, "filling1.filler.batch_id").Value.Value(); b != "F1-20260105-001" {
		t.Errorf("batch id %v, want F1-20260105-001", b)
	}
	if w := readFloat(t, c, "filling1.filler.fill_weight"); w < 1.95 || w > 2.05 {
		t.Errorf("fill weight %v g, want about 2.000", w)
	}

	// Subscribe, then move the clock: the notification carries simulated time.
	notes := make(chan *opcua.PublishNotificationData, 16)
	sub, err := c.Subscribe(t.Context(), &opcua.SubscriptionParameters{Interval: 20 * time.Millisecond}, notes)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel(context.Background())
	if _, err := sub.Monitor(t.Context(), ua.TimestampsToReturnBoth,
		opcua.NewMonitoredItemCreateRequestWithDefaults(nid("coldroom1.coldroom.temp_probe1"), ua.AttributeIDValue, 7)); err != nil {
		t.Fatal(err)
	}
	first := waitNote(t, notes, 7)
	if !first.SourceTimestamp.Equal(DefaultStart) {
		t.Errorf("initial notification at %v, want %v", first.SourceTimestamp, DefaultStart)
	}
	s.Advance(10 * time.Second)
	for {
		dv := waitNote(t, notes, 7)
		if dv.SourceTimestamp.Equal(DefaultStart.Add(10 * time.Second)) {
			break
		}
		if dv.SourceTimestamp.After(DefaultStart.Add(10 * time.Second)) {
			t.Fatalf("notification from the future: %v", dv.SourceTimestamp)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func waitNote(t *testing.T, ch <-chan *opcua.PublishNotificationData, handle uint32) *ua.DataValue {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n := <-ch:
			if n.Error != nil {
				t.Fatalf("subscription error: %v", n.Error)
			}
			if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
				for _, it := range dc.MonitoredItems {
					if it.ClientHandle == handle {
						return it.Value
					}
				}
			}
		case <-timeout:
			t.Fatalf("no notification for handle %d", handle)
		}
	}
}

func TestSecurityAndCredentials(t *testing.T) {
	s := startSim(t, Options{PKIDir: t.TempDir(), Users: map[string]string{"operator": "s3cret-Pass"}})

	c, err := dial(t, s, "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"operator", "s3cret-Pass"})
	if err != nil {
		t.Fatalf("SignAndEncrypt with good password: %v", err)
	}
	if w := readFloat(t, c, "tableting1.press.tablet_weight"); w < 240 || w > 260 {
		t.Errorf("tablet weight %v mg", w)
	}
	c2, err := dial(t, s, "Basic256Sha256", ua.MessageSecurityModeSign, auth{"operator", "s3cret-Pass"})
	if err != nil {
		t.Fatalf("Sign with good password: %v", err)
	}
	readFloat(t, c2, "coldroom1.coldroom.temp_probe1")

	for _, tc := range []struct {
		name   string
		policy string
		mode   ua.MessageSecurityMode
		a      auth
		want   ua.StatusCode
	}{
		{"wrong password", "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"operator", "guess"}, ua.StatusBadUserAccessDenied},
		{"unknown user", "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"root", "s3cret-Pass"}, ua.StatusBadUserAccessDenied},
		{"wrong password on None channel", "None", ua.MessageSecurityModeNone, auth{"operator", "nope"}, ua.StatusBadUserAccessDenied},
		{"anonymous not configured", "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{}, ua.StatusBadIdentityTokenRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, s, tc.policy, tc.mode, tc.a)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMaxNodesPerRead(t *testing.T) {
	s := startSim(t, Options{MaxNodesPerRead: 4})
	c := mustDial(t, s)
	lim := readOneNode(t, c, ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead))
	if lim.Value.Value() != uint32(4) {
		t.Errorf("advertised MaxNodesPerRead %v, want 4", lim.Value.Value())
	}
	ids := []string{"filling1.filler.fill_weight", "filling1.filler.fill_speed", "filling1.filler.state", "filling1.filler.batch_id"}
	if _, err := readValues(t, c, ids...); err != nil {
		t.Fatalf("read of 4: %v", err)
	}
	_, err := readValues(t, c, append(ids, "filling1.filler.product_code")...)
	if !errors.Is(err, ua.StatusBadTooManyOperations) {
		t.Fatalf("read of 5: err = %v, want BadTooManyOperations", err)
	}
}

func readOneNode(t *testing.T, c *opcua.Client, n *ua.NodeID) *ua.DataValue {
	t.Helper()
	resp, err := c.Read(t.Context(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: n, AttributeID: ua.AttributeIDValue}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Results[0]
}

func TestPersistentCertificate(t *testing.T) {
	dir := t.TempDir()
	a := startSim(t, Options{PKIDir: dir})
	certA := a.ServerCertificate()
	_ = a.Close()
	b := startSim(t, Options{PKIDir: dir})
	if !slices.Equal(certA, b.ServerCertificate()) {
		t.Fatal("second start created a new certificate; want the persisted one")
	}
	eps, err := opcua.GetEndpoints(t.Context(), b.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, ep := range eps {
		if !slices.Equal(ep.ServerCertificate, certA) {
			t.Errorf("endpoint %s advertises another certificate", ep.SecurityPolicyURI)
		}
		modes = append(modes, strings.TrimPrefix(ep.SecurityPolicyURI, "http://opcfoundation.org/UA/SecurityPolicy#")+"/"+ep.SecurityMode.String())
	}
	slices.Sort(modes)
	want := []string{"Basic256Sha256/MessageSecurityModeSign", "Basic256Sha256/MessageSecurityModeSignAndEncrypt", "None/MessageSecurityModeNone"}
	if !slices.Equal(modes, want) {
		t.Errorf("endpoints %v, want %v", modes, want)
	}
	if !regexp.MustCompile(`^opc\.tcp://127\.0\.0\.1:\d+$`).MatchString(b.Endpoint()) {
		t.Errorf("endpoint %q", b.Endpoint())
	}
}

// Basic256Sha256 SignAndEncrypt with a user: browse, read and subscribe.
func TestSecureBrowseReadSubscribe(t *testing.T) {
	s := startSim(t, Options{PKIDir: t.TempDir(), Users: map[string]string{"qa": "Batch-Rel3ase"}, Logger: debugLogger(t)})
	c, err := dial(t, s, "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"qa", "Batch-Rel3ase"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := browseNames(t, c, nid("coldroom1.coldroom"))["temp_probe1"]; !ok {
		t.Fatal("browse over SignAndEncrypt misses temp_probe1")
	}
	notes := make(chan *opcua.PublishNotificationData, 16)
	sub, err := c.Subscribe(t.Context(), &opcua.SubscriptionParameters{Interval: 20 * time.Millisecond}, notes)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel(context.Background())
	if _, err := sub.Monitor(t.Context(), ua.TimestampsToReturnBoth,
		opcua.NewMonitoredItemCreateRequestWithDefaults(nid("filling1.filler.batch_id"), ua.AttributeIDValue, 1)); err != nil {
		t.Fatal(err)
	}
	if v := waitNote(t, notes, 1).Value.Value(); v != "F1-20260105-001" {
		t.Fatalf("batch id %v", v)
	}
	s.Advance(8 * time.Hour) // next batch boundary
	for {
		if v := waitNote(t, notes, 1).Value.Value(); v == "F1-20260105-002" {
			break
		}
	}
}

// Services on a session that was never activated are refused, not served.
func TestGateRefusesUnactivatedSessions(t *testing.T) {
	s := startSim(t, Options{})
	o := s.server()
	called := false
	h := o.gate(func(*uasc.SecureChannel, ua.Request, uint32) (ua.Response, error) { called = true; return nil, nil })
	req := &ua.ReadRequest{RequestHeader: &ua.RequestHeader{AuthenticationToken: ua.NewNumericNodeID(0, 12345)}}
	if _, err := h(nil, req, 1); !errors.Is(err, ua.StatusBadSessionNotActivated) || called {
		t.Fatalf("err %v called %v, want BadSessionNotActivated", err, called)
	}
}

func TestExtraTags(t *testing.T) {
	s := startSim(t, Options{ExtraTags: MaxExtraTags, MaxNodesPerRead: 1000})
	c := mustDial(t, s)
	blocks := browseNames(t, c, nid("synthetic.load"))
	if len(blocks) != 50 {
		t.Fatalf("%d blocks, want 50", len(blocks))
	}
	tags := browseNames(t, c, nid("synthetic.load.block50"))
	if len(tags) != 1000 {
		t.Fatalf("%d tags in the last block, want 1000", len(tags))
	}
	if r, ok := tags["tag50000"]; !ok || r.NodeID.NodeID.StringID() != "synthetic.load.tag50000" {
		t.Fatalf("tag50000 missing")
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = extraTagID(i*50 + 1)
	}
	res, err := readValues(t, c, ids...)
	if err != nil {
		t.Fatal(err)
	}
	for i, dv := range res {
		if v, ok := dv.Value.Value().(float64); dv.Status != ua.StatusOK || !ok || v < 30 || v > 70 {
			t.Fatalf("%s = %v (%v)", ids[i], dv.Value.Value(), dv.Status)
		}
	}
	if dv := readOne(t, c, "synthetic.load.tag50001"); dv.Status != ua.StatusBadNodeIDUnknown {
		t.Errorf("tag50001: %v, want BadNodeIdUnknown", dv.Status)
	}
}

// BenchmarkRead50kExtraTags reads all 50 000 synthetic tags in chunks of
// 1000 over a None channel.
func BenchmarkRead50kExtraTags(b *testing.B) {
	s, err := Start(b.Context(), Options{ExtraTags: MaxExtraTags, MaxNodesPerRead: 1000, AllowAnonymous: true, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := opcua.NewClient(s.Endpoint(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Connect(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	reqs := make([]*ua.ReadRequest, 50)
	for k := range reqs {
		reqs[k] = &ua.ReadRequest{}
		for i := range 1000 {
			reqs[k].NodesToRead = append(reqs[k].NodesToRead, &ua.ReadValueID{NodeID: nid(extraTagID(k*1000 + i + 1)), AttributeID: ua.AttributeIDValue})
		}
	}
	for b.Loop() {
		for _, r := range reqs {
			if _, err := c.Read(b.Context(), r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestClientTrustList(t *testing.T) {
	dir := t.TempDir()
	other := testClientCert.der
	// Trust some other certificate only: the test client must be refused.
	s := startSim(t, Options{PKIDir: dir, TrustedClientCerts: [][]byte{otherCert(t)}, Users: map[string]string{"op": "pw-123456"}})
	_, err := dial(t, s, "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"op", "pw-123456"})
	if !errors.Is(err, ua.StatusBadCertificateUntrusted) {
		t.Fatalf("untrusted client: err = %v, want BadCertificateUntrusted", err)
	}
	_ = s.Close()

	// Put the client certificate into PKIDir/trusted: now it connects.
	if err := os.MkdirAll(filepath.Join(dir, "trusted"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted", "client.der"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := startSim(t, Options{PKIDir: dir, TrustedClientCerts: [][]byte{otherCert(t)}, Users: map[string]string{"op": "pw-123456"}})
	c, err := dial(t, s2, "Basic256Sha256", ua.MessageSecurityModeSignAndEncrypt, auth{"op", "pw-123456"})
	if err != nil {
		t.Fatalf("trusted client: %v", err)
	}
	readFloat(t, c, "filling1.filler.fill_weight")
}

func otherCert(t *testing.T) []byte {
	t.Helper()
	der, _, err := newServerCert()
	if err != nil {
		t.Fatal(err)
	}
	return der
}
