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
//!   its own epoch (all at once), and rebuilds the objects' state by replaying them. A sealed log server
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
use super::trace;
use super::transport::SimTransport;
use super::virtual_objects::{Invocation, ObjectStore, Outcome};
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use jepsen_core::workload::transport::{Request, Response, Transport, TransportError};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
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
    /// Whether this node's processor leads the partition now (as far as it knows).
    pub fn is_leading(&self) -> bool {
        self.leading.get()
    }

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

/// With `ack-before-replication`: how often the leader ships its append buffer.
pub const ACK_BUFFER_FLUSH: Duration = Duration::from_millis(100);

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
        let mut leader = match claim(&context).await {
            Ok(leader) => leader,
            Err(why) => {
                trace::event(&context.node, || format!("partition: claim failed: {why}"));
                continue;
            }
        };
        leading.set(true);
        let why = loop {
            if let Some(why) = leader.failed.borrow_mut().take() {
                break why;
            }
            let next = madsim::time::timeout(RECHECK, invocations.next()).await;
            let Ok(next) = next else {
                // Idle: still the leader on record? (A later claim replaced it, e.g. by
                // this very node with a higher epoch after a failed claim elsewhere.)
                // With `no-fencing` the leader trusts its appends and never asks.
                if !context.bugs.contains(&Bug::NoFencing) && !leader.on_record(&context).await {
                    break "no longer the leader on record".to_string();
                }
                continue;
            };
            let Some((invocation, reply)) = next else {
                break "the processor stopped".to_string();
            };
            if reply.is_canceled() {
                continue;
            }
            if let Err(why) = leader.run(&context, invocation, reply).await {
                break why;
            }
        };
        leader.stop();
        trace::event(&context.node, || {
            format!("partition: epoch {} steps down: {why}", leader.epoch)
        });
        leading.set(false);
    }
}

/// A partition leader's state.
struct Leader {
    epoch: u64,
    next_lsn: u64,
    objects: Rc<RefCell<ObjectStore>>,
    /// Why a background append made this leader step down (`non-exclusive-object`).
    failed: Rc<RefCell<Option<String>>>,
    /// Records answered but not yet shipped (`ack-before-replication`), and whether the
    /// leader still runs (its flusher stops when it does not).
    buffer: Rc<RefCell<Vec<(u64, LogRecord)>>>,
    running: Rc<Cell<bool>>,
}

impl Leader {
    fn new(epoch: u64) -> Leader {
        Leader {
            epoch,
            next_lsn: 1,
            objects: Rc::default(),
            failed: Rc::default(),
            buffer: Rc::default(),
            running: Rc::new(Cell::new(true)),
        }
    }

    fn stop(&self) {
        self.running.set(false);
    }

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

    /// Appends `invocation`, applies it and answers `reply`; an error makes the leader
    /// step down (after answering 503).
    async fn run(
        &mut self,
        context: &Rc<PartitionContext>,
        invocation: Invocation,
        reply: Reply,
    ) -> Result<(), String> {
        // A retry of an invocation that already ran gets its answer, without a record.
        if let Some(outcome) = self.objects.borrow().answer_of(&invocation) {
            let _ = reply.send(outcome.to_response());
            return Ok(());
        }
        let (epoch, lsn) = (self.epoch, self.next_lsn);
        self.next_lsn += 1;
        if context.bugs.contains(&Bug::NonExclusiveObject) {
            self.run_concurrently(context, invocation, reply, lsn);
            return Ok(());
        }
        let record = LogRecord {
            epoch,
            payload: serde_json::to_vec(&invocation).expect("an invocation serializes"),
        };
        if context.bugs.contains(&Bug::AckBeforeReplication) {
            // The bug: answer once the record is in the buffer, which the flusher ships
            // later (see `flush_buffer`).
            self.buffer.borrow_mut().push((lsn, record));
        } else if let Err(why) = append(context, epoch, lsn, record).await {
            let _ = reply.send(admin_api::unavailable(&why));
            return Err(why);
        }
        let outcome = self.objects.borrow_mut().invoke(&invocation);
        acked(context, epoch, lsn, &invocation, &outcome);
        let _ = reply.send(outcome.to_response());
        Ok(())
    }

    /// `non-exclusive-object`: runs the handler on the object's state as it is now, and
    /// lets the next invocation start at once; the handler's resulting state is logged
    /// and written back when its append returns, over whatever ran meanwhile.
    fn run_concurrently(
        &self,
        context: &Rc<PartitionContext>,
        invocation: Invocation,
        reply: Reply,
        lsn: u64,
    ) {
        let before = self.objects.borrow().state_of(&invocation);
        let mut scratch = ObjectStore::with_state_of(&invocation, before.clone());
        let outcome = scratch.invoke(&invocation);
        let after = scratch.state_of(&invocation);
        let (context, objects, failed, epoch) = (
            context.clone(),
            self.objects.clone(),
            self.failed.clone(),
            self.epoch,
        );
        madsim::task::spawn_local(async move {
            let mutation = Invocation {
                handler: "$state".to_string(),
                body: serde_json::to_vec(&after).expect("a state serializes"),
                idempotency_key: None,
                ..invocation.clone()
            };
            let record = LogRecord {
                epoch,
                payload: serde_json::to_vec(&mutation).expect("an invocation serializes"),
            };
            if let Err(why) = append(&context, epoch, lsn, record).await {
                let _ = reply.send(admin_api::unavailable(&why));
                *failed.borrow_mut() = Some(why);
                return;
            }
            if after != before {
                objects.borrow_mut().invoke(&mutation);
            }
            acked(&context, epoch, lsn, &invocation, &outcome);
            let _ = reply.send(outcome.to_response());
        });
    }

    /// `ack-before-replication`: ships the buffered records every `ACK_BUFFER_FLUSH`
    /// while the leader runs; a failed append is noticed by nobody.
    fn start_flusher(&self, context: &Rc<PartitionContext>) {
        let (context, buffer, running, epoch) = (
            context.clone(),
            self.buffer.clone(),
            self.running.clone(),
            self.epoch,
        );
        madsim::task::spawn_local(async move {
            while running.get() {
                madsim::time::sleep(ACK_BUFFER_FLUSH).await;
                let records = std::mem::take(&mut *buffer.borrow_mut());
                for (lsn, record) in records {
                    let _ = append(&context, epoch, lsn, record).await;
                }
            }
        });
    }
}

/// Traces an answered invocation.
fn acked(context: &PartitionContext, epoch: u64, lsn: u64, i: &Invocation, o: &Outcome) {
    trace::event(&context.node, || {
        format!(
            "partition: epoch {epoch} lsn {lsn} acked {}/{}/{} {} -> {} {}",
            i.service,
            i.key,
            i.handler,
            String::from_utf8_lossy(&i.body),
            o.status,
            String::from_utf8_lossy(&o.body)
        )
    });
}

/// Becomes the partition's leader with a new epoch, or says why not.
async fn claim(context: &Rc<PartitionContext>) -> Result<Leader, String> {
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
    trace::event(&context.node, || {
        format!(
            "partition: claimed epoch {epoch}; sealed {sealed} log servers; recovering {} records",
            recovered.len()
        )
    });
    // Written again in this epoch, all at once (each on `replication` log servers).
    futures_util::future::try_join_all(recovered.iter().map(|(lsn, record)| {
        let again = LogRecord {
            epoch,
            payload: record.payload.clone(),
        };
        append(context, epoch, *lsn, again)
    }))
    .await?;
    let mut leader = Leader::new(epoch);
    let mut next_lsn = 1;
    for (lsn, record) in recovered {
        let invocation: Invocation =
            serde_json::from_slice(&record.payload).map_err(|e| format!("record {lsn}: {e}"))?;
        leader.objects.borrow_mut().invoke(&invocation);
        next_lsn = lsn + 1;
    }
    leader.next_lsn = next_lsn;
    if context.bugs.contains(&Bug::AckBeforeReplication) {
        leader.start_flusher(context);
    }
    trace::event(&context.node, || {
        format!("partition: leads with epoch {epoch} from lsn {next_lsn}")
    });
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
            Some(LogReply::Sealed(at)) => {
                trace::event(&context.node, || {
                    format!("partition: epoch {epoch} lsn {lsn} refused: sealed by epoch {at}")
                });
                return Err(format!("epoch {epoch} sealed by {at}"));
            }
            _ => {}
        }
        if stored >= context.replication {
            trace::event(&context.node, || {
                format!("partition: epoch {epoch} lsn {lsn} stored on {stored} log servers")
            });
            return Ok(());
        }
        if answered == context.nodes.len() {
            break;
        }
    }
    trace::event(&context.node, || {
        format!("partition: epoch {epoch} lsn {lsn} stored on {stored} log servers only")
    });
    Err(format!("record {lsn} stored on {stored} log servers only"))
}

/// How often a log request whose connection was refused is sent again (a refused
/// connection certainly delivered nothing: a lost connect under packet loss is retried,
/// as TCP retries a SYN), and the pause before each retry.
const LOG_CONNECT_TRIES: usize = 3;
const LOG_CONNECT_BACKOFF: Duration = Duration::from_millis(10);

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
        let (internal, node, replies) = (context.internal.clone(), node.clone(), replies.clone());
        madsim::task::spawn_local(async move {
            let mut sent = internal.send(&node, call.clone()).await;
            for _ in 1..LOG_CONNECT_TRIES {
                if !matches!(sent, Err(TransportError::Refused(_))) {
                    break;
                }
                madsim::time::sleep(LOG_CONNECT_BACKOFF).await;
                sent = internal.send(&node, call.clone()).await;
            }
            let reply = sent
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
