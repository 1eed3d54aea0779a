//! The record of what `cluster up` made, one item a line in `<dir>/state.txt`, written
//! before each thing is made. `cluster down` (and a failed `up`) undoes exactly these items,
//! so nothing is ever removed that this tool did not create.

use super::ClusterError;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One thing `cluster up` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A bridge in the host's network namespace.
    Bridge(String),
    /// A network namespace (one per node).
    Netns(String),
    /// The host end of a node's veth pair (it goes with its namespace, but is named here too).
    Veth(String),
    /// The host pid of a node's `unshare` (its init dies with it: `--kill-child`).
    Pid(u32),
    /// A file or folder inside the cluster folder (relative to it).
    Path(String),
}

impl Item {
    fn to_line(&self) -> String {
        match self {
            Item::Bridge(name) => format!("bridge {name}"),
            Item::Netns(name) => format!("netns {name}"),
            Item::Veth(name) => format!("veth {name}"),
            Item::Pid(pid) => format!("pid {pid}"),
            Item::Path(path) => format!("path {path}"),
        }
    }

    fn from_line(line: &str) -> Option<Item> {
        let (kind, rest) = line.split_once(' ')?;
        Some(match kind {
            "bridge" => Item::Bridge(rest.to_string()),
            "netns" => Item::Netns(rest.to_string()),
            "veth" => Item::Veth(rest.to_string()),
            "pid" => Item::Pid(rest.parse().ok()?),
            "path" => Item::Path(rest.to_string()),
            _ => return None,
        })
    }
}

/// The state file of one cluster folder.
pub struct StateFile {
    pub path: PathBuf,
}

impl StateFile {
    pub const NAME: &'static str = "state.txt";

    pub fn in_dir(dir: &Path) -> StateFile {
        StateFile {
            path: dir.join(Self::NAME),
        }
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Starts a new record; fails if one is there (a cluster is up in this folder).
    pub fn create(&self) -> Result<(), ClusterError> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
            .map(|_| ())
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", self.path.display())))
    }

    /// Appends `item`, synced, before the thing is made.
    pub fn record(&self, item: Item) -> Result<(), ClusterError> {
        let fail =
            |e: std::io::Error| ClusterError::Failed(format!("{}: {e}", self.path.display()));
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        writeln!(file, "{}", item.to_line()).map_err(fail)?;
        file.sync_data().map_err(fail)
    }

    /// The items, in the order they were made; unknown lines are skipped.
    pub fn read(&self) -> Result<Vec<Item>, ClusterError> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", self.path.display())))?;
        Ok(text.lines().filter_map(Item::from_line).collect())
    }

    pub fn remove(&self) -> Result<(), ClusterError> {
        std::fs::remove_file(&self.path)
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_survive_a_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateFile::in_dir(dir.path());
        state.create().unwrap();
        assert!(state.create().is_err(), "a second create must fail");
        let items = vec![
            Item::Bridge("rj77-0-br".into()),
            Item::Netns("rj77-0-n1".into()),
            Item::Veth("rj77-0-n1".into()),
            Item::Pid(4242),
            Item::Path("n1".into()),
        ];
        for item in &items {
            state.record(item.clone()).unwrap();
        }
        assert_eq!(state.read().unwrap(), items);
    }
}
