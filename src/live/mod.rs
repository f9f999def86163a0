//! Live canvases: the per-process hub that hands canvas events to this process's subscribers,
//! the subscription stream (replay, gap repair, `Resync`, the end of a stream), and pruning.
//!
//! Events are rows of `canvas_events` (see [`crate::canvas::events`]). The hub learns of a new
//! one from PostgreSQL's `LISTEN` (every replica hears every replica's writes) or, on SQLite, from
//! this process's own writes; it reads the row once and broadcasts it to the canvas's local
//! subscribers. A subscriber that sees a version gap, falls behind the broadcast buffer, or is
//! told the listener reconnected reads what it missed from the table; when that history is gone
//! it gets `Resync`. It never skips an event silently.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::{DatabaseBackend, DatabaseConnection, EntityTrait};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::Actor;
use crate::canvas::events::{self, CHANNEL, CanvasEvent, EventPart, ResyncReason};
use crate::config::LiveConfig;
use crate::error::{Error, Result};

/// Events a canvas's broadcast holds for subscribers that are behind; one further behind reads
/// the table instead.
const BUFFER: usize = 256;
/// Events read from the table at once when catching up.
const REPLAY_PAGE: u64 = 100;
/// Longest wait between attempts to reconnect the PostgreSQL listener.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(5);

/// The live hub of this process; cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    config: LiveConfig,
    /// One broadcast per canvas that has local subscribers.
    channels: Mutex<HashMap<String, broadcast::Sender<Signal>>>,
    /// Wakes the delivery task.
    wake: mpsc::UnboundedSender<Wake>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopping: CancellationToken,
}

/// What the delivery task is told.
enum Wake {
    /// The event of this canvas and version is committed.
    Event(String, i64),
    /// Notifications may have been missed: every subscriber reads the table.
    CatchUp,
}

/// What a canvas's subscribers receive.
#[derive(Clone)]
enum Signal {
    Event(Arc<CanvasEvent>),
    CatchUp,
}

impl Live {
    /// Starts the hub: the delivery task, the PostgreSQL listener (listening before this
    /// returns, so no commit after it is missed), and the pruning task.
    pub async fn start(
        db: DatabaseConnection,
        database_url: &str,
        config: LiveConfig,
    ) -> anyhow::Result<Live> {
        let (wake, wakes) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            db: db.clone(),
            config,
            channels: Mutex::new(HashMap::new()),
            wake: wake.clone(),
            tasks: Mutex::new(Vec::new()),
            stopping: CancellationToken::new(),
        });
        let mut tasks = vec![tokio::spawn(deliver(Arc::downgrade(&inner), wakes))];
        if db.get_database_backend() == DatabaseBackend::Postgres {
            let listener = listen(database_url).await.map_err(|e| {
                anyhow::anyhow!("cannot LISTEN for canvas events on PostgreSQL: {e}")
            })?;
            tasks.push(tokio::spawn(relay(database_url.to_owned(), listener, wake)));
        }
        tasks.push(tokio::spawn(prune_loop(Arc::downgrade(&inner))));
        *lock(&inner.tasks) = tasks;
        Ok(Live { inner })
    }

    pub fn config(&self) -> &LiveConfig {
        &self.inner.config
    }

    /// Cancelled when the server stops; open WebSocket connections close then.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.stopping.clone()
    }

    /// Stops the background tasks and ends every subscription.
    pub fn stop(&self) {
        self.inner.stopping.cancel();
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        lock(&self.inner.channels).clear();
    }

    /// A write's event is committed. On PostgreSQL its `NOTIFY` reaches every process,
    /// this one included; on SQLite this process is the only one.
    pub(crate) fn committed(&self, canvas_id: String, version: i64) {
        if self.inner.db.get_database_backend() != DatabaseBackend::Postgres {
            self.inner.wake.send(Wake::Event(canvas_id, version)).ok();
        }
    }

    /// The events of a canvas the actor can read, from `since` (exclusive; the current version
    /// when absent) on, until the canvas is deleted, the actor may no longer read it, or
    /// `expires_at` (the token's expiry) passes. `NOT_FOUND` for a canvas the actor cannot read.
    pub async fn follow(
        &self,
        actor: Actor,
        canvas_id: &str,
        since: Option<i64>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<BoxStream<'static, Result<Arc<CanvasEvent>>>> {
        let deadline = match expires_at {
            None => None,
            Some(at) => match (at - Utc::now()).to_std() {
                Ok(left) => Some(tokio::time::Instant::now() + left),
                Err(_) => return Err(Error::Unauthenticated),
            },
        };
        // Listen before reading, so nothing committed in between is missed.
        let mut follower = Follower {
            rx: Some(self.inner.subscribe(canvas_id)),
            live: self.inner.clone(),
            actor,
            canvas_id: canvas_id.to_owned(),
            last: 0,
            pending: VecDeque::new(),
            behind: false,
            deadline,
            done: false,
        };
        let canvas = crate::canvas::find_readable(&self.inner.db, &follower.actor, canvas_id)
            .await?
            .ok_or_else(|| Error::not_found("canvas", canvas_id))?;
        follower.last = match since {
            None => canvas.version,
            Some(v) if v < 0 => {
                return Err(Error::bad_input("sinceVersion", "must not be negative"));
            }
            Some(v) if v > canvas.version => {
                return Err(Error::bad_input(
                    "sinceVersion",
                    format!(
                        "is ahead of the canvas, which is at version {}",
                        canvas.version
                    ),
                ));
            }
            Some(v) => v,
        };
        follower.behind = follower.last < canvas.version;
        Ok(
            futures::stream::unfold(follower, |mut follower| async move {
                let item = follower.next().await?;
                Some((item, follower))
            })
            .boxed(),
        )
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn subscribe(&self, canvas_id: &str) -> broadcast::Receiver<Signal> {
        lock(&self.channels)
            .entry(canvas_id.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// Forgets a canvas's broadcast once its last subscriber is gone.
    fn release(&self, canvas_id: &str) {
        let mut channels = lock(&self.channels);
        if channels
            .get(canvas_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(canvas_id);
        }
    }

    /// Reads a committed event once and hands it to the canvas's local subscribers, if any.
    async fn deliver(&self, canvas_id: &str, version: i64) {
        let Some(tx) = lock(&self.channels).get(canvas_id).cloned() else {
            return;
        };
        if tx.receiver_count() == 0 {
            return;
        }
        match events::event_at(&self.db, canvas_id, version).await {
            Ok(Some(event)) => {
                tx.send(Signal::Event(Arc::new(event))).ok();
            }
            // Pruned already, or unreadable for now: the subscribers read the table themselves.
            Ok(None) => {
                tx.send(Signal::CatchUp).ok();
            }
            Err(err) => {
                tracing::warn!(canvas_id, version, error = ?err, "cannot read a canvas event");
                tx.send(Signal::CatchUp).ok();
            }
        }
    }

    fn catch_up_all(&self) {
        for tx in lock(&self.channels).values() {
            tx.send(Signal::CatchUp).ok();
        }
    }
}

/// The delivery task: events one at a time, in the order they are announced.
async fn deliver(inner: Weak<Inner>, mut wakes: mpsc::UnboundedReceiver<Wake>) {
    while let Some(wake) = wakes.recv().await {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match wake {
            Wake::Event(canvas_id, version) => inner.deliver(&canvas_id, version).await,
            Wake::CatchUp => inner.catch_up_all(),
        }
    }
}

type PgListener = sea_orm::sqlx::postgres::PgListener;

async fn listen(database_url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Relays PostgreSQL notifications (`<version>:<canvas id>`) to the delivery task. When the
/// connection drops it reconnects, then tells every subscriber to read what it missed.
async fn relay(database_url: String, mut listener: PgListener, wake: mpsc::UnboundedSender<Wake>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let parsed = notification
                    .payload()
                    .split_once(':')
                    .and_then(|(v, id)| Some((v.parse::<i64>().ok()?, id)));
                if let Some((version, canvas_id)) = parsed {
                    wake.send(Wake::Event(canvas_id.to_owned(), version)).ok();
                }
            }
            Ok(None) | Err(_) => {
                tracing::warn!("lost the PostgreSQL connection that listens for canvas events");
                let mut wait = Duration::from_millis(100);
                listener = loop {
                    match listen(&database_url).await {
                        Ok(listener) => break listener,
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot listen for canvas events yet");
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(MAX_RECONNECT_WAIT);
                        }
                    }
                };
                tracing::info!("listening for canvas events again; subscribers catch up");
                wake.send(Wake::CatchUp).ok();
            }
        }
    }
}

/// Deletes events past retention every `prune_every`.
async fn prune_loop(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(inner) => inner.config.prune_every,
        None => return,
    };
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match events::prune(&inner.db, &inner.config, crate::time::now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "pruned old canvas events"),
            Err(err) => tracing::warn!(error = ?err, "cannot prune canvas events"),
        }
    }
}

/// One subscription: where it is in the canvas's history, and what it has yet to hand out.
struct Follower {
    live: Arc<Inner>,
    rx: Option<broadcast::Receiver<Signal>>,
    actor: Actor,
    canvas_id: String,
    /// The version of the last event handed out (or the version the subscription started at).
    last: i64,
    pending: VecDeque<Arc<CanvasEvent>>,
    /// Events may be in the table that were not broadcast to this subscriber.
    behind: bool,
    deadline: Option<tokio::time::Instant>,
    done: bool,
}

impl Drop for Follower {
    fn drop(&mut self) {
        drop(self.rx.take());
        self.live.release(&self.canvas_id);
    }
}

impl Follower {
    async fn next(&mut self) -> Option<Result<Arc<CanvasEvent>>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                if event.version <= self.last {
                    continue;
                }
                if let Some(canvas) = event.canvas()
                    && !(self.actor.is(&canvas.owner_id) || canvas.is_public || canvas.is_template)
                {
                    // The canvas turned private: it is no longer there for this actor.
                    self.done = true;
                    return Some(Err(Error::not_found("canvas", self.canvas_id.clone())));
                }
                self.last = event.version;
                self.done = event.deletes_canvas();
                return Some(Ok(event));
            }
            if self.behind {
                if let Err(err) = self.catch_up().await {
                    self.done = true;
                    return Some(Err(err));
                }
                continue;
            }
            let deadline = self.deadline;
            let expired = async move {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let rx = self.rx.as_mut()?;
            tokio::select! {
                () = expired => {
                    self.done = true;
                    return Some(Err(Error::Unauthenticated));
                }
                signal = rx.recv() => match signal {
                    Ok(Signal::Event(event)) => {
                        if event.version == self.last + 1 {
                            self.pending.push_back(event);
                        } else if event.version > self.last + 1 {
                            // Announced out of order, or one went missing: the table knows.
                            self.behind = true;
                        }
                    }
                    Ok(Signal::CatchUp) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.behind = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        self.done = true;
                        return None;
                    }
                },
            }
        }
    }

    /// Reads the events after `last` from the table; a hole in them (pruned history) becomes a
    /// `Resync` at the version before the first event still kept.
    async fn catch_up(&mut self) -> Result<()> {
        let db = &self.live.db;
        let found = events::events_after(db, &self.canvas_id, self.last, REPLAY_PAGE).await?;
        self.behind = found.len() as u64 == REPLAY_PAGE;
        match found.first() {
            Some(first) if first.version > self.last + 1 => {
                self.pending.push_back(Arc::new(CanvasEvent::resync(
                    &self.canvas_id,
                    first.version - 1,
                    ResyncReason::HistoryGone,
                )));
            }
            Some(_) => {}
            None => {
                let canvas = entity::canvas::Entity::find_by_id(self.canvas_id.clone())
                    .one(db)
                    .await?;
                match canvas {
                    Some(canvas) if canvas.version > self.last => {
                        self.pending.push_back(Arc::new(CanvasEvent::resync(
                            &self.canvas_id,
                            canvas.version,
                            ResyncReason::HistoryGone,
                        )));
                    }
                    Some(_) => {}
                    // Deleted, and the deletion's event already pruned.
                    None => self.pending.push_back(Arc::new(CanvasEvent {
                        canvas_id: self.canvas_id.clone(),
                        version: self.last + 1,
                        client_mutation_id: None,
                        parts: vec![EventPart::CanvasDeleted],
                    })),
                }
            }
        }
        self.pending.extend(found.into_iter().map(Arc::new));
        Ok(())
    }
}
