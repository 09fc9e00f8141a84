package config

import (
	"fmt"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// CheckNodeID accepts the standard string forms of an OPC UA node id
// (Part 6, 5.3.1.10): ns=<idx>;{i,s,g,b}=<id>, an id without ns= (namespace 0),
// and nsu=<uri>;… whose namespace index is resolved at connect time.
func CheckNodeID(s string) error {
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("node id has leading or trailing spaces")
	}
	const forms = "expected ns=<index>;s=<name>, ns=<index>;i=<number>, ns=<index>;g=<guid>, ns=<index>;b=<base64> or nsu=<uri>;s=<name>"
	id := s
	if strings.HasPrefix(s, "ns=") || strings.HasPrefix(s, "nsu=") {
		_, rest, ok := strings.Cut(s, ";")
		if !ok {
			return fmt.Errorf("invalid node id: no identifier after the namespace; %s", forms)
		}
		id = rest
	}
	if len(id) < 3 || id[1] != '=' || !strings.ContainsRune("isgb", rune(id[0])) {
		return fmt.Errorf("invalid node id: identifier must start with i=, s=, g= or b=; %s", forms)
	}
	probe := s
	if rest, ok := strings.CutPrefix(s, "nsu="); ok {
		uri, id, found := strings.Cut(rest, ";")
		if !found || uri == "" {
			return fmt.Errorf("invalid node id: nsu=<namespace URI>;<identifier> expected, e.g. nsu=urn:plant;s=Temp")
		}
		probe = "ns=1;" + id
	}
	if _, err := ua.ParseNodeID(probe); err != nil {
		return fmt.Errorf("invalid node id (%v); %s", err, forms)
	}
	return nil
}
