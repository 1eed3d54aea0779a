//! The streaming history writer: every op is written (and flushed) when it is recorded, so
//! a run that crashes or is killed keeps everything it recorded.

use super::Op;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Appends ops to `history.jsonl` as JSON lines, flushing each one to the OS.
pub struct HistoryWriter {
    out: BufWriter<File>,
}

impl HistoryWriter {
    pub fn create(path: &Path) -> io::Result<HistoryWriter> {
        Ok(HistoryWriter {
            out: BufWriter::new(File::create(path)?),
        })
    }

    /// Writes one op and hands it to the OS before returning.
    pub fn record(&mut self, op: &Op) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, op)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Flushes and syncs the file to disk.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

/// Writes a whole history as EDN, one op map per line (Jepsen's `history.edn`).
pub fn write_edn(path: &Path, ops: &[Op]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for op in ops {
        writeln!(out, "{op}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{read_history_file, Value};

    #[test]
    fn each_recorded_op_is_on_disk_before_the_writer_is_finished() {
        let dir = std::env::temp_dir().join(format!("hw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let mut w = HistoryWriter::create(&path).unwrap();
        let mut op = Op::invoke(0, "add", Value::Int(1));
        op.index = 0;
        op.time = 10;
        w.record(&op).unwrap();
        // Not finished: the file must already hold the op.
        let h = read_history_file(&path).unwrap();
        assert_eq!(h.ops, vec![op]);
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
