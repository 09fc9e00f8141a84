package detect

// core is what every detector shares: its name, its parameters (defaults
// applied) and its state, and the Snapshot and Restore of that state. A
// detector embeds it, so d.p and d.st read as fields of the detector; one
// whose restored state needs a check of its own overrides Restore and
// decodes with load.
type core[P, S any] struct {
	name string
	p    P
	st   S
	fm   msgFormat // how messages write values and times (not state)
}

// Snapshot implements [Detector].
func (c *core[P, S]) Snapshot() ([]byte, error) { return snapshot(c.name, c.p, &c.st) }

// Restore implements [Detector].
func (c *core[P, S]) Restore(data []byte) error {
	st, err := c.load(data)
	if err != nil {
		return err
	}
	c.st = st
	return nil
}

// load decodes a snapshot made with the same name and parameters.
func (c *core[P, S]) load(data []byte) (S, error) {
	var st S
	err := restore(data, c.name, c.p, &st)
	return st, err
}

// params is a parameter set that validates itself and fills in its
// defaults (zero means "the default").
type params[P any] interface {
	Validate() error
	withDefaults() P
}

// prepare validates p and returns it with its defaults: the first step of
// every constructor.
func prepare[P params[P]](p P) (P, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p.withDefaults(), nil
}

// Name implements [Detector].
func (c *core[P, S]) Name() string { return c.name }
