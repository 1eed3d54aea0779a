//! A partition and its processor: the partition's leader is elected through the
//! metadata store with an epoch, appends every invocation to the partition's replicated
//! log, and applies it to the virtual objects once the log counts it.
//!
//! - Election: the node whose metadata member is the Raft leader claims the partition:
//!   it reads the leader record `partition-{p}-leader` (`{node, epoch}`) and writes itself
//!   with epoch + 1, conditional on the version it read (a metadata cas). So partition
//!   leadership follows the metadata leader, and two claims never get the same epoch.
//! - A leader that is no longer the one on record steps down (checked whenever it is
//!   idle); the node that leads the metadata store then claims again.
//! - Fencing and recovery: the new leader seals its epoch on the log servers, collecting
//!   their records from `nodes - replication + 1` of them (which meets every write
//!   quorum), takes per position the record of the highest epoch, writes them again in
//!   its own epoch, and rebuilds the objects' state by replaying them. A sealed log server
//!   refuses the old leader's appends, and the old leader steps down at its next append.
//! - Appends: one at a time, to every log server; a record counts once `replication`
//!   (`default-replication`) of them stored it. A refused or unanswered append makes the
//!   leader step down (a later claim recovers the log).
//! - Invocations run one at a time in log order, so handlers on a key never interleave;
//!   reads go through the log too, so the leader that answers is never a deposed one.

use super::admin_api::{self, AdminCall};
use super::bugs::{Bug, BugSet};
use super::log_server::{LogRecord, LogReply, LogRequest};
use super::metadata_server::MetadataClient;
use super::metadata_store::{MetadataCommand, Precondition, VersionedValue};
use super::transport::SimTransport;
use super::virtual_objects::{Invocation, ObjectStore, Outcome};
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use jepsen_core::workload::transport::{Request, Response, Transport};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The port of node-to-node calls (log servers, forwarded invocations).
pub const INTERNAL_PORT: u16 = 5123;

/// The metadata key of partition `p`'s leader record.
pub fn leader_key(partition: u32) -> String {
    format!("partition-{partition}-leader")
}

/// Who leads a partition, in the metadata store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderRecord {
    pub node: String,
    pub epoch: u64,
}

/// What a node's processor of one partition works with.
pub struct PartitionContext {
    pub partition: u32,
    /// This node's name, and every node's (all are log servers).
    pub node: String,
    pub nodes: Vec<String>,
    pub replication: usize,
    /// Node-to-node requests (with their timeout).
    pub internal: SimTransport,
    pub metadata: MetadataClient,
    pub bugs: BugSet,
}

type Reply = oneshot::Sender<Response>;

/// The handle a node's request servers reach the processor by.
#[derive(Clone)]
pub struct PartitionHandle {
    queue: mpsc::UnboundedSender<(Invocation, Reply)>,
    leading: Rc<Cell<bool>>,
    timeout: Duration,
}

impl PartitionHandle {
    /// Runs `invocation` if this node leads the partition; 503 if it does not, or if
    /// there is no outcome in time (it may still happen).
    pub async fn invoke(&self, invocation: Invocation) -> Response {
        if !self.leading.get() {
            return admin_api::unavailable("not the partition leader");
        }
        let (reply, outcome) = oneshot::channel();
        if self.queue.unbounded_send((invocation, reply)).is_err() {
            return admin_api::unavailable("partition processor stopped");
        }
        match madsim::time::timeout(self.timeout, outcome).await {
            Ok(Ok(response)) => response,
            _ => admin_api::unavailable("no outcome in time"),
        }
    }
}

/// Starts the processor of `context.partition` in tasks of the current node.
pub fn start(context: Rc<PartitionContext>, timeout: Duration) -> PartitionHandle {
    let (queue, invocations) = mpsc::unbounded();
    let leading = Rc::new(Cell::new(false));
    madsim::task::spawn_local(processor(context, leading.clone(), invocations));
    PartitionHandle {
        queue,
        leading,
        timeout,
    }
}

/// How often an idle leader checks that it is still the leader on record.
const RECHECK: Duration = Duration::from_millis(200);

/// Claims the partition whenever this node's metadata member leads and it does not
/// lead the partition yet; leads until an append fails or another claim replaced it.
async fn processor(
    context: Rc<PartitionContext>,
    leading: Rc<Cell<bool>>,
    mut invocations: mpsc::UnboundedReceiver<(Invocation, Reply)>,
) {
    loop {
        madsim::time::sleep(Duration::from_millis(200)).await;
        if !context.metadata.is_leader() {
            continue;
        }
        // A failed claim is tried again (with a higher epoch) while this node leads the
        // metadata store.
        let Ok(mut leader) = claim(&context).await else {
            continue;
        };
        leading.set(true);
        loop {
            let next = madsim::time::timeout(RECHECK, invocations.next()).await;
            let Ok(next) = next else {
                // Idle: still the leader on record? (A later claim replaced it, e.g. by
                // this very node with a higher epoch after a failed claim elsewhere.)
                if !leader.on_record(&context).await {
                    break;
                }
                continue;
            };
            let Some((invocation, reply)) = next else {
                break;
            };
            if reply.is_canceled() {
                continue;
            }
            match leader.run(&context, invocation).await {
                Ok(outcome) => {
                    let _ = reply.send(outcome.to_response());
                }
                Err(why) => {
                    let _ = reply.send(admin_api::unavailable(&why));
                    break;
                }
            }
        }
        leading.set(false);
    }
}

/// A partition leader's state.
struct Leader {
    epoch: u64,
    next_lsn: u64,
    objects: ObjectStore,
}

impl Leader {
    /// Whether this node's (possibly stale) view of the leader record still names this
    /// leader.
    async fn on_record(&self, context: &PartitionContext) -> bool {
        let record = context
            .metadata
            .local_get(&leader_key(context.partition))
            .await
            .and_then(|v| serde_json::from_slice::<LeaderRecord>(&v.value).ok());
        record.is_some_and(|r| r.node == context.node && r.epoch == self.epoch)
    }

    async fn run(
        &mut self,
        context: &Rc<PartitionContext>,
        invocation: Invocation,
    ) -> Result<Outcome, String> {
        let record = LogRecord {
            epoch: self.epoch,
            payload: serde_json::to_vec(&invocation).expect("an invocation serializes"),
        };
        if context.bugs.contains(&Bug::AckBeforeReplication) {
            // The bug: answer at once; append in the background, where nobody waits for
            // the outcome (so a leader cut off from the log servers goes on answering).
            let context = context.clone();
            let (epoch, lsn) = (self.epoch, self.next_lsn);
            madsim::task::spawn_local(async move {
                let _ = append(&context, epoch, lsn, record).await;
            });
        } else {
            append(context, self.epoch, self.next_lsn, record).await?;
        }
        self.next_lsn += 1;
        Ok(self.objects.invoke(&invocation))
    }
}

/// Becomes the partition's leader with a new epoch, or says why not.
async fn claim(context: &PartitionContext) -> Result<Leader, String> {
    let key = leader_key(context.partition);
    let current = context
        .metadata
        .call(AdminCall::Get { key: key.clone() })
        .await;
    let (epoch, precondition) = match current.status {
        404 => (0, Precondition::DoesNotExist),
        200 => {
            let record: LeaderRecord =
                serde_json::from_slice(&current.body).map_err(|e| format!("leader record: {e}"))?;
            let version = current
                .header_value("etag")
                .and_then(|v| v.parse().ok())
                .ok_or("leader record without a version")?;
            (record.epoch, Precondition::MatchesVersion(version))
        }
        status => return Err(format!("reading the leader record: {status}")),
    };
    let epoch = epoch + 1;
    let record = LeaderRecord {
        node: context.node.clone(),
        epoch,
    };
    let claimed = context
        .metadata
        .call(AdminCall::Write(MetadataCommand::Put {
            key,
            precondition,
            value: VersionedValue {
                version: epoch,
                value: serde_json::to_vec(&record).expect("a record serializes"),
            },
        }))
        .await;
    if claimed.status != 200 {
        return Err(format!("writing the leader record: {}", claimed.status));
    }
    // Seal, and recover what any write quorum may have stored.
    let seal_quorum = context.nodes.len() - context.replication + 1;
    let replies = broadcast(
        context,
        LogRequest::Seal {
            partition: context.partition,
            epoch,
        },
    );
    let mut recovered: BTreeMap<u64, LogRecord> = BTreeMap::new();
    let mut sealed = 0;
    for reply in collect(replies, context.nodes.len()).await {
        if let LogReply::Records(records) = reply {
            sealed += 1;
            for (lsn, record) in records {
                let newer = recovered.get(&lsn).is_none_or(|r| record.epoch > r.epoch);
                if newer {
                    recovered.insert(lsn, record);
                }
            }
        }
    }
    if sealed < seal_quorum {
        return Err(format!(
            "sealed {sealed} log servers of {seal_quorum} needed"
        ));
    }
    let mut leader = Leader {
        epoch,
        next_lsn: 1,
        objects: ObjectStore::default(),
    };
    for (lsn, record) in recovered {
        let again = LogRecord {
            epoch,
            payload: record.payload,
        };
        append(context, epoch, lsn, again.clone()).await?;
        let invocation: Invocation =
            serde_json::from_slice(&again.payload).map_err(|e| format!("record {lsn}: {e}"))?;
        leader.objects.invoke(&invocation);
        leader.next_lsn = lsn + 1;
    }
    Ok(leader)
}

/// Stores `record` at `lsn` on `replication` log servers, or says why not.
async fn append(
    context: &PartitionContext,
    epoch: u64,
    lsn: u64,
    record: LogRecord,
) -> Result<(), String> {
    let mut replies = broadcast(
        context,
        LogRequest::Append {
            partition: context.partition,
            epoch,
            lsn,
            record,
        },
    );
    let mut stored = 0;
    let mut answered = 0;
    while let Some(reply) = replies.next().await {
        answered += 1;
        match reply {
            Some(LogReply::Appended) => stored += 1,
            Some(LogReply::Sealed(at)) => return Err(format!("epoch {epoch} sealed by {at}")),
            _ => {}
        }
        if stored >= context.replication {
            return Ok(());
        }
        if answered == context.nodes.len() {
            break;
        }
    }
    Err(format!("record {lsn} stored on {stored} log servers only"))
}

/// Sends `request` to every log server; their replies (`None`: no reply) as they come.
fn broadcast(
    context: &PartitionContext,
    request: LogRequest,
) -> mpsc::UnboundedReceiver<Option<LogReply>> {
    let (replies, receiver) = mpsc::unbounded();
    let body = serde_json::to_vec(&request).expect("a log request serializes");
    for node in &context.nodes {
        let mut call = Request::new("POST", INTERNAL_PORT, "/log");
        call.body = body.clone();
        let sent = context.internal.send(node, call);
        let replies = replies.clone();
        madsim::task::spawn_local(async move {
            let reply = sent
                .await
                .ok()
                .and_then(|r| serde_json::from_slice::<LogReply>(&r.body).ok());
            let _ = replies.unbounded_send(reply);
        });
    }
    receiver
}

async fn collect(
    mut replies: mpsc::UnboundedReceiver<Option<LogReply>>,
    n: usize,
) -> Vec<LogReply> {
    let mut all = Vec::new();
    for _ in 0..n {
        match replies.next().await {
            Some(Some(reply)) => all.push(reply),
            Some(None) => {}
            None => break,
        }
    }
    all
}
