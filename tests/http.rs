//! The HTTP scoring service of `taosr1::http`, in process on 127.0.0.1:0 with fake scorers (no
//! model, so these run in well under a second each), and `examples/serve --http` end to end on
//! a tiny checkpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use taosr1::http::{serve, BatchScorer, HttpError, ServeConfig};
use taosr1_cot::Item;

mod common;

/// A scorer that answers `{"id", "query", "explain"}` per item and records every batch.
///
/// `check` refuses a query holding `"too long"`; `score` fails a batch holding the query
/// `"boom"`, panics on one holding `"panic"`, and sleeps `delay` per call.
#[derive(Clone, Default)]
struct Fake {
    batches: Arc<Mutex<Vec<usize>>>,
    delay: Duration,
    /// Told when a `score` call starts.
    started: Option<mpsc::Sender<()>>,
}

impl BatchScorer for Fake {
    type Output = Value;

    fn check(&self, item: &Item) -> Result<(), String> {
        if item.query.contains("too long") {
            Err("the prompt does not fit the model's context".into())
        } else {
            Ok(())
        }
    }

    fn score(&mut self, items: &[Item], explain: &[bool]) -> Result<Vec<Value>, String> {
        if let Some(s) = &self.started {
            let _ = s.send(());
        }
        self.batches.lock().unwrap().push(items.len());
        std::thread::sleep(self.delay);
        if items.iter().any(|i| i.query == "panic") {
            panic!("index out of bounds: the len is 3 but the index is 7");
        }
        if items.iter().any(|i| i.query == "boom") {
            return Err("the model produced NaN".into());
        }
        Ok(items
            .iter()
            .zip(explain)
            .map(|(i, e)| json!({ "id": i.id, "query": i.query, "explain": e }))
            .collect())
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), HttpError>>>,
}

impl Server {
    fn start(scorer: Fake, cfg: ServeConfig) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                serve(listener, move || Ok::<_, String>(scorer), cfg, shutdown).await
            })
        });
        let addr = addr_rx.recv().expect("the server binds");
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Trigger the graceful shutdown without waiting for it.
    fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shut down and wait for `serve` to return.
    fn shutdown(mut self) -> Result<(), HttpError> {
        self.trigger_shutdown();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.trigger_shutdown();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// POST `body` and return the status and the JSON answer.
fn post(url: &str, body: &str) -> (u16, Value) {
    let resp = agent().post(url).send(body).expect("the server answers");
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

fn item(id: &str, query: &str) -> Value {
    json!({ "id": id, "query": query, "product": { "title": "trail running shoe", "category": "shoes", "brand": "acme", "attributes": { "color": "red" } } })
}

fn ids(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {answer}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn error(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {answer}"))
}

#[test]
fn results_come_back_in_request_order_in_both_body_forms() {
    let server = Server::start(Fake::default(), ServeConfig::default());
    let items: Vec<Value> = ["e", "a", "d", "b", "c"]
        .iter()
        .map(|id| item(id, &format!("query {id}")))
        .collect();
    let (status, answer) = post(
        &server.url("/v1/score"),
        &Value::from(items.clone()).to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids(&answer), ["e", "a", "d", "b", "c"]);
    assert_eq!(answer["results"][1]["query"], "query a");
    assert_eq!(answer["results"][0]["explain"], false);

    // the object form; only `id`, `query` and `product.title` are required
    let body = json!({ "items": [ { "query": "q", "product": { "title": "t" } }, items[0] ], "explain": true });
    let (status, answer) = post(&server.url("/v1/score"), &body.to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids(&answer), ["", "e"]);
    assert_eq!(answer["results"][0]["explain"], true);
    server.shutdown().unwrap();
}

#[test]
fn bad_bodies_are_400_with_the_reason_and_the_service_stays_up() {
    let server = Server::start(Fake::default(), ServeConfig::default());
    let url = server.url("/v1/score");
    // serde_json's own reason, with where it stopped
    let (status, answer) = post(&url, r#"[{"query": "q", "product": "#);
    assert_eq!(status, 400, "{answer}");
    let reason = error(&answer);
    assert!(
        reason.starts_with("malformed JSON: ") && reason.contains("EOF while parsing"),
        "{reason}"
    );
    assert!(reason.contains("line 1 column"), "{reason}");
    let (status, answer) = post(&url, "not json");
    assert_eq!(status, 400);
    assert!(error(&answer).contains("expected ident"), "{answer}");

    // JSON, but not a list of items
    for (body, expect) in [
        ("[]", "no items"),
        (r#"{"items": []}"#, "no items"),
        (r#"{"items": 3}"#, "`items` must be an array"),
        (r#"{"explain": true}"#, "missing field `items`"),
        (
            r#"{"items": [], "explian": true}"#,
            "unknown field `explian`",
        ),
        (r#""text""#, "found a string"),
        (
            r#"[{"id": "ok", "query": "q", "product": {"title": "t"}}, {"id": "x7", "product": {"title": "t"}}]"#,
            r#"item 1 (id "x7"): missing field `query`"#,
        ),
    ] {
        let (status, answer) = post(&url, body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(error(&answer).contains(expect), "{body}: {answer}");
    }

    // still serving
    let (status, answer) = post(&url, &json!([item("still", "up")]).to_string());
    assert_eq!((status, ids(&answer)), (200, vec!["still".to_string()]));
    server.shutdown().unwrap();
}

#[test]
fn a_body_over_the_limit_is_413() {
    let cfg = ServeConfig {
        max_body_bytes: 1024,
        ..ServeConfig::default()
    };
    let server = Server::start(Fake::default(), cfg);
    let url = server.url("/v1/score");
    let big: Vec<Value> = (0..40).map(|i| item(&format!("i{i}"), "q")).collect();
    let body = Value::from(big).to_string();
    assert!(body.len() > 4 * 1024);
    let (status, answer) = post(&url, &body);
    assert_eq!(status, 413, "{answer}");
    assert!(error(&answer).contains("1024 bytes"), "{answer}");
    // a body just under the limit is fine
    let (status, _) = post(&url, &json!([item("small", "q")]).to_string());
    assert_eq!(status, 200);
    server.shutdown().unwrap();
}

#[test]
fn an_item_the_scorer_refuses_is_422_naming_it_and_nothing_of_its_request_is_scored() {
    let fake = Fake::default();
    let server = Server::start(fake.clone(), ServeConfig::default());
    let url = server.url("/v1/score");
    let body = json!([
        item("a", "fine"),
        item("b", "fine"),
        item("sku-3", "far too long")
    ]);
    let (status, answer) = post(&url, &body.to_string());
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        error(&answer),
        r#"item 2 (id "sku-3"): the prompt does not fit the model's context"#
    );
    assert!(fake.batches.lock().unwrap().is_empty());
    let (status, _) = post(&url, &json!([item("a", "fine")]).to_string());
    assert_eq!(status, 200);
    server.shutdown().unwrap();
}

#[test]
fn healthz_and_unknown_paths() {
    let server = Server::start(Fake::default(), ServeConfig::default());
    let resp = agent().get(server.url("/healthz")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    assert_eq!(body, json!({ "status": "ok" }));
    let resp = agent().get(server.url("/v2/score")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = agent().get(server.url("/v1/score")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    server.shutdown().unwrap();
}

/// Send `bodies` at once, one client thread each; the answers in the same order.
fn concurrently(url: &str, bodies: Vec<String>) -> Vec<(u16, Value)> {
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let url = url.to_string();
            std::thread::spawn(move || post(&url, &b))
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn concurrent_requests_are_merged_into_batches_of_at_most_max_batch() {
    let fake = Fake::default();
    let cfg = ServeConfig {
        max_batch: 4,
        max_wait: Duration::from_millis(200),
        ..ServeConfig::default()
    };
    let server = Server::start(fake.clone(), cfg);
    let url = server.url("/v1/score");
    let bodies = (0..8)
        .map(|i| json!([item(&format!("r{i}"), "q")]).to_string())
        .collect();
    for (i, (status, answer)) in concurrently(&url, bodies).into_iter().enumerate() {
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            ids(&answer),
            [format!("r{i}")],
            "each client gets its own item"
        );
    }
    let batches = fake.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 8, "{batches:?}");
    assert!(batches.iter().all(|&n| n <= 4), "{batches:?}");
    assert!(
        batches.iter().any(|&n| n > 1),
        "no two requests shared a batch: {batches:?}"
    );

    // one request larger than max_batch is split over several calls, in order
    fake.batches.lock().unwrap().clear();
    let items: Vec<Value> = (0..10).map(|i| item(&format!("k{i}"), "q")).collect();
    let (status, answer) = post(&url, &Value::from(items).to_string());
    assert_eq!(status, 200);
    assert_eq!(
        ids(&answer),
        (0..10).map(|i| format!("k{i}")).collect::<Vec<_>>()
    );
    assert_eq!(*fake.batches.lock().unwrap(), [4, 4, 2]);
    server.shutdown().unwrap();
}

#[test]
fn a_failing_request_in_a_merged_batch_fails_alone_with_500() {
    let fake = Fake::default();
    let cfg = ServeConfig {
        max_batch: 8,
        max_wait: Duration::from_millis(200),
        ..ServeConfig::default()
    };
    let server = Server::start(fake.clone(), cfg);
    let url = server.url("/v1/score");
    let bodies = vec![
        json!([item("g1", "q")]).to_string(),
        json!([item("bad", "boom")]).to_string(),
        json!([item("g2", "q"), item("g3", "q")]).to_string(),
    ];
    let answers = concurrently(&url, bodies);
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    assert_eq!(answers[2].0, 200, "{}", answers[2].1);
    assert_eq!(ids(&answers[2].1), ["g2", "g3"]);
    assert_eq!(answers[1].0, 500, "{}", answers[1].1);
    assert_eq!(
        error(&answers[1].1),
        "scoring failed: the model produced NaN"
    );
    // a scorer that panics: 500 with the panic's message, and the worker carries on
    let (status, answer) = post(&url, &json!([item("p", "panic")]).to_string());
    assert_eq!(status, 500, "{answer}");
    assert!(
        error(&answer).contains("the scorer panicked: index out of bounds"),
        "{answer}"
    );
    // the service is still up
    let (status, _) = post(&url, &json!([item("after", "q")]).to_string());
    assert_eq!(status, 200);
    server.shutdown().unwrap();
}

#[test]
fn a_full_queue_is_503_and_the_queued_requests_are_still_answered() {
    let (started_tx, started) = mpsc::channel();
    let fake = Fake {
        delay: Duration::from_millis(1500),
        started: Some(started_tx),
        ..Fake::default()
    };
    let cfg = ServeConfig {
        max_queue: 1,
        max_wait: Duration::ZERO,
        ..ServeConfig::default()
    };
    let server = Server::start(fake, cfg);
    let url = server.url("/v1/score");
    let send = |id: &str| {
        let (url, body) = (url.clone(), json!([item(id, "q")]).to_string());
        std::thread::spawn(move || post(&url, &body))
    };
    // `first` is being scored, `second` waits in the queue of one, `third` finds it full
    let first = send("first");
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = send("second");
    std::thread::sleep(Duration::from_millis(300));
    let (status, answer) = post(&url, &json!([item("third", "q")]).to_string());
    assert_eq!(status, 503, "{answer}");
    assert!(error(&answer).contains("queue is full"), "{answer}");
    for (client, id) in [(first, "first"), (second, "second")] {
        let (status, answer) = client.join().unwrap();
        assert_eq!((status, ids(&answer)), (200, vec![id.to_string()]));
    }
    server.shutdown().unwrap();
}

#[test]
fn a_scorer_that_cannot_be_built_stops_serve_with_its_reason() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            serve(
                listener,
                || Err::<Fake, _>("no checkpoint in runs/none"),
                ServeConfig::default(),
                std::future::pending(),
            )
            .await
        })
        .unwrap_err();
    assert!(matches!(err, HttpError::Scorer(ref m) if m == "no checkpoint in runs/none"));
}

#[test]
fn graceful_shutdown_finishes_the_request_in_flight() {
    let (started_tx, started) = mpsc::channel();
    let fake = Fake {
        delay: Duration::from_millis(600),
        started: Some(started_tx),
        ..Fake::default()
    };
    let mut server = Server::start(fake.clone(), ServeConfig::default());
    let url = server.url("/v1/score");
    let answered = Arc::new(AtomicUsize::new(0));
    let client = {
        let (url, answered) = (url.clone(), answered.clone());
        std::thread::spawn(move || {
            let out = post(&url, &json!([item("slow", "q")]).to_string());
            answered.fetch_add(1, Ordering::SeqCst);
            out
        })
    };
    started
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reaches the scorer");
    server.trigger_shutdown();
    assert_eq!(answered.load(Ordering::SeqCst), 0, "still in flight");
    let (status, answer) = client.join().unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids(&answer), ["slow"]);
    server.thread.take().unwrap().join().unwrap().unwrap();
    // nothing listens any more
    assert!(agent().get(&url).call().is_err());
}

/// `examples/serve --http 127.0.0.1:0` on a tiny untrained checkpoint: it prints where it
/// listens, scores, refuses an item over the context with 422, and exits cleanly on SIGTERM.
#[cfg(unix)]
#[test]
fn serve_example_answers_over_http_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use burn::tensor::Device;
    use taosr1::assets::{load_codec, save_checkpoint};
    use taosr1_model::{ModelConfig, Transformer};

    let Some(bin) = common::example_bin("serve") else {
        eprintln!("skipped: the serve example is not built (run through `cargo test`)");
        return;
    };
    let root = common::scratch_dir("http");
    let codec = load_codec().unwrap();
    let cfg = ModelConfig::tiny(codec.tokenizer().vocab_size());
    let model = Transformer::new(&cfg, &Device::default()).unwrap();
    let model_dir = root.join("model");
    save_checkpoint(&model, &cfg, &model_dir).unwrap();

    let mut child = Command::new(&bin)
        .args(["--http", "127.0.0.1:0", "--think-budget", "4", "--model"])
        .arg(&model_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let url = format!("http://{addr}/v1/score");

    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/test.jsonl")).unwrap();
    let items: Vec<Value> = shipped
        .lines()
        .take(3)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let body = json!({ "items": items, "explain": true });
    let (status, answer) = post(&url, &body.to_string());
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (r, i) in results.iter().zip(&items) {
        assert_eq!(r["id"], i["id"]);
        let probs: Vec<f64> = r["probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 4);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{probs:?}");
        assert!(
            ["Good", "Mid", "Bad"].contains(&r["tier"].as_str().unwrap()),
            "{r}"
        );
        assert!(
            ["L1", "L2", "L3", "L4"].contains(&r["grade"].as_str().unwrap()),
            "{r}"
        );
        let score = r["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{r}");
        assert!(r["rationale"].is_string(), "{r}");
    }
    // without explain there is no rationale
    let (status, answer) = post(&url, &Value::from(items[..1].to_vec()).to_string());
    assert_eq!(status, 200);
    assert!(answer["results"][0].get("rationale").is_none(), "{answer}");

    // an item over the model's context
    let mut long = items[1].clone();
    long["product"]["title"] = Value::from("case ".repeat(2_000));
    let (status, answer) = post(&url, &json!([items[0], long]).to_string());
    assert_eq!(status, 422, "{answer}");
    let reason = error(&answer);
    let id = items[1]["id"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("item 1 (id {id:?}): ")) && reason.contains("context"),
        "{reason}"
    );

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("shut down"), "{rest}");
    std::fs::remove_dir_all(&root).unwrap();
}
