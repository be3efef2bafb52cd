//! A bounded load test of the HTTP scoring service (`examples/serve.rs --http ADDR`).
//!
//! `cargo run --release --example loadtest -- --url http://127.0.0.1:8080/v1/score
//! [--clients 8] [--requests-per-client 20] [--items-per-request 1]
//! [--input data/test.jsonl] [--max-seconds 60]`
//!
//! `--clients` threads each send `--requests-per-client` requests one after the other (each
//! client waits for its answer before sending the next), every request holding
//! `--items-per-request` items taken in turn from `--input`. A client sends no new request
//! once `--max-seconds` have passed. One untimed warm-up request goes first.
//!
//! Prints one JSON line on stdout (`clients`, `requests`, `items`, `errors`, `seconds`,
//! `p50_ms`, `p99_ms`, `mean_ms`, `max_ms`, `items_per_s`, `requests_per_s`) and a readable
//! line on stderr. A request answered with anything but 200 counts as an error (the first
//! one is printed); the run fails when every request failed.

use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use taosr1_cot::Item;

#[derive(Parser, Debug)]
#[command(
    name = "loadtest",
    version,
    about = "Bounded load test of `serve --http`: latency percentiles and items/s",
    long_about = None
)]
struct Args {
    /// The scoring endpoint
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080/v1/score"
    )]
    url: String,
    /// Concurrent clients
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// Requests each client sends, one after the other
    #[arg(long, value_name = "M", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_client: u32,
    /// Items in each request
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    items_per_request: u32,
    /// Items to send (JSONL with `query` and `product`)
    #[arg(long, value_name = "FILE", default_value = taosr1::cli::TEST)]
    input: PathBuf,
    /// Send no new request after this many seconds
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Input {
        path: String,
        source: taosr1_cot::CotError,
    },
    #[error("{0}: no items")]
    NoItems(String),
    #[error("warm-up request to {url} failed: {reason}")]
    Warmup { url: String, reason: String },
    #[error("every one of the {0} requests failed")]
    AllFailed(usize),
}

/// One request's outcome: its latency, or why it failed.
type Outcome = Result<Duration, String>;

fn main() -> std::process::ExitCode {
    match run(&Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn send(agent: &ureq::Agent, url: &str, body: &str) -> Outcome {
    let start = Instant::now();
    let resp = agent.post(url).send(body).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // read the whole answer: the latency includes it
    let text = resp
        .into_body()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    if status == 200 {
        Ok(elapsed)
    } else {
        Err(format!("{status}: {text}"))
    }
}

/// Nearest-rank percentile of sorted `v` (`p` in (0, 1]).
fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = (p * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn run(args: &Args) -> Result<(), LoadError> {
    let path = args.input.display().to_string();
    let file = std::fs::File::open(&args.input).map_err(|source| LoadError::Open {
        path: path.clone(),
        source,
    })?;
    let items: Vec<Item> =
        taosr1_cot::read_items(BufReader::new(file)).map_err(|source| LoadError::Input {
            path: path.clone(),
            source,
        })?;
    if items.is_empty() {
        return Err(LoadError::NoItems(path));
    }
    let k = args.items_per_request as usize;
    // request bodies, built up front so that the clients only send
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..items.len())
            .map(|start| {
                let chunk: Vec<&Item> = (0..k).map(|j| &items[(start + j) % items.len()]).collect();
                json!(chunk).to_string()
            })
            .collect(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_connections(args.clients as usize + 4)
        .max_idle_connections_per_host(args.clients as usize + 4)
        .build()
        .new_agent();
    send(&agent, &args.url, &bodies[0]).map_err(|reason| LoadError::Warmup {
        url: args.url.clone(),
        reason,
    })?;

    let limit = Duration::from_secs(args.max_seconds);
    let start = Instant::now();
    let clients: Vec<_> = (0..args.clients as usize)
        .map(|c| {
            let (agent, bodies, url) = (agent.clone(), bodies.clone(), args.url.clone());
            let m = args.requests_per_client as usize;
            std::thread::spawn(move || {
                let mut out: Vec<Outcome> = Vec::with_capacity(m);
                for r in 0..m {
                    if start.elapsed() >= limit {
                        break;
                    }
                    let body = &bodies[((c * m + r) * k) % bodies.len()];
                    out.push(send(&agent, &url, body));
                }
                out
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = clients
        .into_iter()
        .flat_map(|t| {
            t.join()
                .unwrap_or_else(|_| vec![Err("client panicked".into())])
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();

    let mut ms: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let errors = outcomes.len() - ms.len();
    if let Some(Err(first)) = outcomes.iter().find(|o| o.is_err()) {
        eprintln!("{errors} failed requests; the first: {first}");
    }
    if ms.is_empty() {
        return Err(LoadError::AllFailed(outcomes.len()));
    }
    let ok_items = ms.len() * k;
    let report = json!({
        "url": args.url,
        "clients": args.clients,
        "items_per_request": k,
        "requests": outcomes.len(),
        "items": ok_items,
        "errors": errors,
        "seconds": seconds,
        "p50_ms": percentile(&ms, 0.50),
        "p99_ms": percentile(&ms, 0.99),
        "mean_ms": ms.iter().sum::<f64>() / ms.len() as f64,
        "max_ms": ms[ms.len() - 1],
        "items_per_s": ok_items as f64 / seconds,
        "requests_per_s": ms.len() as f64 / seconds,
    });
    println!("{report}");
    eprintln!(
        "{} clients x {} items/request: {} requests ({errors} failed) in {seconds:.2}s, \
         p50 {:.1} ms, p99 {:.1} ms, {:.1} items/s",
        args.clients,
        k,
        outcomes.len(),
        percentile(&ms, 0.50),
        percentile(&ms, 0.99),
        ok_items as f64 / seconds
    );
    Ok(())
}
