package simulator

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// Hostile values: what a PLC may legally send and a collector must carry
// whole (docs/simulator.md, fault kind hostile). Each replaces the tag's
// value at read time, with a Good status unless a status fault says
// otherwise; the process behind the tag goes on.
const (
	HostileNaN          = "nan"
	HostilePosInf       = "+inf"
	HostileNegInf       = "-inf"
	HostileSubnormal    = "subnormal"     // 4.9e-324, the smallest positive double
	HostileHugeString   = "huge_string"   // 1 MiB of text
	HostileControlChars = "control_chars" // C0 controls, DEL, quote, backslash, trailing backslash
	HostileGS1          = "gs1"           // a GS1 lot code with the group separator 0x1D
	HostileInvalidUTF8  = "invalid_utf8"  // bytes that are not UTF-8
	HostileArray        = "array"         // a Double array with NaN inside
	HostileNull         = "null"          // a null Variant
	HostileWrongType    = "wrong_type"    // a String on a numeric tag, a Double on a string tag
	HostileText         = "text"          // the fault's text, as a String
)

var hostileKinds = []string{HostileNaN, HostilePosInf, HostileNegInf, HostileSubnormal, HostileHugeString,
	HostileControlChars, HostileGS1, HostileInvalidUTF8, HostileArray, HostileNull, HostileWrongType, HostileText}

// Texts produced by the hostile string kinds (exported so tests can compare).
var (
	HostileControlText = "LOT\x00\x01\x1d\x1f\x7f\t\r\n\"'=, \\x\\"
	HostileGS1Text     = "(01)09506000134352(17)261231(10)LOT42\x1d(21)SN7"
	HostileUTF8Text    = "B\xff\xfe-\xc3\x28-\xed\xa0\x80-1"
	HugeStringBytes    = 1 << 20
)

func validHostile(kind, text string) error {
	if !slices.Contains(hostileKinds, kind) {
		return fmt.Errorf("unknown hostile value %q: use one of %s", kind, strings.Join(hostileKinds, ", "))
	}
	if kind == HostileText && text == "" {
		return fmt.Errorf("hostile value text needs a non-empty text")
	}
	return nil
}

// hostileVariant is the value a tag of kind k reads while a hostile fault
// of the given kind is active.
func hostileVariant(kind, text string, k valueKind) *ua.Variant {
	switch kind {
	case HostileNaN:
		return ua.MustVariant(math.NaN())
	case HostilePosInf:
		return ua.MustVariant(math.Inf(1))
	case HostileNegInf:
		return ua.MustVariant(math.Inf(-1))
	case HostileSubnormal:
		return ua.MustVariant(math.SmallestNonzeroFloat64)
	case HostileHugeString:
		return ua.MustVariant(strings.Repeat("0123456789abcdef", HugeStringBytes/16))
	case HostileControlChars:
		return ua.MustVariant(HostileControlText)
	case HostileGS1:
		return ua.MustVariant(HostileGS1Text)
	case HostileInvalidUTF8:
		return ua.MustVariant(HostileUTF8Text)
	case HostileArray:
		return ua.MustVariant([]float64{1.5, math.NaN(), math.Inf(1)})
	case HostileNull:
		return &ua.Variant{}
	case HostileWrongType:
		if k == kindString {
			return ua.MustVariant(42.5)
		}
		return ua.MustVariant("12.5 °C")
	default: // HostileText
		return ua.MustVariant(text)
	}
}
