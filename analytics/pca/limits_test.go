package pca

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestT2LimitHandComputed(t *testing.T) {
	// a = 3, n = 100, α = 0.05: a(n−1)(n+1)/(n(n−a)) = 3·99·101/(100·97) = 29997/9700.
	f := distuv.F{D1: 3, D2: 97}.Quantile(0.95)
	// Printed F tables give F_0.95(3, 100) = 2.70 and F_0.95(3, 90) = 2.71.
	if math.Abs(f-2.70) > 0.01 {
		t.Fatalf("F quantile %v, tables say about 2.70", f)
	}
	want := 29997.0 / 9700.0 * f
	got, err := T2Limit(3, 100, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-12*want {
		t.Fatalf("T2Limit = %v, want %v", got, want)
	}
	if _, err := T2Limit(5, 6, 0.01); err == nil {
		t.Fatal("T2Limit accepted n = a+1")
	}
	if _, err := T2Limit(2, 50, 1); err == nil {
		t.Fatal("T2Limit accepted alpha = 1")
	}
}

func TestQLimitHandComputed(t *testing.T) {
	// Residual eigenvalues 0.5, 0.3, 0.2 at α = 0.05, computed by hand:
	// θ1 = 1, θ2 = 0.38, θ3 = 0.16, h0 = 1 − 2·0.16/(3·0.1444) = 0.2613111727,
	// c = 1.6448536270, base = c·√(2·0.38·h0²) + 1 + 0.38·h0(h0−1) = 1.3013566899,
	// Q = base^(1/h0) = 2.7401747138.
	got, err := QLimit([]float64{0.5, 0.3, 0.2}, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-2.740174713818582) > 1e-9 {
		t.Fatalf("QLimit = %.12f, want 2.740174713819", got)
	}
	if _, err := QLimit([]float64{0, 0}, 0.01); err == nil {
		t.Fatal("QLimit accepted a residual subspace without variance")
	}
}

func TestEWMALimitIsAboveMean(t *testing.T) {
	// The EWMA of a χ²_a-like statistic concentrates around a; its limit must
	// lie between the mean and the raw limit.
	raw := distuv.ChiSquared{K: 5}.Quantile(0.99)
	l := ewmaLimit(5, 10, 0.2, 0.01)
	if !(l > 5 && l < raw) {
		t.Fatalf("EWMA limit %v, want in (5, %v)", l, raw)
	}
}
