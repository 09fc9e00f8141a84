package tep

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// NumVars is the number of TEP variables: XMEAS(1..41) then XMV(1..11).
const NumVars = 52

// NumFaults is the number of fault scenarios in the Braatz data set.
const NumFaults = 21

// FaultStart is the number of normal rows at the start of each dNN_te file;
// the fault is active from row FaultStart+1 (1-based) on.
const FaultStart = 160

// VariableNames returns the TEP variable names in file column order.
func VariableNames() []string {
	names := make([]string, 0, NumVars)
	for i := 1; i <= 41; i++ {
		names = append(names, fmt.Sprintf("XMEAS(%d)", i))
	}
	for i := 1; i <= 11; i++ {
		names = append(names, fmt.Sprintf("XMV(%d)", i))
	}
	return names
}

// Data is the Braatz TEP data set in memory, every matrix observations × 52.
type Data struct {
	Train       *mat.Dense                // d00.dat, normal operation (500 rows)
	Normal      *mat.Dense                // d00_te.dat, normal test set (960 rows)
	Test        [NumFaults + 1]*mat.Dense // dNN_te.dat, index = fault number (0 unused)
	TrainFaults [NumFaults + 1]*mat.Dense // dNN.dat fault training sets (fault active in every row)
}

// ErrNoData is returned by Load when the data directory does not exist.
var ErrNoData = errors.New("tep: data directory not found")

// Load reads all files of the data set from dir.
func Load(dir string) (*Data, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNoData, dir)
	}
	d := &Data{}
	var err error
	if d.Train, err = ReadDat(filepath.Join(dir, "d00.dat")); err != nil {
		return nil, err
	}
	if d.Normal, err = ReadDat(filepath.Join(dir, "d00_te.dat")); err != nil {
		return nil, err
	}
	for f := 1; f <= NumFaults; f++ {
		if d.Test[f], err = ReadDat(filepath.Join(dir, fmt.Sprintf("d%02d_te.dat", f))); err != nil {
			return nil, err
		}
		if d.TrainFaults[f], err = ReadDat(filepath.Join(dir, fmt.Sprintf("d%02d.dat", f))); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ReadDat reads one whitespace-separated Braatz file. A file stored
// transposed (52 rows of observations-as-columns, as d00.dat is) is returned
// as observations × 52.
func ReadDat(path string) (*mat.Dense, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tep: %w", err)
	}
	defer fh.Close()
	X, err := parseDat(fh)
	if err != nil {
		return nil, fmt.Errorf("tep: %s: %w", path, err)
	}
	return X, nil
}

func parseDat(r io.Reader) (*mat.Dense, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var data []float64
	rows, cols := 0, -1
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if cols >= 0 && len(fields) != cols {
			return nil, fmt.Errorf("line %d has %d values, earlier lines %d", rows+1, len(fields), cols)
		}
		cols = len(fields)
		for _, f := range fields {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d: %q is not a finite number", rows+1, f)
			}
			data = append(data, v)
		}
		rows++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if rows == 0 {
		return nil, errors.New("no data")
	}
	X := mat.NewDense(rows, cols, data)
	switch {
	case cols == NumVars:
		return X, nil
	case rows == NumVars:
		return mat.DenseCopyOf(X.T()), nil
	default:
		return nil, fmt.Errorf("shape %d×%d: neither dimension is %d variables", rows, cols, NumVars)
	}
}
