//! The replicated metadata server on one node: a member of a Raft group (tikv raft-rs,
//! as Restate's own metadata server) whose log carries metadata writes, applied in log
//! order to a [`MetadataStore`] on every member.
//!
//! - Timing as Restate's configuration: a tick every 100 ms, election after 10 ticks
//!   (randomized in [10, 20)), heartbeat every 2 ticks; pre-vote and check-quorum on, so
//!   an isolated leader steps down after an election timeout.
//! - Membership is static: every node is a voter from the start.
//! - Messages between members are datagrams over madsim's network (lost on a clogged
//!   link; Raft retries), each a batch of Raft messages to one peer.
//! - Requests may arrive at any member. The member does not forward them itself: it
//!   hands them to Raft, which forwards a proposal, or a read-index request, to the
//!   leader it knows. A member that knows no leader answers 503 at once.
//! - Writes go through the log; the member that received the write answers once it
//!   applied the entry (every member computes the same outcome, 200 or 412).
//! - Reads are linearizable through Raft's read index (`ReadOnlySafe`: the leader
//!   confirms its leadership with a quorum of heartbeats): the member waits for the read
//!   index and for its own state machine to have applied up to it, and answers from it.
//! - A request not answered within the request timeout (lost leadership, no quorum) gets
//!   503; the write may still commit later (the client treats 5xx as indeterminate).
//! - Durability: see [`super::disk`]. The state machine is rebuilt after a restart by
//!   replaying the committed log.
//!
//! Determinism: raft-rs draws its randomized election timeout from `rand::thread_rng`,
//! which reads the OS's entropy (not madsim's); the member overwrites it after every
//! call into Raft with a value drawn from madsim's seeded generator, re-drawn whenever
//! the member's term, role or leader changes (where raft-rs re-draws it).

use super::admin_api::{self, AdminCall};
use super::bugs::{Bug, BugSet};
use super::disk::NodeDisk;
use super::metadata_store::{MetadataCommand, MetadataStore, VersionedValue, WriteOutcome};
use super::trace;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use jepsen_core::workload::transport::Response;
use madsim::net::Endpoint;
use raft::prelude::{Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{RawNode, StateRole};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The port members talk Raft on (Restate's node-to-node port).
pub const RAFT_PORT: u16 = 5122;
/// The datagram tag of Raft message batches.
const RAFT_TAG: u64 = 0x5261_6674;

/// The metadata server's timing.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftTiming {
    pub tick: Duration,
    pub election_tick: usize,
    pub heartbeat_tick: usize,
    /// How long a member waits for a request's outcome before answering 503.
    pub request_timeout: Duration,
}

impl Default for RaftTiming {
    /// Restate's: 100 ms ticks, election 10 ticks, heartbeat 2 ticks; 2 s per request.
    fn default() -> Self {
        RaftTiming {
            tick: Duration::from_millis(100),
            election_tick: 10,
            heartbeat_tick: 2,
            request_timeout: Duration::from_secs(2),
        }
    }
}

/// What a member needs to start; survives restarts of its node.
pub struct MemberSpec {
    /// Raft id, from 1.
    pub id: u64,
    /// Every member's Raft address, by id (set once the cluster knows its addresses).
    pub peers: Arc<OnceLock<BTreeMap<u64, SocketAddr>>>,
    pub disk: Arc<NodeDisk>,
    pub bugs: BugSet,
    pub timing: RaftTiming,
}

/// A write in the log: the command and the request it came from.
#[derive(Serialize, Deserialize)]
struct Proposal {
    /// The member that received the request, its boot, and its request number there.
    origin: (u64, u64, u64),
    command: MetadataCommand,
}

/// What the member's loop reacts to.
enum Event {
    Tick,
    Raft(Vec<Message>),
    Call(AdminCall, oneshot::Sender<Response>),
    /// A read of this member's applied state, without a read index (may be stale).
    LocalGet(String, oneshot::Sender<Option<VersionedValue>>),
}

/// A handle to call the member running on this node.
#[derive(Clone)]
pub struct MetadataClient {
    events: mpsc::UnboundedSender<Event>,
    timeout: Duration,
    /// Whether this member is the Raft leader now.
    leader: Rc<Cell<bool>>,
}

impl MetadataClient {
    /// Whether this node's member is the Raft leader (as far as it knows).
    pub fn is_leader(&self) -> bool {
        self.leader.get()
    }

    /// The value of `key` in this member's applied state: possibly stale, for routing.
    pub async fn local_get(&self, key: &str) -> Option<VersionedValue> {
        let (reply, value) = oneshot::channel();
        self.events
            .unbounded_send(Event::LocalGet(key.to_string(), reply))
            .ok()?;
        value.await.ok().flatten()
    }

    /// The response to `call`: the store's answer, or 503 if it has none in time.
    pub async fn call(&self, call: AdminCall) -> Response {
        let (reply, response) = oneshot::channel();
        if self
            .events
            .unbounded_send(Event::Call(call, reply))
            .is_err()
        {
            return admin_api::unavailable("metadata server stopped");
        }
        match madsim::time::timeout(self.timeout, response).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => admin_api::unavailable("request dropped"),
            Err(_) => admin_api::unavailable("metadata request timed out"),
        }
    }
}

/// Starts this node's member (boot number `boot`) in tasks of the current node, and
/// returns the handle requests reach it by.
pub async fn start(spec: &MemberSpec, boot: u64) -> MetadataClient {
    let endpoint = Endpoint::bind(("0.0.0.0", RAFT_PORT))
        .await
        .expect("the Raft port is free on a fresh node");
    let (events, inbox) = mpsc::unbounded();

    let ticks = events.clone();
    let tick = spec.timing.tick;
    madsim::task::spawn_local(async move {
        loop {
            madsim::time::sleep(tick).await;
            if ticks.unbounded_send(Event::Tick).is_err() {
                break;
            }
        }
    });

    let (incoming, receiver) = (events.clone(), endpoint.clone());
    madsim::task::spawn_local(async move {
        while let Ok((payload, _from)) = receiver.recv_from_raw(RAFT_TAG).await {
            if let Ok(batch) = payload.downcast::<Vec<Message>>() {
                if incoming.unbounded_send(Event::Raft(*batch)).is_err() {
                    break;
                }
            }
        }
    });

    let leader = Rc::new(Cell::new(false));
    let mut member = Member::new(spec, boot, endpoint, inbox, leader.clone());
    madsim::task::spawn_local(async move { member.run().await });
    MetadataClient {
        events,
        timeout: spec.timing.request_timeout,
        leader,
    }
}

/// A request waiting for its answer.
type Reply = oneshot::Sender<Response>;

struct Member {
    id: u64,
    boot: u64,
    raft: RawNode<MemStorage>,
    disk: Arc<NodeDisk>,
    peers: Arc<OnceLock<BTreeMap<u64, SocketAddr>>>,
    bugs: BugSet,
    endpoint: Endpoint,
    inbox: mpsc::UnboundedReceiver<Event>,
    store: MetadataStore,
    applied: u64,
    next_request: u64,
    /// Writes proposed by this member, by request number.
    writes: BTreeMap<u64, Reply>,
    /// Reads waiting for their read index, by request number.
    reads: BTreeMap<u64, (String, Reply)>,
    /// Reads with a read index, waiting for the state machine to apply up to it.
    indexed_reads: Vec<(u64, String, Reply)>,
    /// (term, role, leader) when the election timeout was last drawn, and the timeout.
    election: (u64, StateRole, u64, usize),
    /// The range election timeouts are drawn from, in ticks (Raft's: [election, 2 election)).
    election_range: (usize, usize),
    /// Shared with the [`MetadataClient`]s: whether this member leads.
    leader: Rc<Cell<bool>>,
}

impl Member {
    fn new(
        spec: &MemberSpec,
        boot: u64,
        endpoint: Endpoint,
        inbox: mpsc::UnboundedReceiver<Event>,
        leader: Rc<Cell<bool>>,
    ) -> Member {
        let config = raft::Config {
            id: spec.id,
            election_tick: spec.timing.election_tick,
            heartbeat_tick: spec.timing.heartbeat_tick,
            pre_vote: true,
            check_quorum: true,
            applied: 0,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            ..raft::Config::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raft = RawNode::new(&config, spec.disk.raft_storage(), &logger)
            .expect("a valid Raft configuration and storage");
        let mut member = Member {
            id: spec.id,
            boot,
            raft,
            disk: spec.disk.clone(),
            peers: spec.peers.clone(),
            bugs: spec.bugs.clone(),
            endpoint,
            inbox,
            store: MetadataStore::default(),
            applied: 0,
            next_request: 0,
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            indexed_reads: Vec::new(),
            election: (u64::MAX, StateRole::Follower, 0, 0),
            election_range: (config.min_election_tick(), config.max_election_tick()),
            leader,
        };
        member.settle_election_timeout();
        member
    }

    async fn run(&mut self) {
        while let Some(event) = self.inbox.next().await {
            self.handle(event);
            while let Ok(event) = self.inbox.try_recv() {
                self.handle(event);
            }
            self.settle_election_timeout();
            self.handle_ready().await;
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Tick => {
                self.raft.tick();
                self.writes.retain(|_, reply| !reply.is_canceled());
                self.reads.retain(|_, (_, reply)| !reply.is_canceled());
            }
            Event::Raft(batch) => {
                for message in batch {
                    // Messages from a stale term or an unknown peer are refused: ignore.
                    let _ = self.raft.step(message);
                }
            }
            Event::Call(call, reply) => self.call(call, reply),
            Event::LocalGet(key, reply) => {
                let _ = reply.send(self.store.get(&key).cloned());
            }
        }
        self.settle_election_timeout();
    }

    fn call(&mut self, call: AdminCall, reply: Reply) {
        if self.raft.raft.leader_id == raft::INVALID_ID {
            let _ = reply.send(admin_api::unavailable("no metadata leader known"));
            return;
        }
        self.next_request += 1;
        let request = self.next_request;
        match call {
            AdminCall::Get { key } => {
                // Unique across members: the leader ignores a read index whose context
                // it is already confirming.
                let mut context = self.id.to_le_bytes().to_vec();
                context.extend_from_slice(&self.boot.to_le_bytes());
                context.extend_from_slice(&request.to_le_bytes());
                self.raft.read_index(context);
                self.reads.insert(request, (key, reply));
            }
            AdminCall::Write(command) => {
                let mut reply = Some(reply);
                if self.bugs.contains(&Bug::MetadataCasWithoutQuorum)
                    && self.raft.raft.state == StateRole::Leader
                {
                    // The bug: answer from this leader's applied state, before a quorum.
                    let outcome = self.store.would_apply(&command);
                    if let Some(reply) = reply.take() {
                        let _ = reply.send(admin_api::write_response(outcome));
                    }
                    if outcome == WriteOutcome::PreconditionFailed {
                        return;
                    }
                }
                let proposal = Proposal {
                    origin: (self.id, self.boot, request),
                    command,
                };
                let data = serde_json::to_vec(&proposal).expect("a proposal serializes");
                let proposed = self.raft.propose(Vec::new(), data);
                if let Some(reply) = reply {
                    match proposed {
                        Ok(()) => {
                            self.writes.insert(request, reply);
                        }
                        Err(e) => {
                            let _ =
                                reply.send(admin_api::unavailable(&format!("not proposed: {e}")));
                        }
                    }
                }
            }
        }
    }

    /// Persists, sends and applies what Raft has ready, until it has nothing more.
    async fn handle_ready(&mut self) {
        while self.raft.has_ready() {
            let mut ready = self.raft.ready();
            self.send(ready.take_messages());
            assert!(
                ready.snapshot().get_metadata().index == 0,
                "the log is never compacted, so no snapshot is ever sent"
            );
            self.index_reads(ready.take_read_states());
            self.apply(ready.take_committed_entries());
            self.disk.sync_raft(ready.entries(), ready.hs()).await;
            self.send(ready.take_persisted_messages());
            let mut light = self.raft.advance(ready);
            if let Some(commit) = light.commit_index() {
                self.disk.set_commit(commit);
            }
            self.send(light.take_messages());
            self.apply(light.take_committed_entries());
            self.raft.advance_apply();
            self.answer_reads();
            self.settle_election_timeout();
        }
    }

    fn index_reads(&mut self, states: Vec<raft::ReadState>) {
        for state in states {
            let word = |i: usize| {
                let bytes = state.request_ctx.get(8 * i..8 * (i + 1))?;
                Some(u64::from_le_bytes(bytes.try_into().ok()?))
            };
            let (Some(member), Some(boot), Some(request)) = (word(0), word(1), word(2)) else {
                continue;
            };
            if (member, boot) != (self.id, self.boot) {
                continue;
            }
            if let Some((key, reply)) = self.reads.remove(&request) {
                self.indexed_reads.push((state.index, key, reply));
            }
        }
    }

    fn answer_reads(&mut self) {
        let applied = self.applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.indexed_reads)
            .into_iter()
            .partition(|(index, _, _)| *index <= applied);
        self.indexed_reads = waiting;
        for (_, key, reply) in ready {
            let _ = reply.send(admin_api::get_response(self.store.get(&key)));
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            self.applied = entry.index;
            if entry.get_entry_type() != EntryType::EntryNormal || entry.data.is_empty() {
                continue;
            }
            let proposal: Proposal =
                serde_json::from_slice(&entry.data).expect("the log holds proposals");
            let outcome = self.store.apply(&proposal.command);
            let (member, boot, request) = proposal.origin;
            if (member, boot) == (self.id, self.boot) {
                if let Some(reply) = self.writes.remove(&request) {
                    let _ = reply.send(admin_api::write_response(outcome));
                }
            }
        }
        self.answer_reads();
    }

    /// Sends each peer its messages, one datagram per peer.
    fn send(&self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let mut batches: BTreeMap<u64, Vec<Message>> = BTreeMap::new();
        for m in messages {
            batches.entry(m.to).or_default().push(m);
        }
        let peers = self.peers.get().expect("peer addresses are set at start");
        for (to, batch) in batches {
            let Some(&address) = peers.get(&to) else {
                continue;
            };
            let endpoint = self.endpoint.clone();
            madsim::task::spawn_local(async move {
                let _ = endpoint
                    .send_to_raw(address, RAFT_TAG, Box::new(batch))
                    .await;
            });
        }
    }

    /// Replaces raft-rs's randomized election timeout (drawn from the OS) by one drawn
    /// from madsim's seeded generator; see the module docs.
    fn settle_election_timeout(&mut self) {
        let r = &mut self.raft.raft;
        let role = (r.term, r.state, r.leader_id);
        if (self.election.0, self.election.1, self.election.2) != role {
            let (low, high) = self.election_range;
            let timeout = low + (madsim::rand::random::<u64>() % (high - low) as u64) as usize;
            self.election = (role.0, role.1, role.2, timeout);
        }
        r.set_randomized_election_timeout(self.election.3);
        let leads = r.state == StateRole::Leader;
        if leads != self.leader.get() {
            let (id, term) = (self.id, r.term);
            trace::event(&format!("n{id}"), || {
                let what = if leads { "became" } else { "is no longer" };
                format!("metadata: {what} the Raft leader (term {term})")
            });
        }
        self.leader.set(leads);
    }
}
