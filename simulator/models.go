package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// machineTags is the fixed machine/tag layout of a line, used for the CLI
// table and validation.
type machineTags struct {
	name string
	tags []string
}

func machinesOf(l *LineSpec) []machineTags {
	_, tags := buildLine(l, 0, time.Unix(0, 0).UTC())
	var out []machineTags
	idx := map[string]int{}
	for _, t := range tags {
		i, ok := idx[t.machine]
		if !ok {
			i = len(out)
			idx[t.machine] = i
			out = append(out, machineTags{name: t.machine})
		}
		out[i].tags = append(out[i].tags, t.name)
	}
	return out
}

type namedLine interface{ lineID() string }

func lineIDOf(m lineModel) string { return m.(namedLine).lineID() }

// batcher turns simulated time into batch numbers and ids such as
// F1-20261123-001 (prefix, UTC date of the batch start, sequence that day).
type batcher struct {
	start  time.Time
	length time.Duration
	prefix string
	k      int
	day    string
	seq    int
	id     string
}

func newBatcher(l *LineSpec, start time.Time, length time.Duration) *batcher {
	return &batcher{start: start, length: length, prefix: l.batchPrefix(), k: -1}
}

// at returns whether a new batch starts at now and how long the current
// batch has been running.
func (b *batcher) at(now time.Time) (bool, time.Duration) {
	k := int(now.Sub(b.start) / b.length)
	began := b.start.Add(time.Duration(k) * b.length)
	if k == b.k {
		return false, now.Sub(began)
	}
	b.k = k
	day := began.Format("20060102")
	if day == b.day {
		b.seq++
	} else {
		b.day, b.seq = day, 1
	}
	b.id = fmt.Sprintf("%s-%s-%03d", b.prefix, day, b.seq)
	return true, now.Sub(began)
}

func lineRNG(seed int64, id string) *rand.Rand {
	return newTag(seed, id, "_", "_events", kindDouble, "", "").rng
}

func buildLine(l *LineSpec, seed int64, start time.Time) (lineModel, []*tag) {
	switch l.Model {
	case ModelVialFilling:
		return newFilling(l, seed, start)
	case ModelColdRoom:
		return newColdRoom(l, seed)
	case ModelTabletPress:
		return newPress(l, seed, start)
	case ModelFreezeDryer:
		return newFreezeDryer(l, seed, start)
	default:
		return newGeneric(l, seed, start)
	}
}

func expo(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

func minutes(v float64) time.Duration { return time.Duration(v * float64(time.Minute)) }
func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// ---- aseptic vial filling line: filler + checkweigher ----

type filling struct {
	spec                                          *LineSpec
	b                                             *batcher
	rng                                           *rand.Rand
	weight, speed, stopper, state, batch, product *tag
	good, reject                                  *tag
	st                                            string
	until                                         time.Time
	acc                                           float64
	nGood, nReject, nStopper                      uint32
}

func newFilling(l *LineSpec, seed int64, start time.Time) (lineModel, []*tag) {
	m := &filling{spec: l, b: newBatcher(l, start, l.batchLength()), rng: lineRNG(seed, l.ID)}
	mk := func(machine, name string, k valueKind, unit, desc string) *tag {
		return newTag(seed, l.ID, machine, name, k, unit, desc)
	}
	m.weight = mk("filler", "fill_weight", kindDouble, "g", "net fill weight per vial")
	m.speed = mk("filler", "fill_speed", kindDouble, "vials/min", "filling speed")
	m.stopper = mk("filler", "stopper_rejects", kindUInt32, "count", "vials rejected at stopper placement, reset at batch start")
	m.state = mk("filler", "state", kindString, "", "machine state: running|stopped|cip|fault")
	m.batch = mk("filler", "batch_id", kindString, "", "current batch id")
	m.product = mk("filler", "product_code", kindString, "", "product code")
	m.good = mk("checkweigher", "good_count", kindUInt32, "count", "vials accepted by the checkweigher, reset at batch start")
	m.reject = mk("checkweigher", "reject_count", kindUInt32, "count", "vials rejected by the checkweigher, reset at batch start")
	return m, []*tag{m.weight, m.speed, m.stopper, m.state, m.batch, m.product, m.good, m.reject}
}

func (m *filling) lineID() string { return m.spec.ID }

func (m *filling) step(now time.Time, dt time.Duration, _ *forcing) {
	p := m.spec.param
	if nb, _ := m.b.at(now); nb {
		m.nGood, m.nReject, m.nStopper, m.acc = 0, 0, 0, 0
		m.st, m.until = "cip", now.Add(minutes(p("cip_minutes")))
	} else if m.st != "running" && !now.Before(m.until) {
		m.st = "running"
	} else if m.st == "running" {
		switch r := m.rng.Float64(); {
		case r < p("faults_per_hour")*dt.Hours():
			m.st, m.until = "fault", now.Add(expo(m.rng, minutes(p("fault_minutes"))))
		case r < (p("faults_per_hour")+p("stops_per_hour"))*dt.Hours():
			m.st, m.until = "stopped", now.Add(expo(m.rng, minutes(p("stop_minutes"))))
		}
	}
	running := m.st == "running"
	nominal := p("speed_vials_per_min")
	speed := m.speed.analog(now, nominal, p("speed_sd_vials_per_min"), 30*time.Second, dt)
	// Faster dosing leaves slightly less time to settle: a small negative coupling.
	target := p("fill_target_g")
	// w is the dosing mean (slow wander, faults); each reading is one vial.
	w := m.weight.analog(now, target-0.00002*(speed-nominal), p("fill_sd_g"), seconds(p("fill_tau_seconds")), dt)
	if running || m.weight.ts.IsZero() {
		m.weight.setF(w+m.weight.perUnit(p("vial_sd_g")), now)
	}
	if running {
		m.speed.setF(math.Max(speed, 0), now)
		m.acc += speed / 60 * dt.Seconds()
		n := int(m.acc)
		m.acc -= float64(n)
		pr := p("base_reject_fraction") + outsideFraction(w, p("vial_sd_g"), target, p("fill_tolerance_g")) + m.reject.extraFraction(now)
		rej := bernoulliCount(m.rng, n, pr)
		m.nReject += uint32(rej)
		m.nGood += uint32(n - rej)
		m.nStopper += uint32(bernoulliCount(m.rng, n, p("stopper_reject_frac")+m.stopper.extraFraction(now)))
	} else {
		m.speed.setF(0, now)
	}
	m.good.setU(m.nGood, now)
	m.reject.setU(m.nReject, now)
	m.stopper.setU(m.nStopper, now)
	m.state.setS(m.st, now)
	m.batch.setS(m.b.id, now)
	m.product.setS(m.spec.ProductCode, now)
}

// ---- 2–8 °C cold room ----

type coldRoom struct {
	spec                          *LineSpec
	rng                           *rand.Rand
	t1, t2, hum, door, compressor *tag
	air, rh                       float64
	doorUntil                     time.Time
	comp                          bool
}

func newColdRoom(l *LineSpec, seed int64) (lineModel, []*tag) {
	m := &coldRoom{spec: l, rng: lineRNG(seed, l.ID)}
	mk := func(name string, k valueKind, unit, desc string) *tag {
		return newTag(seed, l.ID, "coldroom", name, k, unit, desc)
	}
	m.t1 = mk("temp_probe1", kindDouble, "°C", "air temperature, probe 1 (controls the compressor)")
	m.t2 = mk("temp_probe2", kindDouble, "°C", "air temperature, probe 2 (near the door)")
	m.hum = mk("humidity", kindDouble, "%RH", "relative humidity")
	m.door = mk("door_open", kindBool, "", "door open")
	m.compressor = mk("compressor_running", kindBool, "", "compressor running")
	m.air = l.param("setpoint_c")
	m.rh = l.param("humidity_rh")
	return m, []*tag{m.t1, m.t2, m.hum, m.door, m.compressor}
}

func (m *coldRoom) lineID() string { return m.spec.ID }

func (m *coldRoom) step(now time.Time, dt time.Duration, f *forcing) {
	p := m.spec.param
	if now.After(m.doorUntil) && m.rng.Float64() < p("door_events_per_hour")*dt.Hours() {
		m.doorUntil = now.Add(seconds(p("door_seconds") * (0.5 + m.rng.Float64())))
	}
	door := now.Before(m.doorUntil) || f.doorOpen
	// Thermostat with hysteresis on what probe 1 reports: a stuck probe
	// breaks the control loop just as it would in a real room.
	sp, hyst := p("setpoint_c"), p("hysteresis_c")
	if !m.t1.ts.IsZero() {
		switch {
		case m.t1.f > sp+hyst:
			m.comp = true
		case m.t1.f < sp-hyst:
			m.comp = false
		}
	}
	comp := m.comp && !f.compressorFail
	amb := p("ambient_c")
	rate := p("leak_per_min") * (amb - m.air)
	if door {
		rate += p("door_leak_per_min") * (amb - m.air)
	}
	if comp {
		rate -= p("cool_rate_c_per_min")
	}
	m.air += rate * dt.Minutes()
	doorBias := 0.0
	if door {
		doorBias = 1.0
	}
	m.t1.setF(m.t1.analog(now, m.air, p("probe_sd_c"), 20*time.Second, dt), now)
	m.t2.setF(m.t2.analog(now, m.air+p("probe2_offset_c")+doorBias, p("probe_sd_c"), 20*time.Second, dt), now)
	target := p("humidity_rh")
	if door {
		target += 15
	}
	if comp {
		target -= 5
	}
	m.rh += (target - m.rh) * dt.Minutes() / 5
	m.hum.setF(min(100, max(0, m.hum.analog(now, m.rh, 0.5, time.Minute, dt))), now)
	m.door.setB(door, now)
	m.compressor.setB(comp, now)
}

// ---- tablet press ----

type press struct {
	spec                                                      *LineSpec
	b                                                         *batcher
	rng                                                       *rand.Rand
	weight, hardness, thickness, force, turret, reject, batch *tag
	state, product                                            *tag
	st                                                        string
	until                                                     time.Time
	acc                                                       float64
	nReject                                                   uint32
}

func newPress(l *LineSpec, seed int64, start time.Time) (lineModel, []*tag) {
	m := &press{spec: l, b: newBatcher(l, start, l.batchLength()), rng: lineRNG(seed, l.ID)}
	mk := func(name string, k valueKind, unit, desc string) *tag {
		return newTag(seed, l.ID, "press", name, k, unit, desc)
	}
	m.weight = mk("tablet_weight", kindDouble, "mg", "tablet weight")
	m.hardness = mk("hardness", kindDouble, "N", "tablet breaking force")
	m.thickness = mk("thickness", kindDouble, "mm", "tablet thickness")
	m.force = mk("compression_force", kindDouble, "kN", "main compression force")
	m.turret = mk("turret_speed", kindDouble, "rpm", "turret speed")
	m.reject = mk("reject_count", kindUInt32, "count", "tablets rejected, reset at batch start")
	m.batch = mk("batch_id", kindString, "", "current batch id")
	m.state = mk("state", kindString, "", "machine state: running|changeover")
	m.product = mk("product_code", kindString, "", "product code")
	return m, []*tag{m.weight, m.hardness, m.thickness, m.force, m.turret, m.reject, m.batch, m.state, m.product}
}

func (m *press) lineID() string { return m.spec.ID }

func (m *press) step(now time.Time, dt time.Duration, _ *forcing) {
	p := m.spec.param
	if nb, _ := m.b.at(now); nb {
		m.nReject, m.acc = 0, 0
		m.st, m.until = "changeover", now.Add(minutes(p("setup_minutes")))
	} else if m.st != "running" && !now.Before(m.until) {
		m.st = "running"
	}
	w0, f0 := p("weight_target_mg"), p("force_kn")
	rpm := m.turret.analog(now, p("turret_rpm"), 0.3, time.Minute, dt)
	// w is one tablet: the die-fill mean (slow wander, faults) plus the
	// tablet-to-tablet variation.
	wm := m.weight.analog(now, w0, p("weight_sd_mg"), seconds(p("weight_tau_seconds")), dt)
	w := wm + m.weight.perUnit(p("tablet_sd_mg"))
	// At a fixed punch gap more powder means more force, and force sets
	// hardness; thickness grows with fill and shrinks with force.
	rel := (w - w0) / w0
	f := m.force.analog(now, f0*(1+6*rel), 0.15, 5*time.Second, dt)
	h := m.hardness.analog(now, p("hardness_n")*math.Pow(math.Max(f, 0.1)/f0, 1.5), 2.5, 5*time.Second, dt)
	th := m.thickness.analog(now, p("thickness_mm")*(1+0.4*rel)-0.004*(f-f0), 0.01, 5*time.Second, dt)
	if m.st == "running" || m.weight.ts.IsZero() {
		m.weight.setF(w, now)
		m.force.setF(f, now)
		m.hardness.setF(h, now)
		m.thickness.setF(th, now)
	}
	if m.st == "running" {
		m.turret.setF(rpm, now)
		m.acc += rpm * p("stations") / 60 * dt.Seconds()
		n := int(m.acc)
		m.acc -= float64(n)
		pr := p("base_reject_fraction") + outsideFraction(wm, p("tablet_sd_mg"), w0, p("weight_tolerance_mg")) + m.reject.extraFraction(now)
		m.nReject += uint32(bernoulliCount(m.rng, n, pr))
	} else {
		m.turret.setF(0, now)
	}
	m.reject.setU(m.nReject, now)
	m.batch.setS(m.b.id, now)
	m.state.setS(m.st, now)
	m.product.setS(m.spec.ProductCode, now)
}

// ---- freeze dryer ----

type freezeDryer struct {
	spec                                   *LineSpec
	b                                      *batcher
	shelf, pressure, condenser, phase, bid *tag
	product                                *tag
	shelfT, condT                          float64
	fh, ph, sh                             time.Duration
	cut                                    time.Duration // early_secondary: primary drying ended at this cycle time (0: not)
}

func newFreezeDryer(l *LineSpec, seed int64, start time.Time) (lineModel, []*tag) {
	fh, ph, sh := time.Duration(l.param("freezing_hours")*float64(time.Hour)),
		time.Duration(l.param("primary_hours")*float64(time.Hour)),
		time.Duration(l.param("secondary_hours")*float64(time.Hour))
	length := fh + ph + sh
	if length <= 0 {
		length = time.Hour
	}
	m := &freezeDryer{spec: l, b: newBatcher(l, start, length), fh: fh, ph: ph, sh: sh, shelfT: 20, condT: 20}
	mk := func(name string, k valueKind, unit, desc string) *tag {
		return newTag(seed, l.ID, "freezedryer", name, k, unit, desc)
	}
	m.shelf = mk("shelf_temp", kindDouble, "°C", "shelf temperature")
	m.pressure = mk("chamber_pressure", kindDouble, "µbar", "chamber pressure")
	m.condenser = mk("condenser_temp", kindDouble, "°C", "condenser temperature")
	m.phase = mk("phase", kindString, "", "cycle phase: freezing|primary_drying|secondary_drying")
	m.bid = mk("batch_id", kindString, "", "current batch id")
	m.product = mk("product_code", kindString, "", "product code")
	return m, []*tag{m.shelf, m.pressure, m.condenser, m.phase, m.bid, m.product}
}

func (m *freezeDryer) lineID() string { return m.spec.ID }

func ramp(from, to float64, elapsed, over time.Duration) float64 {
	if over <= 0 || elapsed >= over {
		return to
	}
	return from + (to-from)*elapsed.Seconds()/over.Seconds()
}

func (m *freezeDryer) step(now time.Time, dt time.Duration, f *forcing) {
	p := m.spec.param
	newBatch, el := m.b.at(now)
	if newBatch {
		m.cut = 0
	}
	if f == nil {
		f = &forcing{}
	}
	// Deviating cycles (faults): ramps stretched or squeezed, primary
	// drying cut short (latched for the batch, as a recipe jump would be).
	rf := 1.0
	if f.shelfRamp > 0 {
		rf = f.shelfRamp
	}
	stretch := func(d time.Duration) time.Duration { return time.Duration(float64(d) * rf) }
	primaryEnd := m.fh + m.ph
	if m.cut > 0 {
		primaryEnd = m.cut
	}
	if f.earlySecondary && m.cut == 0 && el >= m.fh && el < primaryEnd {
		m.cut, primaryEnd = el, el
	}
	const atm = 1.013e6 // µbar
	var phase string
	var sp, pres, condSP, vapour float64
	switch {
	case el < m.fh:
		phase = "freezing"
		sp = ramp(20, p("freezing_shelf_c"), el, stretch(m.fh/2))
		pres = atm
		condSP = 20
		if el > m.fh-time.Hour {
			condSP = p("condenser_c")
		}
	case el < primaryEnd:
		phase = "primary_drying"
		e := el - m.fh
		sp = ramp(p("freezing_shelf_c"), p("primary_shelf_c"), e, stretch(time.Hour))
		pres = p("primary_pressure_ubar") + atm*math.Exp(-e.Seconds()/120) + f.pressureRise
		// Sublimation loads the condenser early in primary drying.
		condSP = p("condenser_c") + 8*math.Exp(-e.Hours()/6)
		vapour = 3
	default:
		phase = "secondary_drying"
		e := el - primaryEnd
		sp = ramp(p("primary_shelf_c"), p("secondary_shelf_c"), e, stretch(3*time.Hour))
		pres = p("secondary_pressure_ubar")
		condSP = p("condenser_c") - 2
		vapour = 1
	}
	if f.condenserFail {
		// Refrigeration off: the coil warms to the room and stops trapping
		// vapour, which then raises the chamber pressure.
		condSP = 20
	}
	pres += vapour * math.Max(0, m.condT-(p("condenser_c")+10))
	// First-order thermal lag of the shelf fluid and the condenser coil.
	m.shelfT += (sp - m.shelfT) * dt.Minutes() / 10
	m.condT += (condSP - m.condT) * dt.Minutes() / 15
	m.shelf.setF(m.shelf.analog(now, m.shelfT, 0.2, time.Minute, dt), now)
	m.pressure.setF(math.Max(0, m.pressure.analog(now, pres, math.Max(pres*0.02, 0.5), 30*time.Second, dt)), now)
	m.condenser.setF(m.condenser.analog(now, m.condT, 0.3, time.Minute, dt), now)
	m.phase.setS(phase, now)
	m.bid.setS(m.b.id, now)
	m.product.setS(m.spec.ProductCode, now)
}

// ---- generic line from the plant file ----

type generic struct {
	spec  *LineSpec
	start time.Time
	tags  []*tag
	specs []TagSpec
}

func newGeneric(l *LineSpec, seed int64, start time.Time) (lineModel, []*tag) {
	m := &generic{spec: l, start: start}
	for _, mc := range l.Machines {
		for _, ts := range mc.Tags {
			m.tags = append(m.tags, newTag(seed, l.ID, mc.ID, ts.ID, kindDouble, ts.Unit, ts.Description))
			m.specs = append(m.specs, ts)
		}
	}
	return m, m.tags
}

func (m *generic) lineID() string { return m.spec.ID }

func (m *generic) step(now time.Time, dt time.Duration, _ *forcing) {
	for i, t := range m.tags {
		s := m.specs[i]
		base := s.Mean
		if s.CyclePeriod > 0 {
			base += s.CycleAmp * math.Sin(2*math.Pi*now.Sub(m.start).Seconds()/time.Duration(s.CyclePeriod).Seconds())
		}
		t.setF(t.analog(now, base, s.SD, time.Duration(s.Tau), dt), now)
	}
}
