//! `cluster up` / `cluster down`: a real multi-node machine set on this Linux host
//! (network namespaces on a bridge, an sshd per node), to run `real` against without any
//! cloud account. The work is in `jepsen_real::cluster`; this maps flags and exit codes.
//!
//! A second `up` on the same folder (or subnet) fails with exit 254 and changes nothing;
//! `down` on a folder with no cluster says so and exits 0, so it is safe in traps. A failed
//! `up` removes what it made (exit 255); an interrupted one (Ctrl-C) leaves its record in
//! `<dir>/state.txt`, and `down` then removes it. Both need root.

use crate::exit::{Failure, CRASH};
use clap::{Args, Subcommand};
use jepsen_real::cluster::{self, ClusterError, ClusterSpec, Subnet};
use std::path::{Path, PathBuf};

/// Where scripts/test.sh puts restate-server (the npm package's static binary), from the
/// repository root.
const NPM_SERVER_BINARY: &str =
    ".tools/npm/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server";

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Make nodes n1..nN (network namespaces with their own sshd) and print the `real` command.
    Up {
        /// How many nodes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The cluster's folder: SSH key, nodes file, per-node folders.
        #[arg(long, default_value = ".cluster")]
        dir: PathBuf,
        /// The private /24 the nodes live in (host .1, nodes .11, .12, …).
        #[arg(long, default_value = "10.77.0.0/24")]
        subnet: Subnet,
    },
    /// Remove everything `up` made for this folder: processes, namespaces, bridge, files.
    Down {
        #[arg(long, default_value = ".cluster")]
        dir: PathBuf,
    },
}

pub fn run(args: ClusterArgs) -> Result<i32, Failure> {
    match args.command {
        ClusterCommand::Up { nodes, dir, subnet } => {
            let spec = ClusterSpec { nodes, dir, subnet };
            let up = cluster::up(&spec).map_err(failure)?;
            for node in &up.nodes {
                println!("{} {} (netns {})", node.name, node.ip, node.netns);
            }
            println!("nodes file: {}", up.nodes_file.display());
            println!("ssh key:    {}", up.private_key.display());
            let binary = Path::new(NPM_SERVER_BINARY).canonicalize().ok();
            println!("run:        {}", up.real_command(binary.as_deref()));
            Ok(0)
        }
        ClusterCommand::Down { dir } => {
            if cluster::down(&dir).map_err(failure)? {
                println!("cluster in {} removed", dir.display());
            } else {
                println!("no cluster in {}: nothing to remove", dir.display());
            }
            Ok(0)
        }
    }
}

fn failure(e: ClusterError) -> Failure {
    match e {
        ClusterError::BadInput(message) => Failure::bad_input(message),
        ClusterError::Failed(message) => Failure {
            code: CRASH,
            message,
        },
    }
}
