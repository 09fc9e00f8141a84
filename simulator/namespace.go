package simulator

import (
	"strings"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"
)

// NamespaceURI is the URI of the plant namespace (index 2 on the server).
const NamespaceURI = "urn:linewatch:simulator"

// nsNode is a node of the plant address space. Extra synthetic tags are not
// stored: their nodes are made on demand from the id.
type nsNode struct {
	id       string
	browse   string
	class    ua.NodeClass
	parent   *nsNode
	children []*nsNode
	refType  uint32 // reference from the parent
	typeDef  uint32
	desc     string
	tag      *tag // variable
	euOf     *tag // EngineeringUnits property of this tag
	extra    int  // 1-based synthetic tag index
	block    int  // 1-based synthetic block folder index
}

// plantNS serves the plant as an OPC UA namespace (server.NameSpace).
type plantNS struct {
	e     *engine
	ns    uint16
	nodes map[string]*nsNode
	roots []*nsNode
}

func newPlantNS(e *engine) *plantNS {
	p := &plantNS{e: e, nodes: map[string]*nsNode{}}
	add := func(n *nsNode) *nsNode {
		p.nodes[n.id] = n
		if n.parent == nil {
			p.roots = append(p.roots, n)
		} else {
			n.parent.children = append(n.parent.children, n)
		}
		return n
	}
	folder := func(idStr, browse string, parent *nsNode) *nsNode {
		return add(&nsNode{id: idStr, browse: browse, class: ua.NodeClassObject, parent: parent, refType: id.Organizes, typeDef: id.FolderType})
	}
	for _, t := range e.tags {
		line, ok := p.nodes[t.line]
		if !ok {
			line = folder(t.line, t.line, nil)
		}
		mid := t.line + "." + t.machine
		machine, ok := p.nodes[mid]
		if !ok {
			machine = folder(mid, t.machine, line)
		}
		v := add(&nsNode{id: t.id, browse: t.name, class: ua.NodeClassVariable, parent: machine, refType: id.HasComponent, typeDef: id.BaseDataVariableType, tag: t, desc: describe(t)})
		if t.unit != "" {
			add(&nsNode{id: t.id + ".EngineeringUnits", browse: "EngineeringUnits", class: ua.NodeClassVariable, parent: v, refType: id.HasProperty, typeDef: id.PropertyType, euOf: t, desc: "engineering units of " + t.name})
		}
	}
	if x := e.extra; x.n > 0 {
		root := folder("synthetic", "synthetic", nil)
		load := folder("synthetic.load", "load", root)
		for b := 1; (b-1)*extraBlock < x.n; b++ {
			n := folder(extraBlockID(b), strings.TrimPrefix(extraBlockID(b), "synthetic.load."), load)
			n.block = b
		}
	}
	return p
}

func describe(t *tag) string {
	if t.unit == "" {
		return t.desc
	}
	return t.desc + " [" + t.unit + "]"
}

// lookup returns the node for a string id, nil when unknown or removed.
// Callers hold the engine read lock.
func (p *plantNS) lookup(nid *ua.NodeID) *nsNode {
	if nid == nil || nid.Namespace() != p.ns || nid.Type() != ua.NodeIDTypeString {
		return nil
	}
	s := nid.StringID()
	if n, ok := p.nodes[s]; ok {
		if n.tag != nil && n.tag.fx != nil && n.tag.fx.removed {
			return nil
		}
		if n.euOf != nil && n.euOf.fx != nil && n.euOf.fx.removed {
			return nil
		}
		return n
	}
	if i := p.e.extra.parse(s); i > 0 {
		return p.extraNode(i)
	}
	return nil
}

func (p *plantNS) extraNode(i int) *nsNode {
	parent := p.nodes[extraBlockID((i-1)/extraBlock+1)]
	return &nsNode{id: extraTagID(i), browse: strings.TrimPrefix(extraTagID(i), "synthetic.load."), class: ua.NodeClassVariable,
		parent: parent, refType: id.HasComponent, typeDef: id.BaseDataVariableType, extra: i, desc: "synthetic load-test tag [1]"}
}

func (p *plantNS) nodeID(s string) *ua.NodeID { return ua.NewStringNodeID(p.ns, s) }

// ---- server.NameSpace ----

func (p *plantNS) Name() string { return NamespaceURI }

// AddNode is not supported: the plant's address space is fixed.
func (p *plantNS) AddNode(n *server.Node) *server.Node { return n }

func (p *plantNS) Node(nid *ua.NodeID) *server.Node {
	p.e.mu.RLock()
	defer p.e.mu.RUnlock()
	n := p.lookup(nid)
	if n == nil {
		return nil
	}
	return server.NewNode(p.nodeID(n.id), server.Attributes{
		ua.AttributeIDNodeClass:   server.DataValueFromValue(uint32(n.class)),
		ua.AttributeIDBrowseName:  server.DataValueFromValue(&ua.QualifiedName{NamespaceIndex: p.ns, Name: n.browse}),
		ua.AttributeIDDisplayName: server.DataValueFromValue(attrs.DisplayName(n.browse, "")),
		ua.AttributeIDDataType:    server.DataValueFromValue(ua.NewNumericExpandedNodeID(0, n.typeDef)),
	}, nil, nil)
}

func (p *plantNS) Objects() *server.Node { return nil }
func (p *plantNS) Root() *server.Node    { return nil }
func (p *plantNS) ID() uint16            { return p.ns }
func (p *plantNS) SetID(v uint16)        { p.ns = v }

// SetAttribute refuses writes: plant values come from the physics only.
func (p *plantNS) SetAttribute(*ua.NodeID, ua.AttributeID, *ua.DataValue) ua.StatusCode {
	return ua.StatusBadNotWritable
}

func statusValue(code ua.StatusCode, now time.Time) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueStatusCode | ua.DataValueServerTimestamp, Status: code, ServerTimestamp: now}
}

func plain(v any) *ua.DataValue {
	return &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}
}

func dataTypeOf(k valueKind) uint32 {
	switch k {
	case kindDouble:
		return id.Double
	case kindUInt32:
		return id.UInt32
	case kindBool:
		return id.Boolean
	default:
		return id.String
	}
}

func (p *plantNS) Attribute(nid *ua.NodeID, attr ua.AttributeID) *ua.DataValue {
	p.e.mu.RLock()
	defer p.e.mu.RUnlock()
	now := p.e.clock
	n := p.lookup(nid)
	if n == nil {
		return statusValue(ua.StatusBadNodeIDUnknown, now)
	}
	isVar := n.class == ua.NodeClassVariable
	switch attr {
	case ua.AttributeIDNodeID:
		return plain(p.nodeID(n.id))
	case ua.AttributeIDNodeClass:
		return plain(int32(n.class))
	case ua.AttributeIDBrowseName:
		return plain(&ua.QualifiedName{NamespaceIndex: p.ns, Name: n.browse})
	case ua.AttributeIDDisplayName:
		return plain(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: n.browse})
	case ua.AttributeIDDescription:
		return plain(&ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: n.desc})
	case ua.AttributeIDWriteMask, ua.AttributeIDUserWriteMask:
		return plain(uint32(0))
	case ua.AttributeIDEventNotifier:
		if !isVar {
			return plain(byte(0))
		}
	}
	if !isVar {
		return statusValue(ua.StatusBadAttributeIDInvalid, now)
	}
	switch attr {
	case ua.AttributeIDValue:
		return p.value(n, now)
	case ua.AttributeIDDataType:
		switch {
		case n.euOf != nil:
			return plain(ua.NewNumericNodeID(0, id.EUInformation))
		case n.extra > 0:
			return plain(ua.NewNumericNodeID(0, id.Double))
		default:
			return plain(ua.NewNumericNodeID(0, dataTypeOf(n.tag.kind)))
		}
	case ua.AttributeIDValueRank:
		return plain(int32(-1))
	case ua.AttributeIDAccessLevel, ua.AttributeIDUserAccessLevel:
		return plain(byte(ua.AccessLevelTypeCurrentRead))
	case ua.AttributeIDMinimumSamplingInterval:
		return plain(float64(1000))
	case ua.AttributeIDHistorizing:
		return plain(false)
	}
	return statusValue(ua.StatusBadAttributeIDInvalid, now)
}

// value builds the Value attribute. Timestamps are simulated time: the
// source timestamp is when the value last changed.
func (p *plantNS) value(n *nsNode, now time.Time) *ua.DataValue {
	const mask = ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp
	switch {
	case n.euOf != nil:
		eu := &ua.EUInformation{
			NamespaceURI: "http://www.opcfoundation.org/UA/units/un/cefact",
			UnitID:       -1,
			DisplayName:  &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: n.euOf.unit},
			Description:  &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: n.euOf.unit},
		}
		return &ua.DataValue{EncodingMask: mask, Value: ua.MustVariant(ua.NewExtensionObject(eu)), SourceTimestamp: p.e.start, ServerTimestamp: now}
	case n.extra > 0:
		tick := p.e.tickAt
		return &ua.DataValue{EncodingMask: mask, Value: ua.MustVariant(p.e.extra.value(n.extra, tick, p.e.start)), SourceTimestamp: tick, ServerTimestamp: now}
	}
	t := n.tag
	dv := &ua.DataValue{EncodingMask: mask, Value: t.variant(), SourceTimestamp: t.ts, ServerTimestamp: now}
	if t.fx != nil && t.fx.hostile != "" {
		dv.Value = hostileVariant(t.fx.hostile, t.fx.text, t.kind)
	}
	if t.fx != nil && t.fx.status != 0 {
		dv.Status = t.fx.status
		dv.EncodingMask |= ua.DataValueStatusCode
		if t.fx.status&0xC0000000 == 0x80000000 { // Bad: no usable value
			dv.EncodingMask &^= ua.DataValueValue
			dv.Value = nil
		}
	}
	return dv
}

// ---- Browse ----

// refSubtypes lists, for each reference type we serve, its supertypes.
var refSupertypes = map[uint32][]uint32{
	id.Organizes:         {id.HierarchicalReferences, id.References},
	id.HasComponent:      {id.Aggregates, id.HasChild, id.HierarchicalReferences, id.References},
	id.HasProperty:       {id.Aggregates, id.HasChild, id.HierarchicalReferences, id.References},
	id.HasTypeDefinition: {id.NonHierarchicalReferences, id.References},
}

func refMatches(bd *ua.BrowseDescription, ref uint32) bool {
	if bd.ReferenceTypeID == nil || (bd.ReferenceTypeID.Namespace() == 0 && bd.ReferenceTypeID.IntID() == 0) {
		return true
	}
	if bd.ReferenceTypeID.Namespace() != 0 {
		return false
	}
	want := bd.ReferenceTypeID.IntID()
	if want == ref {
		return true
	}
	if !bd.IncludeSubtypes {
		return false
	}
	for _, s := range refSupertypes[ref] {
		if s == want {
			return true
		}
	}
	return false
}

func (p *plantNS) refDesc(ref uint32, forward bool, n *nsNode) *ua.ReferenceDescription {
	return &ua.ReferenceDescription{
		ReferenceTypeID: ua.NewNumericNodeID(0, ref),
		IsForward:       forward,
		NodeID:          ua.NewExpandedNodeID(p.nodeID(n.id), "", 0),
		BrowseName:      &ua.QualifiedName{NamespaceIndex: p.ns, Name: n.browse},
		DisplayName:     &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: n.browse},
		NodeClass:       n.class,
		TypeDefinition:  ua.NewNumericExpandedNodeID(0, n.typeDef),
	}
}

func (p *plantNS) Browse(bd *ua.BrowseDescription) *ua.BrowseResult {
	p.e.mu.RLock()
	defer p.e.mu.RUnlock()
	n := p.lookup(bd.NodeID)
	if n == nil {
		return &ua.BrowseResult{StatusCode: ua.StatusBadNodeIDUnknown}
	}
	fwd := bd.BrowseDirection == ua.BrowseDirectionForward || bd.BrowseDirection == ua.BrowseDirectionBoth
	inv := bd.BrowseDirection == ua.BrowseDirectionInverse || bd.BrowseDirection == ua.BrowseDirectionBoth
	var refs []*ua.ReferenceDescription
	keep := func(r *ua.ReferenceDescription, refType uint32) {
		if !refMatches(bd, refType) {
			return
		}
		if bd.NodeClassMask != 0 && bd.NodeClassMask&uint32(r.NodeClass) == 0 {
			return
		}
		refs = append(refs, r)
	}
	if fwd {
		keep(&ua.ReferenceDescription{
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HasTypeDefinition), IsForward: true,
			NodeID:      ua.NewNumericExpandedNodeID(0, n.typeDef),
			BrowseName:  &ua.QualifiedName{Name: typeName(n.typeDef)},
			DisplayName: &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: typeName(n.typeDef)},
			NodeClass:   typeClass(n.typeDef), TypeDefinition: ua.NewTwoByteExpandedNodeID(0),
		}, id.HasTypeDefinition)
		for _, c := range p.children(n) {
			keep(p.refDesc(c.refType, true, c), c.refType)
		}
	}
	if inv {
		if n.parent != nil {
			keep(p.refDesc(n.refType, false, n.parent), n.refType)
		} else {
			keep(&ua.ReferenceDescription{
				ReferenceTypeID: ua.NewNumericNodeID(0, id.Organizes), IsForward: false,
				NodeID:      ua.NewNumericExpandedNodeID(0, id.ObjectsFolder),
				BrowseName:  &ua.QualifiedName{Name: "Objects"},
				DisplayName: &ua.LocalizedText{EncodingMask: ua.LocalizedTextText, Text: "Objects"},
				NodeClass:   ua.NodeClassObject, TypeDefinition: ua.NewNumericExpandedNodeID(0, id.FolderType),
			}, id.Organizes)
		}
	}
	return &ua.BrowseResult{StatusCode: ua.StatusGood, References: refs}
}

// children lists a node's live children (removed tags are hidden).
func (p *plantNS) children(n *nsNode) []*nsNode {
	if n.block > 0 {
		var out []*nsNode
		for i := (n.block-1)*extraBlock + 1; i <= min(n.block*extraBlock, p.e.extra.n); i++ {
			out = append(out, p.extraNode(i))
		}
		return out
	}
	out := make([]*nsNode, 0, len(n.children))
	for _, c := range n.children {
		if c.tag != nil && c.tag.fx != nil && c.tag.fx.removed {
			continue
		}
		out = append(out, c)
	}
	return out
}

func typeName(t uint32) string {
	switch t {
	case id.FolderType:
		return "FolderType"
	case id.PropertyType:
		return "PropertyType"
	default:
		return "BaseDataVariableType"
	}
}

func typeClass(t uint32) ua.NodeClass {
	if t == id.FolderType {
		return ua.NodeClassObjectType
	}
	return ua.NodeClassVariableType
}
