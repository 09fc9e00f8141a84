package store

// Close stops the writer and releases its spool directory (the lock and
// segment files) and its journal, so that another Writer can open the
// directory: without it, a process whose start-up fails after NewWriter
// keeps the directory locked until it exits.
//
// With Run running, Close cancels it and waits for it to return: Run
// drains and spools as on a cancel of its context (bounded by
// DrainTimeout). When Run never ran, nothing is sent: with a disk spool
// the lines written so far stay in the journal, and the next Writer on
// the directory spools them; without one they are counted lost. Run
// after Close returns an error, Flush ErrWriterStopped, and writes are
// counted lost. Close is idempotent and safe from any goroutine.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.stopRun()
		if w.started.CompareAndSwap(false, true) {
			w.closeUnstarted()
		} else {
			<-w.done // Run has drained, spooled and closed the spool
		}
		w.mu.Lock()
		w.closed = true
		// Lines written after Run stopped are in the open journal file:
		// closed, they stay for the next Writer.
		w.jr.close()
		w.mu.Unlock()
		w.loss.flush()
	})
	return nil
}

// closeUnstarted releases what NewWriter opened when Run never ran.
func (w *Writer) closeUnstarted() {
	defer close(w.done)
	w.sealCurrentQueued()
	lost := 0
	for _, b := range w.takeAll(true) {
		lost += b.lines // with a journal, the batch's file stays for the next Writer
		putBuf(b.body)
	}
	if w.jr == nil && lost > 0 {
		w.loss.lost(lost, lostStopped, "the writer was closed before it ran and has no spool directory (influxdb.spool.dir)")
	}
	w.sp.Close()
	w.ep.tr.CloseIdleConnections()
}
