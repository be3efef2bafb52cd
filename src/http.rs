//! The HTTP scoring service of `examples/serve.rs --http ADDR` (issue 11), built on [axum] and
//! [tokio].
//!
//! - `POST /v1/score` takes a JSON array of [`Item`]s, or an object
//!   `{"items": [...], "explain": false}` (see [`ScoreRequest::parse`]), and answers
//!   `{"results": [...]}`, one result per item in request order (the scorer's
//!   [`BatchScorer::Output`]).
//! - `GET /healthz` answers `{"status":"ok"}`.
//! - Every error is a JSON object `{"error": "..."}` with the status of [`ScoreError::status`]:
//!   400 for a malformed body (with serde_json's reason), an item that is not an item, or an
//!   empty list; 413 for a body over [`ServeConfig::max_body_bytes`]; 422 for an item the
//!   scorer cannot take ([`BatchScorer::check`]), naming its index and id; 503 when the queue
//!   is full; 500 when scoring fails. The service stays up after each of them.
//!
//! Requests from concurrent clients are scored together. One worker thread owns the scorer
//! (burn models need be neither `Send` nor `Sync`: the thread builds the scorer itself from a
//! `Send` factory). It blocks for the first request, then keeps taking queued requests until
//! it holds [`ServeConfig::max_batch`] items or [`ServeConfig::max_wait`] has passed since the
//! oldest one arrived, scores them in one [`BatchScorer::score`] call (never more than
//! `max_batch` items; a larger request is split over several calls) and answers each request
//! through its own channel. When a merged batch fails, each request in it is retried alone, so
//! one bad request fails only itself.
//!
//! Shutdown is graceful: the server stops accepting connections, finishes the requests in
//! flight, then the worker scores what is queued and exits ([`serve`], [`run`],
//! [`shutdown_signal`]).

use std::collections::VecDeque;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use taosr1_cot::Item;
use tokio::sync::oneshot;

/// What the service needs from a model: a cheap per-item admission check and batched scoring.
///
/// The service calls both on its one worker thread, so an implementation need be neither
/// `Send` nor `Sync` (it is built on that thread by the factory given to [`serve`] or [`run`]).
///
/// ```
/// use taosr1::http::BatchScorer;
/// use taosr1_cot::Item;
///
/// /// Scores an item by the length of its query; refuses empty queries.
/// struct QueryLength;
///
/// impl BatchScorer for QueryLength {
///     type Output = usize;
///     fn check(&self, item: &Item) -> Result<(), String> {
///         if item.query.is_empty() { Err("the query is empty".into()) } else { Ok(()) }
///     }
///     fn score(&mut self, items: &[Item], _explain: &[bool]) -> Result<Vec<usize>, String> {
///         Ok(items.iter().map(|i| i.query.len()).collect())
///     }
/// }
///
/// let item: Item = serde_json::from_str(r#"{"query": "red shoes", "product": {"title": "t"}}"#)?;
/// assert_eq!(QueryLength.score(&[item.clone()], &[false]), Ok(vec![9]));
/// assert!(QueryLength.check(&Item { query: String::new(), ..item }).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait BatchScorer {
    /// One item's result, written as one element of the response's `results`.
    type Output: Serialize + Send + 'static;

    /// Whether `item` can be scored at all (e.g. its prompt fits the model's context).
    ///
    /// Called for every item of a request before it joins a batch; an `Err(reason)` answers
    /// the whole request with 422 and a message naming the item, and nothing of it is scored.
    fn check(&self, item: &Item) -> Result<(), String>;

    /// Score `items` (at most [`ServeConfig::max_batch`] of them, possibly from several
    /// requests); `explain[i]` says whether item `i`'s request asked for a rationale.
    ///
    /// Must return exactly one output per item, in order; anything else, an `Err(reason)` or a
    /// panic answers the requests involved with 500 and the reason.
    fn score(&mut self, items: &[Item], explain: &[bool]) -> Result<Vec<Self::Output>, String>;
}

/// Settings of the service (the `serve` flags `--max-batch`, `--max-wait-ms`,
/// `--max-body-bytes`).
///
/// ```
/// use std::time::Duration;
/// use taosr1::http::ServeConfig;
///
/// let cfg = ServeConfig::default();
/// assert_eq!((cfg.max_batch, cfg.max_wait, cfg.max_body_bytes), (32, Duration::from_millis(5), 1 << 20));
/// assert!(cfg.validate().is_ok());
/// assert!(ServeConfig { max_batch: 0, ..cfg }.validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    /// Most items scored in one [`BatchScorer::score`] call (at least 1).
    pub max_batch: usize,
    /// How long the worker waits, after the oldest queued request arrived, for more requests
    /// to fill a batch.
    pub max_wait: Duration,
    /// Largest accepted request body in bytes; a larger one is answered with 413.
    pub max_body_bytes: usize,
    /// Most requests waiting for the worker; one more is answered with 503 (at least 1).
    pub max_queue: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            max_batch: 32,
            max_wait: Duration::from_millis(5),
            max_body_bytes: 1 << 20,
            max_queue: 1024,
        }
    }
}

impl ServeConfig {
    /// Refuse settings the service cannot run with (a zero batch, body limit or queue).
    ///
    /// ```
    /// use taosr1::http::ServeConfig;
    /// let err = ServeConfig { max_queue: 0, ..ServeConfig::default() }.validate().unwrap_err();
    /// assert!(err.to_string().contains("max_queue"), "{err}");
    /// ```
    pub fn validate(&self) -> Result<(), HttpError> {
        for (name, v) in [
            ("max_batch", self.max_batch),
            ("max_body_bytes", self.max_body_bytes),
            ("max_queue", self.max_queue),
        ] {
            if v == 0 {
                return Err(HttpError::Config(format!("{name} must be at least 1")));
            }
        }
        Ok(())
    }
}

/// Errors that stop the service (or keep it from starting).
///
/// ```
/// use taosr1::http::{HttpError, ServeConfig};
/// let e = taosr1::http::run("127.0.0.1:0", || Err::<Never, _>("no model"), ServeConfig::default(), |_| {});
/// assert!(matches!(e, Err(HttpError::Scorer(ref m)) if m == "no model"));
/// # struct Never;
/// # impl taosr1::http::BatchScorer for Never {
/// #     type Output = ();
/// #     fn check(&self, _: &taosr1_cot::Item) -> Result<(), String> { Ok(()) }
/// #     fn score(&mut self, _: &[taosr1_cot::Item], _: &[bool]) -> Result<Vec<()>, String> { Ok(vec![]) }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// An invalid [`ServeConfig`].
    #[error("invalid service settings: {0}")]
    Config(String),
    /// The factory could not build the scorer (its message).
    #[error("could not build the scorer: {0}")]
    Scorer(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The server or its runtime failed.
    #[error("the HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
    /// The worker thread could not start, or it panicked.
    #[error("the scoring worker failed: {0}")]
    Worker(String),
}

/// Why a request was not scored; each maps to an HTTP status ([`status`](Self::status)) and is
/// answered as `{"error": "<Display>"}`.
///
/// ```
/// use taosr1::http::ScoreError;
/// let e = ScoreError::Unscorable { index: 2, id: "sku-9".into(), reason: "too long".into() };
/// assert_eq!(e.status(), 422);
/// assert_eq!(e.to_string(), r#"item 2 (id "sku-9"): too long"#);
/// assert_eq!(ScoreError::Empty.status(), 400);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The body is larger than [`ServeConfig::max_body_bytes`] (413).
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read (400).
    #[error("could not read the request body: {0}")]
    Body(String),
    /// The body is not JSON; serde_json's reason (400).
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The body is JSON but neither an array of items nor `{"items": [...]}` (400).
    #[error("{0}")]
    Shape(String),
    /// An element of the list is not an item (400).
    #[error("item {index}{}: {reason}", id_suffix(.id))]
    BadItem {
        /// Its index in the request's list (from 0).
        index: usize,
        /// Its `id` when it has a string one, else empty.
        id: String,
        /// serde_json's reason, e.g. ``missing field `query` ``.
        reason: String,
    },
    /// The list is empty (400).
    #[error("the request holds no items")]
    Empty,
    /// [`BatchScorer::check`] refused an item (422).
    #[error("item {index}{}: {reason}", id_suffix(.id))]
    Unscorable {
        /// Its index in the request's list (from 0).
        index: usize,
        /// Its id (may be empty).
        id: String,
        /// The scorer's reason.
        reason: String,
    },
    /// Too many requests are waiting (503).
    #[error("the scoring queue is full ({0} requests waiting); retry later")]
    Busy(usize),
    /// The worker has stopped: the service is shutting down (503).
    #[error("the scoring worker has stopped")]
    Stopped,
    /// Scoring failed (500).
    #[error("scoring failed: {0}")]
    Scoring(String),
}

fn id_suffix(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" (id {id:?})")
    }
}

impl ScoreError {
    /// The HTTP status this error is answered with.
    ///
    /// ```
    /// use taosr1::http::ScoreError;
    /// assert_eq!(ScoreError::TooLarge { limit: 10 }.status(), 413);
    /// assert_eq!(ScoreError::Scoring("nan".into()).status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Body(_) | Self::Json(_) | Self::Shape(_) | Self::BadItem { .. } | Self::Empty => {
                400
            }
            Self::Unscorable { .. } => 422,
            Self::Busy(_) | Self::Stopped => 503,
            Self::Scoring(_) => 500,
        }
    }
}

impl IntoResponse for ScoreError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(status, &serde_json::json!({ "error": self.to_string() }))
    }
}

fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            Bytes::from(bytes),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": format!("could not write the response: {e}") })
                .to_string(),
        )
            .into_response(),
    }
}

/// The body of `POST /v1/score`.
///
/// ```
/// use taosr1::http::ScoreRequest;
/// let r = ScoreRequest::parse(br#"{"items": [{"query": "q", "product": {"title": "t"}}], "explain": true}"#)?;
/// assert_eq!((r.items.len(), r.explain), (1, true));
/// # Ok::<(), taosr1::http::ScoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreRequest {
    /// The items, in request order.
    pub items: Vec<Item>,
    /// Whether to return each item's rationale.
    pub explain: bool,
}

impl ScoreRequest {
    /// Parse a body: a JSON array of items, or `{"items": [...], "explain": bool}` (`explain`
    /// optional, default `false`; any other key is refused). Errors say what is wrong and,
    /// for an item, which one.
    ///
    /// ```
    /// use taosr1::http::{ScoreError, ScoreRequest};
    /// let r = ScoreRequest::parse(br#"[{"id": "a", "query": "q", "product": {"title": "t"}}]"#)?;
    /// assert_eq!((r.items[0].id.as_str(), r.explain), ("a", false));
    ///
    /// assert!(matches!(ScoreRequest::parse(b"[{"), Err(ScoreError::Json(_))));
    /// assert_eq!(ScoreRequest::parse(b"[]"), Err(ScoreError::Empty));
    /// let e = ScoreRequest::parse(br#"[{"id": "b", "product": {"title": "t"}}]"#).unwrap_err();
    /// assert_eq!(e.to_string(), r#"item 0 (id "b"): missing field `query`"#);
    /// # Ok::<(), ScoreError>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<Self, ScoreError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ScoreError::Json(e.to_string()))?;
        let (list, explain) = match value {
            Value::Array(list) => (list, false),
            Value::Object(map) => {
                let mut items = None;
                let mut explain = false;
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("items", Value::Array(list)) => items = Some(list),
                        ("items", other) => {
                            return Err(ScoreError::Shape(format!(
                                "`items` must be an array of items, found {}",
                                kind(&other)
                            )))
                        }
                        ("explain", Value::Bool(b)) => explain = b,
                        ("explain", other) => {
                            return Err(ScoreError::Shape(format!(
                                "`explain` must be true or false, found {}",
                                kind(&other)
                            )))
                        }
                        (other, _) => {
                            return Err(ScoreError::Shape(format!(
                                "unknown field `{other}`, expected `items` or `explain`"
                            )))
                        }
                    }
                }
                let items = items.ok_or_else(|| {
                    ScoreError::Shape("missing field `items` (an array of items)".into())
                })?;
                (items, explain)
            }
            other => {
                return Err(ScoreError::Shape(format!(
                    "expected an array of items or an object {{\"items\": [...]}}, found {}",
                    kind(&other)
                )))
            }
        };
        if list.is_empty() {
            return Err(ScoreError::Empty);
        }
        let items = list
            .into_iter()
            .enumerate()
            .map(|(index, v)| {
                let id = v
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                serde_json::from_value::<Item>(v).map_err(|e| ScoreError::BadItem {
                    index,
                    id,
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { items, explain })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// the worker

type Reply<O> = oneshot::Sender<Result<Vec<O>, ScoreError>>;

struct Job<O> {
    items: Vec<Item>,
    explain: bool,
    arrived: Instant,
    reply: Reply<O>,
}

enum Msg<O> {
    Job(Job<O>),
    /// Score what is queued, then exit.
    Stop,
}

/// A request admitted to the worker, with the outputs of its items scored so far.
struct Pending<O> {
    items: Vec<Item>,
    explain: bool,
    arrived: Instant,
    /// `None` once the request has been answered (success or failure).
    reply: Option<Reply<O>>,
    outputs: Vec<O>,
}

impl<O> Pending<O> {
    fn remaining(&self) -> usize {
        self.items.len() - self.outputs.len()
    }

    /// Answered, or its client has gone away: nothing more to do for it.
    fn finished(&self) -> bool {
        self.reply.as_ref().is_none_or(oneshot::Sender::is_closed)
    }

    fn answer(&mut self, result: Result<Vec<O>, ScoreError>) {
        if let Some(reply) = self.reply.take() {
            // a client that has gone away is no error
            let _ = reply.send(result);
        }
    }
}

struct Worker<O> {
    tx: SyncSender<Msg<O>>,
    thread: JoinHandle<()>,
}

impl<O: Serialize + Send + 'static> Worker<O> {
    /// Start the worker thread and wait until its scorer is built.
    fn start<S, F, E>(factory: F, cfg: &ServeConfig) -> Result<Self, HttpError>
    where
        S: BatchScorer<Output = O> + 'static,
        F: FnOnce() -> Result<S, E> + Send + 'static,
        E: Display + 'static,
    {
        cfg.validate()?;
        let (tx, rx) = mpsc::sync_channel(cfg.max_queue);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (max_batch, max_wait) = (cfg.max_batch, cfg.max_wait);
        let thread = std::thread::Builder::new()
            .name("taosr1-scorer".into())
            .spawn(move || {
                let scorer = match catch_unwind(AssertUnwindSafe(factory)) {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                    Err(panic) => {
                        let _ = ready_tx.send(Err(panic_message(&*panic)));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                worker_loop(scorer, &rx, max_batch, max_wait);
            })
            .map_err(|e| HttpError::Worker(format!("cannot start the scoring thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { tx, thread }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(HttpError::Scorer(e))
            }
            Err(_) => Err(HttpError::Worker(
                "the scoring thread stopped while building the scorer".into(),
            )),
        }
    }

    fn router(&self, cfg: &ServeConfig) -> Router {
        let shared = Arc::new(Shared {
            tx: self.tx.clone(),
            max_body_bytes: cfg.max_body_bytes,
            max_queue: cfg.max_queue,
        });
        Router::new()
            .route("/v1/score", post(score_handler::<O>))
            .route("/healthz", get(healthz))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
            .with_state(shared)
    }

    /// Let the worker score what is queued, then wait for it to exit.
    fn join(self) -> Result<(), HttpError> {
        // the worker may be gone already (it panicked); join says so
        let _ = self.tx.send(Msg::Stop);
        drop(self.tx);
        self.thread
            .join()
            .map_err(|p| HttpError::Worker(panic_message(&*p)))
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("the scorer panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("the scorer panicked: {s}")
    } else {
        "the scorer panicked".to_string()
    }
}

/// Check a job's items and queue it, or answer it at once (an item the scorer refuses, or a
/// client that has gone away).
fn admit<S: BatchScorer>(
    scorer: &S,
    job: Job<S::Output>,
    pending: &mut VecDeque<Pending<S::Output>>,
) {
    let mut p = Pending {
        outputs: Vec::with_capacity(job.items.len()),
        items: job.items,
        explain: job.explain,
        arrived: job.arrived,
        reply: Some(job.reply),
    };
    if p.finished() {
        return;
    }
    let refused = p.items.iter().enumerate().find_map(|(index, item)| {
        match catch_unwind(AssertUnwindSafe(|| scorer.check(item))) {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some((index, reason)),
            Err(panic) => Some((index, panic_message(&*panic))),
        }
    });
    match refused {
        Some((index, reason)) => {
            let id = p.items[index].id.clone();
            p.answer(Err(ScoreError::Unscorable { index, id, reason }));
        }
        None => pending.push_back(p),
    }
}

fn worker_loop<S: BatchScorer>(
    mut scorer: S,
    rx: &Receiver<Msg<S::Output>>,
    max_batch: usize,
    max_wait: Duration,
) {
    let mut pending: VecDeque<Pending<S::Output>> = VecDeque::new();
    let mut stopping = false;
    loop {
        if pending.is_empty() {
            if stopping {
                return;
            }
            match rx.recv() {
                Ok(Msg::Job(job)) => admit(&scorer, job, &mut pending),
                Ok(Msg::Stop) | Err(_) => return,
            }
            continue;
        }
        // Fill the batch: first whatever is already queued, then wait for more until the
        // oldest request has waited `max_wait`.
        let deadline = pending[0].arrived + max_wait;
        while !stopping && pending.iter().map(Pending::remaining).sum::<usize>() < max_batch {
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Disconnected) => {
                    stopping = true;
                    break;
                }
                Err(TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    match rx.recv_timeout(deadline - now) {
                        Ok(msg) => msg,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => {
                            stopping = true;
                            break;
                        }
                    }
                }
            };
            match msg {
                Msg::Job(job) => admit(&scorer, job, &mut pending),
                Msg::Stop => stopping = true,
            }
        }
        run_batch(&mut scorer, &mut pending, max_batch);
    }
}

/// Score the next (at most) `max_batch` queued items and answer the requests completed.
fn run_batch<S: BatchScorer>(
    scorer: &mut S,
    pending: &mut VecDeque<Pending<S::Output>>,
    max_batch: usize,
) {
    // requests whose client has gone away are not scored
    pending.retain(|p| !p.finished());
    // segments: (index into `pending`, first item, item count), a prefix of the queue
    let mut segments = Vec::new();
    let mut taken = 0;
    for (k, p) in pending.iter().enumerate() {
        if taken == max_batch {
            break;
        }
        let from = p.outputs.len();
        let n = p.remaining().min(max_batch - taken);
        segments.push((k, from, n));
        taken += n;
    }
    if segments.is_empty() {
        return;
    }
    let batch = |segs: &[(usize, usize, usize)], pending: &VecDeque<Pending<S::Output>>| {
        let mut items = Vec::new();
        let mut explain = Vec::new();
        for &(k, from, n) in segs {
            let p = &pending[k];
            items.extend_from_slice(&p.items[from..from + n]);
            explain.extend(std::iter::repeat_n(p.explain, n));
        }
        (items, explain)
    };
    let (items, explain) = batch(&segments, pending);
    match score_guarded(scorer, &items, &explain) {
        Ok(outputs) => {
            let mut outputs = outputs.into_iter();
            for &(k, _, n) in &segments {
                pending[k].outputs.extend(outputs.by_ref().take(n));
            }
        }
        Err(reason) if segments.len() == 1 => {
            pending[segments[0].0].answer(Err(ScoreError::Scoring(reason)));
        }
        Err(_) => {
            // one request's items may be what failed: retry each request alone
            for seg in &segments {
                let (items, explain) = batch(std::slice::from_ref(seg), pending);
                match score_guarded(scorer, &items, &explain) {
                    Ok(outputs) => pending[seg.0].outputs.extend(outputs),
                    Err(reason) => pending[seg.0].answer(Err(ScoreError::Scoring(reason))),
                }
            }
        }
    }
    for p in pending.iter_mut() {
        if p.reply.is_some() && p.remaining() == 0 {
            let outputs = std::mem::take(&mut p.outputs);
            p.answer(Ok(outputs));
        }
    }
    pending.retain(|p| !p.finished());
}

/// [`BatchScorer::score`] with a panic or a wrong number of outputs turned into an error.
fn score_guarded<S: BatchScorer>(
    scorer: &mut S,
    items: &[Item],
    explain: &[bool],
) -> Result<Vec<S::Output>, String> {
    let outputs = catch_unwind(AssertUnwindSafe(|| scorer.score(items, explain)))
        .map_err(|p| panic_message(&*p))??;
    if outputs.len() != items.len() {
        return Err(format!(
            "the scorer returned {} results for {} items",
            outputs.len(),
            items.len()
        ));
    }
    Ok(outputs)
}

// ---------------------------------------------------------------------------------------------
// the HTTP side

struct Shared<O> {
    tx: SyncSender<Msg<O>>,
    max_body_bytes: usize,
    max_queue: usize,
}

#[derive(Serialize)]
struct Results<O> {
    results: Vec<O>,
}

async fn score_handler<O: Serialize + Send + 'static>(
    State(shared): State<Arc<Shared<O>>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match score(&shared, body).await {
        Ok(results) => json_response(StatusCode::OK, &Results { results }),
        Err(e) => e.into_response(),
    }
}

async fn score<O>(
    shared: &Shared<O>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<O>, ScoreError> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ScoreError::TooLarge {
                limit: shared.max_body_bytes,
            }
        } else {
            ScoreError::Body(r.body_text())
        }
    })?;
    let request = ScoreRequest::parse(&body)?;
    let (reply, answer) = oneshot::channel();
    let job = Job {
        items: request.items,
        explain: request.explain,
        arrived: Instant::now(),
        reply,
    };
    match shared.tx.try_send(Msg::Job(job)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(ScoreError::Busy(shared.max_queue)),
        Err(TrySendError::Disconnected(_)) => return Err(ScoreError::Stopped),
    }
    answer.await.map_err(|_| ScoreError::Stopped)?
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": "not found: the service answers POST /v1/score and GET /healthz" }),
    )
}

// ---------------------------------------------------------------------------------------------
// running it

/// Serve on `listener` until `shutdown` completes, then shut down gracefully.
///
/// The scorer is built by `factory` on the worker thread before the first connection is
/// accepted; an error there is [`HttpError::Scorer`]. After `shutdown` completes the server
/// accepts no more connections, finishes the requests in flight, and the worker scores what
/// is queued and exits; then this returns.
///
/// ```
/// use taosr1::http::{serve, BatchScorer, ServeConfig};
/// use taosr1_cot::Item;
///
/// struct QueryLength;
/// impl BatchScorer for QueryLength {
///     type Output = usize;
///     fn check(&self, _: &Item) -> Result<(), String> { Ok(()) }
///     fn score(&mut self, items: &[Item], _: &[bool]) -> Result<Vec<usize>, String> {
///         Ok(items.iter().map(|i| i.query.len()).collect())
///     }
/// }
///
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let url = format!("http://{}/v1/score", listener.local_addr()?);
///     let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
///     let shutdown = async { let _ = stopped.await; };
///     let server = tokio::spawn(serve(listener, || Ok::<_, String>(QueryLength), ServeConfig::default(), shutdown));
///     let body = tokio::task::spawn_blocking(move || {
///         let body = r#"[{"query": "red shoes", "product": {"title": "t"}}, {"query": "hat", "product": {"title": "t"}}]"#;
///         ureq::post(&url).send(body)?.into_body().read_to_string()
///     })
///     .await??;
///     assert_eq!(body, r#"{"results":[9,3]}"#);
///     stop.send(()).ok();
///     server.await??;
///     Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub async fn serve<S, F, E>(
    listener: tokio::net::TcpListener,
    factory: F,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError>
where
    S: BatchScorer + 'static,
    F: FnOnce() -> Result<S, E> + Send + 'static,
    E: Display + 'static,
{
    let worker = start_worker(factory, &cfg).await?;
    serve_with(listener, worker, &cfg, shutdown).await
}

async fn start_worker<S, F, E>(
    factory: F,
    cfg: &ServeConfig,
) -> Result<Worker<S::Output>, HttpError>
where
    S: BatchScorer + 'static,
    F: FnOnce() -> Result<S, E> + Send + 'static,
    E: Display + 'static,
{
    let c = cfg.clone();
    // building a scorer (loading a model) blocks
    tokio::task::spawn_blocking(move || Worker::start(factory, &c))
        .await
        .map_err(|e| HttpError::Worker(e.to_string()))?
}

async fn serve_with<O: Serialize + Send + 'static>(
    listener: tokio::net::TcpListener,
    worker: Worker<O>,
    cfg: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let served = axum::serve(listener, worker.router(cfg))
        .with_graceful_shutdown(shutdown)
        .await;
    let joined = tokio::task::spawn_blocking(move || worker.join())
        .await
        .map_err(|e| HttpError::Worker(e.to_string()))
        .and_then(|r| r);
    served?;
    joined
}

/// Build the scorer, listen on `addr` (e.g. `127.0.0.1:8080`; port 0 picks a free one), call
/// `on_bound` with the bound address, and serve until SIGTERM or Ctrl-C
/// ([`shutdown_signal`]); blocks on its own multi-threaded tokio runtime.
///
/// ```no_run
/// use taosr1::http::{run, BatchScorer, ServeConfig};
/// use taosr1_cot::Item;
///
/// struct Constant;
/// impl BatchScorer for Constant {
///     type Output = f32;
///     fn check(&self, _: &Item) -> Result<(), String> { Ok(()) }
///     fn score(&mut self, items: &[Item], _: &[bool]) -> Result<Vec<f32>, String> {
///         Ok(vec![0.5; items.len()])
///     }
/// }
///
/// run("127.0.0.1:8080", || Ok::<_, String>(Constant), ServeConfig::default(), |addr| {
///     eprintln!("listening on http://{addr}");
/// })?;
/// # Ok::<(), taosr1::http::HttpError>(())
/// ```
pub fn run<S, F, E>(
    addr: &str,
    factory: F,
    cfg: ServeConfig,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), HttpError>
where
    S: BatchScorer + 'static,
    F: FnOnce() -> Result<S, E> + Send + 'static,
    E: Display + 'static,
{
    cfg.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let worker = start_worker(factory, &cfg).await?;
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                let _ = tokio::task::spawn_blocking(move || worker.join()).await;
                return Err(HttpError::Bind {
                    addr: addr.to_string(),
                    source,
                });
            }
        };
        on_bound(listener.local_addr()?);
        serve_with(listener, worker, &cfg, shutdown_signal()).await
    })
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: the `shutdown` future [`run`] uses.
/// A signal whose handler cannot be installed is never waited for.
///
/// ```no_run
/// # async fn f() {
/// taosr1::http::shutdown_signal().await;
/// eprintln!("shutting down");
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
