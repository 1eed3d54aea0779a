//! A history's transactions, as the list-append checker sees them: each client `:txn`
//! operation paired with its completion, its micro-ops decoded (`[:append k v]`,
//! `[:r k list]`), keys numbered. An `:ok` transaction's micro-ops come from its
//! completion (reads filled in); an `:info` or `:fail` one's from its invocation (what it
//! meant to append; its reads are unknown).

use crate::history::{History, Process, Value};
use crate::model::Interner;

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// `:info` or never completed: it may have committed.
    Info,
    Fail,
}

/// One micro-op; its values are the history's own.
#[derive(Clone, Debug, PartialEq)]
pub enum Mop<'h> {
    Append(u32, &'h Value),
    /// A read of a key: the list it saw (`None`: not known, e.g. in an invocation).
    Read(u32, Option<&'h [Value]>),
}

impl Mop<'_> {
    pub fn key(&self) -> u32 {
        match self {
            Mop::Append(k, _) | Mop::Read(k, _) => *k,
        }
    }
}

/// One transaction.
#[derive(Clone, Debug)]
pub struct Txn<'h> {
    /// Positions of the invocation and of the completion (if any) in the history.
    pub invoke: usize,
    pub complete: Option<usize>,
    pub process: Process,
    pub status: Status,
    pub mops: Vec<Mop<'h>>,
}

impl Txn<'_> {
    /// The op that stands for this transaction in reports: its completion, else its
    /// invocation.
    pub fn position(&self) -> usize {
        self.complete.unwrap_or(self.invoke)
    }
}

/// The transactions, in invocation order, and the keys they name.
pub struct Txns<'h> {
    pub txns: Vec<Txn<'h>>,
    pub keys: Interner<Value>,
}

/// Decodes the history's `:txn` operations; an error names the op and what is wrong.
pub fn txns(history: &History) -> Result<Txns<'_>, String> {
    let mut keys = Interner::new();
    let mut txns = Vec::new();
    for (invoke, complete) in history.client_pairs() {
        let inv = &history.ops[invoke];
        if inv.f != "txn" {
            return Err(format!(
                "op {} is :{}, not a :txn (the list-append checker reads transactions)",
                inv.index, inv.f
            ));
        }
        let completion = complete.map(|c| &history.ops[c]);
        let status = match completion {
            Some(c) if c.is_ok() => Status::Ok,
            Some(c) if c.is_fail() => Status::Fail,
            _ => Status::Info,
        };
        let carrier = match (status, completion) {
            (Status::Ok, Some(c)) => c,
            _ => inv,
        };
        let mops = decode(&carrier.value, status == Status::Ok, &mut keys)
            .map_err(|e| format!("op {}: {e}", carrier.index))?;
        txns.push(Txn {
            invoke,
            complete,
            process: inv.process.clone(),
            status,
            mops,
        });
    }
    Ok(Txns { txns, keys })
}

/// The micro-ops of a transaction's value; `reads_known`: reads carry their lists.
fn decode<'h>(
    value: &'h Value,
    reads_known: bool,
    keys: &mut Interner<Value>,
) -> Result<Vec<Mop<'h>>, String> {
    let Some(mops) = value.as_slice() else {
        return Err(format!(
            "a :txn value must be a list of micro-ops, found {value}"
        ));
    };
    mops.iter()
        .map(|mop| {
            let parts = mop
                .as_slice()
                .filter(|p| p.len() == 3)
                .ok_or_else(|| format!("a micro-op must be [f k v], found {mop}"))?;
            let key = keys.intern(parts[1].clone());
            match parts[0].as_name() {
                Some("append") => Ok(Mop::Append(key, &parts[2])),
                Some("r") => {
                    let list = match (&parts[2], reads_known) {
                        (_, false) => None,
                        // A key never written reads as nil: the empty list.
                        (Value::Nil, true) => Some(&[][..]),
                        (v, true) => Some(
                            v.as_slice()
                                .ok_or_else(|| format!("a read must return a list, found {v}"))?,
                        ),
                    };
                    Ok(Mop::Read(key, list))
                }
                _ => Err(format!(
                    "unknown micro-op {mop} (expected [:append k v] or [:r k list])"
                )),
            }
        })
        .collect()
}
