package reports

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

// WriteText writes the storage report for people: every value in its
// tag's unit and decimals, every time in the site zone (f).
func (s *StorageReport) WriteText(w io.Writer, cfg *config.Config, f *display.Formatter) error {
	line := func(machine, tag string) string {
		for _, l := range cfg.Lines {
			for _, m := range l.Machines {
				if m.ID == machine {
					for _, t := range m.Tags {
						if t.Name == tag {
							return l.ID
						}
					}
				}
			}
		}
		return ""
	}
	v := func(machine, tag string, n Num) string {
		if !n.Defined() {
			return "—"
		}
		return f.Value(line(machine, tag), machine, tag, float64(n))
	}
	name := s.Location
	if s.Name != "" {
		name += " (" + s.Name + ")"
	}
	fmt.Fprintf(w, "Storage location %s, %s to %s (%s)\n\n", name, f.Time(s.From), f.Time(s.To), d(s.To.Sub(s.From)))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tREADINGS\tMIN\tMAX\tMEAN\tMKT\tMKT LIMIT\tTOR USED\tTOR BUDGET\tGAPS\tCOVERAGE")
	for _, t := range s.Tags {
		mkt, lim, used, budget := "—", "—", "—", "—"
		for _, c := range s.ColdChain {
			if c.Machine == t.Machine && c.Tag == t.Tag {
				if c.HasMKT {
					mkt, lim = v(t.Machine, t.Tag, c.MKT), v(t.Machine, t.Tag, c.MKTLimit)
					if !c.MKTOK {
						mkt += " ABOVE LIMIT"
					}
				}
				if c.HasTOR {
					used, budget = d(c.TORUsed), d(c.TORBudget)
					if !c.TOROK {
						used += " OVER BUDGET"
					}
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.Key(), t.Count, v(t.Machine, t.Tag, t.Min), v(t.Machine, t.Tag, t.Max), v(t.Machine, t.Tag, t.Mean),
			mkt, lim, used, budget, t.GapCount, pct(t.Coverage, 1))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nMKT: USP <1079> / ICH Q1A(R2) mean kinetic temperature, ΔH/R %s K unless a cold-chain rule sets another; TOR: time out of the rule's range.\n", "10 000")
	if len(s.Excursions) == 0 {
		fmt.Fprintln(w, "\nExcursions: none beyond the probes' alarm limits.")
	} else {
		fmt.Fprintf(w, "\nExcursions (%d):\n", len(s.Excursions))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROBE\tLIMIT\tSTART\tEND\tDURATION\tPEAK")
		for _, e := range s.Excursions {
			end := f.Time(e.End)
			if e.Open {
				end = "open at the end of the range"
			}
			fmt.Fprintf(tw, "%s/%s\t%s %s\t%s\t%s\t%s\t%s\n", e.Machine, e.Tag, e.Rule, v(e.Machine, e.Tag, e.Limit), f.Time(e.Start), end, d(e.Duration), v(e.Machine, e.Tag, e.Peak))
		}
		tw.Flush()
	}
	if len(s.Batches) == 0 {
		fmt.Fprintln(w, "\nBatches stored here in this time: none recorded.")
	} else {
		fmt.Fprintf(w, "\nBatches stored here in this time (%d):\n", len(s.Batches))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BATCH\tLINE\tPRODUCT\tSTART\tEND")
		for _, b := range s.Batches {
			end := "running"
			if !b.Running() {
				end = f.Time(b.End)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sample.Escape(b.ID), b.Line, sample.Escape(b.Product), f.Time(b.Start), end)
		}
		tw.Flush()
	}
	return nil
}
