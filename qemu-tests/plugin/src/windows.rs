//! Window bookkeeping: snapshots of the always-running instruction counter taken when the
//! start / end markers execute. Pure logic, tested on the host.

#[derive(Debug, Default)]
pub struct Windows {
    /// Counter value when the currently open window started.
    open: Option<u64>,
    /// Instruction count of every closed window, in order.
    pub closed: Vec<u64>,
    /// Start markers hit while a window was already open (ignored).
    pub nested_starts: u64,
    /// End markers hit with no window open (ignored).
    pub stray_ends: u64,
}

impl Windows {
    pub const fn new() -> Self {
        Windows { open: None, closed: Vec::new(), nested_starts: 0, stray_ends: 0 }
    }

    /// The start marker's first instruction is about to execute; `counter` counts every
    /// instruction executed before it.
    pub fn start(&mut self, counter: u64) {
        if self.open.is_some() {
            self.nested_starts += 1;
        } else {
            self.open = Some(counter);
        }
    }

    /// The end marker's first instruction is about to execute.
    pub fn end(&mut self, counter: u64) {
        match self.open.take() {
            Some(s) => self.closed.push(counter - s),
            None => self.stray_ends += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.closed.iter().sum()
    }

    /// The report: `#` comment lines, one `window N: COUNT` line per window, a `total:` line.
    pub fn report(&self, header: &str, all: u64, vcpus: u32) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for line in header.lines() {
            let _ = writeln!(s, "# {line}");
        }
        for (i, n) in self.closed.iter().enumerate() {
            let _ = writeln!(s, "window {i}: {n}");
        }
        let _ = writeln!(s, "total: {} ({} windows)", self.total(), self.closed.len());
        let _ =
            writeln!(s, "# all guest instructions of the run (not comparable across environments): {all}");
        if self.open.is_some() {
            let _ = writeln!(
                s,
                "# warning: window {} still open at exit (end marker never reached): not counted",
                self.closed.len()
            );
        }
        if self.nested_starts > 0 {
            let _ = writeln!(
                s,
                "# warning: {} start marker(s) hit inside an open window: ignored",
                self.nested_starts
            );
        }
        if self.stray_ends > 0 {
            let _ =
                writeln!(s, "# warning: {} end marker(s) hit with no open window: ignored", self.stray_ends);
        }
        if vcpus > 1 {
            let _ = writeln!(
                s,
                "# warning: {vcpus} vCPUs/threads ran; the counter is shared, so windows may include \
                 other threads' instructions (and racing inline adds may lose counts)"
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_windows() {
        let mut w = Windows::new();
        w.start(100);
        w.end(130);
        w.start(200);
        w.end(1200);
        assert_eq!(w.closed, vec![30, 1000]);
        assert_eq!(w.total(), 1030);
        let r = w.report("hello", 5000, 1);
        assert!(r.starts_with("# hello\nwindow 0: 30\nwindow 1: 1000\ntotal: 1030 (2 windows)\n"), "{r}");
        assert!(!r.contains("warning"));
    }

    #[test]
    fn misuse_is_reported() {
        let mut w = Windows::new();
        w.end(5);
        w.start(10);
        w.start(20);
        w.end(40);
        w.start(50);
        assert_eq!(w.closed, vec![30]);
        let r = w.report("", 60, 2);
        assert!(r.contains("window 1 still open"), "{r}");
        assert!(r.contains("1 start marker(s)"), "{r}");
        assert!(r.contains("1 end marker(s)"), "{r}");
        assert!(r.contains("2 vCPUs"), "{r}");
        assert!(r.contains("total: 30 (1 windows)"), "{r}");
    }
}
