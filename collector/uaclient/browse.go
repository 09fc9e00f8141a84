package uaclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// Node ids of namespace 0 used by Browse.
const (
	idObjectsFolder          = 85
	idHierarchicalReferences = 33
	idHasProperty            = 46
	idServerObject           = 2253
)

// BrowsedNode is one variable found by Browse.
type BrowsedNode struct {
	NodeID   string
	Path     string // browse names from Objects, "/"-separated
	Name     string // browse name
	DataType string
	Access   string // r, w, rw or -
	Value    string
	Unit     string // EngineeringUnits display name, if the server has it
	Status   ua.StatusCode
}

// BrowseOptions bound the walk.
type BrowseOptions struct {
	MaxDepth int  // default 10
	MaxNodes int  // default 10000 variables
	All      bool // include the Server object (namespace 0 diagnostics)
}

// Browse walks the address space from Objects along hierarchical
// references and returns the variables with their data type, access level,
// current value and engineering unit.
func Browse(ctx context.Context, cl *opcua.Client, o BrowseOptions) ([]BrowsedNode, error) {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 10
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = 10000
	}
	var out []BrowsedNode
	seen := map[string]bool{}
	var walk func(id *ua.NodeID, path string, depth int) error
	walk = func(id *ua.NodeID, path string, depth int) error {
		if depth > o.MaxDepth || len(out) >= o.MaxNodes {
			return nil
		}
		refs, err := cl.Node(id).References(ctx, idHierarchicalReferences, ua.BrowseDirectionForward,
			ua.NodeClassObject|ua.NodeClassVariable, true)
		if err != nil {
			return fmt.Errorf("browse %s: %w", id, err)
		}
		for _, r := range refs {
			nid := ua.NewNodeIDFromExpandedNodeID(r.NodeID)
			key := nid.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			if !o.All && nid.Namespace() == 0 && nid.IntID() == idServerObject {
				continue
			}
			name := ""
			if r.BrowseName != nil {
				name = r.BrowseName.Name
			}
			p := name
			if path != "" {
				p = path + "/" + name
			}
			if r.NodeClass == ua.NodeClassVariable && r.ReferenceTypeID != nil && r.ReferenceTypeID.IntID() != idHasProperty {
				out = append(out, BrowsedNode{NodeID: key, Path: p, Name: name})
				if len(out) >= o.MaxNodes {
					return nil
				}
			}
			if err := walk(nid, p, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(ua.NewNumericNodeID(0, idObjectsFolder), "", 0); err != nil {
		return out, err
	}
	chunk := 100 // nodes per Read, three attributes each
	if lim, err := ReadLimits(ctx, cl); err == nil && lim.MaxNodesPerRead > 0 {
		chunk = max(1, min(chunk, lim.MaxNodesPerRead/3))
	}
	return out, describe(ctx, cl, out, chunk)
}

func describe(ctx context.Context, cl *opcua.Client, nodes []BrowsedNode, chunk int) error {
	for start := 0; start < len(nodes); start += chunk {
		part := nodes[start:min(start+chunk, len(nodes))]
		var ids []*ua.ReadValueID
		for _, n := range part {
			id, err := ua.ParseNodeID(n.NodeID)
			if err != nil {
				return err
			}
			ids = append(ids,
				&ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDDataType},
				&ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDAccessLevel},
				&ua.ReadValueID{NodeID: id, AttributeID: ua.AttributeIDValue})
		}
		res, err := cl.Read(ctx, &ua.ReadRequest{NodesToRead: ids, TimestampsToReturn: ua.TimestampsToReturnNeither})
		if err != nil {
			return fmt.Errorf("read attributes: %w", err)
		}
		for i := range part {
			if 3*i+2 >= len(res.Results) {
				break
			}
			dt, al, v := res.Results[3*i], res.Results[3*i+1], res.Results[3*i+2]
			if dt.Status == ua.StatusOK && dt.Value != nil {
				if nid, ok := dt.Value.Value().(*ua.NodeID); ok {
					part[i].DataType = dataTypeName(nid)
				}
			}
			part[i].Access = "-"
			if al.Status == ua.StatusOK && al.Value != nil {
				if b, ok := al.Value.Value().(byte); ok {
					part[i].Access = accessString(ua.AccessLevelType(b))
				}
			}
			part[i].Status = v.Status
			if v.Status == ua.StatusOK && v.Value != nil {
				part[i].Value = fmt.Sprint(v.Value.Value())
			} else {
				part[i].Value = v.Status.Error()
			}
			part[i].Unit = engineeringUnit(ctx, cl, part[i].NodeID)
		}
	}
	return nil
}

func engineeringUnit(ctx context.Context, cl *opcua.Client, nodeID string) string {
	id, err := ua.ParseNodeID(nodeID)
	if err != nil {
		return ""
	}
	refs, err := cl.Node(id).References(ctx, idHasProperty, ua.BrowseDirectionForward, ua.NodeClassVariable, true)
	if err != nil {
		return ""
	}
	for _, r := range refs {
		if r.BrowseName == nil || r.BrowseName.Name != "EngineeringUnits" {
			continue
		}
		v, err := cl.Node(ua.NewNodeIDFromExpandedNodeID(r.NodeID)).Value(ctx)
		if err != nil || v == nil {
			return ""
		}
		if eo, ok := v.Value().(*ua.ExtensionObject); ok {
			if eu, ok := eo.Value.(*ua.EUInformation); ok && eu.DisplayName != nil {
				return eu.DisplayName.Text
			}
		}
	}
	return ""
}

var builtinTypes = map[uint32]string{
	1: "Boolean", 2: "SByte", 3: "Byte", 4: "Int16", 5: "UInt16", 6: "Int32", 7: "UInt32",
	8: "Int64", 9: "UInt64", 10: "Float", 11: "Double", 12: "String", 13: "DateTime",
	14: "Guid", 15: "ByteString", 21: "LocalizedText", 26: "Number", 27: "Integer", 28: "UInteger",
}

func dataTypeName(id *ua.NodeID) string {
	if id.Namespace() == 0 {
		if n, ok := builtinTypes[id.IntID()]; ok {
			return n
		}
	}
	return id.String()
}

func accessString(a ua.AccessLevelType) string {
	var b strings.Builder
	if a&ua.AccessLevelTypeCurrentRead != 0 {
		b.WriteByte('r')
	}
	if a&ua.AccessLevelTypeCurrentWrite != 0 {
		b.WriteByte('w')
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
