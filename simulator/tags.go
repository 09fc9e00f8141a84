package simulator

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gopcua/opcua/ua"
)

type valueKind int

const (
	kindDouble valueKind = iota
	kindUInt32
	kindBool
	kindString
)

func (k valueKind) String() string {
	return [...]string{"Double", "UInt32", "Boolean", "String"}[k]
}

// tag is one simulated variable: its identity, its current output value and
// the process noise that feeds it.
type tag struct {
	id      string // line.machine.name
	line    string
	machine string
	name    string
	kind    valueKind
	unit    string
	desc    string

	f  float64
	u  uint32
	b  bool
	s  string
	ts time.Time // source timestamp: simulated time of the last change

	rng   *rand.Rand
	noise float64 // AR(1) state in units of standard deviations

	fx *effects // active faults on this tag, nil when none
}

func newTag(seed int64, line, machine, name string, kind valueKind, unit, desc string) *tag {
	id := line + "." + machine + "." + name
	h := fnv.New64a()
	h.Write([]byte(id))
	return &tag{
		id: id, line: line, machine: machine, name: name, kind: kind, unit: unit, desc: desc,
		rng: rand.New(rand.NewPCG(uint64(seed), h.Sum64())),
	}
}

// ar1 advances the tag's autocorrelated noise with time constant tau and
// returns it scaled to sd. phi = exp(-dt/tau) keeps the marginal sd equal to
// sd whatever the step size.
func (t *tag) ar1(sd float64, tau, dt time.Duration) float64 {
	phi := 0.0
	if tau > 0 {
		phi = math.Exp(-dt.Seconds() / tau.Seconds())
	}
	t.noise = phi*t.noise + math.Sqrt(1-phi*phi)*t.rng.NormFloat64()
	return t.noise * sd
}

// perUnit returns the white noise of one produced unit (a vial, a tablet)
// around the process mean, scaled by any variance fault: consecutive units
// are independent, as on a real checkweigher.
func (t *tag) perUnit(sd float64) float64 {
	n := sd * t.rng.NormFloat64()
	if t.fx != nil {
		n *= t.fx.factor
	}
	return n
}

// analog returns the process value of an analog tag: base plus faults
// (drift, step) plus AR(1) noise scaled by any variance fault.
func (t *tag) analog(now time.Time, base, sd float64, tau, dt time.Duration) float64 {
	n := t.ar1(sd, tau, dt)
	if t.fx != nil {
		base += t.fx.offset(now)
		n *= t.fx.factor
	}
	return base + n
}

// extraFraction is the reject fraction added by reject_creep faults.
func (t *tag) extraFraction(now time.Time) float64 {
	if t.fx == nil {
		return 0
	}
	return t.fx.creep(now)
}

func (t *tag) setF(v float64, now time.Time) {
	if t.fx != nil && t.fx.stuck {
		return
	}
	if v != t.f || t.ts.IsZero() {
		t.f, t.ts = v, now
	}
}

func (t *tag) setU(v uint32, now time.Time) {
	if t.fx != nil && t.fx.stuck {
		return
	}
	if v != t.u || t.ts.IsZero() {
		t.u, t.ts = v, now
	}
}

func (t *tag) setB(v bool, now time.Time) {
	if t.fx != nil && t.fx.stuck {
		return
	}
	if v != t.b || t.ts.IsZero() {
		t.b, t.ts = v, now
	}
}

func (t *tag) setS(v string, now time.Time) {
	if t.fx != nil && t.fx.stuck {
		return
	}
	if v != t.s || t.ts.IsZero() {
		t.s, t.ts = v, now
	}
}

// stickAt freezes the output, optionally at a given value.
func (t *tag) stickAt(v *float64, now time.Time) {
	if v == nil {
		return
	}
	switch t.kind {
	case kindDouble:
		t.f = *v
	case kindUInt32:
		t.u = uint32(max(0, *v))
	case kindBool:
		t.b = *v != 0
	case kindString:
		return
	}
	t.ts = now
}

func (t *tag) variant() *ua.Variant {
	switch t.kind {
	case kindDouble:
		return ua.MustVariant(t.f)
	case kindUInt32:
		return ua.MustVariant(t.u)
	case kindBool:
		return ua.MustVariant(t.b)
	default:
		return ua.MustVariant(t.s)
	}
}

// bernoulliCount draws Binomial(n, p): exact for small n, normal
// approximation for large n (the counts are per simulated second).
func bernoulliCount(r *rand.Rand, n int, p float64) int {
	p = min(max(p, 0), 1)
	if n <= 0 || p == 0 {
		return 0
	}
	if n <= 64 {
		k := 0
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	k := int(math.Round(mean + math.Sqrt(mean*(1-p))*r.NormFloat64()))
	return min(max(k, 0), n)
}

// outsideFraction is P(|X - target| > tol) for X ~ N(mean, sd).
func outsideFraction(mean, sd, target, tol float64) float64 {
	if sd <= 0 {
		if math.Abs(mean-target) > tol {
			return 1
		}
		return 0
	}
	z := func(x float64) float64 { return 0.5 * math.Erfc(-(x-mean)/(sd*math.Sqrt2)) }
	return z(target-tol) + (1 - z(target+tol))
}
