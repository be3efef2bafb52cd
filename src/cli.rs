//! Command-line arguments of the example binaries ([clap] derive), one struct per example.
//!
//! Every file an example reads or writes is a flag whose default is the shipped file or the
//! conventional run directory, relative to the current directory (run the examples from the
//! repository root). Unknown or misspelled flags, stray arguments, empty paths and
//! out-of-range numbers are refused with a message naming the flag.
//!
//! The flag groups shared between examples ([`DataArgs`], [`TrainArg`], [`ValidationArg`],
//! [`TestArg`], [`TokenizerArg`], [`EvalArg`]) are flattened into the per-example structs.
//!
//! ```
//! use clap::Parser;
//! use taosr1::cli::SftArgs;
//!
//! let err = SftArgs::try_parse_from(["sft", "--stepz", "3"]).unwrap_err();
//! assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
//! assert!(err.to_string().contains("--steps"), "{err}");
//! ```

use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use taosr1_cot::ResponseOrder;
use taosr1_model::ModelConfig;

use crate::assets::DataPaths;
use crate::http::ServeConfig;
use crate::infer::InferConfig;
use crate::pipeline::SftRun;
use crate::sft::SftConfig;
use crate::stages::{DpoRun, GrpoRun, PostCotRun};
use crate::Error;

/// Default of `--train`: the shipped training split.
pub const TRAIN: &str = "data/train.jsonl";
/// Default of `--validation`: the shipped validation split.
pub const VALIDATION: &str = "data/validation.jsonl";
/// Default of `--test`: the shipped test split.
pub const TEST: &str = "data/test.jsonl";
/// Default of `--tokenizer`: the shipped tokenizer.
pub const TOKENIZER: &str = "assets/tokenizer.json";
/// Default directory of the SFT checkpoint.
pub const SFT_DIR: &str = "runs/sft";
/// Default directory of the DPO checkpoint.
pub const DPO_DIR: &str = "runs/dpo";
/// Default directory of the GRPO checkpoint.
pub const GRPO_DIR: &str = "runs/grpo";
/// `--input` / `--output` value meaning standard input / output.
pub const STDIO: &str = "-";
/// The expected-grade cuts a run's deployment writes next to its checkpoint
/// ([`taosr1_partition::ScoreCuts`]); `serve` grades with them when present.
pub const CUTS_FILE: &str = "cuts.json";
/// The cumulative thresholds `calibrate` and `pipeline` write next to a checkpoint
/// ([`taosr1_partition::Thresholds`]); `serve` grades with them when present.
pub const THRESHOLDS_FILE: &str = "thresholds.json";
/// The CumPT tiers written next to a deployed checkpoint ([`taosr1_partition::CumPt`]);
/// `serve` tiers with them when present.
pub const CUMPT_FILE: &str = "cumpt.json";

// ---------------------------------------------------------------------------------------------
// value parsers: each error message says what the flag accepts

fn path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        Err("a path must not be empty".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

fn count(s: &str, min: usize) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

fn address(s: &str) -> Result<String, String> {
    let s = s.trim();
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(s.to_string()),
        _ => Err(format!("`{s}` is not HOST:PORT, e.g. 127.0.0.1:8080")),
    }
}

fn at_least_1(s: &str) -> Result<usize, String> {
    count(s, 1)
}

fn at_least_2(s: &str) -> Result<usize, String> {
    count(s, 2)
}

fn whole(s: &str) -> Result<usize, String> {
    count(s, 0)
}

fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("`{s}` is not a finite number"));
    }
    Ok(v)
}

fn positive(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v <= 0.0 {
        return Err(format!("must be greater than 0, got {s}"));
    }
    Ok(v)
}

fn positive_f32(s: &str) -> Result<f32, String> {
    // a value below f32's range would round to 0
    let v = positive(s)? as f32;
    if v <= 0.0 || !v.is_finite() {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(v)
}

fn unit_f32(s: &str) -> Result<f32, String> {
    let v = number(s)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v as f32)
    } else {
        Err(format!("must be in [0, 1], got {s}"))
    }
}

fn non_negative_f32(s: &str) -> Result<f32, String> {
    let v = number(s)?;
    if v < 0.0 {
        return Err(format!("must be 0 or greater, got {s}"));
    }
    let v = v as f32;
    if !v.is_finite() {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// shared groups

/// `--train FILE`: the training split (flattened into the examples that train; see
/// [`DataArgs`] for an example).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct TrainArg {
    /// Training split (JSONL, one labelled example per line)
    #[arg(long = "train", id = "train", value_name = "FILE", default_value = TRAIN, value_parser = path)]
    pub path: PathBuf,
}

/// `--validation FILE`: the validation split (see [`DataArgs`] for an example).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct ValidationArg {
    /// Validation split (JSONL; threshold fitting)
    #[arg(long = "validation", id = "validation", value_name = "FILE", default_value = VALIDATION, value_parser = path)]
    pub path: PathBuf,
}

/// `--test FILE`: the test split (see [`DataArgs`] for an example).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct TestArg {
    /// Test split (JSONL; the reported numbers)
    #[arg(long = "test", id = "test", value_name = "FILE", default_value = TEST, value_parser = path)]
    pub path: PathBuf,
}

/// `--tokenizer FILE`: the tokenizer to read.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::ServeArgs;
///
/// let a = ServeArgs::try_parse_from(["serve", "--tokenizer", "my/tokenizer.json"]).unwrap();
/// assert_eq!(a.tokenizer.path, std::path::Path::new("my/tokenizer.json"));
/// ```
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct TokenizerArg {
    /// Tokenizer (`tokenizer.json` with the template's tags and grade labels)
    #[arg(long = "tokenizer", id = "tokenizer", value_name = "FILE", default_value = TOKENIZER, value_parser = path)]
    pub path: PathBuf,
}

/// `--train`, `--validation` and `--test`: the three data splits.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::GenDataArgs;
///
/// let a = GenDataArgs::try_parse_from(["gen_data", "--test", "out/test.jsonl"]).unwrap();
/// assert_eq!(a.data.train.path, std::path::Path::new("data/train.jsonl"));
/// assert_eq!(a.data.validation.path, std::path::Path::new("data/validation.jsonl"));
/// assert_eq!(a.data.test.path, std::path::Path::new("out/test.jsonl"));
/// ```
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct DataArgs {
    /// `--train`.
    #[command(flatten)]
    pub train: TrainArg,
    /// `--validation`.
    #[command(flatten)]
    pub validation: ValidationArg,
    /// `--test`.
    #[command(flatten)]
    pub test: TestArg,
}

/// `--eval N`: how many test examples to evaluate on (all when absent).
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::DpoArgs;
///
/// assert_eq!(DpoArgs::try_parse_from(["dpo"]).unwrap().eval.limit(), usize::MAX);
/// assert_eq!(DpoArgs::try_parse_from(["dpo", "--eval", "30"]).unwrap().eval.limit(), 30);
/// assert!(DpoArgs::try_parse_from(["dpo", "--eval", "0"]).is_err());
/// ```
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct EvalArg {
    /// Evaluate on at most N test examples [default: all]
    #[arg(long = "eval", id = "eval", value_name = "N", value_parser = at_least_1, allow_negative_numbers = true)]
    pub n: Option<usize>,
}

impl EvalArg {
    /// The limit: `--eval`, or `usize::MAX` (all) when absent.
    pub fn limit(&self) -> usize {
        self.n.unwrap_or(usize::MAX)
    }
}

/// `--data FILE [--spec NAME|FILE] [--strict] [--data-dir DIR]`: train on your own labelled
/// pairs instead of the shipped synthetic splits. The file (CSV, or JSONL for any other
/// extension) is read with the column spec, split by query, given the rule teacher's
/// rationales and a word-level tokenizer ([`crate::assets::prepare_data`]); the example then
/// reads those splits and that tokenizer in place of `--train`/`--validation`/`--test`/
/// `--tokenizer`.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::SftArgs;
/// let a = SftArgs::try_parse_from(["sft", "--data", "pairs.csv"]).unwrap();
/// assert_eq!(a.source.data.as_deref(), Some(std::path::Path::new("pairs.csv")));
/// assert_eq!(a.source.spec, "home-depot");
/// // without --data the given (or shipped) paths are used as they are
/// let plain = SftArgs::try_parse_from(["sft"]).unwrap();
/// assert_eq!(plain.source.resolve(plain.data_paths()).unwrap(), plain.data_paths());
/// ```
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct DataSourceArg {
    /// Your own labelled pairs (CSV or JSONL), split by query into the three splits
    #[arg(long = "data", id = "data", value_name = "FILE", value_parser = path)]
    pub data: Option<PathBuf>,
    /// How to read `--data`: `home-depot` (search_term, product_title, relevance cut into four
    /// grades) or a JSON file with a ColumnSpec (columns and label map)
    #[arg(
        long = "spec",
        id = "spec",
        value_name = "NAME|FILE",
        default_value = "home-depot"
    )]
    pub spec: String,
    /// Stop at the first bad row of `--data` (default: report `file:line: reason` and skip it)
    #[arg(long = "strict", id = "strict")]
    pub strict: bool,
    /// Where the splits and tokenizer made from `--data` are written (a folder per file)
    #[arg(long = "data-dir", id = "data-dir", value_name = "DIR", default_value = "runs/data", value_parser = path)]
    pub data_dir: PathBuf,
}

impl DataSourceArg {
    /// `paths` as they are without `--data`; with it, the splits and tokenizer made from the
    /// file under `--data-dir/<file stem>/` (bad rows skipped are printed to stderr).
    ///
    /// # Errors
    /// [`Error::Input`] for an unknown `--spec` or one whose JSON does not parse (naming the
    /// file), and those of [`crate::assets::prepare_data`].
    pub fn resolve(&self, paths: DataPaths) -> Result<DataPaths, Error> {
        let Some(file) = &self.data else {
            return Ok(paths);
        };
        let spec = if self.spec == "home-depot" {
            taosr1_cot::adapter::ColumnSpec::home_depot()
        } else {
            let p = std::path::Path::new(&self.spec);
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::Input(format!(
                    "--spec {}: not `home-depot` and not a readable spec file ({e})",
                    self.spec
                ))
            })?;
            serde_json::from_str(&text)
                .map_err(|e| Error::Input(format!("{}: {e}", p.display())))?
        };
        let stem = file
            .file_stem()
            .map_or_else(|| "data".into(), |s| s.to_string_lossy().into_owned());
        let source = crate::assets::DataSource {
            file: file.clone(),
            spec,
            strict: self.strict,
        };
        let (paths, skipped) = crate::assets::prepare_data(&source, &self.data_dir.join(stem))?;
        for s in skipped.iter().take(5) {
            eprintln!("skipped: {s}");
        }
        if skipped.len() > 5 {
            eprintln!("skipped: … and {} more rows", skipped.len() - 5);
        }
        Ok(paths)
    }
}

fn data_paths(
    train: Option<&TrainArg>,
    validation: Option<&ValidationArg>,
    test: Option<&TestArg>,
    tokenizer: &TokenizerArg,
) -> DataPaths {
    // a split an example does not read keeps the shipped default; it is never opened
    let shipped = DataPaths::shipped();
    DataPaths {
        train: train.map_or(shipped.train, |a| a.path.clone()),
        validation: validation.map_or(shipped.validation, |a| a.path.clone()),
        test: test.map_or(shipped.test, |a| a.path.clone()),
        tokenizer: tokenizer.path.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// one struct per example

/// Flags of `examples/pipeline.rs`: SFT → DPO → GRPO → partition calibration end to end.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::PipelineArgs;
///
/// let a = PipelineArgs::try_parse_from(["pipeline", "--eval", "300", "--grpo-steps", "5"]).unwrap();
/// assert_eq!((a.eval.limit(), a.grpo_steps), (300, 5));
/// assert_eq!(a.grpo_out, std::path::Path::new("runs/grpo"));
/// assert_eq!(a.data_paths().train, std::path::Path::new("data/train.jsonl"));
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "pipeline",
    version,
    about = "TaoSR1 end to end: SFT with CoT, pass@N + DPO, dynamic sampling + GRPO, partition calibration",
    long_about = None
)]
pub struct PipelineArgs {
    /// The three data splits.
    #[command(flatten)]
    pub data: DataArgs,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
    /// GRPO optimizer steps
    #[arg(long, value_name = "N", default_value_t = GrpoRun::new().steps, value_parser = at_least_1, allow_negative_numbers = true)]
    pub grpo_steps: usize,
    /// Where to write the SFT checkpoint
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub sft_out: PathBuf,
    /// Where to write the DPO checkpoint
    #[arg(long, value_name = "DIR", default_value = DPO_DIR, value_parser = path)]
    pub dpo_out: PathBuf,
    /// Where to write the GRPO checkpoint and its fitted `thresholds.json`
    #[arg(long, value_name = "DIR", default_value = GRPO_DIR, value_parser = path)]
    pub grpo_out: PathBuf,
    /// Response orders to train and compare: `both` (label-first — the deployed chain, written
    /// to the three dirs above — then think-first followed by post-CoT), `label-first` or
    /// `think-first`
    #[arg(long, value_name = "ORDERS", default_value = "both", value_parser = ["both", "label-first", "think-first"])]
    pub orders: String,
    /// Where the think-first chain writes its checkpoints (`sft`, `dpo`, `grpo` and `post-cot`
    /// under it)
    #[arg(long, value_name = "DIR", default_value = THINK_FIRST_DIR, value_parser = path)]
    pub think_first_out: PathBuf,
}

/// Default directory of the think-first chain's checkpoints.
pub const THINK_FIRST_DIR: &str = "runs/think-first";

impl PipelineArgs {
    /// The orders to run, label-first first.
    ///
    /// ```
    /// use clap::Parser;
    /// use taosr1::cli::PipelineArgs;
    /// use taosr1_cot::ResponseOrder;
    /// let a = PipelineArgs::try_parse_from(["pipeline"]).unwrap();
    /// assert_eq!(a.orders(), [ResponseOrder::LabelFirst, ResponseOrder::ThinkFirst]);
    /// let a = PipelineArgs::try_parse_from(["pipeline", "--orders", "think-first"]).unwrap();
    /// assert_eq!(a.orders(), [ResponseOrder::ThinkFirst]);
    /// assert!(PipelineArgs::try_parse_from(["pipeline", "--orders", "sideways"]).is_err());
    /// ```
    pub fn orders(&self) -> Vec<ResponseOrder> {
        match self.orders.as_str() {
            "label-first" => vec![ResponseOrder::LabelFirst],
            "think-first" => vec![ResponseOrder::ThinkFirst],
            _ => vec![ResponseOrder::LabelFirst, ResponseOrder::ThinkFirst],
        }
    }

    /// Data and tokenizer files.
    pub fn data_paths(&self) -> DataPaths {
        data_paths(
            Some(&self.data.train),
            Some(&self.data.validation),
            Some(&self.data.test),
            &self.tokenizer,
        )
    }
}

/// Flags of `examples/post_cot.rs`: turn a think-first checkpoint into a label-first one.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::PostCotArgs;
///
/// let a = PostCotArgs::try_parse_from(["post_cot", "--prompts", "50", "--epochs", "1"]).unwrap();
/// let run = a.run();
/// assert_eq!((run.prompts, run.sft.epochs), (50, 1));
/// assert_eq!(a.init, std::path::Path::new("runs/think-first/grpo"));
/// assert!(PostCotArgs::try_parse_from(["post_cot", "--n", "0"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "post_cot",
    version,
    about = "Post-CoT: fine-tune a think-first checkpoint on its own correct reasoning rewritten label-first",
    long_about = None
)]
pub struct PostCotArgs {
    /// Training data (the prompts sampled).
    #[command(flatten)]
    pub train: TrainArg,
    /// Evaluation data.
    #[command(flatten)]
    pub test: TestArg,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// Think-first checkpoint to start from
    #[arg(long, value_name = "DIR", default_value = "runs/think-first/grpo", value_parser = path)]
    pub init: PathBuf,
    /// Where to write the label-first checkpoint
    #[arg(long, value_name = "DIR", default_value = "runs/think-first/post-cot", value_parser = path)]
    pub out: PathBuf,
    /// Training prompts sampled (the first N of the train split)
    #[arg(long, value_name = "N", default_value_t = PostCotRun::new().prompts, value_parser = at_least_1, allow_negative_numbers = true)]
    pub prompts: usize,
    /// Samples per prompt
    #[arg(long, value_name = "N", default_value_t = PostCotRun::new().n, value_parser = at_least_1, allow_negative_numbers = true)]
    pub n: usize,
    /// Passes over the rewritten responses
    #[arg(long, value_name = "N", default_value_t = PostCotRun::new().sft.epochs, value_parser = at_least_1, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Peak learning rate (> 0)
    #[arg(long, value_name = "LR", default_value_t = PostCotRun::new().sft.optimizer.learning_rate, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f64,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
}

impl PostCotArgs {
    /// Data and tokenizer files (the validation split is not read).
    pub fn data_paths(&self) -> DataPaths {
        data_paths(Some(&self.train), None, Some(&self.test), &self.tokenizer)
    }

    /// The run these flags describe.
    pub fn run(&self) -> PostCotRun {
        let mut run = PostCotRun::new().with_prompts(self.prompts).with_n(self.n);
        run.sft.epochs = self.epochs;
        run.sft.optimizer.learning_rate = self.lr;
        run
    }
}

/// Flags of `examples/sft.rs`: stage 1, supervised fine-tuning with chain-of-thought.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::SftArgs;
///
/// let a = SftArgs::try_parse_from(["sft", "--steps", "5", "--lr", "1e-3"]).unwrap();
/// let run = a.run();
/// assert_eq!(run.sft.max_steps, Some(5));
/// assert_eq!(run.sft.optimizer.learning_rate, 1e-3);
/// assert_eq!(run.out_dir.as_deref(), Some(std::path::Path::new("runs/sft")));
/// assert!(SftArgs::try_parse_from(["sft", "--lr", "0"]).is_err());
/// assert_eq!(run.order, taosr1_cot::ResponseOrder::LabelFirst);
/// let a = SftArgs::try_parse_from(["sft", "--order", "think-first"]).unwrap();
/// assert_eq!(a.run().order, taosr1_cot::ResponseOrder::ThinkFirst);
/// assert!(SftArgs::try_parse_from(["sft", "--order", "sideways"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "sft",
    version,
    about = "Stage 1 of TaoSR1: supervised fine-tuning with chain-of-thought, then thinking-first evaluation on the test split",
    long_about = None
)]
pub struct SftArgs {
    /// Training data.
    #[command(flatten)]
    pub train: TrainArg,
    /// Evaluation data.
    #[command(flatten)]
    pub test: TestArg,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// Where to write the checkpoint (`config.json` + `model.safetensors`)
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub out: PathBuf,
    /// Passes over the training data
    #[arg(long, value_name = "N", default_value_t = SftConfig::new().epochs, value_parser = at_least_1, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Stop after this many optimizer steps [default: all epochs]
    #[arg(long, value_name = "N", value_parser = at_least_1, allow_negative_numbers = true)]
    pub steps: Option<usize>,
    /// Peak learning rate (> 0)
    #[arg(long, value_name = "LR", default_value_t = SftConfig::new().optimizer.learning_rate, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f64,
    /// Sequences per optimizer step
    #[arg(long, value_name = "N", default_value_t = SftConfig::new().batch_size, value_parser = at_least_1, allow_negative_numbers = true)]
    pub batch: usize,
    /// Hidden size of the model (the MLP is twice as wide)
    #[arg(long, value_name = "N", default_value_t = ModelConfig::tiny(0).hidden_size, value_parser = at_least_1, allow_negative_numbers = true)]
    pub hidden: usize,
    /// Transformer layers
    #[arg(long, value_name = "N", default_value_t = ModelConfig::tiny(0).num_hidden_layers, value_parser = at_least_1, allow_negative_numbers = true)]
    pub layers: usize,
    /// Context length of the tiny model (positions; real product text with a rationale
    /// needs more than the synthetic data's 160)
    #[arg(long, value_name = "N", default_value_t = ModelConfig::tiny(0).max_position_embeddings, value_parser = at_least_1, allow_negative_numbers = true)]
    pub context: usize,
    /// Seed of parameter initialisation
    #[arg(long, value_name = "N", default_value_t = SftRun::default().seed, allow_negative_numbers = true)]
    pub seed: u64,
    /// Response order to train: `label-first` (`<answer> L </answer> <think> … </think>`,
    /// scored with one prefill) or `think-first`; recorded in the checkpoint
    #[arg(long, value_name = "ORDER", default_value = "label-first", value_parser = order)]
    pub order: ResponseOrder,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
}

fn order(s: &str) -> Result<ResponseOrder, String> {
    s.parse().map_err(|e: taosr1_cot::CotError| e.to_string())
}

impl SftArgs {
    /// Data and tokenizer files (the validation split is not read).
    pub fn data_paths(&self) -> DataPaths {
        data_paths(Some(&self.train), None, Some(&self.test), &self.tokenizer)
    }

    /// The run these flags describe.
    pub fn run(&self) -> SftRun {
        let mut run = SftRun::default();
        run.sft.epochs = self.epochs;
        run.sft.max_steps = self.steps;
        run.sft.optimizer.learning_rate = self.lr;
        run.sft.batch_size = self.batch;
        run.model.hidden_size = self.hidden;
        run.model.intermediate_size = 2 * self.hidden;
        run.model.num_hidden_layers = self.layers;
        run.model.max_position_embeddings = self.context;
        run.seed = self.seed;
        run.order = self.order;
        run.out_dir = Some(self.out.clone());
        run.eval_limit = self.eval.limit();
        run.data = self.data_paths();
        run
    }
}

/// Flags of `examples/dpo.rs`: stage 2, offline pass@N sampling and DPO.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::DpoArgs;
///
/// let a = DpoArgs::try_parse_from(["dpo", "--beta", "0.2", "--n", "4"]).unwrap();
/// let run = a.run();
/// assert_eq!((run.trainer.loss.beta, run.n), (0.2, 4));
/// assert_eq!(a.init, std::path::Path::new("runs/sft"));
/// assert!(DpoArgs::try_parse_from(["dpo", "--beta", "-1"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "dpo",
    version,
    about = "Stage 2 of TaoSR1: offline pass@N sampling with the SFT model, (correct, incorrect) pairs, DPO against the frozen SFT model",
    long_about = None
)]
pub struct DpoArgs {
    /// Training data (the prompts sampled).
    #[command(flatten)]
    pub train: TrainArg,
    /// Evaluation data.
    #[command(flatten)]
    pub test: TestArg,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// Checkpoint to start from (and the frozen reference model)
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub init: PathBuf,
    /// Where to write the DPO checkpoint
    #[arg(long, value_name = "DIR", default_value = DPO_DIR, value_parser = path)]
    pub out: PathBuf,
    /// Training prompts sampled (the first N of the train split)
    #[arg(long, value_name = "N", default_value_t = DpoRun::new().prompts, value_parser = at_least_1, allow_negative_numbers = true)]
    pub prompts: usize,
    /// Samples per prompt (the N of pass@N)
    #[arg(long, value_name = "N", default_value_t = DpoRun::new().n, value_parser = at_least_1, allow_negative_numbers = true)]
    pub n: usize,
    /// Sampling temperature of the rollouts (> 0)
    #[arg(long, value_name = "T", default_value_t = DpoRun::new().rollout.temperature, value_parser = positive_f32, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Passes over the preference pairs
    #[arg(long, value_name = "N", default_value_t = DpoRun::new().epochs, value_parser = at_least_1, allow_negative_numbers = true)]
    pub epochs: usize,
    /// DPO β, strength of the pull towards the reference model (> 0)
    #[arg(long, value_name = "BETA", default_value_t = DpoRun::new().trainer.loss.beta, value_parser = positive_f32, allow_negative_numbers = true)]
    pub beta: f32,
    /// Weight of the NLL anchor on the chosen responses (>= 0)
    #[arg(long, value_name = "W", default_value_t = DpoRun::new().trainer.nll_weight, value_parser = non_negative_f32, allow_negative_numbers = true)]
    pub nll: f32,
    /// Peak learning rate (> 0)
    #[arg(long, value_name = "LR", default_value_t = DpoRun::new().trainer.optimizer.learning_rate, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f64,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
}

impl DpoArgs {
    /// Data and tokenizer files (the validation split is not read).
    pub fn data_paths(&self) -> DataPaths {
        data_paths(Some(&self.train), None, Some(&self.test), &self.tokenizer)
    }

    /// The run these flags describe.
    pub fn run(&self) -> DpoRun {
        let mut run = DpoRun {
            prompts: self.prompts,
            n: self.n,
            epochs: self.epochs,
            ..DpoRun::default()
        };
        run.trainer.optimizer.learning_rate = self.lr;
        run.trainer.loss.beta = self.beta;
        run.trainer.nll_weight = self.nll;
        run.rollout.temperature = self.temperature;
        run
    }
}

/// Flags of `examples/grpo.rs`: stage 3, dynamic sampling and GRPO.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::GrpoArgs;
///
/// let a = GrpoArgs::try_parse_from(["grpo", "--steps", "3", "--kl", "0", "--init", "runs/sft"]).unwrap();
/// assert!(!a.run().class_balanced);
/// assert!(GrpoArgs::try_parse_from(["grpo", "--class-balanced"]).unwrap().run().class_balanced);
/// let run = a.run();
/// assert_eq!((run.steps, run.trainer.loss.kl_beta), (3, 0.0));
/// assert_eq!(a.init_dir(), std::path::Path::new("runs/sft"));
/// assert!(GrpoArgs::try_parse_from(["grpo", "--group", "1"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "grpo",
    version,
    about = "Stage 3 of TaoSR1: GRPO with difficulty-based dynamic sampling, from the DPO (or SFT) checkpoint",
    long_about = None
)]
pub struct GrpoArgs {
    /// Training data (the prompts, read from the far end).
    #[command(flatten)]
    pub train: TrainArg,
    /// Evaluation data.
    #[command(flatten)]
    pub test: TestArg,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// SFT checkpoint (the first row of the table; the start when there is no DPO one)
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub sft: PathBuf,
    /// Checkpoint to start from [default: runs/dpo when it holds a checkpoint, else --sft]
    #[arg(long, value_name = "DIR", value_parser = path)]
    pub init: Option<PathBuf>,
    /// Where to write the GRPO checkpoint
    #[arg(long, value_name = "DIR", default_value = GRPO_DIR, value_parser = path)]
    pub out: PathBuf,
    /// Optimizer steps
    #[arg(long, value_name = "N", default_value_t = GrpoRun::new().steps, value_parser = at_least_1, allow_negative_numbers = true)]
    pub steps: usize,
    /// Rollouts per prompt (the G of GRPO)
    #[arg(long, value_name = "N", default_value_t = GrpoRun::new().trainer.sampling.group_size, value_parser = at_least_2, allow_negative_numbers = true)]
    pub group: usize,
    /// Informative groups kept per step
    #[arg(long, value_name = "N", default_value_t = GrpoRun::new().trainer.sampling.target_groups, value_parser = at_least_1, allow_negative_numbers = true)]
    pub groups: usize,
    /// Peak learning rate (> 0)
    #[arg(long, value_name = "LR", default_value_t = GrpoRun::new().trainer.optimizer.learning_rate, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f64,
    /// KL penalty β against the starting model (>= 0)
    #[arg(long, value_name = "BETA", default_value_t = GrpoRun::new().trainer.loss.kl_beta, value_parser = non_negative_f32, allow_negative_numbers = true)]
    pub kl: f32,
    /// Feed the prompts class-balanced (the gold grades take turns)
    #[arg(long)]
    pub class_balanced: bool,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
}

impl GrpoArgs {
    /// Data and tokenizer files (the validation split is not read).
    pub fn data_paths(&self) -> DataPaths {
        data_paths(Some(&self.train), None, Some(&self.test), &self.tokenizer)
    }

    /// The checkpoint to start from: `--init`, else `runs/dpo` when it holds a
    /// `model.safetensors`, else `--sft`.
    pub fn init_dir(&self) -> PathBuf {
        let dpo = Path::new(DPO_DIR);
        match &self.init {
            Some(p) => p.clone(),
            None if dpo.join("model.safetensors").exists() => dpo.to_path_buf(),
            None => self.sft.clone(),
        }
    }

    /// The run these flags describe.
    pub fn run(&self) -> GrpoRun {
        let mut run = GrpoRun {
            steps: self.steps,
            ..GrpoRun::default()
        };
        run.trainer.sampling.group_size = self.group;
        run.trainer.sampling.target_groups = self.groups;
        run.trainer.optimizer.learning_rate = self.lr;
        run.trainer.loss.kl_beta = self.kl;
        run.class_balanced = self.class_balanced;
        run
    }
}

/// Flags of `examples/calibrate.rs`: fit the partition thresholds on validation, compare
/// argmax and partition on test.
///
/// ```
/// use std::path::Path;
/// use clap::Parser;
/// use taosr1::cli::CalibrateArgs;
///
/// let a = CalibrateArgs::try_parse_from(["calibrate", "--model", "runs/grpo", "--val", "100"]).unwrap();
/// assert_eq!(a.val, Some(100));
/// assert_eq!(a.thresholds_path(), Path::new("runs/grpo/thresholds.json"));
/// assert_eq!(a.output_path(), Path::new("runs/grpo/partition_comparison.json"));
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "calibrate",
    version,
    about = "Fit the cumulative-probability partition thresholds on the validation split and compare argmax with the partition grade on the test split",
    long_about = None
)]
pub struct CalibrateArgs {
    /// Checkpoint to calibrate
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub model: PathBuf,
    /// Fitting data.
    #[command(flatten)]
    pub validation: ValidationArg,
    /// Evaluation data.
    #[command(flatten)]
    pub test: TestArg,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// `--data` and its spec (your own labelled pairs).
    #[command(flatten)]
    pub source: DataSourceArg,
    /// Where to write the fitted thresholds (read by `serve`) [default: MODEL/thresholds.json]
    #[arg(long, value_name = "FILE", value_parser = path)]
    pub thresholds: Option<PathBuf>,
    /// Where to write the comparison as JSON [default: MODEL/partition_comparison.json]
    #[arg(long, value_name = "FILE", value_parser = path)]
    pub output: Option<PathBuf>,
    /// Fit on at most N validation examples [default: all]
    #[arg(long, value_name = "N", value_parser = at_least_1, allow_negative_numbers = true)]
    pub val: Option<usize>,
    /// Evaluation size.
    #[command(flatten)]
    pub eval: EvalArg,
}

impl CalibrateArgs {
    /// Data and tokenizer files (the train split is not read).
    pub fn data_paths(&self) -> DataPaths {
        data_paths(
            None,
            Some(&self.validation),
            Some(&self.test),
            &self.tokenizer,
        )
    }

    /// `--thresholds`, else `<model>/thresholds.json`.
    pub fn thresholds_path(&self) -> PathBuf {
        self.thresholds
            .clone()
            .unwrap_or_else(|| self.model.join(THRESHOLDS_FILE))
    }

    /// `--output`, else `<model>/partition_comparison.json`.
    pub fn output_path(&self) -> PathBuf {
        self.output
            .clone()
            .unwrap_or_else(|| self.model.join("partition_comparison.json"))
    }
}

/// Flags of `examples/serve.rs`: batched JSONL scoring, or with `--http ADDR` the HTTP
/// scoring service of [`crate::http`].
///
/// ```
/// use std::path::Path;
/// use std::time::Duration;
/// use clap::Parser;
/// use taosr1::cli::ServeArgs;
///
/// let a = ServeArgs::try_parse_from(["serve", "--input", "-", "--batch", "8"]).unwrap();
/// assert_eq!((a.input.as_path(), a.output.as_path()), (Path::new("-"), Path::new("-")));
/// assert_eq!(a.infer().batch_size, 8);
/// assert_eq!(a.http, None);
/// assert!(ServeArgs::try_parse_from(["serve", "--output", ""]).is_err());
///
/// let a = ServeArgs::try_parse_from(["serve", "--http", "127.0.0.1:8080", "--max-batch", "16"]).unwrap();
/// assert_eq!(a.http.as_deref(), Some("127.0.0.1:8080"));
/// let cfg = a.http_config();
/// assert_eq!((cfg.max_batch, cfg.max_wait, cfg.max_body_bytes), (16, Duration::from_millis(5), 1 << 20));
/// // the HTTP service reads no file and writes none
/// assert!(ServeArgs::try_parse_from(["serve", "--http", "127.0.0.1:0", "--input", "x.jsonl"]).is_err());
/// assert!(ServeArgs::try_parse_from(["serve", "--http", "127.0.0.1:0", "--max-batch", "0"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "serve",
    version,
    about = "Batched deployment inference: query/product JSONL in, one JSON line per item out (partition grade, score, argmax grade, probabilities, rationale)",
    long_about = None
)]
pub struct ServeArgs {
    /// Checkpoint to serve
    #[arg(long, value_name = "DIR", default_value = SFT_DIR, value_parser = path)]
    pub model: PathBuf,
    /// The tokenizer.
    #[command(flatten)]
    pub tokenizer: TokenizerArg,
    /// Partition thresholds (JSON) [default: MODEL/thresholds.json when present, else 0.5 each]
    #[arg(long, value_name = "FILE", value_parser = path)]
    pub thresholds: Option<PathBuf>,
    /// Cuts on the expected grade (JSON, `{"cuts":[...]}`) instead of thresholds
    /// [default: MODEL/cuts.json when present, as `home_depot` writes for its deployed stage]
    #[arg(long, value_name = "FILE", value_parser = path, conflicts_with = "thresholds")]
    pub cuts: Option<PathBuf>,
    /// Items to score (JSONL with `query` and `product`; `-` = standard input)
    #[arg(long, value_name = "FILE", default_value = TEST, value_parser = path)]
    pub input: PathBuf,
    /// Where to write the scores (JSONL; `-` = standard output)
    #[arg(long, value_name = "FILE", default_value = STDIO, value_parser = path)]
    pub output: PathBuf,
    /// Items decoded together
    #[arg(long, value_name = "N", default_value_t = InferConfig::default().batch_size, value_parser = at_least_1, allow_negative_numbers = true)]
    pub batch: usize,
    /// Most thinking tokens: before the answer slot is forced (think-first model), or of the
    /// rationale written after the label with --explain (label-first model)
    #[arg(long, value_name = "N", default_value_t = InferConfig::default().think_budget, value_parser = whole, allow_negative_numbers = true)]
    pub think_budget: usize,
    /// Write each item's rationale (a label-first model writes it after the label, which it
    /// never changes; without this flag a label-first model only prefills). HTTP requests ask
    /// per request with `"explain": true`
    #[arg(long)]
    pub explain: bool,
    /// Items whose prompt has a larger share of tokens unknown to the tokenizer get a warning
    /// in their output record and are counted in the summary (in [0, 1])
    #[arg(long, value_name = "SHARE", default_value_t = 0.05, value_parser = unit_f32, allow_negative_numbers = true)]
    pub max_unknown_share: f32,
    /// Serve over HTTP on ADDR (e.g. 127.0.0.1:8080; port 0 picks a free one, printed on
    /// stderr) instead of scoring a file: POST /v1/score, GET /healthz; stops on SIGTERM or
    /// Ctrl-C after finishing the requests in flight
    #[arg(long, value_name = "ADDR", value_parser = address, conflicts_with_all = ["input", "output"])]
    pub http: Option<String>,
    /// HTTP: most items scored together (requests from concurrent clients are merged)
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default().max_batch, value_parser = at_least_1, allow_negative_numbers = true)]
    pub max_batch: usize,
    /// HTTP: how long a request may wait for others to fill a batch, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = ServeConfig::default().max_wait.as_millis() as usize, value_parser = whole, allow_negative_numbers = true)]
    pub max_wait_ms: usize,
    /// HTTP: largest accepted request body in bytes (a larger one gets 413)
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default().max_body_bytes, value_parser = at_least_1, allow_negative_numbers = true)]
    pub max_body_bytes: usize,
}

/// Where `serve`'s grade rule comes from ([`ServeArgs::rule_file`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleFile {
    /// Thresholds on the cumulative probabilities ([`taosr1_partition::Thresholds`]).
    Thresholds(PathBuf),
    /// Cuts on the expected grade ([`taosr1_partition::ScoreCuts`]).
    Cuts(PathBuf),
}

impl ServeArgs {
    /// The grade rule's file: `--thresholds` or `--cuts` when given, else whichever of
    /// `<model>/thresholds.json` and `<model>/cuts.json` exists, else `None` (the median
    /// rule).
    ///
    /// # Errors
    /// [`Error::Input`] when both files exist and no flag says which to use: serving must not
    /// pick one of two deployed rules silently.
    ///
    /// ```
    /// use clap::Parser;
    /// use taosr1::cli::{RuleFile, ServeArgs};
    /// let a = ServeArgs::try_parse_from(["serve", "--model", "no/such/dir", "--cuts", "c.json"]).unwrap();
    /// assert_eq!(a.rule_file().unwrap(), Some(RuleFile::Cuts("c.json".into())));
    /// let a = ServeArgs::try_parse_from(["serve", "--model", "no/such/dir"]).unwrap();
    /// assert_eq!(a.rule_file().unwrap(), None);
    /// assert!(ServeArgs::try_parse_from(["serve", "--cuts", "c", "--thresholds", "t"]).is_err());
    /// ```
    pub fn rule_file(&self) -> Result<Option<RuleFile>, Error> {
        if let Some(p) = &self.thresholds {
            return Ok(Some(RuleFile::Thresholds(p.clone())));
        }
        if let Some(p) = &self.cuts {
            return Ok(Some(RuleFile::Cuts(p.clone())));
        }
        let thresholds = self.model.join(THRESHOLDS_FILE);
        let cuts = self.model.join(CUTS_FILE);
        match (thresholds.is_file(), cuts.is_file()) {
            (true, true) => Err(Error::Input(format!(
                "{} has both {THRESHOLDS_FILE} and {CUTS_FILE}: choose one with --thresholds \
                 or --cuts",
                self.model.display()
            ))),
            (true, false) => Ok(Some(RuleFile::Thresholds(thresholds))),
            (false, true) => Ok(Some(RuleFile::Cuts(cuts))),
            (false, false) => Ok(None),
        }
    }

    /// Inference settings.
    pub fn infer(&self) -> InferConfig {
        InferConfig {
            batch_size: self.batch,
            think_budget: self.think_budget,
            ..InferConfig::default()
        }
    }

    /// Settings of the HTTP service (`--max-batch`, `--max-wait-ms`, `--max-body-bytes`).
    pub fn http_config(&self) -> ServeConfig {
        ServeConfig {
            max_batch: self.max_batch,
            max_wait: std::time::Duration::from_millis(self.max_wait_ms as u64),
            max_body_bytes: self.max_body_bytes,
            ..ServeConfig::default()
        }
    }
}

/// Flags of `examples/gen_data.rs`: write the synthetic data set.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::GenDataArgs;
///
/// let a = GenDataArgs::try_parse_from(["gen_data"]).unwrap();
/// assert_eq!(a.data.validation.path, std::path::Path::new("data/validation.jsonl"));
/// assert!(GenDataArgs::try_parse_from(["gen_data", "data"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(
    name = "gen_data",
    version,
    about = "Write the synthetic data set (SynthConfig::default(), split 80 / 10 / 10) to the three split files",
    long_about = None
)]
pub struct GenDataArgs {
    /// The three split files to write.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Flags of `examples/build_tokenizer.rs`: build the word-level tokenizer from the data.
///
/// ```
/// use clap::Parser;
/// use taosr1::cli::BuildTokenizerArgs;
///
/// let a = BuildTokenizerArgs::try_parse_from(["build_tokenizer"]).unwrap();
/// assert_eq!(a.output, std::path::Path::new("assets/tokenizer.json"));
/// ```
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(
    name = "build_tokenizer",
    version,
    about = "Build the word-level tokenizer over every prompt and response of the three splits",
    long_about = None
)]
pub struct BuildTokenizerArgs {
    /// The splits whose words make the vocabulary.
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the tokenizer
    #[arg(long, value_name = "FILE", default_value = TOKENIZER, value_parser = path)]
    pub output: PathBuf,
}

/// `examples/logits.rs`: the logits, per-token log-probabilities and (optionally) greedy
/// continuation of a Hugging Face model folder on given token ids, as one JSON object.
///
/// ```
/// use clap::Parser;
/// let a = taosr1::cli::LogitsArgs::try_parse_from(["logits", "--model", "m", "--ids", "1,17,42", "--greedy", "4"]).unwrap();
/// assert_eq!(a.ids, vec![1, 17, 42]);
/// assert_eq!(a.greedy, Some(4));
/// assert!(taosr1::cli::LogitsArgs::try_parse_from(["logits", "--model", "m", "--ids", "1,x"]).is_err());
/// assert!(taosr1::cli::LogitsArgs::try_parse_from(["logits", "--model", "m", "--ids", "1", "--greedy", "0"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq, Eq)]
#[command(
    name = "logits",
    version,
    about = "Print {\"logits\", \"logprobs\", \"greedy\"} of a model folder on token ids as one JSON object",
    long_about = None
)]
pub struct LogitsArgs {
    /// A Hugging Face model folder (config.json + safetensors) or a GGUF file
    #[arg(long, value_name = "DIR", value_parser = path)]
    pub model: PathBuf,
    /// Comma-separated token ids, e.g. 1,17,42
    #[arg(long, value_name = "IDS", value_delimiter = ',', required = true)]
    pub ids: Vec<u32>,
    /// Also decode N tokens greedily with the KV cache
    #[arg(long, value_name = "N", value_parser = at_least_1)]
    pub greedy: Option<usize>,
}

/// `examples/generate.rs`: a reply to one chat prompt from a Hugging Face model folder or a
/// GGUF file, through its own tokenizer and chat template.
///
/// ```
/// use clap::Parser;
/// let a = taosr1::cli::GenerateArgs::try_parse_from(["generate", "--model", "m", "--prompt", "hi"]).unwrap();
/// assert_eq!((a.max_new_tokens, a.temperature), (128, 0.0));
/// assert!(taosr1::cli::GenerateArgs::try_parse_from(["generate", "--model", "m", "--prompt", "hi", "--temperature", "-1"]).is_err());
/// ```
#[derive(Parser, Clone, Debug, PartialEq)]
#[command(
    name = "generate",
    version,
    about = "Reply to a chat prompt with a Hugging Face model folder or a GGUF file",
    long_about = None
)]
pub struct GenerateArgs {
    /// A Hugging Face model folder (config.json, safetensors, tokenizer files) or a .gguf file
    #[arg(long, value_name = "PATH", value_parser = path)]
    pub model: PathBuf,
    /// The user message
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// An optional system message
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Most tokens to generate (generation also stops at an end-of-sequence id)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = at_least_1)]
    pub max_new_tokens: usize,
    /// Sampling temperature; 0 decodes greedily
    #[arg(long, value_name = "T", default_value_t = 0.0, value_parser = non_negative_f32, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Nucleus (top-p) mass when sampling, in (0, 1]
    #[arg(long, value_name = "P", default_value_t = 1.0, value_parser = unit_f32)]
    pub top_p: f32,
    /// Seed of the sampler
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
}

/// Exit status of an example's `run()`: errors are printed with their `Display` message
/// (which names the file, line or field at fault) instead of `Debug`.
///
/// ```
/// let code = taosr1::cli::report(Err(taosr1::Error::Input("no data".into())));
/// assert_eq!(code, std::process::ExitCode::FAILURE);
/// ```
pub fn report(result: Result<(), Error>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
