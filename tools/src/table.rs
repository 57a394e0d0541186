//! Plain aligned text tables for `inspect`.

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table rendered with two spaces between columns and a dashed rule under the header.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// Renders every line with `indent` leading spaces; trailing spaces are trimmed.
    pub(crate) fn render(&self, indent: usize) -> String {
        let n = self.headers.len();
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (k, cell) in row.iter().enumerate().take(n) {
                width[k] = width[k].max(cell.chars().count());
            }
        }
        let pad = " ".repeat(indent);
        let line = |cells: &[String]| -> String {
            let mut s = pad.clone();
            for (k, cell) in cells.iter().enumerate().take(n) {
                if k > 0 {
                    s.push_str("  ");
                }
                let fill = width[k].saturating_sub(cell.chars().count());
                match self.align[k] {
                    Align::Left => {
                        s.push_str(cell);
                        s.push_str(&" ".repeat(fill));
                    }
                    Align::Right => {
                        s.push_str(&" ".repeat(fill));
                        s.push_str(cell);
                    }
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let mut out = line(&headers);
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}
