//! The audit log: one JSON object per line, on stdout (journald keeps it).
//! Fields are plain values; secrets and codes never go in.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

enum Sink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Where audit records go.
#[derive(Clone)]
pub struct Audit {
    sink: Arc<Sink>,
}

impl Audit {
    /// Lines on stdout.
    pub fn stdout() -> Self {
        Self {
            sink: Arc::new(Sink::Stdout),
        }
    }

    /// Lines kept in memory (tests); read them with [`Audit::lines`].
    pub fn memory() -> Self {
        Self {
            sink: Arc::new(Sink::Memory(Arc::default())),
        }
    }

    /// What a memory sink got so far.
    pub fn lines(&self) -> Vec<String> {
        match &*self.sink {
            Sink::Memory(m) => m.lock().map(|v| v.clone()).unwrap_or_default(),
            Sink::Stdout => Vec::new(),
        }
    }

    /// Builds the line of one record: `ts` (Unix seconds), `event`, then
    /// the fields.
    pub fn format(event: &str, fields: &[(&str, Value)]) -> String {
        let mut m = Map::new();
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        m.insert("ts".into(), Value::from((ts * 1000.0).round() / 1000.0));
        m.insert("event".into(), Value::from(event));
        for (k, v) in fields {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m).to_string()
    }

    /// Writes one record.
    pub fn log(&self, event: &str, fields: &[(&str, Value)]) {
        self.write_line(Self::format(event, fields));
    }

    /// Writes an already formatted record.
    pub fn write_line(&self, line: String) {
        match &*self.sink {
            Sink::Stdout => {
                let mut o = std::io::stdout().lock();
                // Nothing sensible to do if stdout is gone.
                let _ = writeln!(o, "{line}").and_then(|()| o.flush());
            }
            Sink::Memory(m) => {
                if let Ok(mut v) = m.lock() {
                    v.push(line);
                }
            }
        }
    }
}
