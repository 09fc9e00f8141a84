package engine

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/linewatch/linewatch/config"
)

// A detector's snapshot carries a fingerprint of its parameters, and a
// checkpoint is restored only into detectors with the same fingerprint. The
// fingerprints of every configurable detector, configured with defaults and
// with explicit values, are pinned here (written by the release before the
// detector registry), so a checkpoint of an earlier release still restores.
func TestCheckpointFingerprintsStay(t *testing.T) {
	cfg, err := config.Load("testdata/every-detector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/every-detector.fingerprints")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Analytics.Rules {
		for _, p := range r.Tags {
			for _, tr := range cfg.MatchTags(p) {
				dets, err := buildRule(r, cfg.Target(tr))
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range dets {
					b, err := d.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					var env struct{ Detector, Params string }
					if err := json.Unmarshal(b, &env); err != nil {
						t.Fatal(err)
					}
					got = append(got, tr.String()+" "+env.Detector+" "+env.Params)
				}
			}
		}
	}
	sort.Strings(got)
	wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("fingerprints changed: checkpoints of the earlier release would not restore\n got:\n%s\nwant:\n%s",
			strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
}
