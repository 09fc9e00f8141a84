package alerts

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/linewatch/linewatch/internal/display"
)

// KPIOptions sets the period and thresholds of the alarm-system KPIs.
type KPIOptions struct {
	Since, Until time.Time
	// FloodThreshold: more annunciated alarms than this in a 10-minute
	// interval is a flood interval (ISA-18.2 / EEMUA 191: 10).
	FloodThreshold int
	ChatterCount   int
	ChatterWindow  time.Duration
	// StaleAfter: an alarm active longer than this is stale (24 h).
	StaleAfter time.Duration
}

// Count is an alarm id and how often it was annunciated.
type Count struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// StaleAlarm is an alarm active longer than KPIOptions.StaleAfter.
type StaleAlarm struct {
	ID          string        `json:"id"`
	ActiveSince time.Time     `json:"active_since"`
	ActiveFor   time.Duration `json:"active_for_ns"`
	State       State         `json:"state"`
}

// KPI are the ISA-18.2 (§16) / EEMUA 191 alarm-system performance figures
// of a period.
type KPI struct {
	Since, Until time.Time
	// Annunciated counts activations that reached operators (not shelved,
	// suppressed or out of service).
	Annunciated       int              `json:"annunciated"`
	PerTenMinutesAvg  float64          `json:"per_10min_avg"`
	PerTenMinutesPeak int              `json:"per_10min_peak"`
	PeakAt            time.Time        `json:"peak_at,omitzero"`
	FloodPercent      float64          `json:"flood_percent"`
	BadActors         []Count          `json:"bad_actors"`
	Chattering        []string         `json:"chattering"`
	Stale             []StaleAlarm     `json:"stale"`
	PriorityCounts    map[Priority]int `json:"priority_counts"`
	// PriorityMix in percent of Annunciated.
	PriorityMix map[Priority]float64 `json:"priority_mix"`
	// Now: alarms currently shelved, suppressed and out of service.
	ShelvedNow      int `json:"shelved_now"`
	SuppressedNow   int `json:"suppressed_now"`
	OutOfServiceNow int `json:"out_of_service_now"`
}

const tenMinutes = 10 * time.Minute

// ComputeKPI computes the KPIs from the transitions of the period (as read
// from ALARMS) and the current alarms (from the bucket, for stale alarms).
func ComputeKPI(trs []Transition, current []Alarm, o KPIOptions) KPI {
	if o.FloodThreshold <= 0 {
		o.FloodThreshold = 10
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 24 * time.Hour
	}
	k := KPI{Since: o.Since, Until: o.Until, PriorityCounts: map[Priority]int{}, PriorityMix: map[Priority]float64{}}
	nb := max(int((o.Until.Sub(o.Since)+tenMinutes-1)/tenMinutes), 1)
	buckets := make([]int, nb)
	per := map[string]int{}
	activations := map[string][]time.Time{}
	chatterFlag := map[string]bool{}
	for _, t := range trs {
		if t.Alarm.Detector == "flood" || t.Time.Before(o.Since) || !t.Time.Before(o.Until) {
			continue
		}
		if t.Alarm.Chattering {
			chatterFlag[t.Alarm.ID] = true
		}
		if t.Event != EvActivate || t.To != Unacknowledged {
			continue
		}
		k.Annunciated++
		buckets[int(t.Time.Sub(o.Since)/tenMinutes)]++
		per[t.Alarm.ID]++
		activations[t.Alarm.ID] = append(activations[t.Alarm.ID], t.Time)
		k.PriorityCounts[t.Alarm.Priority]++
	}
	flood := 0
	for i, n := range buckets {
		if n > k.PerTenMinutesPeak {
			k.PerTenMinutesPeak, k.PeakAt = n, o.Since.Add(time.Duration(i)*tenMinutes)
		}
		if n > o.FloodThreshold {
			flood++
		}
	}
	k.PerTenMinutesAvg = float64(k.Annunciated) / float64(nb)
	k.FloodPercent = 100 * float64(flood) / float64(nb)
	for p, n := range k.PriorityCounts {
		k.PriorityMix[p] = 100 * float64(n) / float64(k.Annunciated)
	}
	for id, n := range per {
		k.BadActors = append(k.BadActors, Count{id, n})
	}
	slices.SortFunc(k.BadActors, func(a, b Count) int { return cmp.Or(b.Count-a.Count, cmp.Compare(a.ID, b.ID)) })
	k.BadActors = k.BadActors[:min(len(k.BadActors), 10)]
	for id, ts := range activations {
		if chatters(ts, o.ChatterCount, o.ChatterWindow) {
			chatterFlag[id] = true
		}
	}
	for id := range chatterFlag {
		k.Chattering = append(k.Chattering, id)
	}
	slices.Sort(k.Chattering)
	for _, a := range current {
		switch a.State {
		case Shelved:
			k.ShelvedNow++
		case SuppressedByDesign:
			k.SuppressedNow++
		case OutOfService:
			k.OutOfServiceNow++
		}
		if a.Active && a.State != OutOfService && !a.ActivatedAt.IsZero() && o.Until.Sub(a.ActivatedAt) > o.StaleAfter {
			k.Stale = append(k.Stale, StaleAlarm{ID: a.ID, ActiveSince: a.ActivatedAt, ActiveFor: o.Until.Sub(a.ActivatedAt), State: a.State})
		}
	}
	slices.SortFunc(k.Stale, func(a, b StaleAlarm) int { return a.ActiveSince.Compare(b.ActiveSince) })
	return k
}

// chatters says whether count activations fall within window (ts sorted).
func chatters(ts []time.Time, count int, window time.Duration) bool {
	if count < 2 || window <= 0 {
		return false
	}
	for i := count - 1; i < len(ts); i++ {
		if ts[i].Sub(ts[i-count+1]) < window {
			return true
		}
	}
	return false
}

// WriteKPI prints the KPIs with the EEMUA 191 / ISA-18.2 reference
// values, times in the site zone of f (nil: UTC).
func WriteKPI(w io.Writer, k KPI, f *display.Formatter) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Alarm KPIs %s … %s\n", f.Time(k.Since), f.Time(k.Until))
	p("  annunciated alarms        %d\n", k.Annunciated)
	p("  per 10 minutes, average   %.2f   (ISA-18.2: ~1 acceptable, ~2 manageable)\n", k.PerTenMinutesAvg)
	peak := ""
	if !k.PeakAt.IsZero() {
		peak = " at " + f.Time(k.PeakAt)
	}
	p("  per 10 minutes, peak      %d%s   (target ≤ 10)\n", k.PerTenMinutesPeak, peak)
	p("  time in flood             %.1f %%   (target < 1 %%)\n", k.FloodPercent)
	p("  priority mix              ")
	for _, pr := range []Priority{Low, Medium, High, Urgent} {
		p("%s %.0f %% (%d)  ", pr, k.PriorityMix[pr], k.PriorityCounts[pr])
	}
	p("  (EEMUA 191: ~80/15/5 low/medium/high)\n")
	p("  shelved / suppressed / out of service now: %d / %d / %d\n", k.ShelvedNow, k.SuppressedNow, k.OutOfServiceNow)
	p("  top bad actors:\n")
	for i, c := range k.BadActors {
		p("    %2d. %-60s %d\n", i+1, c.ID, c.Count)
	}
	p("  chattering alarms: %d\n", len(k.Chattering))
	for _, id := range k.Chattering {
		p("    %s\n", id)
	}
	p("  stale alarms (active > 24 h): %d\n", len(k.Stale))
	for _, s := range k.Stale {
		p("    %-60s active since %s (%s, %s)\n", s.ID, f.Time(s.ActiveSince), s.ActiveFor.Round(time.Minute), s.State)
	}
	return nil
}
